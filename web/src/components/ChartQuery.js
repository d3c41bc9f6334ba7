// The chart controls that pages keep in the URL (x=step|time|wall, log=1, smooth=0.6),
// so that a chart view can be shared as a link, as on MLflow's metric page.

/** {xAxis, log, smooth} from a route's query. */
export function chartQuery(query) {
    const x = query.get('x');
    const smooth = Number(query.get('smooth') || 0);
    return {
        xAxis: x === 'time' || x === 'wall' ? x : 'step',
        log: query.get('log') === '1',
        smooth: Number.isFinite(smooth) ? Math.min(0.99, Math.max(0, smooth)) : 0,
    };
}

/** A change of controls as a setQuery() patch (defaults are left out of the URL). */
export function chartQueryPatch(patch) {
    const out = {};
    if ('xAxis' in patch) out.x = patch.xAxis === 'step' ? '' : patch.xAxis;
    if ('log' in patch) out.log = patch.log ? '1' : '';
    if ('smooth' in patch) out.smooth = patch.smooth > 0 ? String(patch.smooth) : '';
    return out;
}
