// The runs of one or more experiments (#/experiments/1,2): a server-side filtered and
// sorted runs/search, fetched a page at a time as the user scrolls, shown in a virtual
// table with nested runs under their parents. Filter, order, view type, chosen columns
// and selection are kept in the URL query, so a reload or a shared link shows the same view.
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { get, post, searchRuns } from '../api.js';
import { href, listParam, navigate, setQuery } from '../route.js';
import { Crumbs, ErrorBanner, PageTitle } from '../components/common.jsx';
import { RunsTable } from '../components/RunsTable.jsx';
import { RunsColumnChooser, RunsMetricPicker } from '../components/RunsColumnChooser.jsx';
import {
    collectKeys, defaultColumns, encodeList, flattenTree, newKeySets, nextOrder, rangeIds,
    toRow, viewTypeOf,
} from '../components/RunsModel.js';
import './runs.css';

const PAGE_SIZE = 200;
/** Rows left below the visible ones when the next page is asked for. */
const PREFETCH_ROWS = 60;
/** Beyond this many selected runs the selection is kept in the page only: a URL holding
 *  thousands of 32-character ids is not a link anyone can share. */
const MAX_SEL_IN_URL = 500;
const NO_COLUMNS = '-';

/** MLflow's own UI writes searchFilter / orderByKey / orderByAsc; read them too so that
 *  links copied from it land on the same view. */
function readOrder(q) {
    if (q.get('order')) return q.get('order');
    const k = q.get('orderByKey');
    if (!k) return '';
    return `${k} ${q.get('orderByAsc') === 'true' ? 'ASC' : 'DESC'}`;
}

/** Applies fn to every item with at most `width` calls in flight. */
async function eachLimited(items, width, fn) {
    const errors = [];
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const it = items[next++];
            try {
                await fn(it);
            } catch (e) {
                errors.push(e);
            }
        }
    };
    await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
    return errors;
}

function useExperimentNames(ids) {
    const [names, setNames] = useState({});
    const [error, setError] = useState(null);
    const key = ids.join(',');
    useEffect(() => {
        const ctl = new AbortController();
        setError(null);
        Promise.all(ids.map((id) => get('experiments/get', { experiment_id: id }, ctl.signal)
            .then((r) => [id, r.experiment?.name ?? id])))
            .then((pairs) => setNames(Object.fromEntries(pairs)))
            .catch((e) => { if (e.name !== 'AbortError') setError(e); });
        return () => ctl.abort();
    }, [key]);
    return [names, error];
}

function useNow(ms) {
    const [now, setNow] = useState(Date.now());
    useEffect(() => {
        const t = setInterval(() => setNow(Date.now()), ms);
        return () => clearInterval(t);
    }, []);
    return now;
}

const EMPTY = { key: null, query: null, rows: [], ids: new Set(), token: null,
    keySets: newKeySets(), keysVersion: 0 };

/** One view per set of experiments: going to other experiments starts afresh (rows,
 *  expanded parents) instead of showing the old runs under the new title. */
export function RunsPage(props) {
    return <RunsView key={props.ids.join(',')} {...props} />;
}

