// Metric histories for the charts. The server's get-history-downsampled endpoint
// returns at most ~max_points REAL points per series (per-bucket min and max, so
// spikes survive); when a server lacks it (404), the full history comes from
// metrics/get-history and is reduced here the same way, so the chart never hands
// uPlot more points than it has pixels for.
import { ApiError, get } from '../api.js';
import { numValue } from '../util.js';

/** null = not probed yet; true/false once a request has answered. */
let downsampledSupported = null;

/** True when an error means "this server has no such endpoint" (not "no such run"). */
function isMissingEndpoint(e) {
    return e instanceof ApiError && (e.status === 404 || e.status === 405) &&
        (!e.code || e.code === 'ENDPOINT_NOT_FOUND');
}

/** At most `n` promises from `tasks` (functions) in flight at a time. */
let active = 0;
const queue = [];
function pump() {
    while (active < 6 && queue.length) {
        const { task, resolve, reject } = queue.shift();
        active++;
        task().then(resolve, reject).finally(() => {
            active--;
            pump();
        });
    }
}
function limited(task) {
    return new Promise((resolve, reject) => {
        queue.push({ task, resolve, reject });
        pump();
    });
}

/** Converts wire points to sorted typed arrays of x (step or timestamp ms) and y. */
function toArrays(points, byTime) {
    const n = points.length;
    const x = new Float64Array(n);
    const y = new Float64Array(n);
    const t = new Float64Array(n);
    let sorted = true;
    for (let i = 0; i < n; i++) {
        const p = points[i];
        const ts = Number(p.timestamp || 0);
        x[i] = byTime ? ts : Number(p.step || 0);
        t[i] = ts;
        const v = numValue(p.value);
        y[i] = Number.isFinite(v) ? v : NaN;
        if (i && x[i] < x[i - 1]) sorted = false;
    }
    if (sorted) return { x, y, t };
    // Stable order by x, then by timestamp (MLflow's history order within a step).
    const idx = Array.from({ length: n }, (_, i) => i);
    idx.sort((a, b) => x[a] - x[b] || t[a] - t[b] || a - b);
    return {
        x: Float64Array.from(idx, (i) => x[i]),
        y: Float64Array.from(idx, (i) => y[i]),
        t: Float64Array.from(idx, (i) => t[i]),
    };
}

/** First index with x[i] >= v (x sorted). */
function lowerBound(x, v) {
    let lo = 0;
    let hi = x.length;
    while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (x[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/** First index with x[i] > v (x sorted). */
function upperBound(x, v) {
    let lo = 0;
    let hi = x.length;
    while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (x[mid] <= v) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/**
 * The points of [minX, maxX] reduced to about maxPoints real points: the first and
 * the last, and the min- and max-valued point of each of maxPoints/2 equal-width
 * buckets, in x order. Same rule as the server's endpoint.
 */
export function bucketMinMax(s, minX, maxX, maxPoints) {
    const lo = minX === undefined ? 0 : lowerBound(s.x, minX);
    const hi = maxX === undefined ? s.x.length : upperBound(s.x, maxX);
    const count = Math.max(0, hi - lo);
    if (count <= maxPoints) {
        return { x: s.x.slice(lo, hi), y: s.y.slice(lo, hi), t: s.t.slice(lo, hi),
                 total: count, downsampled: false };
    }
    const buckets = Math.max(1, Math.floor(maxPoints / 2));
    const x0 = s.x[lo];
    const span = s.x[hi - 1] - x0 || 1;
    const keep = new Uint8Array(count);
    keep[0] = 1;
    keep[count - 1] = 1;
    let b = -1;
    let iMin = -1;
    let iMax = -1;
    const flush = () => {
        if (iMin >= 0) keep[iMin - lo] = 1;
        if (iMax >= 0) keep[iMax - lo] = 1;
    };
    for (let i = lo; i < hi; i++) {
        const bi = Math.min(buckets - 1, Math.floor(((s.x[i] - x0) / span) * buckets));
        if (bi !== b) {
            flush();
            b = bi;
            iMin = -1;
            iMax = -1;
        }
        const v = s.y[i];
        if (Number.isNaN(v)) {
            keep[i - lo] = 1; // gaps stay gaps
            continue;
        }
        if (iMin < 0 || v < s.y[iMin]) iMin = i;
        if (iMax < 0 || v > s.y[iMax]) iMax = i;
    }
    flush();
    let n = 0;
    for (let i = 0; i < count; i++) n += keep[i];
    const out = { x: new Float64Array(n), y: new Float64Array(n), t: new Float64Array(n),
                  total: count, downsampled: true };
    for (let i = 0, j = 0; i < count; i++) {
        if (!keep[i]) continue;
        out.x[j] = s.x[lo + i];
        out.y[j] = s.y[lo + i];
        out.t[j] = s.t[lo + i];
        j++;
    }
    return out;
}

/* Full histories fetched in fallback mode, kept so that zooming re-reduces locally. */
const historyCache = new Map();
const HISTORY_CACHE_MAX = 64;

async function fullHistory(runId, key, byTime, signal) {
    const ck = `${runId}\u0000${key}\u0000${byTime ? 't' : 's'}`;
    let p = historyCache.get(ck);
    if (!p) {
        p = (async () => {
            const points = [];
            let token;
            do {
                const r = await get('metrics/get-history',
                    { run_id: runId, metric_key: key, page_token: token });
                // (A loop: spreading 100k+ arguments overflows the stack.)
                for (const m of r.metrics || []) points.push(m);
                token = r.next_page_token;
            } while (token);
            return toArrays(points, byTime);
        })();
        historyCache.set(ck, p);
        p.catch(() => historyCache.delete(ck));
        if (historyCache.size > HISTORY_CACHE_MAX)
            historyCache.delete(historyCache.keys().next().value);
    }
    const s = await p;
    if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
    return s;
}

/**
 * One run's series of one metric: {x, y, t, total, downsampled}, sorted by x, where
 * x is the step (xAxis 'step') or the timestamp in ms (xAxis 'timestamp'), y holds
 * NaN for non-finite values (drawn as gaps) and t the timestamps.
 * minX/maxX (in x units) restrict the range, e.g. to the zoomed window.
 */
export async function fetchSeries({ runId, key, xAxis, maxPoints, minX, maxX, signal }) {
    const byTime = xAxis === 'timestamp';
    maxPoints = Math.max(16, Math.round(maxPoints || 2000));
    if (downsampledSupported !== false) {
        try {
            const r = await limited(() => get('metrics/get-history-downsampled', {
                run_id: runId,
                metric_key: key,
                max_points: maxPoints,
                x_axis: byTime ? 'timestamp' : 'step',
                min_x: minX === undefined ? undefined : Math.floor(minX),
                max_x: maxX === undefined ? undefined : Math.ceil(maxX),
            }, signal));
            downsampledSupported = true;
            const s = toArrays(r.metrics || [], byTime);
            const total = Number(r.total_points ?? s.x.length);
            return { ...s, total, downsampled: Boolean(r.downsampled) };
        } catch (e) {
            if (!isMissingEndpoint(e)) throw e;
            downsampledSupported = false;
        }
    }
    const s = await limited(() => fullHistory(runId, key, byTime, signal));
    return bucketMinMax(s, minX, maxX, maxPoints);
}

/** For tests and the bench: which data path the charts use ('downsampled'|'history'). */
export function chartDataSource() {
    return downsampledSupported === false ? 'history' : 'downsampled';
}
