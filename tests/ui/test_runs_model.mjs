// The runs table's model without a browser: nesting, order_by keys and URL lists.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
    encodeList, flattenTree, nextOrder, orderKeyFor, parseColId, quoteKey, rangeIds,
    sortStateOf, toRow,
} from '../../web/src/components/RunsModel.js';

const run = (id, parent) => toRow({
    info: { run_id: id, run_name: id },
    data: { tags: parent ? [{ key: 'mlflow.parentRunId', value: parent }] : [] },
});
const names = (flat) => flat.map((f) => `${'  '.repeat(f.level)}${f.row.id}${f.children ? `(${f.children})` : ''}`);

test('children sit under a loaded parent, collapsed until expanded', () => {
    const rows = [run('c2', 'p'), run('x'), run('c1', 'p'), run('p'), run('orphan', 'gone')];
    assert.deepEqual(names(flattenTree(rows, new Set())), ['x', 'p(2)', 'orphan']);
    assert.deepEqual(names(flattenTree(rows, new Set(['p']))),
        ['x', 'p(2)', '  c2', '  c1', 'orphan']);
});

test('grandchildren nest two levels; a parent cycle does not hide its runs', () => {
    const rows = [run('a'), run('b', 'a'), run('c', 'b')];
    assert.deepEqual(names(flattenTree(rows, new Set(['a', 'b']))), ['a(1)', '  b(1)', '    c']);
    const cycle = [run('u', 'v'), run('v', 'u'), run('w')];
    const flat = flattenTree(cycle, new Set());
    assert.deepEqual(flat.map((f) => f.row.id).sort(), ['u', 'w']);
    assert.deepEqual(flattenTree(cycle, new Set(['u'])).map((f) => f.row.id).sort(),
        ['u', 'v', 'w']);
});

test('order_by keys: attributes, and backticks where a key needs them', () => {
    assert.equal(orderKeyFor('start'), 'attributes.start_time');
    assert.equal(orderKeyFor('metrics.acc'), 'metrics.acc');
    assert.equal(orderKeyFor('metrics.train/loss'), 'metrics.`train/loss`');
    assert.equal(orderKeyFor('tags.data set'), 'tags.`data set`');
    assert.equal(orderKeyFor('params.a.b'), 'params.`a.b`');
    assert.equal(orderKeyFor('duration'), null);
    assert.equal(quoteKey('9lives'), '`9lives`');
    assert.deepEqual(parseColId('tags.x.y'), { kind: 'tags', key: 'x.y' });
    assert.equal(parseColId('bogus.x'), null);
});

test('a header click sorts, a second click flips; the default is newest first', () => {
    assert.equal(sortStateOf('', 'start'), 'desc');
    assert.equal(nextOrder('', 'start'), 'attributes.start_time ASC');
    assert.equal(nextOrder('', 'metrics.acc'), 'metrics.acc DESC');
    assert.equal(nextOrder('metrics.acc DESC', 'metrics.acc'), 'metrics.acc ASC');
    assert.equal(nextOrder('metrics.`acc` ASC', 'metrics.acc'), 'metrics.acc DESC');
    assert.equal(nextOrder('', 'name'), 'attributes.run_name ASC');
    assert.equal(sortStateOf('metrics.`f 1` ASC', 'metrics.f 1'), 'asc');
    assert.equal(sortStateOf('attr.run_name DESC', 'name'), 'desc');
    assert.equal(nextOrder('x', 'duration'), 'x');
});

test('lists in the URL: commas, or JSON when an item has one', () => {
    assert.equal(encodeList(['a', 'b']), 'a,b');
    assert.equal(encodeList(['params.a,b', 'x']), '["params.a,b","x"]');
    assert.equal(encodeList([]), '');
});

test('shift-click ranges work in both directions', () => {
    const flat = flattenTree(['a', 'b', 'c', 'd'].map((id) => run(id)), new Set());
    assert.deepEqual(rangeIds(flat, 3, 1), ['b', 'c', 'd']);
    assert.deepEqual(rangeIds(flat, 0, 0), ['a']);
});
