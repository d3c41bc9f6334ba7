// The runs table: the columns MLflow's experiment page shows (run name, status, start
// time, duration, user, source, version) plus the chosen params, metrics and tags, drawn
// by VirtualTable so only the rows and columns on screen exist in the DOM. Every value is
// text in a preact node, so user strings are escaped by construction.
import { href } from '../route.js';
import { fmtAgo, fmtDuration, fmtTime, fmtValue, runName } from '../util.js';
import { StatusBadge } from './common.jsx';
import { ATTR_COLUMNS, kindLabel, parseColId, sortStateOf } from './RunsModel.js';
import { VirtualTable } from './VirtualTable.jsx';

export const ROW_HEIGHT = 30;
const DYN_WIDTH = 128;
const INDENT = 18;

function basename(p) {
    if (!p) return '';
    const s = String(p).replace(/[/\\]+$/, '');
    const i = Math.max(s.lastIndexOf('/'), s.lastIndexOf('\\'));
    return i >= 0 ? s.slice(i + 1) : s;
}

function Missing() {
    return <span class="runs-missing">-</span>;
}

function SortHeader({ id, label, title, order, onSort, sortable = true, onRemove }) {
    const state = sortable ? sortStateOf(order, id) : null;
    const arrow = state === 'asc' ? '▲' : state === 'desc' ? '▼' : '';
    return (
        <div class="runs-th" aria-sort={state ? `${state}ending` : undefined}>
            {sortable ? (
                <button class="runs-sort" type="button" title={title || label}
                        data-sort={state || ''} onClick={() => onSort(id)}>
                    <span class="runs-th-label">{label}</span>
                    <span class="runs-arrow" aria-hidden="true">{arrow}</span>
                </button>
            ) : <span class="runs-th-label" title={title || label}>{label}</span>}
            {onRemove ? (
                <button class="runs-th-remove link" type="button" title="Hide this column"
                        aria-label={`Hide column ${title || label}`}
                        onClick={() => onRemove(id)}>×</button>
            ) : null}
        </div>
    );
}

/**
 * Props: flat ([{row, level, children}]), columns (ids of chosen param/metric/tag
 * columns), order, onSort(id), onRemoveColumn(id), selected (Set of run ids),
 * onSelect(index, event), allSelected ('all' | 'some' | 'none'), onSelectAll(),
 * expanded (Set), onExpand(runId), experimentNames ({id: name}), showExperiment, now,
 * onRange(first, last), scrollKey, empty.
 */
export function RunsTable(props) {
    const { flat, columns, order, onSort, onRemoveColumn, selected, onSelect, allSelected,
            onSelectAll, expanded, onExpand, experimentNames, showExperiment, now, onRange,
            scrollKey, empty } = props;

    const cols = [
        {
            id: 'select', width: 36, sticky: true, className: 'runs-select',
            header: <input type="checkbox" aria-label="Select all loaded runs"
                           checked={allSelected === 'all'}
                           indeterminate={allSelected === 'some'}
                           onClick={onSelectAll} />,
        },
    ];
    for (const a of ATTR_COLUMNS) {
        cols.push({
            id: a.id, width: a.width, sticky: a.id === 'name', className: `runs-col-${a.id}`,
            header: <SortHeader id={a.id} label={a.label} order={order} onSort={onSort}
                                sortable={!!a.order} />,
        });
        if (a.id === 'version' && showExperiment) {
            cols.push({ id: 'experiment', width: 140, className: 'runs-col-experiment',
                header: <SortHeader id="experiment" label="Experiment" sortable={false} /> });
        }
    }
    for (const id of columns) {
        const c = parseColId(id);
        if (!c) continue;
        cols.push({
            id, width: DYN_WIDTH, className: `runs-dyn runs-${c.kind}`,
            header: <SortHeader id={id} label={c.key} order={order} onSort={onSort}
                                title={`${kindLabel(c.kind)}: ${c.key}`}
                                onRemove={onRemoveColumn} />,
        });
    }

    const cell = (i, col) => {
        const { row, level, children } = flat[i];
        const { info, tags } = row;
        switch (col.id) {
        case 'select':
            return <input type="checkbox" aria-label={`Select ${runName(row.run)}`}
                          checked={selected.has(row.id)}
                          onClick={(e) => onSelect(i, e)} />;
        case 'name': {
            const open = expanded.has(row.id);
            const name = runName(row.run);
            return (
                <div class="runs-name" style={{ paddingLeft: `${level * INDENT}px` }}>
                    {children ? (
                        <button type="button" class="runs-expander link"
                                aria-expanded={open ? 'true' : 'false'}
                                aria-label={`${open ? 'Collapse' : 'Expand'} ${children} child runs`}
                                title={`${children} child run${children === 1 ? '' : 's'}`}
                                onClick={() => onExpand(row.id)}>
                            {open ? '▾' : '▸'}<span class="runs-child-count">{children}</span>
                        </button>
                    ) : <span class={level ? 'runs-leaf' : 'runs-noexp'} />}
                    <a href={href(['experiments', info.experiment_id, 'runs', row.id])}
                       title={name}>{name}</a>
                    {info.lifecycle_stage === 'deleted'
                        ? <span class="runs-deleted">deleted</span> : null}
                </div>
            );
        }
        case 'status':
            return <StatusBadge status={info.status} />;
        case 'start':
            return <span title={fmtTime(info.start_time)}>{fmtAgo(info.start_time, now)}</span>;
        case 'duration':
            return fmtDuration(info.start_time, info.end_time, info.status) || <Missing />;
        case 'user': {
            const u = info.user_id || tags['mlflow.user'];
            return u ? <span title={u}>{u}</span> : <Missing />;
        }
        case 'source': {
            const s = tags['mlflow.source.name'];
            return s ? <span title={s}>{basename(s)}</span> : <Missing />;
        }
        case 'version': {
            const v = tags['mlflow.source.git.commit'];
            return v ? <span class="mono" title={v}>{v.slice(0, 7)}</span> : <Missing />;
        }
        case 'experiment': {
            const n = experimentNames[info.experiment_id] ?? info.experiment_id;
            return <a href={href(['experiments', info.experiment_id])} title={n}>{n}</a>;
        }
        default: {
            const c = parseColId(col.id);
            const v = c ? row[c.kind][c.key] : undefined;
            if (v === undefined) return <Missing />;
            const text = c.kind === 'metrics' ? fmtValue(v) : v;
            return <span title={c.kind === 'metrics' ? String(v) : v}>{text}</span>;
        }
        }
    };

    return (
        <VirtualTable
            label="Runs"
            rowCount={flat.length}
            rowHeight={ROW_HEIGHT}
            columns={cols}
            cell={cell}
            rowKey={(i) => flat[i].row.id}
            rowClass={(i) => {
                const f = flat[i];
                let k = f.level ? 'runs-child' : '';
                if (selected.has(f.row.id)) k += ' selected';
                if (f.row.info.lifecycle_stage === 'deleted') k += ' runs-row-deleted';
                return k;
            }}
            onRange={onRange}
            scrollKey={scrollKey}
            empty={empty}
        />
    );
}
