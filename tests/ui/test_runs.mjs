// The experiment list and the runs table, against the data of tests/ui/seed_runs.c:
// what they show, what clicking does, and what the URL holds afterwards.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { api, experimentByName, runByName, startServer, withPage } from './harness.mjs';

const XSS_SCRIPT = '<script>window.__xss=1</script>';
const XSS_IMG = '<img src=x onerror=window.__xss=1>';

let server;
let exp;  // experiment "ui-runs"
let expB; // experiment "ui-runs-b"

before(async () => {
    server = await startServer({ seed: 'standard' });
    exp = await experimentByName(server, 'ui-runs');
    expB = await experimentByName(server, 'ui-runs-b');
});

/** acc of run-NN, as seed_runs.c logs it (and the table shows it: 6 significant digits). */
const accOf = (i) => Number((((i * 37) % 50) / 50 + 0.005).toPrecision(6));

/** The table row of the run with this name (only rows on screen exist). */
function row(page, name) {
    return page.locator('.vt-row', { has: page.getByRole('link', { name, exact: true }) });
}

/** Names of the rows currently rendered, top to bottom. */
async function rowNames(page) {
    return page.$$eval('.vt-row', (rows) => rows
        .map((r) => [Number(r.getAttribute('aria-rowindex')), r.querySelector('.runs-name a')])
        .sort((a, b) => a[0] - b[0])
        .map(([, a]) => a.textContent));
}

/** Text of one column's cells in rendered rows, top to bottom. */
async function columnTexts(page, colIndexInRow) {
    return page.$$eval('.vt-row', (rows, k) => rows
        .map((r) => [Number(r.getAttribute('aria-rowindex')), r.querySelectorAll('.vt-cell')[k]])
        .sort((a, b) => a[0] - b[0])
        .map(([, c]) => c.textContent), colIndexInRow);
}

/** Index of a header cell among the rendered header cells (the same in every row). */
async function headerIndex(page, label) {
    return page.$$eval('.vt-head .vt-cell', (cells, l) => cells.findIndex(
        (c) => (c.querySelector('.runs-th-label')?.textContent || '') === l), label);
}

async function waitCount(page, re) {
    await page.getByTestId('runs-count').filter({ hasText: re }).waitFor();
}

function hashQuery(page) {
    const h = new URL(page.url()).hash;
    return new URLSearchParams(h.slice(h.indexOf('?') + 1));
}

test('the experiment list shows the seeded experiments, and search narrows it', async (t) => {
    await withPage(t, server, 'runs-experiments-list', async (page) => {
        await page.goto('#/experiments');
        await page.getByRole('link', { name: 'ui-runs', exact: true }).waitFor();
        await page.getByRole('link', { name: 'ui-runs-b', exact: true }).waitFor();
        await page.getByRole('link', { name: XSS_IMG, exact: true }).waitFor();
        assert.equal(await page.getByRole('link', { name: 'ui-runs', exact: true })
            .getAttribute('href'), `#/experiments/${exp.experiment_id}`);

        await page.getByLabel('Search experiments').fill('RUNS-b');
        await page.getByRole('link', { name: 'ui-runs', exact: true }).waitFor({ state: 'detached' });
        await page.getByRole('link', { name: 'ui-runs-b', exact: true }).waitFor();
        assert.equal(await page.locator('.exp-table tbody tr').count(), 1);
        assert.equal(hashQuery(page).get('q'), 'RUNS-b');

        // A quote in the text is matched, not a syntax error.
        await page.getByLabel('Search experiments').fill("it's");
        await page.getByText('No experiment matches.').waitFor();
        assert.equal(await page.getByRole('alert').count(), 0);
    });
});

