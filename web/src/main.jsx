// Entry point: the app shell and the route table. Each page is its own module under
// pages/; they share api.js (REST calls), route.js (hash URLs) and util.js (formatting).
import { render } from 'preact';
import { useEffect } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { navigate, useRoute } from './route.js';
import { ExperimentsPage } from './pages/Experiments.jsx';
import { RunsPage } from './pages/Runs.jsx';
import { RunPage } from './pages/Run.jsx';
import { ComparePage } from './pages/Compare.jsx';
import { MetricPage } from './pages/Metric.jsx';

function NotFound({ path }) {
    return <div class="page"><h1>Page not found</h1><p>No page at <code>{path}</code>.</p>
        <p><a href="#/experiments">Go to the experiments</a></p></div>;
}

/** Route table. URL shapes follow MLflow's UI where it has one. */
function pageFor(route) {
    const [a, b, c, d] = route.parts;
    if (!a || (a === 'experiments' && !b)) return <ExperimentsPage route={route} />;
    if (a === 'experiments' && b && !c) return <RunsPage route={route} ids={b.split(',')} />;
    if (a === 'experiments' && c === 'runs' && d)
        return <RunPage route={route} experimentId={b} runId={d} />;
    if (a === 'compare-runs') return <ComparePage route={route} />;
    if (a === 'metric' && b) return <MetricPage route={route} metricKey={b} />;
    return <NotFound path={route.path} />;
}

function App() {
    const route = useRoute();
    useEffect(() => {
        if (!route.parts.length) navigate('#/experiments', { replace: true });
    }, [route.path]);
    return (
        <div class="app">
            <header class="topbar">
                <a class="brand" href="#/experiments">mlflow<span>-c</span></a>
                <nav><a href="#/experiments">Experiments</a></nav>
            </header>
            <main>{pageFor(route)}</main>
        </div>
    );
}

render(<App />, document.getElementById('app'));
