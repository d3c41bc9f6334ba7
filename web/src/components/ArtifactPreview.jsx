// Safe previews of one artifact file. Everything is shown as text or as table
// cells (escaped by preact), except images, which load through <img> from the
// server's get-artifact URL. HTML and SVG are shown as their source: rendering
// them on this origin would let an artifact run script as the UI.
// Big files are read only up to PREVIEW_BYTES, then the download is cancelled.
import Papa from 'papaparse';
import { useEffect, useState } from 'preact/hooks';
import { artifactUrl } from '../api.js';
import { fmtBytes } from '../util.js';
import { Loading } from './common.jsx';

export const PREVIEW_BYTES = 1024 * 1024;
export const CSV_ROWS = 1000;

const IMAGE = new Set(['png', 'jpg', 'jpeg', 'gif', 'webp', 'bmp']);
const SOURCE = new Set(['html', 'htm', 'xhtml', 'svg']);
const BINARY = new Set(['pkl', 'pickle', 'pt', 'pth', 'bin', 'h5', 'hdf5', 'npy', 'npz', 'zip',
    'gz', 'tgz', 'bz2', 'xz', 'zst', 'tar', 'whl', 'so', 'dll', 'exe', 'onnx', 'pb', 'parquet',
    'feather', 'arrow', 'joblib', 'pdf', 'mp3', 'mp4', 'wav', 'tif', 'tiff', 'ico', 'safetensors',
    'ckpt', 'db', 'sqlite']);

export function baseName(path) {
    const i = path.lastIndexOf('/');
    return i >= 0 ? path.slice(i + 1) : path;
}

/** How a file is previewed, from its name. */
export function previewKind(path) {
    const name = baseName(path);
    const dot = name.lastIndexOf('.');
    const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
    if (IMAGE.has(ext)) return 'image';
    if (SOURCE.has(ext)) return 'source';
    if (ext === 'json') return 'json';
    if (ext === 'csv') return 'csv';
    if (ext === 'tsv') return 'tsv';
    if (BINARY.has(ext)) return 'binary';
    return 'text'; // yaml, MLmodel, logs, code, and unknown names (sniffed for NULs)
}

/**
 * GET url, keeping at most `limit` bytes: {bytes, truncated, total}. Asks for a Range
 * (a server that honours it sends less), and otherwise stops reading at the limit.
 */
export async function fetchLimited(url, limit, signal) {
    const resp = await fetch(url, { signal, headers: { Range: `bytes=0-${limit - 1}` } });
    if (!resp.ok) {
        let msg = `HTTP ${resp.status}`;
        try {
            const body = JSON.parse(await resp.text());
            if (body.message) msg = body.message;
        } catch { /* not a JSON error body */ }
        throw new Error(msg);
    }
    let total = Number(resp.headers.get('content-length')) || null;
    const range = resp.headers.get('content-range');
    if (resp.status === 206 && range) {
        const m = /\/(\d+)\s*$/.exec(range);
        total = m ? Number(m[1]) : null;
    }
    const chunks = [];
    let got = 0;
    let done = false;
    const reader = resp.body.getReader();
    while (got < limit) {
        const r = await reader.read();
        if (r.done) {
            done = true;
            break;
        }
        chunks.push(r.value);
        got += r.value.length;
    }
    if (!done) reader.cancel().catch(() => {});
    const n = Math.min(got, limit);
    const bytes = new Uint8Array(n);
    let o = 0;
    for (const c of chunks) {
        if (o >= n) break;
        const part = c.subarray(0, n - o);
        bytes.set(part, o);
        o += part.length;
    }
    const truncated = got > limit || (total !== null && total > n) || (!done && got >= limit);
    return { bytes, truncated, total };
}

function looksBinary(bytes) {
    const n = Math.min(bytes.length, 8000);
    for (let i = 0; i < n; i++) if (bytes[i] === 0) return true;
    return false;
}

function TruncNote({ shown, total }) {
    return (
        <div class="artifact-note" role="note">
            Showing the first {fmtBytes(shown)}{total ? ` of ${fmtBytes(total)}` : ''}. Download
            the file to see all of it.
        </div>
    );
}

