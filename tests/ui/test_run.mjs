// The run page, artifact previews, charts and compare, against the data of
// tests/ui/seed_run.c (experiment "ui-run"): what a user sees, what clicking and
// editing do, and that no user-controlled string ever runs as script.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { api, experimentByName, runByName, startServer, withPage } from './harness.mjs';

const XSS_SCRIPT = '<script>window.__xss=1</script>';
const XSS_IMG = '<img src=x onerror=window.__xss=1>';

let server;
let exp;
const runs = {};

before(async () => {
    server = await startServer({ seed: 'standard' });
    exp = await experimentByName(server, 'ui-run');
    for (const name of ['detail-run', 'parent-run', 'child-1', 'child-2', 'big-run', 'cmp-a',
                        'cmp-b', 'cmp-c'])
        runs[name] = (await runByName(server, exp.experiment_id, name)).info.run_id;
});

const runUrl = (id, query = '') => `#/experiments/${exp.experiment_id}/runs/${id}${query}`;

async function noXss(page) {
    // Give any injected handler (img onerror, script) the chance to run first.
    await page.waitForTimeout(200);
    assert.equal(await page.evaluate(() => window.__xss), undefined, 'no injected script ran');
}

/** The value cell of the kv-table row whose first cell is `key`. */
function kvValue(page, section, key) {
    return page.locator(`[data-section="${section}"] tr[data-key="${key}"] td`).nth(1);
}

async function newRun(name) {
    const r = await api(server, 'POST', 'runs/create', {
        experiment_id: exp.experiment_id, run_name: name, start_time: 1700000000000 });
    return r.run.info.run_id;
}

test('run page shows details, params, metrics, tags and the description', async (t) => {
    await withPage(t, server, 'run-overview', async (page) => {
        const id = runs['detail-run'];
        await page.goto(runUrl(id));
        await page.locator('.run-name', { hasText: 'detail-run' }).waitFor();
        const field = (name) => page.locator(`tr[data-field="${name}"] td`);
        assert.equal(await field('run_id').textContent(), id);
        assert.equal(await field('status').textContent(), 'Finished');
        assert.equal(await field('duration').textContent(), '1.3min');
        assert.equal(await field('user').textContent(), 'alice');
        assert.equal(await field('source').textContent(), 'train.py (LOCAL)');
        assert.equal(await field('git_commit').textContent(),
                     '0123456789abcdef0123456789abcdef01234567');
        assert.equal(await field('entry_point').textContent(), 'main');
        assert.equal(await field('lifecycle_stage').textContent(), 'active');
        assert.match(await field('artifact_uri').textContent(), new RegExp(id));
        assert.equal(await field('experiment').textContent(), 'ui-run');
        assert.equal(await field('experiment').locator('a').getAttribute('href'),
                     `#/experiments/${exp.experiment_id}`);

        // Params, sorted by name, values as logged (the hostile one as text).
        assert.deepEqual(await page.$$eval('[data-section="params"] tbody tr td:first-child',
                                           (tds) => tds.map((td) => td.textContent)),
                         ['batch_size', 'comment', 'lr', 'optimizer']);
        assert.equal(await kvValue(page, 'params', 'lr').textContent(), '0.01');
        assert.equal(await kvValue(page, 'params', 'comment').textContent(), XSS_IMG);

        // Metrics: latest values, and each key links to its chart.
        assert.equal(await kvValue(page, 'metrics', 'loss').textContent(), '0.01');
        assert.equal(await kvValue(page, 'metrics', 'acc').textContent(), '0.9');
        assert.equal(await page.locator('[data-section="metrics"] tr[data-key="loss"] a')
            .getAttribute('href'), `#/metric/loss?runs=${id}`);
        assert.equal(await page.locator('[data-section="metrics"] tr[data-key="train/loss"] a')
            .getAttribute('href'), `#/metric/train%2Floss?runs=${id}`);

        // Tags: user tags shown; mlflow.* only behind the toggle.
        assert.equal(await kvValue(page, 'tags', 'team').textContent(), 'vision');
        assert.equal(await kvValue(page, 'tags', 'xss_tag').textContent(), XSS_SCRIPT);
        assert.equal(await page.locator('[data-section="tags"] tr[data-key="mlflow.user"]').count(),
                     0);
        await page.getByLabel(/Show system tags/).check();
        assert.equal(await kvValue(page, 'tags', 'mlflow.user').textContent(), 'alice');

        // The description as Markdown, with raw HTML and the javascript: link inert.
        const md = page.locator('.run-description .markdown');
        assert.equal(await md.locator('h1').textContent(), 'Detail run');
        assert.equal(await md.locator('li').count(), 2);
        assert.equal(await md.locator('strong').textContent(), 'small');
        const link = md.getByRole('link', { name: 'the docs' });
        assert.equal(await link.getAttribute('href'), 'https://mlflow.org/docs/latest/index.html');
        assert.equal(await link.getAttribute('rel'), 'noopener noreferrer nofollow');
        assert.match(await md.textContent(), /<script>window\.__xss=1<\/script>/);
        assert.match(await md.textContent(), /\[x\]\(javascript:window\.__xss=1\)/);
        assert.equal(await md.locator('script').count(), 0);
        assert.equal(await page.locator('a[href^="javascript:"]').count(), 0);
        await noXss(page);
    });
});

