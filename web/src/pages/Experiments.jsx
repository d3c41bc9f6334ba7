// Placeholder: replaced by the real page.
export function ExperimentsPage({ route }) {
    return <div class="page"><h1>Experiments</h1></div>;
}