function CsvTable({ text, delimiter, truncated }) {
    // A cut-off file ends in a partial line; drop it rather than show half a row.
    let body = text;
    if (truncated) {
        const nl = body.lastIndexOf('\n');
        if (nl > 0) body = body.slice(0, nl);
    }
    const parsed = Papa.parse(body, { delimiter, skipEmptyLines: true, preview: CSV_ROWS + 1 });
    const rows = parsed.data;
    if (!rows.length) return <div class="muted">Empty file.</div>;
    const [head, ...rest] = rows;
    const more = parsed.meta && parsed.meta.truncated;
    const width = rows.reduce((a, r) => Math.max(a, r.length), 0);
    const cols = Array.from({ length: width }, (_, i) => i);
    return (
        <div>
            {more || truncated ? (
                <div class="artifact-note" role="note">
                    Showing the first {rest.length.toLocaleString()} rows
                    {truncated ? ' of a file too large to preview in full' : ''}.
                </div>
            ) : null}
            <div class="artifact-table-wrap">
                <table class="grid artifact-table">
                    <thead><tr>{cols.map((i) => <th>{head[i] ?? ''}</th>)}</tr></thead>
                    <tbody>
                        {rest.map((r) => <tr>{cols.map((i) => <td>{r[i] ?? ''}</td>)}</tr>)}
                    </tbody>
                </table>
            </div>
        </div>
    );
}

function TextBody({ kind, path, bytes, truncated, total }) {
    if (looksBinary(bytes))
        return <div class="muted artifact-binary">Binary file; no preview. Use Download.</div>;
    const text = new TextDecoder('utf-8').decode(bytes, { stream: truncated });
    const note = truncated ? <TruncNote shown={bytes.length} total={total} /> : null;
    if (kind === 'csv' || kind === 'tsv')
        return <div>{note}<CsvTable text={text} delimiter={kind === 'tsv' ? '\t' : ''}
                                    truncated={truncated} /></div>;
    let shown = text;
    if (kind === 'json' && !truncated) {
        try {
            shown = JSON.stringify(JSON.parse(text), null, 2);
        } catch { /* not valid JSON: show it as it is */ }
    }
    return (
        <div>
            {kind === 'source' ? (
                <div class="artifact-note" role="note">
                    {baseName(path).toLowerCase().endsWith('.svg') ? 'SVG' : 'HTML'} is shown as
                    source text; it is never rendered here.
                </div>
            ) : null}
            {note}
            <pre class={`artifact-text artifact-${kind}`}>{shown}</pre>
        </div>
    );
}

export function ArtifactPreview({ runId, path, size }) {
    const kind = previewKind(path);
    const url = artifactUrl(runId, path);
    const [state, setState] = useState(null);
    const [imgErr, setImgErr] = useState(false);

    useEffect(() => {
        setImgErr(false);
        if (kind === 'image' || kind === 'binary') {
            setState(null);
            return undefined;
        }
        const ctl = new AbortController();
        setState({ loading: true });
        fetchLimited(url, PREVIEW_BYTES, ctl.signal).then(
            (r) => setState(r),
            (e) => e.name !== 'AbortError' && setState({ error: e }),
        );
        return () => ctl.abort();
    }, [runId, path]);

    let body;
    if (kind === 'image') {
        body = imgErr ? <div class="error-banner">The image could not be loaded.</div>
            : <img class="artifact-image" src={url} alt={baseName(path)}
                   onError={() => setImgErr(true)} />;
    } else if (kind === 'binary') {
        body = <div class="muted artifact-binary">No preview for this file type. Use Download.</div>;
    } else if (!state || state.loading) {
        body = <Loading what={baseName(path)} />;
    } else if (state.error) {
        body = <div class="error-banner">Could not load the file: {state.error.message}</div>;
    } else {
        body = <TextBody kind={kind} path={path} bytes={state.bytes} truncated={state.truncated}
                         total={state.total ?? size} />;
    }
    return (
        <div class="artifact-preview" data-kind={kind}>
            <div class="artifact-preview-head">
                <span class="artifact-path mono">{path}</span>
                {size !== undefined && size !== null && size >= 0
                    ? <span class="muted">{fmtBytes(size)}</span> : null}
                <a class="button artifact-download" href={url} download={baseName(path)}>Download</a>
            </div>
            <div class="artifact-preview-body">{body}</div>
        </div>
    );
}