test('parent and child runs link to each other', async (t) => {
    await withPage(t, server, 'run-family', async (page) => {
        await page.goto(runUrl(runs['parent-run']));
        const kids = page.locator('tr[data-field="children"] a');
        await kids.first().waitFor();
        assert.deepEqual((await kids.allTextContents()).sort(), ['child-1', 'child-2']);
        await page.getByRole('link', { name: 'child-1', exact: true }).click();
        await page.locator('.run-name', { hasText: 'child-1' }).waitFor();
        assert.ok(page.url().endsWith(runUrl(runs['child-1'])));
        const parent = page.locator('tr[data-field="parent"] a', { hasText: 'parent-run' });
        await parent.waitFor();
        assert.equal(await parent.getAttribute('href'), runUrl(runs['parent-run']));
    });
});

test('editing the description saves it as mlflow.note.content', async (t) => {
    const id = await newRun('describe-me');
    await withPage(t, server, 'run-description-edit', async (page) => {
        await page.goto(runUrl(id));
        await page.getByText('No description.').waitFor();
        await page.locator('.run-description-edit').click();
        await page.getByLabel('Description (Markdown)').fill(
            `## Notes\n\n*tuned* by hand\n\n${XSS_IMG}`);
        await page.getByRole('button', { name: 'Save' }).click();
        await page.locator('.run-description .markdown h2', { hasText: 'Notes' }).waitFor();
        await page.reload();
        const md = page.locator('.run-description .markdown');
        await md.locator('h2', { hasText: 'Notes' }).waitFor();
        assert.equal(await md.locator('em').textContent(), 'tuned');
        assert.match(await md.textContent(), /<img src=x onerror=window\.__xss=1>/);
        assert.equal(await md.locator('img').count(), 0);
        await noXss(page);
    });
    const run = (await api(server, 'GET', 'runs/get', { run_id: id })).run;
    const tag = run.data.tags.find((x) => x.key === 'mlflow.note.content');
    assert.equal(tag.value, `## Notes\n\n*tuned* by hand\n\n${XSS_IMG}`);
});

