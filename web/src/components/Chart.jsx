// A line chart of one metric over one or many runs, drawn by uPlot.
//
// Data comes downsampled to about two points per pixel (ChartData.js), so a series of
// a million points costs the browser what one of a few thousand does. Zooming (drag)
// narrows the x range and refetches that range, so what is shown after a zoom is the
// real detail, not a stretched overview; double-click goes back to the full range.
// The legend (custom, so it scales to 100 runs) shows the value under the cursor and
// each series' min, max and last.
import uPlot from 'uplot';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { fetchSeries } from './ChartData.js';
import { alignSeries, ema, fmtCompact, fmtSeconds, runColor, seriesStats } from './ChartMath.js';
import { fmtTime, fmtValue } from '../util.js';

export const X_AXES = [
    { id: 'step', label: 'Step' },
    { id: 'time', label: 'Relative time' },
    { id: 'wall', label: 'Wall time' },
];

/** Tick spacings for relative time (seconds): whole seconds, minutes, hours, days. */
const SECOND_INCRS = [0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800,
    3600, 7200, 4 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 30 * 86400];

/** Points per series that the whole chart can afford; many runs share the budget. */
function pointsPerSeries(width, nRuns) {
    const perPixel = Math.max(400, Math.min(4000, Math.round((width || 600) * 2 / 500) * 500));
    return Math.max(100, Math.min(perPixel, Math.floor(40000 / Math.max(1, nRuns))));
}

/** Display x from a fetched x (step, or timestamp in ms). */
function toDisplayX(xAxis, raw, t0) {
    if (xAxis === 'step') return raw;
    if (xAxis === 'wall') return raw / 1000;
    return (raw - t0) / 1000;
}

/** Fetched-x range for a display range [a, b]. */
function toFetchRange(xAxis, a, b, t0) {
    if (xAxis === 'step') return [a, b];
    if (xAxis === 'wall') return [a * 1000, b * 1000];
    return [t0 + a * 1000, t0 + b * 1000];
}

function mapX(s, xAxis, t0) {
    if (xAxis === 'step') return s;
    const x = new Float64Array(s.x.length);
    for (let i = 0; i < x.length; i++) x[i] = toDisplayX(xAxis, s.x[i], t0);
    return { ...s, x };
}

function fmtX(xAxis, v) {
    if (v === null || v === undefined) return '';
    if (xAxis === 'wall') return fmtTime(v * 1000);
    if (xAxis === 'time') return fmtSeconds(v);
    return String(v);
}

/** The value of series `si` at or nearest to data index `idx` (aligned data may have holes). */
function valueNear(data, si, idx) {
    const ys = data[si];
    if (!ys || idx === null || idx === undefined) return undefined;
    for (let d = 0; d < 64; d++) {
        const a = ys[idx - d];
        if (a !== undefined && idx - d >= 0) return a;
        const b = ys[idx + d];
        if (b !== undefined && idx + d < ys.length) return b;
    }
    return undefined;
}

/**
 * Props: metricKey; runs [{id, name, startTime}]; xAxis 'step'|'time'|'wall'; log; smooth
 * (0..0.99); height; compact (small, no controls); onControls(patch) when the chart's
 * controls change (else the chart keeps them itself).
 */
