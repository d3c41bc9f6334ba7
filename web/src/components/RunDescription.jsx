// A run's description: the tag mlflow.note.content, shown as Markdown and edited
// as plain text, saved with runs/set-tag exactly as MLflow's UI saves it.
import { useState } from 'preact/hooks';
import { post } from '../api.js';
import { ErrorBanner } from './common.jsx';
import { Markdown } from './Markdown.jsx';

export const NOTE_TAG = 'mlflow.note.content';

export function RunDescription({ runId, text, onSaved }) {
    const [draft, setDraft] = useState(null); // null = not editing
    const [saving, setSaving] = useState(false);
    const [error, setError] = useState(null);

    async function save() {
        setSaving(true);
        setError(null);
        try {
            await post('runs/set-tag', { run_id: runId, key: NOTE_TAG, value: draft });
            setDraft(null);
            onSaved && onSaved();
        } catch (e) {
            setError(e);
        } finally {
            setSaving(false);
        }
    }

    return (
        <section class="run-section run-description" data-section="description">
            <h2>
                Description
                {draft === null ? (
                    <button class="link run-description-edit" onClick={() => setDraft(text || '')}>
                        Edit
                    </button>
                ) : null}
            </h2>
            <ErrorBanner error={error} onClose={() => setError(null)} />
            {draft !== null ? (
                <div class="run-description-editor">
                    <textarea rows="10" value={draft} aria-label="Description (Markdown)"
                              onInput={(e) => setDraft(e.currentTarget.value)}
                              onKeyDown={(e) => {
                                  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) save();
                                  if (e.key === 'Escape') setDraft(null);
                              }} />
                    <div class="run-description-actions">
                        <button class="primary" onClick={save} disabled={saving}>
                            {saving ? 'Saving…' : 'Save'}
                        </button>
                        <button onClick={() => setDraft(null)} disabled={saving}>Cancel</button>
                        <span class="muted">Markdown; raw HTML is shown as text.</span>
                    </div>
                </div>
            ) : text ? <Markdown text={text} class="run-description-body" />
                     : <div class="muted run-description-body">No description.</div>}
        </section>
    );
}