test('rename, delete and restore a run', async (t) => {
    const id = await newRun('rename-me');
    await withPage(t, server, 'run-rename-delete', async (page) => {
        await page.goto(runUrl(id));
        await page.locator('.run-name', { hasText: 'rename-me' }).waitFor();
        await page.getByRole('button', { name: 'Rename' }).click();
        await page.getByLabel('Run name').fill(`renamed ${XSS_SCRIPT}`);
        await page.getByLabel('Run name').press('Enter');
        await page.locator('.run-name', { hasText: `renamed ${XSS_SCRIPT}` }).waitFor();
        await page.reload();
        await page.locator('.run-name', { hasText: `renamed ${XSS_SCRIPT}` }).waitFor();

        await page.getByRole('button', { name: 'Delete' }).click();
        await page.locator('.run-delete-confirm').click();
        await page.locator('.run-deleted-banner').waitFor();
        assert.equal(await page.locator('tr[data-field="lifecycle_stage"] td').textContent(),
                     'deleted');
        await page.getByRole('button', { name: 'Restore' }).click();
        await page.locator('.run-deleted-banner').waitFor({ state: 'detached' });
        assert.equal(await page.locator('tr[data-field="lifecycle_stage"] td').textContent(),
                     'active');
        await noXss(page);
    });
    const run = (await api(server, 'GET', 'runs/get', { run_id: id })).run;
    assert.equal(run.info.run_name, `renamed ${XSS_SCRIPT}`);
    assert.equal(run.info.lifecycle_stage, 'active');

    // The hostile name as a compare column header and a chart legend entry.
    await api(server, 'POST', 'runs/log-metric',
              { run_id: id, key: 'loss', value: 0.5, timestamp: 1700000000000, step: 0 });
    await withPage(t, server, 'run-hostile-name-compare', async (page) => {
        await page.goto(`#/compare-runs?runs=${id},${runs['cmp-a']}`);
        await page.locator('.chart[data-metric="loss"] .chart-plot[data-ready="1"]').waitFor();
        assert.deepEqual(await page.locator('.compare-table thead th a').allTextContents(),
                         [`renamed ${XSS_SCRIPT}`, 'cmp-a']);
        assert.deepEqual(await page.locator('.chart-legend-name').allTextContents(),
                         [`renamed ${XSS_SCRIPT}`, 'cmp-a']);
        await noXss(page);
    });
});

