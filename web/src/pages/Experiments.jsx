// The experiment list (#/experiments): search by name, create, rename, delete and
// restore, and pick several experiments to see their runs in one table. The search text
// and the active/deleted toggle live in the URL query like every other view state.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { post, searchExperimentsAll } from '../api.js';
import { href, navigate, setQuery } from '../route.js';
import { ErrorBanner, Loading, PageTitle } from '../components/common.jsx';
import { fmtTime } from '../util.js';
import './runs.css';

const VIEWS = { active: 'ACTIVE_ONLY', deleted: 'DELETED_ONLY', all: 'ALL' };

/** A case-insensitive name search. Quotes and backslashes in the text become `_` (any one
 *  character), which matches them without needing the search language's escapes. */
export function nameFilter(text) {
    const t = (text || '').trim();
    if (!t) return '';
    return `name ILIKE '%${t.replace(/['"\\]/g, '_')}%'`;
}

/** An error with MLflow's code and message, shown next to what caused it. */
function InlineError({ error }) {
    if (!error) return null;
    return (
        <div class="exp-inline-error" role="alert">
            {error.code ? <b>{error.code}: </b> : null}<span>{error.message}</span>
        </div>
    );
}

function CreateForm({ onDone, onCancel }) {
    const [name, setName] = useState('');
    const [location, setLocation] = useState('');
    const [error, setError] = useState(null);
    const [busy, setBusy] = useState(false);
    const submit = async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
            const body = { name: name.trim() };
            if (location.trim()) body.artifact_location = location.trim();
            const r = await post('experiments/create', body);
            onDone(r.experiment_id);
        } catch (err) {
            setError(err);
        } finally {
            setBusy(false);
        }
    };
    return (
        <form class="exp-create" onSubmit={submit} aria-label="Create experiment">
            <input type="text" placeholder="Experiment name" value={name} required autoFocus
                   aria-label="New experiment name"
                   onInput={(e) => setName(e.currentTarget.value)} />
            <input type="text" placeholder="Artifact location (optional)" value={location}
                   aria-label="Artifact location" class="exp-location"
                   onInput={(e) => setLocation(e.currentTarget.value)} />
            <button type="submit" class="primary" disabled={busy || !name.trim()}>Create</button>
            <button type="button" onClick={onCancel}>Cancel</button>
            <InlineError error={error} />
        </form>
    );
}

function RenameForm({ exp, onDone, onCancel }) {
    const [name, setName] = useState(exp.name);
    const [error, setError] = useState(null);
    const submit = async (e) => {
        e.preventDefault();
        setError(null);
        try {
            await post('experiments/update', { experiment_id: exp.experiment_id,
                new_name: name.trim() });
            onDone();
        } catch (err) {
            setError(err);
        }
    };
    return (
        <form class="exp-rename" onSubmit={submit}>
            <input type="text" value={name} autoFocus aria-label="New name"
                   onInput={(e) => setName(e.currentTarget.value)}
                   onKeyDown={(e) => { if (e.key === 'Escape') onCancel(); }} />
            <button type="submit" class="primary" disabled={!name.trim()}>Save</button>
            <button type="button" onClick={onCancel}>Cancel</button>
            <InlineError error={error} />
        </form>
    );
}

function ExperimentRow({ exp, checked, onCheck, onChanged }) {
    const [mode, setMode] = useState(null); // null | 'rename' | 'confirm'
    const [error, setError] = useState(null);
    const deleted = exp.lifecycle_stage === 'deleted';
    const call = async (endpoint) => {
        setError(null);
        try {
            await post(endpoint, { experiment_id: exp.experiment_id });
            setMode(null);
            onChanged();
        } catch (err) {
            setError(err);
        }
    };
    return (
        <tr class={deleted ? 'exp-deleted' : ''} data-experiment-id={exp.experiment_id}>
            <td class="exp-check">
                <input type="checkbox" checked={checked} aria-label={`Select ${exp.name}`}
                       onChange={(e) => onCheck(exp.experiment_id, e.currentTarget.checked)} />
            </td>
            <td class="exp-name">
                {mode === 'rename'
                    ? <RenameForm exp={exp} onCancel={() => setMode(null)}
                                  onDone={() => { setMode(null); onChanged(); }} />
                    : <a href={href(['experiments', exp.experiment_id])}>{exp.name}</a>}
                {deleted ? <span class="runs-deleted">deleted</span> : null}
                <InlineError error={error} />
            </td>
            <td class="mono">{exp.experiment_id}</td>
            <td class="exp-loc mono" title={exp.artifact_location}>{exp.artifact_location}</td>
            <td title={fmtTime(exp.creation_time)}>{fmtTime(exp.creation_time)}</td>
            <td>{fmtTime(exp.last_update_time)}</td>
            <td class="exp-actions">
                {mode === 'confirm' ? (
                    <span class="runs-confirm">
                        Delete?
                        <button type="button" class="danger"
                                onClick={() => call('experiments/delete')}>Yes, delete</button>
                        <button type="button" onClick={() => setMode(null)}>Cancel</button>
                    </span>
                ) : deleted ? (
                    <button type="button" onClick={() => call('experiments/restore')}>Restore</button>
                ) : (
                    <>
                        <button type="button" onClick={() => setMode('rename')}>Rename</button>
                        <button type="button" class="danger"
                                onClick={() => setMode('confirm')}>Delete</button>
                    </>
                )}
            </td>
        </tr>
    );
}

