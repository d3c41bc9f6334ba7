// One metric, big: #/metric/<key>?runs=a,b&x=step|time|wall&log=1&smooth=0.6
// (MLflow's metric page URL), with the chart's controls kept in the URL so a view
// can be shared.
import { useEffect, useState } from 'preact/hooks';
import { get } from '../api.js';
import { href, listParam, setQuery } from '../route.js';
import { runName } from '../util.js';
import { Crumbs, ErrorBanner, PageTitle } from '../components/common.jsx';
import { Chart } from '../components/Chart.jsx';
import { chartQuery, chartQueryPatch } from '../components/ChartQuery.js';
import { fetchRuns } from '../components/CompareData.js';
import './run.css';

export function MetricPage({ route, metricKey }) {
    const ids = listParam(route.query, 'runs');
    const controls = chartQuery(route.query);
    const [runs, setRuns] = useState(null);
    const [error, setError] = useState(null);
    const [experiment, setExperiment] = useState(null);
    const idsKey = ids.join(',');

    useEffect(() => {
        const ctl = new AbortController();
        setRuns(null);
        setError(null);
        fetchRuns(ids, ctl.signal).then((r) => setRuns(r),
                                        (e) => e.name !== 'AbortError' && setError(e));
        return () => ctl.abort();
    }, [idsKey]);

    const eid = runs && runs.length ? runs[0].run.info.experiment_id : null;
    useEffect(() => {
        if (!eid) return;
        get('experiments/get', { experiment_id: eid }).then((r) => setExperiment(r.experiment),
                                                             () => {});
    }, [eid]);

    useEffect(() => {
        document.title = `${metricKey} - mlflow-c`;
    }, [metricKey]);

    if (!ids.length) {
        return <div class="page"><PageTitle>{metricKey}</PageTitle>
            <div class="muted">No runs given: add <code>?runs=RUN_ID,...</code> to the URL.</div>
        </div>;
    }
    const ok = (runs || []).filter((r) => r.run);
    const missing = (runs || []).filter((r) => !r.run);
    // The chart starts fetching at once, under the ids; names and start times fill in
    // when runs/get answers (a run that does not exist is then dropped).
    const chartRuns = runs
        ? ok.map((r) => ({ id: r.run.info.run_id, name: runName(r.run),
                           startTime: r.run.info.start_time }))
        : [...new Set(ids)].map((id) => ({ id, name: id.slice(0, 8) }));
    const crumbs = [{ label: 'Experiments', href: '#/experiments' }];
    if (eid) crumbs.push({ label: experiment ? experiment.name : `Experiment ${eid}`,
                           href: href(['experiments', eid]) });
    if (ok.length === 1) {
        crumbs.push({ label: runName(ok[0].run),
                      href: href(['experiments', eid, 'runs', ok[0].run.info.run_id]) });
    } else if (ok.length > 1) {
        crumbs.push({ label: `${ok.length} runs`, href: href(['compare-runs'], { runs: ids }) });
    }
    crumbs.push({ label: metricKey });

    return (
        <div class="page metric-page">
            <Crumbs items={crumbs} />
            <PageTitle>{metricKey}</PageTitle>
            <ErrorBanner error={error} />
            {missing.length ? (
                <div class="error-banner">
                    {missing.length} run(s) could not be loaded: {missing.map((m) => m.id).join(', ')}
                </div>
            ) : null}
            {chartRuns.length ? (
                <Chart metricKey={metricKey} runs={chartRuns} height={460} {...controls}
                       title={<span class="muted">Drag to zoom, double-click to reset.</span>}
                       onControls={(p) => setQuery(chartQueryPatch(p))} />
            ) : null}
        </div>
    );
}
