// Runs compared: #/compare-runs?runs=a,b,c (MLflow's JSON-array form works too)
// &diff=1 (only rows that differ) &metrics=k1,k2 (charted metrics) &x=&log=&smooth=.
// A diff table of params, metrics and tags, then one overlaid chart per metric.
import { useEffect, useState } from 'preact/hooks';
import { get, runMaps } from '../api.js';
import { href, listParam, setQuery } from '../route.js';
import { runName } from '../util.js';
import { Crumbs, ErrorBanner, Loading, PageTitle } from '../components/common.jsx';
import { ChartControls, LazyChart } from '../components/Chart.jsx';
import { chartQuery, chartQueryPatch } from '../components/ChartQuery.js';
import { fetchRuns } from '../components/CompareData.js';
import { CompareTable } from '../components/CompareTable.jsx';
import './run.css';

const DEFAULT_CHARTS = 6;

export function ComparePage({ route }) {
    const ids = listParam(route.query, 'runs');
    const onlyDiff = route.query.get('diff') === '1';
    const controls = chartQuery(route.query);
    const [loaded, setLoaded] = useState(null);
    const [error, setError] = useState(null);
    const idsKey = ids.join(',');

    useEffect(() => {
        const ctl = new AbortController();
        setLoaded(null);
        setError(null);
        fetchRuns(ids, ctl.signal).then((r) => setLoaded(r),
                                        (e) => e.name !== 'AbortError' && setError(e));
        return () => ctl.abort();
    }, [idsKey]);

    useEffect(() => {
        document.title = `Comparing ${ids.length} runs - mlflow-c`;
    }, [ids.length]);

    // The experiment's name for the breadcrumb, when all runs share one.
    const [expName, setExpName] = useState(null);
    const eidsKey = loaded ? [...new Set(loaded.filter((r) => r.run)
        .map((r) => r.run.info.experiment_id))].join(',') : '';
    useEffect(() => {
        setExpName(null);
        if (!eidsKey || eidsKey.includes(',')) return;
        get('experiments/get', { experiment_id: eidsKey })
            .then((r) => setExpName(r.experiment.name), () => {});
    }, [eidsKey]);

    if (!ids.length) {
        return <div class="page"><PageTitle>Compare runs</PageTitle>
            <div class="muted">No runs selected. Select runs in a runs table and press Compare.</div>
        </div>;
    }
    if (error) return <div class="page"><ErrorBanner error={error} /></div>;
    if (!loaded) return <div class="page"><Loading what={`${ids.length} runs`} /></div>;

    const runs = loaded.filter((r) => r.run).map((r) => ({ run: r.run, maps: runMaps(r.run) }));
    const missing = loaded.filter((r) => !r.run);
    const eids = [...new Set(runs.map((r) => r.run.info.experiment_id))];

    // Metrics every run has are charted by default; the URL can name others.
    const allKeys = [...new Set(runs.flatMap((r) => Object.keys(r.maps.metrics)))].sort();
    const common = allKeys.filter((k) => runs.every((r) => k in r.maps.metrics));
    const chosenParam = listParam(route.query, 'metrics');
    const chosen = chosenParam.length ? chosenParam.filter((k) => allKeys.includes(k))
        : (common.length ? common : allKeys).slice(0, DEFAULT_CHARTS);
    const chartRuns = runs.map((r) => ({ id: r.run.info.run_id, name: runName(r.run),
                                         startTime: r.run.info.start_time }));

    function toggleMetric(k) {
        const next = chosen.includes(k) ? chosen.filter((c) => c !== k) : [...chosen, k];
        setQuery({ metrics: next.length ? next.join(',') : '' });
    }

    return (
        <div class="page compare-page">
            <Crumbs items={[
                { label: 'Experiments', href: '#/experiments' },
                eids.length === 1 ? { label: expName || `Experiment ${eids[0]}`,
                                      href: href(['experiments', eids[0]]) }
                                  : { label: `${eids.length} experiments`,
                                      href: href(['experiments', eids.join(',')]) },
                { label: 'Compare' },
            ]} />
            <PageTitle>Comparing {runs.length} run{runs.length === 1 ? '' : 's'}</PageTitle>
            {missing.length ? (
                <div class="error-banner">
                    {missing.length} run(s) could not be loaded:{' '}
                    {missing.map((m) => `${m.id} (${m.error.message})`).join(', ')}
                </div>
            ) : null}
            <label class="compare-onlydiff">
                <input type="checkbox" checked={onlyDiff}
                       onChange={(e) => setQuery({ diff: e.currentTarget.checked ? '1' : '' })} />
                {' '}Show only differences
            </label>
            <CompareTable runs={runs} onlyDiff={onlyDiff} />

            <h2>Charts</h2>
            {allKeys.length ? (
                <div class="compare-metric-pick">
                    {allKeys.map((k) => (
                        <label class={common.includes(k) ? '' : 'muted'}>
                            <input type="checkbox" checked={chosen.includes(k)}
                                   onChange={() => toggleMetric(k)} /> {k}
                        </label>
                    ))}
                </div>
            ) : <div class="muted">These runs have no metrics.</div>}
            {chosen.length ? (
                <div class="run-chart-controls">
                    <ChartControls {...controls} onChange={(p) => setQuery(chartQueryPatch(p))} />
                    <span class="muted">Drag to zoom, double-click to reset.</span>
                </div>
            ) : null}
            <div class="compare-charts">
                {chosen.map((k) => (
                    <LazyChart key={k} metricKey={k} runs={chartRuns} height={260} compact
                               {...controls} />
                ))}
            </div>
        </div>
    );
}