test('artifact tree and safe previews', async (t) => {
    const id = runs['detail-run'];
    await withPage(t, server, 'run-artifacts', async (page) => {
        await page.goto(runUrl(id, '?tab=artifacts'));
        const item = (path) => page.locator(`.artifact-tree [data-path="${path}"]`);
        const body = page.locator('.artifact-preview-body');
        await item('notes.txt').waitFor();
        assert.deepEqual(await page.$$eval('.artifact-tree > [role=group] > div > .artifact-row',
                                           (els) => els.map((e) => e.dataset.path)),
                         ['data', 'evil', 'logs', 'notes.txt', 'page.html', 'pic.svg', 'plots']);
        assert.equal(await item('notes.txt').locator('.artifact-size').textContent(), '66 B');

        // Text, with the path in the URL and a download link to get-artifact.
        await item('notes.txt').click();
        await page.waitForURL(/path=notes.txt/);
        await body.locator('pre', { hasText: 'hello from detail-run' }).waitFor();
        assert.match(await body.locator('pre').textContent(), /second line <script>/);
        const dl = page.locator('.artifact-download');
        assert.equal(await dl.getAttribute('href'), `get-artifact?path=notes.txt&run_uuid=${id}`);
        assert.equal(await dl.getAttribute('download'), 'notes.txt');

        // A directory opens lazily; JSON is pretty-printed.
        await item('data').click();
        await item('data/config.json').click();
        const json = await body.locator('pre.artifact-json').textContent();
        assert.match(json, /^\{\n {2}"model": \{\n {4}"name": "resnet",/);
        assert.match(json, /"note": "<img src=x onerror=window.__xss=1>"/);

        await item('data/params.yaml').click();
        await body.locator('pre', { hasText: 'optimizer: adam' }).waitFor();

        // CSV as a table of escaped cells.
        await item('data/table.csv').click();
        const table = body.locator('table.artifact-table');
        await table.waitFor();
        assert.deepEqual(await table.locator('th').allTextContents(),
                         ['epoch', 'loss', 'acc', 'comment']);
        assert.equal(await table.locator('tbody tr').count(), 3);
        assert.equal(await table.locator('tbody tr').nth(1).locator('td').nth(3).textContent(),
                     'quoted, with comma');
        assert.equal(await table.locator('tbody tr').nth(2).locator('td').nth(3).textContent(),
                     XSS_IMG);

        // A long CSV shows its first 1000 rows and says so.
        await item('data/big.csv').click();
        await body.getByText('Showing the first 1,000 rows').waitFor();
        assert.equal(await body.locator('tbody tr').count(), 1000);

        // A real image through <img>.
        await item('plots').click();
        await item('plots/a.png').click();
        const img = body.locator('img.artifact-image');
        await img.waitFor();
        await page.waitForFunction(() => document.querySelector('img.artifact-image')?.complete);
        assert.equal(await img.evaluate((e) => e.naturalWidth), 4);
        assert.equal(await img.evaluate((e) => e.naturalHeight), 3);

        // HTML and SVG: source text, never rendered.
        await item('page.html').click();
        await body.getByText('HTML is shown as source text').waitFor();
        assert.match(await body.locator('pre').textContent(), /<script>window\.__xss=1<\/script>/);
        await item('pic.svg').click();
        await body.getByText('SVG is shown as source text').waitFor();
        assert.match(await body.locator('pre').textContent(), /^<svg xmlns=/);
        assert.equal(await page.locator('.artifact-pane svg, .artifact-pane iframe, ' +
                                        '.artifact-pane object, .artifact-pane embed').count(), 0);
        assert.equal(await body.locator('img').count(), 0);

        // A file name with markup is a name.
        await item('evil').click();
        const evil = item(`evil/${XSS_IMG}.txt`);
        assert.equal(await evil.locator('.artifact-name').textContent(), `${XSS_IMG}.txt`);
        await evil.click();
        await body.locator('pre', { hasText: 'evil name' }).waitFor();

        // A big file: only the first MiB is read, and the page says so.
        await item('logs').click();
        await item('logs/big.log').click();
        await body.getByText(/Showing the first 1\.0 MiB of 1\.1 MiB/).waitFor();
        const len = await body.locator('pre').evaluate((e) => e.textContent.length);
        assert.ok(len <= 1024 * 1024 && len > 1000000, `preview length ${len}`);
        await noXss(page);
    });
});

test('a deep link to an artifact opens the tree down to it', async (t) => {
    await withPage(t, server, 'run-artifact-deeplink', async (page) => {
        await page.goto(runUrl(runs['detail-run'], '?tab=artifacts&path=data/config.json'));
        await page.locator('pre.artifact-json', { hasText: '"layers"' }).waitFor();
        assert.equal(await page.locator('.artifact-row.selected').getAttribute('data-path'),
                     'data/config.json');
    });
});

test('run charts tab draws one chart per metric', async (t) => {
    await withPage(t, server, 'run-charts', async (page) => {
        await page.goto(runUrl(runs['detail-run'], '?tab=charts'));
        await page.locator('.chart[data-metric="train/loss"] .chart-plot[data-ready="1"]')
            .waitFor();
        assert.deepEqual(await page.$$eval('.chart', (els) => els.map((e) => e.dataset.metric)),
                         ['acc', 'loss', 'train/loss']);
        const loss = page.locator('.chart[data-metric="loss"]');
        await loss.locator('.chart-plot[data-ready="1"]').waitFor();
        assert.equal(await loss.locator('.chart-plot').getAttribute('data-total'), '200');
        assert.equal(await loss.locator('.chart-min').textContent(), '0.01');
        assert.equal(await loss.locator('.chart-max').textContent(), '2');
        assert.equal(await loss.locator('.chart-last').textContent(), '0.01');
    });
});

/** Drags across the plot from fraction a to fraction b of its width. */
async function dragZoom(page, a, b) {
    const over = page.locator('.u-over').first();
    const box = await over.boundingBox();
    const y = box.y + box.height / 2;
    await page.mouse.move(box.x + box.width * a, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * b, y, { steps: 8 });
    await page.mouse.up();
}

async function plotState(page) {
    return page.locator('.chart-plot').first().evaluate((e) => ({
        ...e.dataset,
        xMin: Number(e.dataset.xMin), xMax: Number(e.dataset.xMax),
        yMin: Number(e.dataset.yMin), yMax: Number(e.dataset.yMax),
        points: Number(e.dataset.points), total: Number(e.dataset.total),
    }));
}

/** Waits until the chart has drawn (with these x axis and log settings) and is idle. */
async function settled(page, { xAxis = 'step', log = false } = {}) {
    await page.waitForFunction(([x, l]) => {
        const e = document.querySelector('.chart-plot');
        return e && e.dataset.ready === '1' && e.dataset.busy === '0' &&
            e.dataset.xAxis === x && e.dataset.log === l;
    }, [xAxis, log ? '1' : '0']);
    await page.waitForTimeout(100);
}

test('a 200k-point metric draws with its spike, zooms into real detail, resets', async (t) => {
    const id = runs['big-run'];
    await withPage(t, server, 'chart-big', async (page) => {
        const t0 = Date.now();
        await page.goto(`#/metric/series?runs=${id}`);
        await page.locator('.chart-plot[data-ready="1"]').waitFor();
        t.diagnostic(`200k-point chart drawn ${Date.now() - t0} ms after navigation`);
        let s = await plotState(page);
        assert.equal(s.total, 200000);
        assert.equal(s.downsampled, '1');
        assert.ok(s.points <= 5000, `points drawn: ${s.points}`);
        assert.ok(s.yMax >= 1000 && s.yMax < 2000, `y max ${s.yMax}`);
        assert.equal(s.xMin, 0);
        assert.equal(s.xMax, 199999);
        assert.equal(await page.locator('.chart-max').textContent(), '1000');
        assert.equal(await page.locator('.chart-min').textContent(), '0');
        assert.equal(await page.locator('.chart-last').textContent(), '0.239');

        // Hovering shows a value in the legend.
        const box = await page.locator('.u-over').boundingBox();
        await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
        await page.waitForFunction(() => document.querySelector('.chart-v')?.textContent !== '');

        // Zoom around the spike (step 123457, 62% of the way) until every point in
        // range is real; the spike stays in view all along.
        const spans = [[0.55, 0.7], [0.3, 0.55], [0.3, 0.6], [0.3, 0.6]];
        for (const [a, b] of spans) {
            const before = s.xMax - s.xMin;
            const frac = (123457 - s.xMin) / before;
            const lo = Math.max(0.02, frac - (b - a) / 2);
            await dragZoom(page, lo, Math.min(0.98, lo + (b - a)));
            await settled(page);
            s = await plotState(page);
            assert.equal(s.zoomed, '1');
            assert.ok(s.xMax - s.xMin < before * 0.5, `zoom narrowed ${before} -> ${s.xMax - s.xMin}`);
            assert.ok(s.xMin <= 123457 && s.xMax >= 123457, 'spike in range');
            assert.ok(s.yMax >= 1000, `spike still drawn (y max ${s.yMax})`);
            if (s.downsampled === '0') break;
        }
        assert.equal(s.downsampled, '0', 'zoomed far enough, every point in range is drawn');
        assert.ok(s.points > 50, `points in the zoomed range: ${s.points}`);

        // Double-click resets to the full range.
        await page.locator('.u-over').dblclick();
        await settled(page);
        s = await plotState(page);
        assert.equal(s.zoomed, '0');
        assert.equal(s.xMin, 0);
        assert.equal(s.xMax, 199999);

        // Log scale, smoothing and the x axis live in the URL.
        await page.locator('.chart-log').check();
        await page.waitForURL(/log=1/);
        await settled(page, { log: true });
        s = await plotState(page);
        assert.ok(s.yMin > 0, `log y axis starts above 0 (${s.yMin})`);
        assert.ok(s.yMax >= 1000);
        await page.locator('select[aria-label="x axis"]').selectOption('wall');
        await page.waitForURL(/x=wall/);
        await settled(page, { xAxis: 'wall', log: true });
        s = await plotState(page);
        assert.ok(Math.abs(s.xMin - 1700000200) < 1, `wall-clock x starts at ${s.xMin}`);
        await page.locator('select[aria-label="x axis"]').selectOption('time');
        await page.waitForURL(/x=time/);
        await settled(page, { xAxis: 'time', log: true });
        s = await plotState(page);
        assert.ok(Math.abs(s.xMin) < 1 && Math.abs(s.xMax - 1999.99) < 1,
                  `relative time from 0 s to ${s.xMax} s`);
        await page.locator('.chart-smooth').fill('0.9');
        await page.waitForURL(/smooth=0.9/);
        await page.reload();
        await settled(page, { xAxis: 'time', log: true });
        assert.equal(await page.locator('.chart-smooth').inputValue(), '0.9');
        assert.ok(await page.locator('.chart-log').isChecked());
    });
});

test('without the downsampling endpoint the chart falls back to get-history', async (t) => {
    await withPage(t, server, 'chart-fallback', async (page) => {
        await page.route('**/metrics/get-history-downsampled*',
                         (route) => route.fulfill({ status: 404, body: '' }));
        await page.goto(`#/metric/series?runs=${runs['big-run']}`);
        await page.locator('.chart-plot[data-ready="1"]').waitFor({ timeout: 30000 });
        const s = await plotState(page);
        assert.equal(s.total, 200000);
        assert.ok(s.points <= 5000, `points drawn: ${s.points}`);
        assert.ok(s.yMax >= 1000, `spike kept (y max ${s.yMax})`);
        assert.equal(await page.locator('.chart-max').textContent(), '1000');
    });
});

test('compare highlights differing params and overlays the runs', async (t) => {
    const ids = [runs['cmp-a'], runs['cmp-b'], runs['cmp-c']];
    await withPage(t, server, 'compare', async (page) => {
        await page.goto(`#/compare-runs?runs=${ids.join(',')}`);
        const table = page.locator('.compare-table');
        await table.waitFor();
        assert.deepEqual(await table.locator('thead th a').allTextContents(),
                         ['cmp-a', 'cmp-b', 'cmp-c']);
        const prow = (k) => table.locator(`tbody[data-section="params"] tr[data-key="${k}"]`);
        assert.equal(await prow('lr').getAttribute('class'), 'diff');
        assert.equal(await prow('optimizer').getAttribute('class'), 'diff');
        assert.equal(await prow('note').getAttribute('class'), 'diff');
        assert.equal(await prow('batch_size').getAttribute('class'), 'same');
        assert.deepEqual(await prow('lr').locator('td').allTextContents(), ['0.1', '0.01', '0.001']);
        assert.deepEqual(await prow('note').locator('td').allTextContents(), ['', '', XSS_SCRIPT]);
        const mrow = (k) => table.locator(`tbody[data-section="metrics"] tr[data-key="${k}"]`);
        assert.deepEqual(await mrow('acc').locator('td').allTextContents(), ['0.7', '0.8', '0.9']);
        assert.equal(await mrow('acc').getAttribute('class'), 'diff');

        await page.getByLabel('Show only differences').check();
        await page.waitForURL(/diff=1/);
        assert.equal(await prow('batch_size').count(), 0);
        assert.equal(await prow('lr').count(), 1);

        // One chart per common metric, one legend row per run.
        const loss = page.locator('.chart[data-metric="loss"]');
        await loss.locator('.chart-plot[data-ready="1"]').waitFor();
        assert.deepEqual(await loss.locator('.chart-legend-name').allTextContents(),
                         ['cmp-a', 'cmp-b', 'cmp-c']);
        assert.deepEqual(await loss.locator('.chart-max').allTextContents(), ['1', '2', '3']);
        await noXss(page);
    });
});

test('compare handles 100 runs with a sticky first column', async (t) => {
    // 100 fresh runs: one column each (the page drops duplicate ids).
    const ids = [];
    for (let i = 0; i < 100; i++) {
        const r = await api(server, 'POST', 'runs/create', {
            experiment_id: exp.experiment_id, run_name: `wide-${i}`, start_time: 1700000000000 });
        ids.push(r.run.info.run_id);
    }
    await Promise.all(ids.map((id, i) => api(server, 'POST', 'runs/log-batch', {
        run_id: id, params: [{ key: 'i', value: String(i) }, { key: 'same', value: 'x' }],
        metrics: [{ key: 'm', value: i, timestamp: 1700000000000, step: 0 }] })));
    await withPage(t, server, 'compare-100', async (page) => {
        await page.goto(`#/compare-runs?runs=${ids.join(',')}`);
        const table = page.locator('.compare-table');
        await table.waitFor();
        assert.equal(await table.locator('thead th').count(), 101);
        const scroll = page.locator('.compare-scroll');
        assert.ok(await scroll.evaluate((e) => e.scrollWidth > e.clientWidth));
        await scroll.evaluate((e) => { e.scrollLeft = 3000; });
        const key = table.locator('tbody[data-section="params"] tr[data-key="i"] th');
        const sbox = await scroll.boundingBox();
        const kbox = await key.boundingBox();
        assert.ok(Math.abs(kbox.x - sbox.x) < 3, 'first column stays at the left edge');
        assert.equal(await table.locator('tbody[data-section="params"] tr[data-key="same"]')
            .getAttribute('class'), 'same');
        await page.locator('.chart[data-metric="m"] .chart-plot[data-ready="1"]').waitFor();
        assert.equal(await page.locator('.chart[data-metric="m"] .chart-legend-name').count(), 100);
    });
});
