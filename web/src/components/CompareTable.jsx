// Runs side by side: one column per run, one row per attribute, param, metric
// (latest value) and tag. A row whose values are not all equal (a run missing the
// key counts as different) is highlighted, and can be the only kind shown. The
// first column and the header row stay put while a wide comparison scrolls.
import { href } from '../route.js';
import { fmtDuration, fmtTime, fmtValue, runName } from '../util.js';
import { runColor } from './ChartMath.js';
import { SYSTEM_TAG_PREFIX } from './RunTables.jsx';
import { StatusBadge } from './common.jsx';

const MISSING = '\u0000missing';

/** Rows of one section: [{key, values: [string|undefined per run], differs}]. */
export function compareRows(maps, pick, fmt) {
    const keys = new Set();
    for (const m of maps) for (const k of Object.keys(pick(m))) keys.add(k);
    return [...keys].sort((a, b) => a.localeCompare(b)).map((key) => {
        const values = maps.map((m) => {
            const v = pick(m)[key];
            return v === undefined ? undefined : fmt(v);
        });
        const differs = new Set(values.map((v) => (v === undefined ? MISSING : v))).size > 1;
        return { key, values, differs };
    });
}

function Section({ title, name, rows, onlyDiff, n, keyCell }) {
    const shown = onlyDiff ? rows.filter((r) => r.differs) : rows;
    const ndiff = rows.filter((r) => r.differs).length;
    return (
        <tbody data-section={name}>
            <tr class="compare-section">
                <th class="compare-key">{title} <span class="muted">
                    ({rows.length}{ndiff ? `, ${ndiff} differ` : ''})</span></th>
                <td colSpan={n} />
            </tr>
            {shown.map((r) => (
                <tr key={r.key} class={r.differs ? 'diff' : 'same'} data-key={r.key}>
                    <th class="compare-key" title={r.key}>{keyCell ? keyCell(r.key) : r.key}</th>
                    {r.values.map((v) => (
                        <td class={v === undefined ? 'missing' : ''}>{v === undefined ? '' : v}</td>
                    ))}
                </tr>
            ))}
            {!shown.length ? (
                <tr class="compare-none"><th class="compare-key muted">
                    {rows.length ? 'No differences.' : 'None.'}</th><td colSpan={n} /></tr>
            ) : null}
        </tbody>
    );
}

/** runs: [{run, maps: {params, metrics, tags}}]. */
export function CompareTable({ runs, onlyDiff }) {
    const maps = runs.map((r) => r.maps);
    const ids = runs.map((r) => r.run.info.run_id);
    const n = runs.length;
    const params = compareRows(maps, (m) => m.params, String);
    const metrics = compareRows(maps, (m) => m.metrics, (m) => fmtValue(m.value));
    const tags = compareRows(maps, (m) => Object.fromEntries(Object.entries(m.tags)
        .filter(([k]) => !k.startsWith(SYSTEM_TAG_PREFIX))), String);
    const metricLink = (key) => <a href={href(['metric', key], { runs: ids })}>{key}</a>;
    return (
        <div class="compare-scroll">
            <table class="compare-table">
                <thead>
                    <tr class="compare-names">
                        <th class="compare-key">Run</th>
                        {runs.map((r, i) => (
                            <th data-run={r.run.info.run_id}>
                                <span class="swatch" style={{ background: runColor(i) }} />
                                <a href={href(['experiments', r.run.info.experiment_id, 'runs',
                                               r.run.info.run_id])}>{runName(r.run)}</a>
                            </th>
                        ))}
                    </tr>
                </thead>
                <tbody data-section="attributes">
                    <tr>
                        <th class="compare-key">Run ID</th>
                        {runs.map((r) => <td class="mono">{r.run.info.run_id}</td>)}
                    </tr>
                    <tr>
                        <th class="compare-key">Status</th>
                        {runs.map((r) => <td><StatusBadge status={r.run.info.status} /></td>)}
                    </tr>
                    <tr>
                        <th class="compare-key">Start time</th>
                        {runs.map((r) => <td>{fmtTime(r.run.info.start_time)}</td>)}
                    </tr>
                    <tr>
                        <th class="compare-key">Duration</th>
                        {runs.map((r) => <td>{fmtDuration(r.run.info.start_time,
                                                          r.run.info.end_time,
                                                          r.run.info.status)}</td>)}
                    </tr>
                </tbody>
                <Section title="Parameters" name="params" rows={params} onlyDiff={onlyDiff} n={n} />
                <Section title="Metrics" name="metrics" rows={metrics} onlyDiff={onlyDiff} n={n}
                         keyCell={metricLink} />
                <Section title="Tags" name="tags" rows={tags} onlyDiff={onlyDiff} n={n} />
            </table>
        </div>
    );
}
