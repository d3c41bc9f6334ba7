// Placeholder: replaced by the real page.
export function MetricPage({ route, metricKey }) {
    return <div class="page"><h1>Metric</h1></div>;
}
