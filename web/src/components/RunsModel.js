// The runs table's data model, kept free of the DOM so it can be unit-tested in node:
// column ids and their order_by keys, the parent/child tree of the loaded runs, the keys
// seen so far, and how list values are written into the URL.

export const PARENT_TAG = 'mlflow.parentRunId';
export const KINDS = ['metrics', 'params', 'tags'];
const KIND_LABEL = { metrics: 'Metric', params: 'Param', tags: 'Tag' };

/** A key as MLflow's search language wants it: bare when it is a plain word, else in
 *  backticks (MLflow's UI does the same for keys such as `train/loss` or `f1 score`). */
export function quoteKey(key) {
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : '`' + key.replace(/`/g, '``') + '`';
}

/** Column id of a param/metric/tag column: "metrics.acc", "tags.data set". */
export function colId(kind, key) {
    return `${kind}.${key}`;
}

/** Inverse of colId; null for anything that is not a param/metric/tag column. */
export function parseColId(id) {
    const dot = id.indexOf('.');
    if (dot < 0) return null;
    const kind = id.slice(0, dot);
    const key = id.slice(dot + 1);
    if (!KINDS.includes(kind) || !key) return null;
    return { kind, key };
}

export function kindLabel(kind) {
    return KIND_LABEL[kind] || kind;
}

/** The fixed columns: id, header, width, and the order_by key that sorts by it (none for
 *  duration, which MLflow cannot sort by on the server). */
export const ATTR_COLUMNS = [
    { id: 'name', label: 'Run name', width: 240, order: 'attributes.run_name' },
    { id: 'status', label: 'Status', width: 96, order: 'attributes.status' },
    { id: 'start', label: 'Created', width: 160, order: 'attributes.start_time' },
    { id: 'duration', label: 'Duration', width: 92, order: null },
    { id: 'user', label: 'User', width: 100, order: 'attributes.user_id' },
    { id: 'source', label: 'Source', width: 120, order: 'tags.`mlflow.source.name`' },
    { id: 'version', label: 'Version', width: 80, order: 'tags.`mlflow.source.git.commit`' },
];

export const DEFAULT_ORDER = 'attributes.start_time DESC';

/** The order_by key that sorts by a column id (attribute or dynamic), or null. */
export function orderKeyFor(id) {
    const attr = ATTR_COLUMNS.find((c) => c.id === id);
    if (attr) return attr.order;
    const c = parseColId(id);
    return c ? `${c.kind}.${quoteKey(c.key)}` : null;
}

/** Splits "metrics.`acc` DESC" into {key: "metrics.`acc`", asc: false}. */
export function parseOrder(text) {
    const s = (text || '').trim();
    if (!s) return null;
    const m = /^(.*?)\s+(ASC|DESC)$/i.exec(s);
    if (m) return { key: m[1].trim(), asc: m[2].toUpperCase() === 'ASC' };
    return { key: s, asc: true };
}

/** Normalises an order_by key for comparison: backticks and double quotes do not matter,
 *  nor does the "attributes." / "attribute." / "attr." / "run." spelling of attributes. */
export function sameOrderKey(a, b) {
    const norm = (k) => (k || '').replace(/[`"]/g, '')
        .replace(/^(attributes|attribute|attr|run)\./, 'attributes.')
        .replace(/^(metric)\./, 'metrics.').replace(/^(param|parameter|parameters)\./, 'params.')
        .replace(/^tag\./, 'tags.');
    return norm(a) === norm(b);
}

/** Clicking a header: a new column sorts descending for metrics and times (largest or
 *  newest first, what people look for) and ascending otherwise; the same column flips. */
export function nextOrder(current, id) {
    const key = orderKeyFor(id);
    if (!key) return current;
    const cur = parseOrder(current || DEFAULT_ORDER);
    if (cur && sameOrderKey(cur.key, key)) return `${key} ${cur.asc ? 'DESC' : 'ASC'}`;
    const desc = id === 'start' || id.startsWith('metrics.');
    return `${key} ${desc ? 'DESC' : 'ASC'}`;
}

/** Sort state of a column under the current order: 'asc', 'desc' or null. */
export function sortStateOf(order, id) {
    const key = orderKeyFor(id);
    const cur = parseOrder(order || DEFAULT_ORDER);
    if (!key || !cur || !sameOrderKey(cur.key, key)) return null;
    return cur.asc ? 'asc' : 'desc';
}

/** One run from the wire, with its lists turned into maps once (the table reads them for
 *  every visible cell on every scroll frame). */
export function toRow(run) {
    const data = run.data || {};
    const params = Object.create(null);
    const metrics = Object.create(null);
    const tags = Object.create(null);
    for (const p of data.params || []) params[p.key] = p.value;
    for (const m of data.metrics || []) metrics[m.key] = m.value;
    for (const t of data.tags || []) tags[t.key] = t.value;
    const info = run.info || {};
    return { id: info.run_id || info.run_uuid, info, params, metrics, tags, run };
}

/** Key sets seen in the loaded runs. Tags named mlflow.* are MLflow's own (user, source,
 *  parent...) and are shown by the attribute columns, so they are not offered, as in MLflow. */
export function newKeySets() {
    return { metrics: new Set(), params: new Set(), tags: new Set() };
}

export function collectKeys(sets, rows) {
    for (const r of rows) {
        for (const k in r.metrics) sets.metrics.add(k);
        for (const k in r.params) sets.params.add(k);
        for (const k in r.tags) if (!k.startsWith('mlflow.')) sets.tags.add(k);
    }
    return sets;
}

/** Columns shown when the URL names none: a few metrics, then a few params. */
export function defaultColumns(sets, max = 6) {
    const pick = (kind) => [...sets[kind]].sort().slice(0, max).map((k) => colId(kind, k));
    return [...pick('metrics'), ...pick('params')];
}

/**
 * The rows the table shows, in order: loaded runs whose parent is loaded too are placed
 * under it (depth-first, in server order), shown only while the parent is expanded.
 * Runs whose parent is not loaded stay at the top level. Cycles cannot hide runs: a run
 * left unvisited after the walk from the roots starts a walk of its own.
 * Returns [{row, level, children: number}].
 */
export function flattenTree(rows, expanded) {
    const byId = new Map();
    for (const r of rows) byId.set(r.id, r);
    const kids = new Map();
    const roots = [];
    for (const r of rows) {
        const p = r.tags[PARENT_TAG];
        if (p && p !== r.id && byId.has(p)) {
            let list = kids.get(p);
            if (!list) kids.set(p, (list = []));
            list.push(r);
        } else {
            roots.push(r);
        }
    }
    const out = [];
    if (!kids.size) {
        for (const r of rows) out.push({ row: r, level: 0, children: 0 });
        return out;
    }
    const seen = new Set();
    const walk = (r, level) => {
        if (seen.has(r.id)) return;
        seen.add(r.id);
        const list = kids.get(r.id);
        out.push({ row: r, level, children: list ? list.length : 0 });
        if (list && expanded.has(r.id)) for (const c of list) walk(c, level + 1);
    };
    for (const r of roots) walk(r, 0);
    // Runs under a collapsed parent are rightly not in `seen`; runs in a parent cycle are
    // unreachable from every root, and those are the ones to surface.
    const reachable = new Set();
    const mark = (r) => {
        if (reachable.has(r.id)) return;
        reachable.add(r.id);
        for (const c of kids.get(r.id) || []) mark(c);
    };
    for (const r of roots) mark(r);
    for (const r of rows) {
        if (reachable.has(r.id)) continue;
        mark(r);
        walk(r, 0);
    }
    return out;
}

/** A list for the URL: comma-separated, or a JSON array when an item has a comma
 *  (route.listParam reads both). */
export function encodeList(items) {
    if (!items.length) return '';
    return items.some((s) => s.includes(',')) ? JSON.stringify(items) : items.join(',');
}

/** The run view types of runs/search, and how the URL spells them. */
export const VIEW_TYPES = { active: 'ACTIVE_ONLY', deleted: 'DELETED_ONLY', all: 'ALL' };

export function viewTypeOf(query) {
    return VIEW_TYPES[query.get('view')] || 'ACTIVE_ONLY';
}

/** Indices from a to b inclusive, either order (shift-click ranges). */
export function rangeIds(flat, a, b) {
    const lo = Math.max(0, Math.min(a, b));
    const hi = Math.min(flat.length - 1, Math.max(a, b));
    const ids = [];
    for (let i = lo; i <= hi; i++) ids.push(flat[i].row.id);
    return ids;
}

/** Filters a key list for the column chooser: case-insensitive substring match. */
export function filterKeys(keys, text) {
    const t = (text || '').trim().toLowerCase();
    if (!t) return keys;
    return keys.filter((k) => k.toLowerCase().includes(t));
}
