// Placeholder: replaced by the real page.
export function RunsPage({ route, ids }) {
    return <div class="page"><h1>Runs</h1></div>;
}