export function ExperimentsPage({ route }) {
    const search = route.query.get('q') || '';
    const view = VIEWS[route.query.get('view')] ? route.query.get('view') : 'active';
    const [text, setText] = useState(search);
    const [list, setList] = useState(null);
    const [error, setError] = useState(null);
    const [reload, setReload] = useState(0);
    const [creating, setCreating] = useState(false);
    const [picked, setPicked] = useState(() => new Set());

    useEffect(() => setText(search), [search]);
    // Typing narrows the list after a short pause; the URL follows.
    useEffect(() => {
        if (text === search) return undefined;
        const t = setTimeout(() => setQuery({ q: text }), 250);
        return () => clearTimeout(t);
    }, [text]);

    useEffect(() => {
        const ctl = new AbortController();
        setError(null);
        searchExperimentsAll({ filter: nameFilter(search), viewType: VIEWS[view],
            orderBy: ['name ASC'] }, ctl.signal)
            .then(setList)
            .catch((e) => { if (e.name !== 'AbortError') setError(e); });
        return () => ctl.abort();
    }, [search, view, reload]);

    const onCheck = (id, on) => setPicked((old) => {
        const s = new Set(old);
        if (on) s.add(id);
        else s.delete(id);
        return s;
    });
    const pickedIds = useMemo(() => [...picked], [picked]);
    const refresh = () => setReload((n) => n + 1);

    return (
        <div class="page exp-page">
            <PageTitle actions={<>
                <button type="button" disabled={!picked.size}
                        title="Show the runs of the selected experiments in one table"
                        onClick={() => navigate('#/experiments/' +
                            pickedIds.map(encodeURIComponent).join(','))}>
                    Open selected{picked.size ? ` (${picked.size})` : ''}
                </button>
                <button type="button" class="primary" onClick={() => setCreating(true)}>
                    New experiment
                </button>
            </>}>Experiments</PageTitle>

            {creating ? <CreateForm onCancel={() => setCreating(false)}
                                    onDone={() => { setCreating(false); refresh(); }} /> : null}

            <div class="exp-bar">
                <input type="search" placeholder="Search experiments by name" value={text}
                       aria-label="Search experiments"
                       onInput={(e) => setText(e.currentTarget.value)} />
                <select aria-label="Which experiments" value={view}
                        onChange={(e) => setQuery({ view: e.currentTarget.value === 'active'
                            ? undefined : e.currentTarget.value })}>
                    <option value="active">Active</option>
                    <option value="deleted">Deleted</option>
                    <option value="all">All</option>
                </select>
                <button type="button" onClick={refresh}>Refresh</button>
                {list ? <span class="muted" data-testid="experiments-count">
                    {list.length} experiment{list.length === 1 ? '' : 's'}</span> : null}
            </div>

            <ErrorBanner error={error} onClose={() => setError(null)} />
            {!list ? (error ? null : <Loading what="experiments" />) : (
                <table class="grid exp-table">
                    <thead>
                        <tr>
                            <th class="exp-check" />
                            <th>Name</th>
                            <th>ID</th>
                            <th>Artifact location</th>
                            <th>Created</th>
                            <th>Last updated</th>
                            <th />
                        </tr>
                    </thead>
                    <tbody>
                        {list.map((exp) => (
                            <ExperimentRow key={exp.experiment_id} exp={exp}
                                           checked={picked.has(exp.experiment_id)}
                                           onCheck={onCheck} onChanged={refresh} />
                        ))}
                        {!list.length ? <tr><td colSpan={7} class="muted">
                            {search ? 'No experiment matches.' : 'No experiments.'}
                        </td></tr> : null}
                    </tbody>
                </table>
            )}
        </div>
    );
}