export function Chart({ metricKey, runs, xAxis: xAxisProp, log: logProp, smooth: smoothProp,
                        height = 280, compact = false, onControls, title }) {
    const [own, setOwn] = useState({ xAxis: 'step', log: false, smooth: 0 });
    const xAxis = xAxisProp ?? own.xAxis;
    const log = logProp ?? own.log;
    const smooth = smoothProp ?? own.smooth;
    const setControls = (patch) => (onControls ? onControls(patch)
                                               : setOwn((o) => ({ ...o, ...patch })));

    const wrapRef = useRef(null);
    const plotRef = useRef(null);
    const uRef = useRef(null);
    const [width, setWidth] = useState(0);
    const [fetched, setFetched] = useState(null); // {key, series: [...]}
    const [view, setView] = useState(null); // zoomed series, or null for full
    const [zoom, setZoom] = useState(null); // [min, max] display x, or null
    const [busy, setBusy] = useState(false);
    const [hover, setHover] = useState(null);
    const [hidden, setHidden] = useState(() => new Set());
    const [err, setErr] = useState(null);

    const runsKey = runs.map((r) => r.id).join(',');
    const fetchAxis = xAxis === 'step' ? 'step' : 'timestamp';
    // Data fetched for another metric, run set or x axis is never drawn under the
    // new settings, not even for the one render before the refetch starts.
    const dataKey = `${metricKey}\u0000${runsKey}\u0000${fetchAxis}`;
    const full = fetched && fetched.key === dataKey ? fetched : null;
    const budget = width ? pointsPerSeries(width, runs.length) : 0;

    // Width drives both the canvas size and how many points to ask for.
    useEffect(() => {
        const el = wrapRef.current;
        if (!el) return undefined;
        const ro = new ResizeObserver(() => {
            const w = Math.floor(el.clientWidth);
            if (w > 0) setWidth(w);
        });
        ro.observe(el);
        return () => ro.disconnect();
    }, []);

    // The full range of every run. A new width alone (another point budget) keeps
    // the current picture until the new data is in.
    const lastKey = useRef(null);
    useEffect(() => {
        if (!budget) return undefined;
        const ctl = new AbortController();
        if (lastKey.current !== dataKey) {
            if (wrapRef.current) wrapRef.current.dataset.ready = '0';
            if (lastKey.current && !lastKey.current.startsWith(`${metricKey}\u0000${runsKey}\u0000`))
                setHidden(new Set());
            lastKey.current = dataKey;
            setFetched(null);
        }
        setView(null);
        setZoom(null);
        setErr(null);
        Promise.all(runs.map((run) => fetchSeries({
            runId: run.id, key: metricKey, xAxis: fetchAxis, maxPoints: budget, signal: ctl.signal,
        }).then((s) => ({ run, ...s }), (e) => {
            if (e.name === 'AbortError') throw e;
            return { run, error: e, x: new Float64Array(0), y: new Float64Array(0),
                     t: new Float64Array(0), total: 0 };
        }))).then((series) => {
            if (!ctl.signal.aborted) setFetched({ key: dataKey, series });
        }, (e) => {
            if (e.name !== 'AbortError') setErr(e);
        });
        return () => ctl.abort();
    }, [metricKey, runsKey, fetchAxis, budget]);

    // Per run: t0 for relative time (the run's start, else its first point).
    // (Read from the runs prop, which may fill in after the data: pages start the
    // chart's fetch before their runs/get calls have answered.)
    const startsKey = runs.map((r) => r.startTime || '').join(',');
    const t0s = useMemo(() => (full ? full.series.map((s, i) => (
        runs[i]?.startTime ? Number(runs[i].startTime) : (s.t.length ? s.t[0] : 0))) : []),
    [full, startsKey]);

    const stats = useMemo(() => (full ? full.series.map(seriesStats) : []), [full]);

    // What uPlot draws: aligned x, and per run the (smoothed) values, plus faint raw
    // lines under the smoothed ones when there are few runs.
    const plot = useMemo(() => {
        const src = full ? (view || full.series) : null;
        if (!src) return null;
        const shown = [];
        src.forEach((s, i) => shown.push(mapX(s, xAxis, t0s[i])));
        const withRaw = smooth > 0 && runs.length <= 10;
        const lines = [];
        const meta = [];
        shown.forEach((s, i) => {
            if (withRaw) {
                lines.push(s);
                meta.push({ run: i, raw: true });
            }
            lines.push(smooth > 0 ? { ...s, y: ema(s.y, smooth) } : s);
            meta.push({ run: i, raw: false });
        });
        let points = 0;
        for (const s of src) points += s.x.length;
        return { data: alignSeries(lines, log), meta, points };
    }, [full, view, xAxis, t0s, smooth, log, runs.length]);

    const state = useRef({});
    state.current = { full, view, zoom, xAxis, t0s, fetchAxis, budget, metricKey, runs };

    // data-zoomed / data-busy on the plot say what is on screen (tests and the bench
    // wait on them): busy from a zoom or reset until its data has been drawn.
    const pendingDraw = useRef(false);
    function mark(attrs) {
        if (wrapRef.current) Object.assign(wrapRef.current.dataset, attrs);
    }

    // Zoom: refetch the visible range where the shown data is a reduction.
    const zoomFetch = useRef(null);
    function onZoom(min, max) {
        const st = state.current;
        if (!st.full) return;
        setZoom([min, max]);
        if (zoomFetch.current) zoomFetch.current.abort();
        const current = st.view || st.full.series;
        if (!current.some((s) => s.downsampled)) {
            mark({ zoomed: '1', busy: '0' }); // uPlot has drawn the range already
            return;
        }
        const ctl = new AbortController();
        zoomFetch.current = ctl;
        const pad = (max - min) * 0.02;
        mark({ zoomed: '1', busy: '1' });
        setBusy(true);
        Promise.all(st.full.series.map((s, i) => {
            if (!s.downsampled || s.error) return s; // already every point
            const [a, b] = toFetchRange(st.xAxis, min - pad, max + pad, st.t0s[i]);
            return fetchSeries({ runId: s.run.id, key: st.metricKey, xAxis: st.fetchAxis,
                                 maxPoints: st.budget, minX: a, maxX: b, signal: ctl.signal })
                .then((r) => ({ run: s.run, ...r }));
        })).then((series) => {
            if (ctl.signal.aborted) return;
            pendingDraw.current = true;
            setView(series);
            setBusy(false);
        }, (e) => {
            if (e.name !== 'AbortError') {
                setErr(e);
                setBusy(false);
                mark({ busy: '0' });
            }
        });
    }

    function resetZoom() {
        if (zoomFetch.current) zoomFetch.current.abort();
        const u = uRef.current;
        const xs = u && u.data[0];
        if (xs && xs.length) {
            // Without a refetched view nothing re-renders the plot, so widen it here.
            u.__prog.on = true;
            u.setScale('x', { min: xs[0], max: xs[xs.length - 1] });
            u.__prog.on = false;
        }
        setBusy(false);
        setZoom(null);
        const refill = Boolean(state.current.view);
        pendingDraw.current = refill;
        mark({ zoomed: '0', busy: refill ? '1' : '0' });
        setView(null);
    }

    const handlers = useRef({});
    handlers.current = { onZoom, resetZoom };

    // (Re)build the plot when what it shows changes shape; otherwise just setData.
    const shapeKey = plot ? `${plot.meta.length}|${xAxis}|${log}|${height}|${smooth > 0}` : '';
    useEffect(() => {
        if (!plot || !width || !plotRef.current) return undefined;
        let u = uRef.current;
        const prog = { on: true };
        const zoomNow = state.current.zoom;
        if (u && u.__shape === shapeKey) {
            u.__prog.on = true;
            u.setData(plot.data, true);
            if (zoomNow) u.setScale('x', { min: zoomNow[0], max: zoomNow[1] });
            u.__prog.on = false;
            if (pendingDraw.current) {
                pendingDraw.current = false;
                mark({ busy: '0' });
            }
            return undefined;
        }
        if (u) u.destroy();
        const series = [{ label: xAxis }];
        plot.meta.forEach((m) => {
            const color = runColor(m.run);
            series.push({
                label: runs[m.run]?.name || '',
                stroke: color,
                alpha: m.raw ? 0.25 : 1,
                width: m.raw ? 1 : 1.5,
                spanGaps: false,
                points: { size: 4 },
            });
        });
        const opts = {
            width,
            height,
            legend: { show: false },
            cursor: {
                drag: { x: true, y: false, setScale: true },
                bind: {
                    dblclick: () => () => {
                        handlers.current.resetZoom();
                        return null;
                    },
                },
            },
            scales: {
                x: { time: xAxis === 'wall' },
                y: log ? { distr: 3, log: 10 } : {},
            },
            axes: [
                xAxis === 'wall' ? {}
                    : xAxis === 'time' ? { incrs: SECOND_INCRS,
                                           values: (_, vals) => vals.map(fmtSeconds) }
                    : { values: (_, vals) => vals.map(fmtCompact) },
                { size: 56, values: (_, vals) => vals.map(fmtCompact) },
            ],
            series,
            hooks: {
                // A drag selection (uPlot then zooms to it) is the only user zoom;
                // scale changes from setData or resets are not.
                setSelect: [(pu) => {
                    const { left, width: w } = pu.select;
                    if (!(w > 0) || prog.on) return;
                    handlers.current.onZoom(pu.posToVal(left, 'x'), pu.posToVal(left + w, 'x'));
                }],
                setCursor: [(pu) => {
                    const idx = pu.cursor.idx;
                    if (pu.__raf) return;
                    pu.__raf = requestAnimationFrame(() => {
                        pu.__raf = 0;
                        setHover(idx === null || idx === undefined ? null : { idx });
                    });
                }],
                draw: [(pu) => {
                    const el = wrapRef.current;
                    if (!el) return;
                    const d = el.dataset;
                    d.xMin = String(pu.scales.x.min);
                    d.xMax = String(pu.scales.x.max);
                    d.yMin = String(pu.scales.y.min);
                    d.yMax = String(pu.scales.y.max);
                    d.xAxis = xAxis;
                    d.log = log ? '1' : '0';
                    d.ready = '1';
                    d.draws = String(Number(d.draws || 0) + 1);
                }],
            },
        };
        u = new uPlot(opts, plot.data, plotRef.current);
        u.__shape = shapeKey;
        u.__prog = prog;
        if (zoomNow) u.setScale('x', { min: zoomNow[0], max: zoomNow[1] });
        prog.on = false;
        uRef.current = u;
        if (pendingDraw.current) {
            pendingDraw.current = false;
            mark({ busy: '0' });
        }
        return undefined;
    }, [plot, width, shapeKey]);

    useEffect(() => () => {
        if (uRef.current) uRef.current.destroy();
        uRef.current = null;
    }, []);

    useEffect(() => {
        const u = uRef.current;
        if (u && width && (u.width !== width || u.height !== height))
            u.setSize({ width, height });
    }, [width, height]);

    // Series shown or hidden from the legend.
    useEffect(() => {
        const u = uRef.current;
        if (!u || !plot) return;
        plot.meta.forEach((m, i) => {
            const show = !hidden.has(m.run);
            if (u.series[i + 1] && u.series[i + 1].show !== show) u.setSeries(i + 1, { show });
        });
    }, [hidden, plot]);

    const toggle = (i) => setHidden((h) => {
        const n = new Set(h);
        if (n.has(i)) n.delete(i);
        else n.add(i);
        return n;
    });

    const errors = full ? full.series.filter((s) => s.error) : [];
    const hoverX = hover && plot ? plot.data[0][hover.idx] : null;
    const empty = full && !errors.length && full.series.every((s) => !s.x.length);
    const downsampled = (full ? (view || full.series) : []).some((s) => s.downsampled);
    const totalPoints = (full?.series || []).reduce((a, s) => a + (s.total || 0), 0);

    return (
        <div class={`chart${compact ? ' chart-compact' : ''}`} data-metric={metricKey}>
            <div class="chart-head">
                {title !== undefined ? title
                    : <a class="chart-title" href={`#/metric/${encodeURIComponent(metricKey)}?runs=${
                        encodeURIComponent(runs.map((r) => r.id).join(','))}`}>{metricKey}</a>}
                {compact ? null : (
                    <ChartControls xAxis={xAxis} log={log} smooth={smooth} onChange={setControls} />
                )}
                <span class="chart-status muted">
                    {busy ? 'loading range…' : ''}
                    {zoom ? <button class="link chart-reset" onClick={resetZoom}>reset zoom</button>
                          : null}
                </span>
            </div>
            {err ? <div class="error-banner">{err.message || String(err)}</div> : null}
            {errors.length ? <div class="error-banner">
                {errors.length} run(s) could not be loaded: {errors[0].error.message}
            </div> : null}
            <div class="chart-plot" ref={wrapRef} data-points={plot ? plot.points : 0}
                 data-total={totalPoints} data-downsampled={downsampled ? '1' : '0'}
                 data-zoomed="0" data-busy="0">
                {!full && !err ? <div class="loading">Loading {metricKey}…</div> : null}
                {empty ? <div class="muted chart-empty">No points logged.</div> : null}
                <div ref={plotRef} />
            </div>
            {full ? (
                <ChartLegend series={full.series} runs={runs} stats={stats} plot={plot} hover={hover}
                             hoverX={hoverX} xAxis={xAxis} hidden={hidden} onToggle={toggle}
                             compact={compact} />
            ) : null}
        </div>
    );
}

