// Pure number work behind the charts: smoothing, per-series statistics, aligning
// several runs on one x axis for uPlot, axis labels and run colours.

/**
 * Exponential moving average with TensorBoard's debiasing (as MLflow's and
 * TensorBoard's smoothing sliders do): weight 0 = raw, towards 1 = smoother.
 * NaN points stay gaps and do not disturb the average.
 */
export function ema(y, weight) {
    const out = new Float64Array(y.length);
    if (!(weight > 0)) {
        out.set(y);
        return out;
    }
    const w = Math.min(weight, 0.999);
    let last = 0;
    let n = 0;
    for (let i = 0; i < y.length; i++) {
        const v = y[i];
        if (!Number.isFinite(v)) {
            out[i] = NaN;
            continue;
        }
        last = last * w + (1 - w) * v;
        n++;
        out[i] = last / (1 - Math.pow(w, n));
    }
    return out;
}

/** min and max of the finite values, the last point (any value) and the count. */
export function seriesStats(s) {
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < s.y.length; i++) {
        const v = s.y[i];
        if (v < min) min = v;
        if (v > max) max = v;
    }
    const n = s.y.length;
    return {
        min: min === Infinity ? null : min,
        max: max === -Infinity ? null : max,
        last: n ? s.y[n - 1] : null,
        lastX: n ? s.x[n - 1] : null,
        total: s.total ?? n,
    };
}

/** The value as uPlot wants it: null draws a gap, undefined is skipped over. */
function cell(v, log) {
    if (Number.isNaN(v)) return null;
    if (log && !(v > 0)) return undefined;
    return v;
}

/**
 * uPlot's aligned data [xs, ys1, ys2, ...] from series that each have their own
 * sorted xs. One series is passed through unchanged (duplicate x kept); several
 * are merged on the union of their xs, a run without a point at some x gets
 * undefined there (the line runs on across it).
 */
export function alignSeries(list, log) {
    if (list.length === 1) {
        const { x, y } = list[0];
        const ys = new Array(y.length);
        for (let i = 0; i < y.length; i++) ys[i] = cell(y[i], log);
        return [Array.from(x), ys];
    }
    let total = 0;
    for (const s of list) total += s.x.length;
    const all = new Float64Array(total);
    let o = 0;
    for (const s of list) {
        all.set(s.x, o);
        o += s.x.length;
    }
    all.sort();
    let n = 0;
    for (let i = 0; i < total; i++) if (i === 0 || all[i] !== all[i - 1]) all[n++] = all[i];
    const xs = Array.from(all.subarray(0, n));
    const data = [xs];
    for (const s of list) {
        const ys = new Array(n);
        let j = 0;
        for (let i = 0; i < s.x.length; i++) {
            while (xs[j] < s.x[i]) j++;
            ys[j] = cell(s.y[i], log);
        }
        data.push(ys);
    }
    return data;
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2',
                 '#7f7f7f', '#bcbd22', '#17becf'];

/** A distinct colour per run index, stable across charts and pages. */
export function runColor(i) {
    if (i < PALETTE.length) return PALETTE[i];
    const hue = (i * 137.508) % 360; // golden angle: neighbours stay apart
    return `hsl(${hue.toFixed(0)}, 65%, 45%)`;
}

/** 12345 -> "12.3k", for axis ticks. */
export function fmtCompact(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return '';
    const a = Math.abs(v);
    if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
    if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
    if (a >= 1e4) return `${+(v / 1e3).toPrecision(3)}k`;
    if (a !== 0 && a < 1e-3) return v.toExponential(1);
    return String(+v.toPrecision(4));
}

/** Seconds since the run started, as a short duration. */
export function fmtSeconds(s) {
    if (s === null || s === undefined || !Number.isFinite(s)) return '';
    const a = Math.abs(s);
    if (a < 120) return `${+s.toPrecision(3)}s`;
    if (a < 7200) return `${+(s / 60).toPrecision(3)}min`;
    if (a < 172800) return `${+(s / 3600).toPrecision(3)}h`;
    return `${+(s / 86400).toPrecision(3)}d`;
}