test('create, rename, delete and restore an experiment', async (t) => {
    await withPage(t, server, 'runs-experiment-lifecycle', async (page) => {
        await page.goto('#/experiments');
        await page.getByRole('link', { name: 'ui-runs', exact: true }).waitFor();

        await page.getByRole('button', { name: 'New experiment' }).click();
        await page.getByLabel('New experiment name').fill('ui-created');
        await page.getByRole('button', { name: 'Create', exact: true }).click();
        await page.getByRole('link', { name: 'ui-created', exact: true }).waitFor();
        const created = await experimentByName(server, 'ui-created');
        assert.equal(created.lifecycle_stage, 'active');

        // The same name again: MLflow's error code and message, next to the form.
        await page.getByRole('button', { name: 'New experiment' }).click();
        await page.getByLabel('New experiment name').fill('ui-created');
        await page.getByRole('button', { name: 'Create', exact: true }).click();
        const err = page.locator('.exp-create [role=alert]');
        await err.waitFor();
        assert.match(await err.textContent(), /RESOURCE_ALREADY_EXISTS: .*ui-created/);
        await page.getByRole('button', { name: 'Cancel' }).click();

        const tr = page.locator(`tr[data-experiment-id="${created.experiment_id}"]`);
        await tr.getByRole('button', { name: 'Rename' }).click();
        await tr.getByLabel('New name').fill('ui-renamed');
        await tr.getByRole('button', { name: 'Save' }).click();
        await page.getByRole('link', { name: 'ui-renamed', exact: true }).waitFor();
        assert.equal((await experimentByName(server, 'ui-renamed')).experiment_id,
            created.experiment_id);

        await tr.getByRole('button', { name: 'Delete' }).click();
        await tr.getByRole('button', { name: 'Yes, delete' }).click();
        await tr.waitFor({ state: 'detached' });
        assert.equal((await experimentByName(server, 'ui-renamed')).lifecycle_stage, 'deleted');

        await page.getByLabel('Which experiments').selectOption('deleted');
        await tr.getByText('deleted', { exact: true }).waitFor();
        assert.equal(hashQuery(page).get('view'), 'deleted');
        await tr.getByRole('button', { name: 'Restore' }).click();
        await tr.waitFor({ state: 'detached' });
        await page.getByLabel('Which experiments').selectOption('active');
        await page.getByRole('link', { name: 'ui-renamed', exact: true }).waitFor();
        assert.equal((await experimentByName(server, 'ui-renamed')).lifecycle_stage, 'active');
    });
});

test('several experiments open together in one runs table', async (t) => {
    await withPage(t, server, 'runs-two-experiments', async (page) => {
        await page.goto('#/experiments');
        await page.getByLabel('Select ui-runs', { exact: true }).check();
        await page.getByLabel('Select ui-runs-b', { exact: true }).check();
        await page.getByRole('button', { name: 'Open selected (2)' }).click();
        await page.waitForURL(new RegExp(
            `#/experiments/(${exp.experiment_id},${expB.experiment_id}|` +
            `${expB.experiment_id},${exp.experiment_id})$`));
        await waitCount(page, /^63 runs loaded \(all\)/);
        await page.getByRole('columnheader', { name: 'Experiment' }).waitFor();
        // b-run-2 is the newest of all: first row, with its experiment's name.
        await row(page, 'b-run-2').getByRole('link', { name: 'ui-runs-b' }).waitFor();
    });
});

