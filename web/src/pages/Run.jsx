// One run: #/experiments/<eid>/runs/<run_id>?tab=overview|charts|artifacts&path=...
// Overview (details, description, params, metrics, tags), a chart per metric, and
// the artifact browser; everything read through runs/get, runs/search and
// artifacts/list as any client would.
import { useEffect, useState } from 'preact/hooks';
import { get, runMaps, searchRuns } from '../api.js';
import { href, setQuery } from '../route.js';
import { runName } from '../util.js';
import { Crumbs, ErrorBanner, Loading } from '../components/common.jsx';
import { Artifacts } from '../components/Artifacts.jsx';
import { ChartControls, LazyChart } from '../components/Chart.jsx';
import { chartQuery, chartQueryPatch } from '../components/ChartQuery.js';
import { RunDescription, NOTE_TAG } from '../components/RunDescription.jsx';
import { RunHeader } from '../components/RunHeader.jsx';
import { RunOverview } from '../components/RunOverview.jsx';
import { RunMetrics, RunParams, RunTags } from '../components/RunTables.jsx';
import './run.css';

const TABS = [
    { id: 'overview', label: 'Overview' },
    { id: 'charts', label: 'Charts' },
    { id: 'artifacts', label: 'Artifacts' },
];
const MAX_CHILDREN = 100;

export function RunPage({ route, experimentId, runId }) {
    const tab = TABS.some((t) => t.id === route.query.get('tab')) ? route.query.get('tab')
                                                                   : 'overview';
    const [run, setRun] = useState(null);
    const [error, setError] = useState(null);
    const [version, setVersion] = useState(0);
    const [experiment, setExperiment] = useState(null);
    const [parent, setParent] = useState(null);
    const [children, setChildren] = useState(null);

    useEffect(() => {
        const ctl = new AbortController();
        setError(null);
        get('runs/get', { run_id: runId }, ctl.signal).then(
            (r) => setRun(r.run),
            (e) => e.name !== 'AbortError' && setError(e),
        );
        return () => ctl.abort();
    }, [runId, version]);

    const eid = run ? run.info.experiment_id : experimentId;
    const maps = run ? runMaps(run) : null;
    const parentId = maps ? maps.tags['mlflow.parentRunId'] : null;

    useEffect(() => {
        if (!eid) return;
        get('experiments/get', { experiment_id: eid }).then((r) => setExperiment(r.experiment),
                                                             () => setExperiment(null));
    }, [eid]);

    useEffect(() => {
        setParent(null);
        if (!parentId) return;
        get('runs/get', { run_id: parentId }).then((r) => setParent(r.run), () => {});
    }, [parentId]);

    useEffect(() => {
        if (!run) return;
        const quoted = runId.replace(/'/g, "\\'");
        searchRuns({ experimentIds: [eid], filter: `tags.mlflow.parentRunId = '${quoted}'`,
                     maxResults: MAX_CHILDREN, viewType: 'ALL' })
            .then((r) => setChildren(r), () => setChildren(null));
    }, [runId, eid, run !== null]);

    useEffect(() => {
        if (run) document.title = `${runName(run)} - mlflow-c`;
    }, [run]);

    if (error) {
        return <div class="page run-page"><ErrorBanner error={error} /></div>;
    }
    if (!run) return <div class="page run-page"><Loading what="run" /></div>;

    const data = run.data || {};
    const metrics = data.metrics || [];
    const reload = () => setVersion((v) => v + 1);
    const tabHref = (t) => href(['experiments', eid, 'runs', runId], t === 'overview' ? {} : { tab: t });

    return (
        <div class="page run-page" data-run={runId}>
            <Crumbs items={[
                { label: 'Experiments', href: '#/experiments' },
                { label: experiment ? experiment.name : `Experiment ${eid}`,
                  href: href(['experiments', eid]) },
                { label: runName(run) },
            ]} />
            <RunHeader run={run} onChanged={reload} />
            <nav class="run-tabs" role="tablist">
                {TABS.map((t) => (
                    <a role="tab" href={tabHref(t.id)} aria-selected={tab === t.id}
                       class={`run-tab${tab === t.id ? ' active' : ''}`} data-tab={t.id}>
                        {t.label}
                        {t.id === 'charts' ? <span class="muted"> ({metrics.length})</span> : null}
                    </a>
                ))}
            </nav>
            {tab === 'overview' ? (
                <div class="run-overview">
                    <RunDescription runId={runId} text={maps.tags[NOTE_TAG]} onSaved={reload} />
                    <RunOverview run={run} tags={maps.tags} experiment={experiment} parent={parent}
                                 parentId={parentId} children={children?.runs}
                                 childrenMore={Boolean(children?.next_page_token)} />
                    <RunParams params={data.params || []} />
                    <RunMetrics runId={runId} metrics={metrics} />
                    <RunTags tags={data.tags || []} />
                </div>
            ) : null}
            {tab === 'charts' ? <RunCharts run={run} query={route.query} /> : null}
            {tab === 'artifacts' ? (
                <Artifacts runId={runId} path={route.query.get('path') || ''}
                           onSelect={(p) => setQuery({ path: p })} />
            ) : null}
        </div>
    );
}

function RunCharts({ run, query }) {
    const metrics = [...(run.data.metrics || [])].sort((a, b) => a.key.localeCompare(b.key));
    const controls = chartQuery(query);
    const runs = [{ id: run.info.run_id, name: runName(run), startTime: run.info.start_time }];
    if (!metrics.length) return <div class="muted">This run has no metrics.</div>;
    return (
        <div>
            <div class="run-chart-controls">
                <ChartControls {...controls} onChange={(p) => setQuery(chartQueryPatch(p))} />
                <span class="muted">Drag to zoom, double-click to reset.</span>
            </div>
            <div class="run-charts">
                {metrics.map((m) => (
                    <LazyChart key={m.key} metricKey={m.key} runs={runs} compact height={200}
                               {...controls} />
                ))}
            </div>
        </div>
    );
}
