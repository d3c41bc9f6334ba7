// Placeholder: replaced by the real page.
export function RunPage({ route, experimentId, runId }) {
    return <div class="page"><h1>Run</h1></div>;
}
