// The artifact browser of a run: a tree listed one directory at a time (a run may
// hold many thousands of files; only opened directories are asked for), and a
// preview of the selected file. The selected path lives in the URL (?path=).
import { useEffect, useState } from 'preact/hooks';
import { get } from '../api.js';
import { fmtBytes } from '../util.js';
import { ArtifactPreview, baseName } from './ArtifactPreview.jsx';
import { ErrorBanner, Loading } from './common.jsx';

const SHOW_FIRST = 500;

function parentOf(path) {
    const i = path.lastIndexOf('/');
    return i >= 0 ? path.slice(0, i) : '';
}

/** '', 'a', 'a/b' for 'a/b/c': the directories that must be open to show a path. */
function ancestors(path) {
    const out = [''];
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
    return out;
}

export function Artifacts({ runId, path, onSelect }) {
    const [dirs, setDirs] = useState({}); // dir -> {files} | {error} | {loading}
    const [open, setOpen] = useState(() => new Set(['']));
    const selected = path || '';

    function load(dir) {
        setDirs((d) => (d[dir] ? d : { ...d, [dir]: { loading: true } }));
        get('artifacts/list', { run_id: runId, path: dir || undefined }).then(
            (r) => setDirs((d) => ({ ...d, [dir]: { files: r.files || [], root: r.root_uri } })),
            (e) => setDirs((d) => ({ ...d, [dir]: { error: e } })),
        );
    }

    useEffect(() => {
        setDirs({});
        setOpen(new Set(['']));
    }, [runId]);

    // Everything on the way to the selected path is opened (and listed).
    useEffect(() => {
        const need = selected ? ancestors(selected) : [''];
        setOpen((o) => {
            const n = new Set(o);
            need.forEach((d) => n.add(d));
            return n;
        });
    }, [runId, selected]);

    useEffect(() => {
        for (const d of open) if (!dirs[d]) load(d);
    }, [open, dirs]);

    const entry = selected ? (dirs[parentOf(selected)]?.files || [])
        .find((f) => f.path === selected) : null;

    // A selected directory opens too.
    useEffect(() => {
        if (entry && entry.is_dir && !open.has(entry.path))
            setOpen((o) => new Set(o).add(entry.path));
    }, [entry && entry.path]);

    function click(f) {
        if (f.is_dir) {
            setOpen((o) => {
                const n = new Set(o);
                if (n.has(f.path) && selected === f.path) n.delete(f.path);
                else n.add(f.path);
                return n;
            });
        }
        onSelect(f.path);
    }

    const root = dirs[''];
    if (!root || root.loading) return <Loading what="artifacts" />;
    if (root.error) return <ErrorBanner error={root.error} />;
    if (!root.files.length) {
        return (
            <div class="artifacts-empty muted">
                No artifacts recorded for this run.
                {root.root ? <div>Artifact location: <code>{root.root}</code></div> : null}
            </div>
        );
    }
    return (
        <div class="artifacts">
            <div class="artifact-tree" role="tree" aria-label="Artifacts">
                <ArtifactDir dir="" dirs={dirs} open={open} selected={selected} onClick={click}
                             depth={0} />
            </div>
            <div class="artifact-pane">
                {!selected ? <div class="muted">Select a file to preview it.</div>
                    : !entry ? (dirs[parentOf(selected)]?.files
                        ? <div class="error-banner">No artifact at <code>{selected}</code>.</div>
                        : <Loading />)
                    : entry.is_dir ? <ArtifactDirSummary entry={entry} listing={dirs[entry.path]} />
                    : <ArtifactPreview runId={runId} path={entry.path} size={entry.file_size} />}
            </div>
        </div>
    );
}

function ArtifactDir({ dir, dirs, open, selected, onClick, depth }) {
    const [all, setAll] = useState(false);
    const d = dirs[dir];
    if (!d || d.loading) return <div class="artifact-row muted" style={{ paddingLeft: `${depth * 16 + 8}px` }}>loading…</div>;
    if (d.error) return <div class="artifact-row error">{d.error.message}</div>;
    const files = all ? d.files : d.files.slice(0, SHOW_FIRST);
    return (
        <div role="group">
            {files.map((f) => {
                const isOpen = f.is_dir && open.has(f.path);
                return (
                    <div key={f.path}>
                        <button
                            class={`artifact-row${selected === f.path ? ' selected' : ''}`}
                            role="treeitem" aria-selected={selected === f.path}
                            aria-expanded={f.is_dir ? isOpen : undefined}
                            data-path={f.path} title={f.path}
                            style={{ paddingLeft: `${depth * 16 + 8}px` }}
                            onClick={() => onClick(f)}>
                            <span class="artifact-icon">{f.is_dir ? (isOpen ? '▾' : '▸') : '·'}</span>
                            <span class="artifact-name">{baseName(f.path)}</span>
                            {f.is_dir ? null : <span class="artifact-size muted">{fmtBytes(f.file_size)}</span>}
                        </button>
                        {isOpen ? <ArtifactDir dir={f.path} dirs={dirs} open={open}
                                               selected={selected} onClick={onClick}
                                               depth={depth + 1} /> : null}
                    </div>
                );
            })}
            {!all && d.files.length > SHOW_FIRST ? (
                <button class="link artifact-more" style={{ paddingLeft: `${depth * 16 + 8}px` }}
                        onClick={() => setAll(true)}>
                    show all {d.files.length} entries
                </button>
            ) : null}
        </div>
    );
}

function ArtifactDirSummary({ entry, listing }) {
    const files = listing?.files;
    return (
        <div class="artifact-preview">
            <div class="artifact-preview-head">
                <span class="artifact-path mono">{entry.path}/</span>
            </div>
            <div class="artifact-preview-body muted">
                {files ? `Directory with ${files.length} entr${files.length === 1 ? 'y' : 'ies'}.`
                       : 'Loading…'}
            </div>
        </div>
    );
}
