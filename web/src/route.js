// Hash routing, as MLflow's own UI does it (#/experiments/1/runs/abc), so that links
// copied from either UI keep working and the server needs no per-route fallback.
// All view state (filter, sort, selection, chosen columns) lives in the hash query,
// which is what makes a view shareable as a link.
import { useEffect, useState } from 'preact/hooks';

/** Splits location.hash into {path, parts, query}. */
export function parseHash(hash) {
    const h = (hash || '').replace(/^#/, '') || '/';
    const qi = h.indexOf('?');
    const path = qi >= 0 ? h.slice(0, qi) : h;
    const query = new URLSearchParams(qi >= 0 ? h.slice(qi + 1) : '');
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    return { path, parts, query };
}

/** Builds a hash href: href(['experiments', id], {filter: 'x'}) -> '#/experiments/1?filter=x'.
 *  Empty/undefined query values are left out. */
export function href(parts, params) {
    const path = '/' + parts.map((p) => encodeURIComponent(String(p))).join('/');
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) {
        if (v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length))
            continue;
        q.set(k, Array.isArray(v) ? v.join(',') : String(v));
    }
    const s = q.toString();
    return '#' + path + (s ? '?' + s : '');
}

/** Goes to a hash href. `replace` keeps the back button for real navigation only. */
export function navigate(to, { replace = false } = {}) {
    if (replace) history.replaceState(null, '', to);
    else history.pushState(null, '', to);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
}

/** Changes some query values of the current route, keeping the rest. */
export function setQuery(patch, { replace = true } = {}) {
    const { parts, query } = parseHash(location.hash);
    const params = Object.fromEntries(query.entries());
    for (const [k, v] of Object.entries(patch)) params[k] = v;
    navigate(href(parts, params), { replace });
}

/** A comma-separated list in the query (`runs=a,b`); also accepts MLflow's JSON arrays. */
export function listParam(query, name) {
    const v = query.get(name);
    if (!v) return [];
    if (v.startsWith('[')) {
        try {
            const arr = JSON.parse(v);
            if (Array.isArray(arr)) return arr.map(String);
        } catch { /* fall through to comma form */ }
    }
    return v.split(',').filter(Boolean);
}

/** The current route; re-renders on every hash change. */
export function useRoute() {
    const [route, setRoute] = useState(() => parseHash(location.hash));
    useEffect(() => {
        const on = () => setRoute(parseHash(location.hash));
        window.addEventListener('hashchange', on);
        window.addEventListener('popstate', on);
        return () => {
            window.removeEventListener('hashchange', on);
            window.removeEventListener('popstate', on);
        };
    }, []);
    return route;
}
