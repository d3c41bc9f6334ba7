// Pickers over the param/metric/tag keys of the loaded runs: the column chooser and the
// metric picker behind "Chart". Experiments with thousands of keys are normal, so both
// filter as you type and draw their list with VirtualList (only visible items exist).
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { colId, filterKeys, kindLabel, KINDS } from './RunsModel.js';
import { VirtualList } from './VirtualTable.jsx';

/** A button that opens a panel below it; Escape or a click elsewhere closes it. */
export function RunsPopover({ label, title, disabled, children, panelClass, testId }) {
    const [open, setOpen] = useState(false);
    const ref = useRef(null);
    useEffect(() => {
        if (!open) return undefined;
        const onDown = (e) => { if (ref.current && !ref.current.contains(e.target)) setOpen(false); };
        const onKey = (e) => { if (e.key === 'Escape') setOpen(false); };
        document.addEventListener('mousedown', onDown);
        document.addEventListener('keydown', onKey);
        return () => {
            document.removeEventListener('mousedown', onDown);
            document.removeEventListener('keydown', onKey);
        };
    }, [open]);
    return (
        <div class="runs-popover" ref={ref} data-testid={testId}>
            <button type="button" title={title} disabled={disabled} aria-expanded={open}
                    onClick={() => setOpen(!open)}>{label} ▾</button>
            {open ? <div class={`runs-panel ${panelClass || ''}`} role="dialog" aria-label={title}>
                {children(() => setOpen(false))}
            </div> : null}
        </div>
    );
}

/** Every key of the chosen kinds as [{kind, key, id}], sorted by kind then key. */
function allItems(keySets, kinds) {
    const out = [];
    for (const kind of kinds) {
        for (const key of [...keySets[kind]].sort()) out.push({ kind, key, id: colId(kind, key) });
    }
    return out;
}

/**
 * The column chooser. keySets: {metrics, params, tags} Sets; chosen: array of column ids;
 * onChange(ids | null) where null means "back to the default columns".
 */
export function RunsColumnChooser({ keySets, keysVersion, chosen, onChange }) {
    const [text, setText] = useState('');
    const [kind, setKind] = useState('all');
    const items = useMemo(() => allItems(keySets, kind === 'all' ? KINDS : [kind]),
        [keySets, keysVersion, kind]);
    const shown = useMemo(() => {
        const t = text.trim().toLowerCase();
        return t ? items.filter((it) => it.key.toLowerCase().includes(t)) : items;
    }, [items, text]);
    const chosenSet = useMemo(() => new Set(chosen), [chosen]);
    const total = keySets.metrics.size + keySets.params.size + keySets.tags.size;

    const toggle = (id) => {
        if (chosenSet.has(id)) onChange(chosen.filter((c) => c !== id));
        else onChange([...chosen, id]);
    };
    const showAll = () => {
        const add = shown.map((it) => it.id).filter((id) => !chosenSet.has(id));
        onChange([...chosen, ...add]);
    };
    const hideAll = () => {
        const drop = new Set(shown.map((it) => it.id));
        onChange(chosen.filter((id) => !drop.has(id)));
    };

    return (
        <RunsPopover label={`Columns (${chosen.length})`} title="Choose columns"
                     panelClass="runs-chooser" testId="column-chooser">
            {() => (
                <div>
                    <div class="runs-chooser-bar">
                        <input type="search" placeholder="Search keys" value={text} autoFocus
                               aria-label="Search column keys"
                               onInput={(e) => setText(e.currentTarget.value)} />
                        <select value={kind} aria-label="Key kind"
                                onChange={(e) => setKind(e.currentTarget.value)}>
                            <option value="all">All</option>
                            <option value="metrics">Metrics</option>
                            <option value="params">Params</option>
                            <option value="tags">Tags</option>
                        </select>
                    </div>
                    <div class="runs-chooser-count muted">
                        {shown.length} of {total} keys · {chosen.length} shown
                    </div>
                    {shown.length ? (
                        <VirtualList label="Column keys" count={shown.length} height={320}
                                     itemKey={(i) => shown[i].id}
                                     item={(i) => {
                                         const it = shown[i];
                                         return (
                                             <label class="runs-key" title={`${kindLabel(it.kind)}: ${it.key}`}>
                                                 <input type="checkbox" checked={chosenSet.has(it.id)}
                                                        onChange={() => toggle(it.id)} />
                                                 <span class={`runs-kind runs-kind-${it.kind}`}>
                                                     {kindLabel(it.kind)}
                                                 </span>
                                                 <span class="runs-key-name">{it.key}</span>
                                             </label>
                                         );
                                     }} />
                    ) : <div class="muted runs-chooser-none">No keys match.</div>}
                    <div class="runs-chooser-actions">
                        <button type="button" onClick={showAll} disabled={!shown.length}>
                            Show {text ? 'matching' : 'all'}
                        </button>
                        <button type="button" onClick={hideAll}>
                            Hide {text ? 'matching' : 'all'}
                        </button>
                        <button type="button" onClick={() => onChange(null)}>Default</button>
                    </div>
                </div>
            )}
        </RunsPopover>
    );
}

/** Picks one metric key (to chart it); keys: array of metric keys. */
export function RunsMetricPicker({ keys, disabled, onPick }) {
    const [text, setText] = useState('');
    const shown = useMemo(() => filterKeys(keys, text), [keys, text]);
    return (
        <RunsPopover label="Chart" title="Chart a metric of the selected runs"
                     disabled={disabled} panelClass="runs-chooser" testId="metric-picker">
            {(close) => (
                <div>
                    <input type="search" placeholder="Search metrics" value={text} autoFocus
                           aria-label="Search metric keys"
                           onInput={(e) => setText(e.currentTarget.value)} />
                    <div class="runs-chooser-count muted">{shown.length} of {keys.length} metrics</div>
                    {shown.length ? (
                        <VirtualList label="Metric keys" count={shown.length} height={280}
                                     itemKey={(i) => shown[i]}
                                     item={(i) => (
                                         <button type="button" class="link runs-key"
                                                 title={shown[i]}
                                                 onClick={() => { close(); onPick(shown[i]); }}>
                                             {shown[i]}
                                         </button>
                                     )} />
                    ) : <div class="muted runs-chooser-none">No metrics.</div>}
                </div>
            )}
        </RunsPopover>
    );
}