export function ChartControls({ xAxis, log, smooth, onChange }) {
    return (
        <span class="chart-controls">
            <label>x
                <select value={xAxis} onChange={(e) => onChange({ xAxis: e.currentTarget.value })}
                        aria-label="x axis">
                    {X_AXES.map((a) => <option value={a.id}>{a.label}</option>)}
                </select>
            </label>
            <label><input type="checkbox" checked={log} class="chart-log"
                          onChange={(e) => onChange({ log: e.currentTarget.checked })} /> log y</label>
            <label>smoothing
                <input type="range" min="0" max="0.99" step="0.01" value={smooth}
                       class="chart-smooth" aria-label="smoothing"
                       onInput={(e) => onChange({ smooth: Number(e.currentTarget.value) })} />
                <span class="mono">{Number(smooth).toFixed(2)}</span>
            </label>
        </span>
    );
}

function ChartLegend({ series, runs, stats, plot, hover, hoverX, xAxis, hidden, onToggle, compact }) {
    // Which uPlot series index holds run i's displayed (smoothed) line.
    const lineOf = new Map();
    plot?.meta.forEach((m, i) => {
        if (!m.raw) lineOf.set(m.run, i + 1);
    });
    const many = series.length > 12;
    return (
        <div class={`chart-legend${many ? ' chart-legend-many' : ''}`}>
            <table class="chart-legend-table">
                <thead>
                    <tr>
                        <th>{hover ? fmtX(xAxis, hoverX) : ''}</th>
                        <th class="num">value</th>
                        <th class="num">min</th>
                        <th class="num">max</th>
                        <th class="num">last</th>
                        {compact ? null : <th class="num">points</th>}
                    </tr>
                </thead>
                <tbody>
                    {series.map((s, i) => {
                        const st = stats[i];
                        const v = hover && plot ? valueNear(plot.data, lineOf.get(i), hover.idx)
                                                : undefined;
                        return (
                            <tr key={s.run.id} class={hidden.has(i) ? 'off' : ''}
                                data-run={s.run.id}>
                                <td class="chart-legend-name">
                                    <button class="link" onClick={() => onToggle(i)}
                                            title="show or hide">
                                        <span class="swatch" style={{ background: runColor(i) }} />
                                        {runs[i]?.name ?? s.run.name}
                                    </button>
                                </td>
                                <td class="num chart-v">{v === undefined ? ''
                                    : v === null ? 'NaN' : fmtValue(v)}</td>
                                <td class="num chart-min">{st.min === null ? '' : fmtValue(st.min)}</td>
                                <td class="num chart-max">{st.max === null ? '' : fmtValue(st.max)}</td>
                                <td class="num chart-last">{st.last === null ? ''
                                    : Number.isNaN(st.last) ? 'NaN' : fmtValue(st.last)}</td>
                                {compact ? null : <td class="num muted">{st.total}</td>}
                            </tr>
                        );
                    })}
                </tbody>
            </table>
        </div>
    );
}

/** A Chart that is only built once it scrolls into view (pages with many metrics). */
export function LazyChart(props) {
    const ref = useRef(null);
    const [seen, setSeen] = useState(false);
    useEffect(() => {
        const el = ref.current;
        if (!el || seen) return undefined;
        const io = new IntersectionObserver((entries) => {
            if (entries.some((e) => e.isIntersecting)) {
                setSeen(true);
                io.disconnect();
            }
        }, { rootMargin: '200px' });
        io.observe(el);
        return () => io.disconnect();
    }, [seen]);
    return (
        <div ref={ref} class="chart-lazy" style={{ minHeight: `${(props.height || 280) + 60}px` }}>
            {seen ? <Chart {...props} /> : null}
        </div>
    );
}
