// The UI talks to the server only through the public REST API (plus the ajax-api
// extras), exactly as any client would. URLs are relative to the page so that the
// UI works unchanged under `--static-prefix`.

const BASE = 'ajax-api/2.0/mlflow/';

export class ApiError extends Error {
    constructor(status, code, message) {
        super(message || code || `HTTP ${status}`);
        this.status = status;
        this.code = code || '';
    }
}

function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
        if (v === undefined || v === null) continue;
        if (Array.isArray(v)) v.forEach((x) => q.append(k, String(x)));
        else q.append(k, String(v));
    }
    const s = q.toString();
    return s ? `?${s}` : '';
}

async function handle(resp) {
    const text = await resp.text();
    let body = {};
    if (text) {
        try {
            body = JSON.parse(text);
        } catch {
            throw new ApiError(resp.status, '', text.slice(0, 200));
        }
    }
    if (!resp.ok) throw new ApiError(resp.status, body.error_code, body.message);
    return body;
}

/** GET an API endpoint, e.g. get('runs/get', {run_id}). Arrays become repeated params. */
export async function get(endpoint, params, signal) {
    return handle(await fetch(BASE + endpoint + query(params), { signal }));
}

/** POST a JSON body to an API endpoint, e.g. post('runs/update', {run_id, run_name}). */
export async function post(endpoint, body, signal) {
    return handle(await fetch(BASE + endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body || {}),
        signal,
    }));
}

/** URL of one artifact file of a run, served with nosniff and a sandboxing CSP. */
export function artifactUrl(runId, path) {
    return `get-artifact${query({ path, run_uuid: runId })}`;
}

/** One page of runs/search. Returns {runs: [], next_page_token}. */
export async function searchRuns({ experimentIds, filter, orderBy, maxResults, pageToken,
                                   viewType }, signal) {
    const body = {
        experiment_ids: experimentIds,
        filter: filter || '',
        run_view_type: viewType || 'ACTIVE_ONLY',
        max_results: maxResults || 100,
        order_by: orderBy && orderBy.length ? orderBy : undefined,
        page_token: pageToken || undefined,
    };
    const r = await post('runs/search', body, signal);
    return { runs: r.runs || [], next_page_token: r.next_page_token || null };
}

/** Every experiment matching `filter` (follows page tokens). */
export async function searchExperimentsAll({ filter, viewType, orderBy }, signal) {
    const all = [];
    let token;
    do {
        const r = await post('experiments/search', {
            max_results: 1000,
            filter: filter || undefined,
            view_type: viewType || 'ACTIVE_ONLY',
            order_by: orderBy,
            page_token: token,
        }, signal);
        all.push(...(r.experiments || []));
        token = r.next_page_token;
    } while (token);
    return all;
}

/** Turns a run's key/value lists (params, metrics, tags) into plain objects. */
export function runMaps(run) {
    const data = run.data || {};
    const params = {};
    const metrics = {};
    const tags = {};
    for (const p of data.params || []) params[p.key] = p.value;
    for (const m of data.metrics || []) metrics[m.key] = m;
    for (const t of data.tags || []) tags[t.key] = t.value;
    return { params, metrics, tags };
}
