// Runs that MLflow 2.12's own Python client logged (tests/data/mlflow-2.12/file, with
// its MANIFEST of what the REST API returns for them) shown by our UI: every param,
// metric (latest value, and the full history in the chart), tag and artifact of
// every active run.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { repoRoot, startServer, withPage } from './harness.mjs';

const fixture = join(repoRoot, 'tests/data/mlflow-2.12/file');
const manifest = JSON.parse(readFileSync(join(fixture, 'MANIFEST.json'), 'utf8'));
// Where MLflow wrote the store; the copy's meta.yaml files are pointed at the copy.
const ORIGINAL = 'file:///srv/fixture/mlflow-2.12/file/mlruns';

function rewriteMeta(dir, from, to) {
    for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) rewriteMeta(p, from, to);
        else if (name === 'meta.yaml')
            writeFileSync(p, readFileSync(p, 'utf8').split(from).join(to));
    }
}

const activeExperiments = new Set(manifest.experiments
    .filter((e) => e.lifecycle_stage === 'active').map((e) => e.experiment_id));
const runs = manifest.runs.filter((r) => r.lifecycle_stage === 'active' &&
                                         activeExperiments.has(r.experiment_id));

let server;
before(async () => {
    server = await startServer({
        copyFileStore: join(fixture, 'mlruns'),
        prepare: (dir, store) => rewriteMeta(store, ORIGINAL, `file://${store}`),
    });
});

const runUrl = (r, q = '') => `#/experiments/${r.experiment_id}/runs/${r.run_id}${q}`;

test('every param, latest metric and tag of MLflow-logged runs is on the run page', async (t) => {
    assert.ok(runs.length >= 6, 'the fixture has active runs');
    await withPage(t, server, 'interop-run-pages', async (page) => {
        for (const r of runs) {
            await page.goto(runUrl(r));
            await page.locator('.run-name', { hasText: r.run_name }).waitFor();
            const row = (section, key) =>
                page.locator(`[data-section="${section}"] tr[data-key="${key}"] td`).nth(1);
            for (const [k, v] of Object.entries(r.params))
                assert.equal(await row('params', k).textContent(), v, `param ${k} of ${r.run_name}`);
            for (const k of Object.keys(r.latest_metrics))
                await row('metrics', k).waitFor();
            const sys = page.locator('[data-section="tags"] input[type=checkbox]');
            if (await sys.count()) await sys.check();
            for (const [k, v] of Object.entries(r.tags)) {
                if (k === 'mlflow.note.content') continue; // shown as the description
                assert.equal(await row('tags', k).textContent(), v, `tag ${k} of ${r.run_name}`);
            }
            if (r.tags['mlflow.note.content'])
                await page.locator('.markdown h1', { hasText: 'Notes' }).waitFor();
        }
    });
});

test('the latest values read as MLflow reports them, special values included', async (t) => {
    const r = runs.find((x) => x.run_name === 'parent run');
    await withPage(t, server, 'interop-metric-values', async (page) => {
        await page.goto(runUrl(r));
        const cell = (k) => page.locator(`[data-section="metrics"] tr[data-key="${k}"] td`).nth(1);
        assert.equal(await cell('loss').textContent(), '0.2');
        assert.equal(await cell('as_int').textContent(), '7');
        assert.match(await cell('big').textContent(), /^1(\.0+)?e\+300$/);
        assert.match(await cell('special').textContent(), /^-(inf|Infinity)$/);
    });
});

test('each metric chart draws the full history MLflow logged', async (t) => {
    await withPage(t, server, 'interop-histories', async (page) => {
        for (const r of runs) {
            for (const [key, points] of Object.entries(r.metric_history)) {
                await page.goto(`#/metric/${encodeURIComponent(key)}?runs=${r.run_id}`);
                const plot = page.locator('.chart-plot[data-busy="0"]').first();
                await plot.waitFor();
                await page.waitForFunction(
                    () => document.querySelector('.chart-plot')?.dataset.total !== '0');
                assert.equal(Number(await plot.getAttribute('data-total')), points.length,
                             `history of ${key} in ${r.run_name}`);
            }
        }
    });
});

test('every artifact MLflow stored is in the artifact browser', async (t) => {
    const withArtifacts = runs.filter((r) => r.artifacts.length);
    assert.ok(withArtifacts.length, 'the fixture has artifacts');
    await withPage(t, server, 'interop-artifacts', async (page) => {
        for (const r of withArtifacts) {
            for (const [path, isDir, size] of r.artifacts) {
                if (isDir) continue;
                // A deep link opens the tree down to the file and previews it.
                await page.goto(runUrl(r, `?tab=artifacts&path=${encodeURIComponent(path)}`));
                await page.locator(`[data-path="${path}"]`).waitFor();
                const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : null;
                if (dir) await page.locator(`[data-path="${dir}"]`).waitFor();
                const resp = await page.request.get(
                    `get-artifact?path=${encodeURIComponent(path)}&run_uuid=${r.run_id}`);
                assert.equal(resp.status(), 200, path);
                assert.equal((await resp.body()).length, size, `size of ${path}`);
            }
        }
    });
});