function RunsView({ route, ids }) {
    const q = route.query;
    const filter = q.get('filter') ?? q.get('searchFilter') ?? '';
    const order = readOrder(q);
    const viewType = viewTypeOf(q);
    const colsParam = q.get('cols');
    const selParam = q.get('sel') || '';
    const idsKey = ids.join(',');

    const [names, namesError] = useExperimentNames(ids);
    const now = useNow(30000);

    // ---- data: the first page of the current query, then more pages on demand ----
    const [data, setData] = useState(EMPTY);
    const [loading, setLoading] = useState(false);
    const [queryError, setQueryError] = useState(null);
    const [error, setError] = useState(null);
    const [refreshN, setRefreshN] = useState(0);
    const moreInFlight = useRef(null);
    const qkey = JSON.stringify([idsKey, filter, order, viewType, refreshN]);

    useEffect(() => {
        const ctl = new AbortController();
        const query = { experimentIds: ids, filter, orderBy: order ? [order] : undefined,
            viewType, maxResults: PAGE_SIZE };
        setLoading(true);
        setError(null);
        searchRuns(query, ctl.signal).then((page) => {
            const rows = [];
            const seen = new Set();
            for (const r of page.runs) {
                const row = toRow(r);
                if (!seen.has(row.id)) { seen.add(row.id); rows.push(row); }
            }
            moreInFlight.current = null;
            setData({ key: qkey, query, rows, ids: seen, token: page.next_page_token,
                keySets: collectKeys(newKeySets(), rows), keysVersion: 1 });
            setQueryError(null);
            setLoading(false);
        }).catch((e) => {
            if (e.name === 'AbortError') return;
            // A filter or order the server refuses is the user's to fix: say why next to
            // the filter box and keep the rows of the last good query on screen.
            if (e.code === 'INVALID_PARAMETER_VALUE') setQueryError(e);
            else setError(e);
            setLoading(false);
        });
        return () => ctl.abort();
    }, [qkey]);

    const loadMore = useCallback(() => {
        const d = data;
        if (!d.token || moreInFlight.current === d.token) return;
        const token = d.token;
        moreInFlight.current = token;
        searchRuns({ ...d.query, pageToken: token }).then((page) => {
            setData((cur) => {
                if (cur.key !== d.key || cur.token !== token) return cur;
                const add = [];
                for (const r of page.runs) {
                    const row = toRow(r);
                    if (!cur.ids.has(row.id)) { cur.ids.add(row.id); add.push(row); }
                }
                collectKeys(cur.keySets, add);
                return { ...cur, rows: cur.rows.concat(add), token: page.next_page_token,
                    keysVersion: cur.keysVersion + 1 };
            });
        }).catch((e) => {
            moreInFlight.current = null;
            setError(e);
        });
    }, [data]);

    // ---- tree of nested runs ----
    const [expanded, setExpanded] = useState(() => new Set());
    const flat = useMemo(() => flattenTree(data.rows, expanded), [data.rows, expanded]);
    const onExpand = useCallback((id) => setExpanded((old) => {
        const s = new Set(old);
        if (s.has(id)) s.delete(id);
        else s.add(id);
        return s;
    }), []);

    const onRange = useCallback((first, last) => {
        if (last >= flat.length - PREFETCH_ROWS) loadMore();
    }, [flat.length, loadMore]);

    // ---- selection: in the URL (sel=), unless it grows too large for a link ----
    const [selected, setSelected] = useState(() => new Set(listParam(q, 'sel')));
    const wroteSel = useRef(selParam);
    useEffect(() => {
        if (selParam !== wroteSel.current) {
            wroteSel.current = selParam;
            setSelected(new Set(listParam(q, 'sel')));
        }
    }, [selParam]);
    const changeSelection = (set) => {
        setSelected(set);
        const enc = set.size <= MAX_SEL_IN_URL ? encodeList([...set]) : '';
        wroteSel.current = enc;
        setQuery({ sel: enc });
    };
    const lastClicked = useRef(null);
    const onSelect = (i, e) => {
        const id = flat[i].row.id;
        const on = !selected.has(id);
        const s = new Set(selected);
        const range = e.shiftKey && lastClicked.current !== null
            ? rangeIds(flat, lastClicked.current, i) : [id];
        for (const r of range) {
            if (on) s.add(r);
            else s.delete(r);
        }
        lastClicked.current = i;
        changeSelection(s);
    };
    const allSelected = useMemo(() => {
        if (!data.rows.length) return 'none';
        let n = 0;
        for (const r of data.rows) if (selected.has(r.id)) n++;
        return n === 0 ? 'none' : n === data.rows.length ? 'all' : 'some';
    }, [data.rows, selected]);
    const onSelectAll = () => {
        const s = new Set(selected);
        if (allSelected === 'all') for (const r of data.rows) s.delete(r.id);
        else for (const r of data.rows) s.add(r.id);
        changeSelection(s);
    };

    // ---- columns ----
    const chosen = useMemo(() => {
        if (colsParam === null) return defaultColumns(data.keySets);
        if (colsParam === NO_COLUMNS) return [];
        return listParam(q, 'cols');
    }, [colsParam, data.keySets, data.keysVersion]);
    const onColumns = (list) => setQuery({
        cols: list === null ? undefined : list.length ? encodeList(list) : NO_COLUMNS,
    });
    const onRemoveColumn = (id) => onColumns(chosen.filter((c) => c !== id));
    const onSort = (id) => setQuery({ order: nextOrder(order, id), orderByKey: undefined,
        orderByAsc: undefined });

    // ---- filter box ----
    const [text, setText] = useState(filter);
    useEffect(() => setText(filter), [filter]);
    const applyFilter = (e) => {
        e.preventDefault();
        const f = text.trim();
        if (f === filter) setRefreshN((n) => n + 1);
        else setQuery({ filter: f, searchFilter: undefined });
    };

    // ---- actions on the selection ----
    const selIds = [...selected];
    const expIds = ids.join(',');
    const selectedMetricKeys = useMemo(() => {
        const keys = new Set();
        for (const r of data.rows) {
            if (!selected.has(r.id)) continue;
            for (const k in r.metrics) keys.add(k);
        }
        return [...(keys.size ? keys : data.keySets.metrics)].sort();
    }, [data.rows, selected, data.keysVersion]);
    const [confirmDelete, setConfirmDelete] = useState(false);
    const [busy, setBusy] = useState(false);
    const byId = useMemo(() => new Map(data.rows.map((r) => [r.id, r])), [data.rows]);
    // Selected runs that are not loaded count as being in the current view's state.
    const lifecycle = (stage) => selIds.filter((id) => {
        const r = byId.get(id);
        return r ? r.info.lifecycle_stage === stage : viewType !== 'ALL';
    });
    const deletable = viewType === 'DELETED_ONLY' ? [] : lifecycle('active');
    const restorable = viewType === 'ACTIVE_ONLY' ? [] : lifecycle('deleted');
    const act = async (endpoint, list) => {
        setBusy(true);
        setConfirmDelete(false);
        const errors = await eachLimited(list, 4, (id) => post(endpoint, { run_id: id }));
        setBusy(false);
        if (errors.length) setError(errors[0]);
        const done = new Set(list);
        changeSelection(new Set(selIds.filter((id) => !done.has(id))));
        setRefreshN((n) => n + 1);
    };

    const title = ids.length === 1 ? (names[ids[0]] ?? `Experiment ${ids[0]}`)
        : `${ids.length} experiments`;
    const stale = data.key !== qkey;
    const emptyText = loading ? 'Loading runs…'
        : filter ? 'No runs match the filter.' : 'No runs.';

    return (
        <div class="page runs-page">
            <Crumbs items={[{ label: 'Experiments', href: '#/experiments' }, { label: title }]} />
            <PageTitle actions={
                <button type="button" onClick={() => setRefreshN((n) => n + 1)}
                        title="Fetch the runs again">Refresh</button>
            }>
                {title}
                {ids.length > 1 ? <span class="runs-exp-names muted">
                    {ids.map((id) => names[id] ?? id).join(', ')}</span> : null}
            </PageTitle>
            <ErrorBanner error={namesError} />
            <ErrorBanner error={error} onClose={() => setError(null)} />

            <div class="runs-filterbar">
                <form class="runs-filter" onSubmit={applyFilter}>
                    <input type="search" class={queryError ? 'invalid' : ''} value={text}
                           aria-label="Filter runs" name="filter" spellcheck={false}
                           placeholder={'metrics.rmse < 1 and params.model = "tree"'}
                           onInput={(e) => setText(e.currentTarget.value)} />
                    <button type="submit" class="primary">Search</button>
                    {filter ? <button type="button" onClick={() => {
                        setText('');
                        setQuery({ filter: undefined, searchFilter: undefined });
                    }}>Clear</button> : null}
                </form>
                <select aria-label="Which runs" value={q.get('view') || 'active'}
                        onChange={(e) => setQuery({ view: e.currentTarget.value === 'active'
                            ? undefined : e.currentTarget.value })}>
                    <option value="active">Active runs</option>
                    <option value="deleted">Deleted runs</option>
                    <option value="all">All runs</option>
                </select>
                <RunsColumnChooser keySets={data.keySets} keysVersion={data.keysVersion}
                                   chosen={chosen} onChange={onColumns} />
            </div>
            {queryError ? (
                <div class="runs-filter-error" role="alert">
                    <b>{queryError.code}</b>: <span>{queryError.message}</span>
                </div>
            ) : null}

            <div class="runs-toolbar">
                <span class="runs-count" data-testid="runs-count">
                    {data.rows.length} run{data.rows.length === 1 ? '' : 's'} loaded
                    {data.token ? ', more available' : data.key ? ' (all)' : ''}
                    {loading || (stale && !queryError) ? ' · loading…' : ''}
                </span>
                <span class="runs-selcount">
                    {selected.size ? `${selected.size} selected` : ''}
                    {selected.size > MAX_SEL_IN_URL ? ' (too many to keep in the link)' : ''}
                </span>
                <div class="runs-actions">
                    <button type="button" disabled={selected.size < 2}
                            title="Compare the selected runs side by side"
                            onClick={() => navigate(href(['compare-runs'],
                                { runs: selIds.join(','), experiments: expIds }))}>
                        Compare{selected.size ? ` (${selected.size})` : ''}
                    </button>
                    <RunsMetricPicker keys={selectedMetricKeys} disabled={!selected.size}
                                      onPick={(key) => navigate(href(['metric', key],
                                          { runs: selIds.join(','), experiments: expIds }))} />
                    {deletable.length && !confirmDelete ? (
                        <button type="button" class="danger" disabled={busy}
                                onClick={() => setConfirmDelete(true)}>
                            Delete ({deletable.length})
                        </button>
                    ) : null}
                    {confirmDelete ? (
                        <span class="runs-confirm">
                            Delete {deletable.length} run{deletable.length === 1 ? '' : 's'}?
                            <button type="button" class="danger" disabled={busy}
                                    onClick={() => act('runs/delete', deletable)}>
                                Yes, delete
                            </button>
                            <button type="button" onClick={() => setConfirmDelete(false)}>
                                Cancel
                            </button>
                        </span>
                    ) : null}
                    {restorable.length ? (
                        <button type="button" disabled={busy}
                                onClick={() => act('runs/restore', restorable)}>
                            Restore ({restorable.length})
                        </button>
                    ) : null}
                    {selected.size ? (
                        <button type="button" class="link"
                                onClick={() => changeSelection(new Set())}>Clear selection</button>
                    ) : null}
                </div>
            </div>

            <RunsTable
                flat={flat}
                columns={chosen}
                order={order}
                onSort={onSort}
                onRemoveColumn={onRemoveColumn}
                selected={selected}
                onSelect={onSelect}
                allSelected={allSelected}
                onSelectAll={onSelectAll}
                expanded={expanded}
                onExpand={onExpand}
                experimentNames={names}
                showExperiment={ids.length > 1}
                now={now}
                onRange={onRange}
                scrollKey={data.key}
                empty={emptyText}
            />
        </div>
    );
}
