// The run page's tables: params, metrics (latest values, each linking to its chart)
// and tags (MLflow's system tags, mlflow.*, folded away behind a toggle as MLflow does).
import { useState } from 'preact/hooks';
import { href } from '../route.js';
import { fmtTime, fmtValue } from '../util.js';

export const SYSTEM_TAG_PREFIX = 'mlflow.';

function Filter({ value, onInput, label }) {
    return <input type="search" class="run-table-filter" placeholder={`Filter ${label}`}
                  aria-label={`Filter ${label}`} value={value}
                  onInput={(e) => onInput(e.currentTarget.value)} />;
}

function matches(q, ...texts) {
    if (!q) return true;
    const l = q.toLowerCase();
    return texts.some((t) => String(t ?? '').toLowerCase().includes(l));
}

export function RunParams({ params }) {
    const [q, setQ] = useState('');
    const rows = params.filter((p) => matches(q, p.key, p.value))
        .sort((a, b) => a.key.localeCompare(b.key));
    return (
        <section class="run-section" data-section="params">
            <h2>Parameters <span class="muted">({params.length})</span></h2>
            {params.length > 10 ? <Filter value={q} onInput={setQ} label="parameters" /> : null}
            {!params.length ? <div class="muted">No parameters.</div> : (
                <table class="kv run-table run-params">
                    <thead><tr><th>Name</th><th>Value</th></tr></thead>
                    <tbody>
                        {rows.map((p) => (
                            <tr key={p.key} data-key={p.key}>
                                <td class="run-key">{p.key}</td>
                                <td class="run-value">{p.value}</td>
                            </tr>
                        ))}
                    </tbody>
                </table>
            )}
        </section>
    );
}

export function RunMetrics({ runId, metrics }) {
    const [q, setQ] = useState('');
    const rows = metrics.filter((m) => matches(q, m.key))
        .sort((a, b) => a.key.localeCompare(b.key));
    return (
        <section class="run-section" data-section="metrics">
            <h2>Metrics <span class="muted">({metrics.length})</span></h2>
            {metrics.length > 10 ? <Filter value={q} onInput={setQ} label="metrics" /> : null}
            {!metrics.length ? <div class="muted">No metrics.</div> : (
                <table class="kv run-table run-metrics">
                    <thead>
                        <tr><th>Name</th><th class="num">Latest value</th><th class="num">Step</th>
                            <th>Logged at</th></tr>
                    </thead>
                    <tbody>
                        {rows.map((m) => (
                            <tr key={m.key} data-key={m.key}>
                                <td class="run-key">
                                    <a href={href(['metric', m.key], { runs: runId })}>{m.key}</a>
                                </td>
                                <td class="num run-value">{fmtValue(m.value)}</td>
                                <td class="num">{m.step}</td>
                                <td class="muted">{fmtTime(m.timestamp)}</td>
                            </tr>
                        ))}
                    </tbody>
                </table>
            )}
        </section>
    );
}

export function RunTags({ tags }) {
    const [system, setSystem] = useState(false);
    const user = tags.filter((t) => !t.key.startsWith(SYSTEM_TAG_PREFIX));
    const sys = tags.filter((t) => t.key.startsWith(SYSTEM_TAG_PREFIX) &&
                                   t.key !== 'mlflow.note.content');
    const rows = (system ? [...user, ...sys] : user).sort((a, b) => a.key.localeCompare(b.key));
    return (
        <section class="run-section" data-section="tags">
            <h2>Tags <span class="muted">({user.length})</span></h2>
            {sys.length ? (
                <label class="run-systags">
                    <input type="checkbox" checked={system}
                           onChange={(e) => setSystem(e.currentTarget.checked)} />
                    {' '}Show system tags ({sys.length})
                </label>
            ) : null}
            {!rows.length ? <div class="muted">No tags.</div> : (
                <table class="kv run-table run-tags">
                    <thead><tr><th>Name</th><th>Value</th></tr></thead>
                    <tbody>
                        {rows.map((t) => (
                            <tr key={t.key} data-key={t.key}
                                class={t.key.startsWith(SYSTEM_TAG_PREFIX) ? 'system' : ''}>
                                <td class="run-key">{t.key}</td>
                                <td class="run-value">{t.value}</td>
                            </tr>
                        ))}
                    </tbody>
                </table>
            )}
        </section>
    );
}
