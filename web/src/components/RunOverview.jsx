// The run page's details: the attributes MLflow shows at the top of a run (times,
// duration, user, source, git commit, entry point, parent and child runs,
// lifecycle stage, artifact location), each read from the run's info or the
// system tags MLflow's clients set.
import { href } from '../route.js';
import { fmtDuration, fmtTime, runName } from '../util.js';
import { StatusBadge } from './common.jsx';

function Row({ label, name, children }) {
    return (
        <tr data-field={name}>
            <th>{label}</th>
            <td>{children}</td>
        </tr>
    );
}

export function RunOverview({ run, tags, experiment, parent, parentId, children, childrenMore }) {
    const info = run.info;
    const eid = info.experiment_id;
    const sourceType = tags['mlflow.source.type'];
    const running = info.status === 'RUNNING';
    return (
        <section class="run-section" data-section="details">
            <h2>Details</h2>
            <table class="kv run-details">
                <tbody>
                    <Row label="Run ID" name="run_id"><span class="mono">{info.run_id}</span></Row>
                    <Row label="Run name" name="run_name">{runName(run)}</Row>
                    <Row label="Experiment" name="experiment">
                        <a href={href(['experiments', eid])}>
                            {experiment ? experiment.name : eid}
                        </a>
                    </Row>
                    <Row label="Status" name="status"><StatusBadge status={info.status} /></Row>
                    <Row label="Start time" name="start_time">{fmtTime(info.start_time)}</Row>
                    <Row label="End time" name="end_time">
                        {info.end_time ? fmtTime(info.end_time) : running ? '(running)' : ''}
                    </Row>
                    <Row label="Duration" name="duration">
                        {fmtDuration(info.start_time, info.end_time, info.status)}
                    </Row>
                    <Row label="User" name="user">{tags['mlflow.user'] || info.user_id || ''}</Row>
                    <Row label="Source" name="source">
                        {tags['mlflow.source.name'] || ''}
                        {sourceType ? <span class="muted"> ({sourceType})</span> : null}
                    </Row>
                    {tags['mlflow.source.git.commit'] ? (
                        <Row label="Git commit" name="git_commit">
                            <span class="mono">{tags['mlflow.source.git.commit']}</span>
                        </Row>
                    ) : null}
                    {tags['mlflow.project.entryPoint'] ? (
                        <Row label="Entry point" name="entry_point">
                            {tags['mlflow.project.entryPoint']}
                        </Row>
                    ) : null}
                    {parentId ? (
                        <Row label="Parent run" name="parent">
                            <a href={href(['experiments', parent?.info?.experiment_id || eid, 'runs',
                                           parentId])}>
                                {parent ? runName(parent) : parentId}
                            </a>
                        </Row>
                    ) : null}
                    {children && children.length ? (
                        <Row label={`Child runs (${children.length}${childrenMore ? '+' : ''})`}
                             name="children">
                            <ul class="run-children">
                                {children.map((c) => (
                                    <li key={c.info.run_id}>
                                        <a href={href(['experiments', c.info.experiment_id, 'runs',
                                                       c.info.run_id])}>{runName(c)}</a>
                                        {' '}<StatusBadge status={c.info.status} />
                                    </li>
                                ))}
                            </ul>
                        </Row>
                    ) : null}
                    <Row label="Lifecycle stage" name="lifecycle_stage">{info.lifecycle_stage}</Row>
                    <Row label="Artifact location" name="artifact_uri">
                        <span class="mono">{info.artifact_uri}</span>
                    </Row>
                </tbody>
            </table>
        </section>
    );
}