test('the runs table shows the runs with their columns', async (t) => {
    await withPage(t, server, 'runs-table', async (page) => {
        await page.goto(`#/experiments/${exp.experiment_id}`);
        await waitCount(page, /^60 runs loaded \(all\)/);
        await page.getByRole('heading', { name: 'ui-runs' }).waitFor();
        const headers = await page.$$eval('.vt-head .runs-th-label', (l) => l.map((e) => e.textContent));
        for (const h of ['Run name', 'Status', 'Created', 'Duration', 'User', 'Source', 'Version',
                         'acc', 'loss', 'batch', 'lr', 'optimizer'])
            assert.ok(headers.includes(h), `header ${h} in ${headers}`);

        // Newest first: the parents (created last), then run-49, run-48, ...
        const names = await rowNames(page);
        assert.deepEqual(names.slice(0, 6), ['parent-2', 'parent-1', 'parent-0', 'run-49',
                                             'run-48', 'run-47']);

        const r45 = row(page, 'run-45');
        const cellOf = async (label) => (await r45.locator('.vt-cell')
            .nth(await headerIndex(page, label)).textContent()).trim();
        assert.equal(await cellOf('Status'), 'Finished');
        assert.equal(await cellOf('User'), 'alice');
        assert.equal(await cellOf('Source'), 'train.py');
        assert.equal(await cellOf('lr'), '0.1');
        assert.equal(await cellOf('batch'), '64');
        assert.equal(await cellOf('optimizer'), 'sgd');
        assert.equal(await cellOf('acc'), String(accOf(45)));
        assert.equal(await cellOf('loss'), String((1 + 45 / 50) / 4));
        assert.equal(await cellOf('Duration'), `${((30 + 7 * 45) / 60).toFixed(1)}min`);
        assert.match(await cellOf('Created'), /^\d+ minutes ago$/);
        const created = r45.locator('.vt-cell').nth(await headerIndex(page, 'Created')).locator('span');
        assert.match(await created.getAttribute('title'), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
        const run45 = await runByName(server, exp.experiment_id, 'run-45');
        assert.equal(await cellOf('Version'),
            run45.data.tags.find((x) => x.key === 'mlflow.source.git.commit').value.slice(0, 7));
        assert.equal(await r45.getByRole('link', { name: 'run-45' }).getAttribute('href'),
            `#/experiments/${exp.experiment_id}/runs/${run45.info.run_id}`);

        assert.equal(await cellOf('Status'), 'Finished');
        for (const [name, status] of [['run-47', 'Failed'], ['run-48', 'Killed'],
                                      ['run-49', 'Running']])
            await row(page, name).getByText(status, { exact: true }).waitFor();
        // A run without a param shows a dash, not "undefined".
        assert.equal((await row(page, 'parent-1').locator('.vt-cell')
            .nth(await headerIndex(page, 'lr')).textContent()).trim(), '-');
        await page.getByRole('button', { name: 'Refresh' }).click();
        await waitCount(page, /^60 runs loaded \(all\)/);
    });
});

test('the filter narrows the runs on the server; a bad one is explained inline', async (t) => {
    await withPage(t, server, 'runs-filter', async (page) => {
        await page.goto(`#/experiments/${exp.experiment_id}`);
        await waitCount(page, /^60 runs loaded/);
        await page.getByLabel('Filter runs').fill('metrics.acc > 0.5');
        await page.getByLabel('Filter runs').press('Enter');
        await waitCount(page, /^25 runs loaded \(all\)/);
        assert.equal(hashQuery(page).get('filter'), 'metrics.acc > 0.5');
        const acc = await columnTexts(page, await headerIndex(page, 'acc'));
        assert.ok(acc.length > 10);
        for (const v of acc) assert.ok(Number(v) > 0.5, `acc ${v} > 0.5`);

        await page.getByLabel('Filter runs').fill('metrics.acc >>> 1');
        await page.getByRole('button', { name: 'Search' }).click();
        const err = page.locator('.runs-filter-error');
        await err.waitFor();
        assert.match(await err.textContent(), /^INVALID_PARAMETER_VALUE: ./);
        // The rows of the last good query stay.
        await waitCount(page, /^25 runs loaded/);
        assert.equal((await rowNames(page)).length, 25);

        await page.getByRole('button', { name: 'Clear' }).click();
        await waitCount(page, /^60 runs loaded/);
        assert.equal(await err.count(), 0);
    });
});

test('clicking a metric header sorts by it on the server, both ways', async (t) => {
    await withPage(t, server, 'runs-sort', async (page) => {
        await page.goto(`#/experiments/${exp.experiment_id}?filter=` +
            encodeURIComponent('metrics.acc > 0.5'));
        await waitCount(page, /^25 runs loaded/);
        const expected = Array.from({ length: 50 }, (_, i) => accOf(i))
            .filter((v) => v > 0.5).sort((a, b) => b - a);

        await page.getByRole('button', { name: 'acc', exact: true }).click();
        await page.waitForFunction(() => location.hash.includes('order='));
        assert.equal(hashQuery(page).get('order'), 'metrics.acc DESC');
        await page.locator('[aria-sort=descending]').getByText('acc').waitFor();
        const k = await headerIndex(page, 'acc');
        await page.waitForFunction(([k, first]) => {
            const r = [...document.querySelectorAll('.vt-row')]
                .find((x) => x.getAttribute('aria-rowindex') === '2');
            return r && r.querySelectorAll('.vt-cell')[k].textContent === first;
        }, [k, String(expected[0])]);
        assert.deepEqual((await columnTexts(page, k)).map(Number), expected);

        await page.getByRole('button', { name: 'acc', exact: true }).click();
        await page.waitForFunction(() => location.hash.includes('ASC'));
        await page.waitForFunction(([k, first]) => {
            const r = [...document.querySelectorAll('.vt-row')]
                .find((x) => x.getAttribute('aria-rowindex') === '2');
            return r && r.querySelectorAll('.vt-cell')[k].textContent === first;
        }, [k, String(expected[expected.length - 1])]);
        assert.deepEqual((await columnTexts(page, k)).map(Number), [...expected].reverse());

        // A string attribute sorts too.
        await page.getByRole('button', { name: 'Run name', exact: true }).click();
        await page.waitForFunction(() => location.hash.includes('run_name'));
        await page.waitForFunction(() => {
            const names = [...document.querySelectorAll('.vt-row')]
                .sort((a, b) => a.getAttribute('aria-rowindex') - b.getAttribute('aria-rowindex'))
                .map((r) => r.querySelector('.runs-name a').textContent);
            return names.length === 25 && names.every((n, i) => !i || names[i - 1] < n);
        });
    });
});

test('the URL keeps filter, order, columns and selection; a reload restores them', async (t) => {
    await withPage(t, server, 'runs-url-state', async (page) => {
        await page.goto(`#/experiments/${exp.experiment_id}`);
        await waitCount(page, /^60 runs loaded/);
        await page.getByLabel('Filter runs').fill("params.optimizer = 'adam'");
        await page.getByLabel('Filter runs').press('Enter');
        await waitCount(page, /^25 runs loaded/);
        await page.getByRole('button', { name: 'loss', exact: true }).click();
        await page.waitForFunction(() => location.hash.includes('order='));

        // Columns: hide "batch", add the tag "team" through the chooser's search.
        await page.getByRole('button', { name: 'Hide column Param: batch' }).click();
        await page.getByRole('button', { name: /^Columns/ }).click();
        await page.getByLabel('Search column keys').fill('tea');
        await page.getByRole('listbox', { name: 'Column keys' }).getByText('team').click();
        await page.keyboard.press('Escape');
        await page.getByRole('button', { name: 'team', exact: true }).waitFor();

        await row(page, 'run-48').getByRole('checkbox').check();
        await row(page, 'run-46').getByRole('checkbox').check();
        await page.getByText('2 selected').waitFor();

        const q = hashQuery(page);
        assert.equal(q.get('filter'), "params.optimizer = 'adam'");
        assert.equal(q.get('order'), 'metrics.loss DESC');
        const cols = q.get('cols').split(',');
        assert.ok(!cols.includes('params.batch') && cols.includes('tags.team'), String(cols));
        const ids = [(await runByName(server, exp.experiment_id, 'run-48')).info.run_id,
                     (await runByName(server, exp.experiment_id, 'run-46')).info.run_id];
        assert.deepEqual(q.get('sel').split(',').sort(), [...ids].sort());

        await page.reload();
        await waitCount(page, /^25 runs loaded/);
        assert.equal(await page.getByLabel('Filter runs').inputValue(), "params.optimizer = 'adam'");
        await page.locator('[aria-sort=descending]').getByText('loss').waitFor();
        await page.getByRole('button', { name: 'team', exact: true }).waitFor();
        assert.equal(await page.getByRole('button', { name: 'batch', exact: true }).count(), 0);
        await page.getByText('2 selected').waitFor();
        assert.ok(await row(page, 'run-48').getByRole('checkbox').isChecked());
        assert.ok(await row(page, 'run-46').getByRole('checkbox').isChecked());
        assert.ok(!(await row(page, 'run-44').getByRole('checkbox').isChecked()));
        // Highest loss first: run-48 (i = 48 has the largest loss of the adam runs).
        assert.equal((await rowNames(page))[0], 'run-48');
        assert.equal((await row(page, 'run-48').locator('.vt-cell')
            .nth(await headerIndex(page, 'team')).textContent()).trim(), 'vision');
    });
});

test('nested runs sit under their parent, collapsed, with a child count', async (t) => {
    await withPage(t, server, 'runs-nested', async (page) => {
        await page.goto(`#/experiments/${exp.experiment_id}`);
        await waitCount(page, /^60 runs loaded/);
        assert.equal(await row(page, 'parent-1-child-0').count(), 0);
        const toggle = row(page, 'parent-1').getByRole('button', { name: /child runs/ });
        assert.equal((await toggle.textContent()).replace(/\D/g, ''), '3');
        assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
        await toggle.click();
        await row(page, 'parent-1-child-2').waitFor();
        const names = await rowNames(page);
        const at = names.indexOf('parent-1');
        assert.deepEqual(names.slice(at, at + 4), ['parent-1', 'parent-1-child-2',
                                                   'parent-1-child-1', 'parent-1-child-0']);
        assert.match(await row(page, 'parent-1-child-0').getAttribute('class'), /runs-child/);
        await toggle.click();
        await row(page, 'parent-1-child-0').waitFor({ state: 'detached' });

        // Children whose parent is not among the loaded runs stay at the top level.
        await page.getByLabel('Filter runs').fill("attributes.run_name LIKE 'parent-1-child-%'");
        await page.getByLabel('Filter runs').press('Enter');
        await waitCount(page, /^3 runs loaded/);
        assert.deepEqual(await rowNames(page),
            ['parent-1-child-2', 'parent-1-child-1', 'parent-1-child-0']);
        assert.doesNotMatch(await row(page, 'parent-1-child-0').getAttribute('class'), /runs-child/);
    });
});

test('multi-select with shift-click, then Compare and Chart get the selected runs', async (t) => {
    await withPage(t, server, 'runs-select-compare', async (page) => {
        await page.goto(`#/experiments/${exp.experiment_id}`);
        await waitCount(page, /^60 runs loaded/);
        await row(page, 'run-49').getByRole('checkbox').click();
        await row(page, 'run-45').getByRole('checkbox').click({ modifiers: ['Shift'] });
        await page.getByText('5 selected').waitFor();
        const want = [];
        for (let i = 45; i <= 49; i++)
            want.push((await runByName(server, exp.experiment_id, `run-${i}`)).info.run_id);

        await page.getByRole('button', { name: 'Compare (5)' }).click();
        await page.waitForURL(/#\/compare-runs\?/);
        const q = hashQuery(page);
        assert.deepEqual(q.get('runs').split(',').sort(), [...want].sort());
        assert.equal(q.get('experiments'), exp.experiment_id);

        await page.goBack();
        await page.getByText('5 selected').waitFor();
        await page.getByRole('button', { name: /^Chart/ }).click();
        await page.getByLabel('Search metric keys').fill('ac');
        await page.getByRole('listbox', { name: 'Metric keys' })
            .getByRole('button', { name: 'acc', exact: true }).click();
        await page.waitForURL(/#\/metric\/acc\?/);
        assert.deepEqual(hashQuery(page).get('runs').split(',').sort(), [...want].sort());

        // Select-all takes every loaded run; clicking it again clears them.
        await page.goBack();
        await page.getByLabel('Select all loaded runs').click();
        await page.getByText('60 selected').waitFor();
        await page.getByLabel('Select all loaded runs').click();
        assert.equal(await page.getByText(/selected$/).count(), 0);
    });
});

test('runs are deleted and restored from the table', async (t) => {
    await withPage(t, server, 'runs-delete-restore', async (page) => {
        await page.goto(`#/experiments/${expB.experiment_id}`);
        await waitCount(page, /^3 runs loaded/);
        await row(page, 'b-run-1').getByRole('checkbox').check();
        await page.getByRole('button', { name: 'Delete (1)' }).click();
        await page.getByRole('button', { name: 'Yes, delete' }).click();
        await waitCount(page, /^2 runs loaded/);
        const id = (await runByName(server, expB.experiment_id, 'b-run-1')).info.run_id;
        assert.equal((await api(server, 'GET', 'runs/get', { run_id: id })).run.info
            .lifecycle_stage, 'deleted');

        await page.getByLabel('Which runs').selectOption('deleted');
        await waitCount(page, /^1 run loaded/);
        assert.equal(hashQuery(page).get('view'), 'deleted');
        await row(page, 'b-run-1').getByRole('checkbox').check();
        await page.getByRole('button', { name: 'Restore (1)' }).click();
        await waitCount(page, /^0 runs loaded/);
        await page.getByLabel('Which runs').selectOption('active');
        await waitCount(page, /^3 runs loaded/);
        assert.equal((await api(server, 'GET', 'runs/get', { run_id: id })).run.info
            .lifecycle_stage, 'active');
    });
});

test('thousands of keys: the chooser filters them and draws only what is visible', async (t) => {
    const { experiment_id: eid } = await api(server, 'POST', 'experiments/create',
        { name: 'ui-runs-many-keys' });
    const { run } = await api(server, 'POST', 'runs/create',
        { experiment_id: eid, run_name: 'wide', start_time: Date.now() });
    for (let b = 0; b < 30; b++) {
        const params = Array.from({ length: 100 },
            (_, i) => ({ key: `p${String(b * 100 + i).padStart(4, '0')}`, value: String(i) }));
        await api(server, 'POST', 'runs/log-batch', { run_id: run.info.run_id, params });
    }
    await withPage(t, server, 'runs-many-keys', async (page) => {
        await page.goto(`#/experiments/${eid}`);
        await waitCount(page, /^1 run loaded/);
        await page.getByRole('button', { name: /^Columns/ }).click();
        await page.getByText('3000 of 3000 keys').waitFor();
        assert.ok(await page.locator('.runs-chooser .vl-item').count() < 60);
        await page.getByLabel('Search column keys').fill('p299');
        await page.getByText('10 of 3000 keys').waitFor();
        await page.getByLabel('Search column keys').fill('');
        await page.getByRole('button', { name: 'Show all' }).click();
        await page.keyboard.press('Escape');
        assert.match(decodeURIComponent(page.url()), /cols=.*params\.p2999/);
        // 3000 columns chosen; only those in view are in the DOM.
        await page.getByRole('button', { name: 'p0000', exact: true }).waitFor();
        assert.ok(await page.locator('.vt-head .vt-cell').count() < 40);
        await page.locator('.vt').evaluate((el) => { el.scrollLeft = el.scrollWidth; });
        await page.getByRole('button', { name: 'p2999', exact: true }).waitFor();
        assert.equal(await page.getByRole('button', { name: 'p0000', exact: true }).count(), 0);
    });
});

test('markup in names, params and tags is shown as text and never runs', async (t) => {
    const xexp = await experimentByName(server, XSS_IMG);
    await withPage(t, server, 'runs-xss', async (page) => {
        await page.goto('#/experiments');
        const link = page.getByRole('link', { name: XSS_IMG, exact: true });
        await link.waitFor();
        assert.equal(await page.evaluate(() => window.__xss), undefined);
        await link.click();
        await waitCount(page, /^1 run loaded/);
        await page.getByRole('heading', { name: XSS_IMG }).waitFor();
        await page.getByRole('link', { name: XSS_SCRIPT, exact: true }).waitFor();

        // Show every param and tag column, whose values are markup too.
        await page.getByRole('button', { name: /^Columns/ }).click();
        await page.getByRole('button', { name: 'Show all' }).click();
        await page.keyboard.press('Escape');
        for (const text of [XSS_SCRIPT, XSS_IMG])
            assert.ok(await page.locator('.vt-row .vt-cell').getByText(text, { exact: true })
                .count() >= 2, `${text} visible as text`);
        await page.getByRole('button', { name: 'odd key/with spaces.and-dots', exact: true })
            .waitFor();
        // Sorting by a key that needs backticks works.
        await page.getByRole('button', { name: 'odd key/with spaces.and-dots', exact: true })
            .click();
        await page.waitForFunction(() => location.hash.includes('order='));
        assert.equal(hashQuery(page).get('order'), 'metrics.`odd key/with spaces.and-dots` DESC');
        await waitCount(page, /^1 run loaded/);
        assert.equal(await page.locator('.runs-filter-error').count(), 0);
        assert.equal(await page.locator('.vt img, .vt script').count(), 0);
        assert.equal(await page.evaluate(() => window.__xss), undefined);
        assert.equal(xexp.name, XSS_IMG);
    });
});
