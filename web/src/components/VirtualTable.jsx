// A grid that renders only what is on screen, in both directions: rows have one fixed
// height, so the visible range is arithmetic, and columns have fixed widths, so a table
// with thousands of chosen columns costs no more than one with ten. The leading `sticky`
// columns (checkbox, run name) stay in place while the rest scrolls sideways.
// VirtualList is the one-column case, for long pick lists.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';

const OVERSCAN_ROWS = 8;
const OVERSCAN_COLS = 2;

/** Tracks a scrolling element's scroll offsets and size, at most once per frame. */
function useViewport(ref) {
    const [vp, setVp] = useState({ top: 0, left: 0, height: 600, width: 1200 });
    useLayoutEffect(() => {
        const el = ref.current;
        if (!el) return undefined;
        let frame = 0;
        const read = () => {
            frame = 0;
            setVp((old) => {
                const next = { top: el.scrollTop, left: el.scrollLeft,
                    height: el.clientHeight, width: el.clientWidth };
                return old.top === next.top && old.left === next.left &&
                    old.height === next.height && old.width === next.width ? old : next;
            });
        };
        const onScroll = () => { if (!frame) frame = requestAnimationFrame(read); };
        read();
        el.addEventListener('scroll', onScroll, { passive: true });
        const ro = new ResizeObserver(onScroll);
        ro.observe(el);
        return () => {
            el.removeEventListener('scroll', onScroll);
            ro.disconnect();
            if (frame) cancelAnimationFrame(frame);
        };
    }, []);
    return vp;
}

/** Index of the last offset <= x in an ascending array (binary search). */
function floorIndex(offsets, x) {
    let lo = 0;
    let hi = offsets.length - 1;
    while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (offsets[mid] <= x) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/**
 * Props:
 *   rowCount, rowHeight, headerHeight
 *   columns: [{id, width, sticky, header}]   sticky ones must come first
 *   cell(rowIndex, column) -> vnode
 *   rowKey(rowIndex), rowClass(rowIndex) -> string
 *   onRange(first, last): the visible row range, after each change
 *   scrollKey: when it changes the grid scrolls back to the top (a new query)
 *   empty: what to show when rowCount is 0
 */
export function VirtualTable({ rowCount, rowHeight = 30, headerHeight = 34, columns, cell,
                               rowKey, rowClass, onRange, scrollKey, empty, label }) {
    const ref = useRef(null);
    const vp = useViewport(ref);

    const layout = useMemo(() => {
        const sticky = [];
        const rest = [];
        let stickyWidth = 0;
        for (const c of columns) {
            if (c.sticky && !rest.length) {
                sticky.push({ col: c, left: stickyWidth });
                stickyWidth += c.width;
            } else {
                rest.push(c);
            }
        }
        const offsets = new Array(rest.length + 1);
        offsets[0] = 0;
        for (let i = 0; i < rest.length; i++) offsets[i + 1] = offsets[i] + rest[i].width;
        return { sticky, rest, stickyWidth, offsets,
            totalWidth: stickyWidth + offsets[rest.length] };
    }, [columns]);

    useEffect(() => {
        if (ref.current) ref.current.scrollTop = 0;
    }, [scrollKey]);

    const bodyTop = vp.top;
    const bodyHeight = Math.max(0, vp.height - headerHeight);
    const first = Math.max(0, Math.floor(bodyTop / rowHeight) - OVERSCAN_ROWS);
    const last = Math.min(rowCount - 1,
        Math.ceil((bodyTop + bodyHeight) / rowHeight) + OVERSCAN_ROWS);
    const visFirst = Math.min(rowCount - 1, Math.floor(bodyTop / rowHeight));
    const visLast = Math.min(rowCount - 1, Math.ceil((bodyTop + bodyHeight) / rowHeight));

    const { rest, offsets, sticky, stickyWidth, totalWidth } = layout;
    let c0 = 0;
    let c1 = -1;
    if (rest.length) {
        const x0 = vp.left;
        const x1 = vp.left + Math.max(0, vp.width - stickyWidth);
        c0 = Math.max(0, floorIndex(offsets, x0) - OVERSCAN_COLS);
        c1 = Math.min(rest.length - 1, floorIndex(offsets, x1) + OVERSCAN_COLS);
    }
    const visibleRest = rest.slice(c0, c1 + 1);
    const lead = offsets[c0] || 0;

    const lastRange = useRef('');
    useEffect(() => {
        const k = `${visFirst}:${visLast}:${rowCount}`;
        if (onRange && k !== lastRange.current) {
            lastRange.current = k;
            onRange(visFirst, visLast);
        }
    });

    const cells = (render) => [
        ...sticky.map(({ col, left }) => render(col, { left: `${left}px`, width: `${col.width}px` },
            'vt-cell vt-sticky')),
        lead ? <div key="__lead" class="vt-lead" style={{ width: `${lead}px` }} /> : null,
        ...visibleRest.map((col) => render(col, { width: `${col.width}px` }, 'vt-cell')),
    ];

    const rows = [];
    for (let i = first; i <= last; i++) {
        const cls = rowClass ? rowClass(i) : '';
        rows.push(
            <div key={rowKey ? rowKey(i) : i} class={`vt-row ${cls}`} role="row"
                 aria-rowindex={i + 2}
                 style={{ top: `${i * rowHeight}px`, height: `${rowHeight}px`,
                     width: `${totalWidth}px` }}>
                {cells((col, style, klass) => (
                    <div key={col.id} class={`${klass} ${col.className || ''}`} style={style}
                         role="gridcell">
                        {cell(i, col)}
                    </div>
                ))}
            </div>,
        );
    }

    return (
        <div class="vt" ref={ref} role="grid" aria-label={label} aria-rowcount={rowCount + 1}>
            <div class="vt-head" role="row" style={{ height: `${headerHeight}px`,
                width: `${totalWidth}px` }}>
                {cells((col, style, klass) => (
                    <div key={col.id} class={`${klass} vt-th ${col.className || ''}`}
                         style={style} role="columnheader" data-col={col.id}>
                        {col.header}
                    </div>
                ))}
            </div>
            <div class="vt-body" style={{ height: `${rowCount * rowHeight}px`,
                width: `${totalWidth}px` }}>
                {rows}
            </div>
            {rowCount === 0 && empty ? <div class="vt-empty">{empty}</div> : null}
        </div>
    );
}

/** A scrolling list of fixed-height items that renders only the visible ones. */
export function VirtualList({ count, itemHeight = 26, height = 320, item, itemKey, label }) {
    const ref = useRef(null);
    const vp = useViewport(ref);
    const first = Math.max(0, Math.floor(vp.top / itemHeight) - OVERSCAN_ROWS);
    const last = Math.min(count - 1, Math.ceil((vp.top + vp.height) / itemHeight) +
        OVERSCAN_ROWS);
    const items = [];
    for (let i = first; i <= last; i++) {
        items.push(
            <div key={itemKey ? itemKey(i) : i} class="vl-item" role="option"
                 style={{ top: `${i * itemHeight}px`, height: `${itemHeight}px` }}>
                {item(i)}
            </div>,
        );
    }
    return (
        <div class="vl" ref={ref} role="listbox" aria-label={label}
             style={{ maxHeight: `${height}px`, height: `${Math.min(height, count * itemHeight)}px` }}>
            <div class="vl-body" style={{ height: `${count * itemHeight}px` }}>{items}</div>
        </div>
    );
}
