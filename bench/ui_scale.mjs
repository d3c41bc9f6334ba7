// The UI's scale targets, measured in a real browser (not run in CI):
//   - time to the first rows of the runs table of an experiment with ~100k runs;
//   - time to the first draw of a chart of a metric with ~1M points, and how long a
//     zoom (drag, refetch of the visible range, redraw) takes afterwards.
// Times are from the start of navigation (performance.now() in the page) to the
// moment the page shows the thing, each in a fresh browser context (cold cache),
// repeated; medians are printed.
//
//   node bench/ui_scale.mjs URL [--runs-experiment scale] [--metric-experiment scale-history]
//                               [--metric-run million] [--metric series] [--repeat 5]
//
// URL is a running `mlflow-c server` (with the UI) seeded with
// `ui_seed URL scale 100000 1000000` (tests/ui/seed_scale.c).
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { chromium } = createRequire(join(repo, 'web', 'package.json'))('playwright-core');

const args = process.argv.slice(2);
function opt(name, dflt) {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
}
const base = (args.find((a) => /^https?:/.test(a)) || '').replace(/\/?$/, '/');
if (base === '/') {
    console.error('usage: node bench/ui_scale.mjs URL [--repeat N] [--runs-experiment NAME] ...');
    process.exit(2);
}
const repeat = Number(opt('repeat', 5));
const runsExp = opt('runs-experiment', 'scale');
const metricExp = opt('metric-experiment', 'scale-history');
const metricRun = opt('metric-run', 'million');
const metricKey = opt('metric', 'series');

async function api(endpoint, body) {
    const url = `${base}ajax-api/2.0/mlflow/${endpoint}`;
    const r = body ? await fetch(url, { method: 'POST', body: JSON.stringify(body),
                                        headers: { 'Content-Type': 'application/json' } })
                   : await fetch(url);
    if (!r.ok) throw new Error(`${endpoint}: HTTP ${r.status} ${await r.text()}`);
    return r.json();
}

async function experimentId(name) {
    const r = await api(`experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`);
    return r.experiment.experiment_id;
}

const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (xs) => `median ${median(xs).toFixed(0)} ms  (runs: ${xs.map((x) => x.toFixed(0))
    .join(', ')})`;

const runsEid = await experimentId(runsExp);
const metricEid = await experimentId(metricExp);
const found = await api('runs/search', { experiment_ids: [metricEid], max_results: 1,
                                         filter: `attributes.run_name = '${metricRun}'` });
const runId = found.runs?.[0]?.info?.run_id;
if (!runId) throw new Error(`no run '${metricRun}' in experiment '${metricExp}'`);
const hist = await api(`metrics/get-history-downsampled?run_id=${runId}&metric_key=${
    encodeURIComponent(metricKey)}&max_points=10`).catch(() => null);
const total = await api('runs/search', { experiment_ids: [runsEid], max_results: 1 });

console.log(`server ${base}`);
console.log(`experiment '${runsExp}' (${runsEid})${total.next_page_token ? ', many runs' : ''}`);
console.log(`metric '${metricKey}' of run ${runId}: ${hist ? hist.total_points : '?'} points`);

const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

/** ms from navigation start (bundle load included) until `check` (run in the page) is true. */
async function timeTo(hash, check, viewport = { width: 1400, height: 900 }) {
    const ctx = await browser.newContext({ viewport });
    const page = await ctx.newPage();
    await page.goto(`${base}${hash}`, { waitUntil: 'commit' });
    const h = await page.waitForFunction(check, null, { polling: 'raf', timeout: 60000 });
    return { ms: await h.jsonValue(), page, ctx };
}

const tableTimes = [];
const chartTimes = [];
const zoomTimes = [];
for (let i = 0; i < repeat; i++) {
    const t = await timeTo(`#/experiments/${runsEid}`,
                           () => (document.querySelector('.vt-row, table tbody tr[data-run]')
                               ? performance.now() : false));
    tableTimes.push(t.ms);
    await t.ctx.close();

    const c = await timeTo(`#/metric/${encodeURIComponent(metricKey)}?runs=${runId}`,
                           () => (document.querySelector('.chart-plot[data-ready="1"]')
                               ? performance.now() : false));
    chartTimes.push(c.ms);
    // A zoom into the middle fifth: drag, refetch of that range, redraw.
    const over = await c.page.locator('.u-over').boundingBox();
    const y = over.y + over.height / 2;
    const t0 = await c.page.evaluate(() => performance.now());
    await c.page.mouse.move(over.x + over.width * 0.4, y);
    await c.page.mouse.down();
    await c.page.mouse.move(over.x + over.width * 0.6, y, { steps: 4 });
    await c.page.mouse.up();
    const h = await c.page.waitForFunction(() => {
        const e = document.querySelector('.chart-plot');
        return e.dataset.zoomed === '1' && e.dataset.busy === '0' ? performance.now() : false;
    }, null, { polling: 'raf', timeout: 60000 });
    zoomTimes.push((await h.jsonValue()) - t0);
    await c.ctx.close();
}
await browser.close();

console.log(`runs table, first rows:   ${fmt(tableTimes)}`);
console.log(`chart, first draw:        ${fmt(chartTimes)}`);
console.log(`chart, zoom and redraw:   ${fmt(zoomTimes)}`);
