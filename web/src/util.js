// Formatting shared by every page: times, durations, statuses and numbers, shown the
// way MLflow users expect them.

export function fmtTime(ms) {
    if (ms === undefined || ms === null || ms === '') return '';
    const d = new Date(Number(ms));
    if (isNaN(d)) return '';
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
        `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** "3 minutes ago" style, for recent start times. */
export function fmtAgo(ms, now = Date.now()) {
    if (!ms) return '';
    const s = Math.round((now - Number(ms)) / 1000);
    if (s < 0) return fmtTime(ms);
    if (s < 60) return `${s} second${s === 1 ? '' : 's'} ago`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} minute${m === 1 ? '' : 's'} ago`;
    const h = Math.floor(m / 60);
    if (h < 24) return `${h} hour${h === 1 ? '' : 's'} ago`;
    const d = Math.floor(h / 24);
    if (d < 30) return `${d} day${d === 1 ? '' : 's'} ago`;
    return fmtTime(ms);
}

/** Duration between start and end (or now, for a running run): "1.2s", "3.4min", "2.1h". */
export function fmtDuration(startMs, endMs, status) {
    if (!startMs) return '';
    let end = endMs ? Number(endMs) : null;
    if (!end && status === 'RUNNING') end = Date.now();
    if (!end) return '';
    const ms = end - Number(startMs);
    if (ms < 0) return '';
    if (ms < 1000) return `${ms}ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(1)}s`;
    if (ms < 3600000) return `${(ms / 60000).toFixed(1)}min`;
    if (ms < 86400000) return `${(ms / 3600000).toFixed(1)}h`;
    return `${(ms / 86400000).toFixed(1)}d`;
}

/** A metric value as text; the wire sends NaN/inf as strings. */
export function fmtValue(v) {
    if (v === undefined || v === null) return '';
    if (typeof v === 'string') return v;
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-4 || a >= 1e9)) return v.toExponential(4);
    return String(Number(v.toPrecision(6)));
}

/** Numeric value of a metric as sent on the wire (numbers, or "NaN"/"Infinity" strings). */
export function numValue(v) {
    if (typeof v === 'number') return v;
    if (v === 'NaN') return NaN;
    if (v === 'Infinity' || v === 'inf') return Infinity;
    if (v === '-Infinity' || v === '-inf') return -Infinity;
    return Number(v);
}

export const STATUS_LABEL = {
    RUNNING: 'Running',
    SCHEDULED: 'Scheduled',
    FINISHED: 'Finished',
    FAILED: 'Failed',
    KILLED: 'Killed',
};

export function fmtBytes(n) {
    if (n === undefined || n === null || n === '') return '';
    n = Number(n);
    if (n < 1024) return `${n} B`;
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let i = -1;
    do {
        n /= 1024;
        i++;
    } while (n >= 1024 && i < units.length - 1);
    return `${n.toFixed(1)} ${units[i]}`;
}

/** The run's display name: its run_name, else the mlflow.runName tag, else the id. */
export function runName(run) {
    const info = run.info || {};
    if (info.run_name) return info.run_name;
    const tag = (run.data?.tags || []).find((t) => t.key === 'mlflow.runName');
    return tag ? tag.value : (info.run_id || '').slice(0, 8);
}
