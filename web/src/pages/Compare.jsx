// Placeholder: replaced by the real page.
export function ComparePage({ route }) {
    return <div class="page"><h1>Compare</h1></div>;
}
