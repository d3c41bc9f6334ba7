// The run page's title bar: the run's name (renamed in place with runs/update),
// its status, and delete/restore (runs/delete, runs/restore) with an inline
// confirmation instead of a browser dialog.
import { useState } from 'preact/hooks';
import { post } from '../api.js';
import { runName } from '../util.js';
import { ErrorBanner, PageTitle, StatusBadge } from './common.jsx';

export function RunHeader({ run, onChanged }) {
    const info = run.info;
    const [name, setName] = useState(null); // null = not renaming
    const [confirm, setConfirm] = useState(false);
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState(null);
    const deleted = info.lifecycle_stage === 'deleted';

    async function act(endpoint, body) {
        setBusy(true);
        setError(null);
        try {
            await post(endpoint, body);
            setName(null);
            setConfirm(false);
            onChanged();
        } catch (e) {
            setError(e);
        } finally {
            setBusy(false);
        }
    }
    const rename = () => act('runs/update', { run_id: info.run_id, run_name: name.trim() });

    const actions = [];
    if (name === null && !confirm) {
        actions.push(<button class="run-rename" onClick={() => setName(runName(run))}>Rename</button>);
        actions.push(deleted
            ? <button class="run-restore" disabled={busy}
                      onClick={() => act('runs/restore', { run_id: info.run_id })}>Restore</button>
            : <button class="danger run-delete" onClick={() => setConfirm(true)}>Delete</button>);
    }
    if (confirm) {
        actions.push(<span class="run-confirm">Delete this run?</span>);
        actions.push(<button class="danger run-delete-confirm" disabled={busy}
                             onClick={() => act('runs/delete', { run_id: info.run_id })}>
            Delete</button>);
        actions.push(<button onClick={() => setConfirm(false)}>Cancel</button>);
    }

    return (
        <div>
            <PageTitle actions={actions}>
                {name !== null ? (
                    <span class="run-rename-form">
                        <input type="text" value={name} aria-label="Run name" autoFocus
                               onInput={(e) => setName(e.currentTarget.value)}
                               onKeyDown={(e) => {
                                   if (e.key === 'Enter' && name.trim()) rename();
                                   if (e.key === 'Escape') setName(null);
                               }} />
                        <button class="primary run-rename-save" disabled={busy || !name.trim()}
                                onClick={rename}>Save</button>
                        <button onClick={() => setName(null)}>Cancel</button>
                    </span>
                ) : <span class="run-name">{runName(run)}</span>}
                {' '}<StatusBadge status={info.status} />
            </PageTitle>
            <ErrorBanner error={error} onClose={() => setError(null)} />
            {deleted ? (
                <div class="run-deleted-banner" role="status">
                    This run is deleted. Restore it to see it in the runs table again.
                </div>
            ) : null}
        </div>
    );
}
