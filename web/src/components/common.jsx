// Small pieces every page uses: error banners that show MLflow's error code and
// message, a loading marker, status badges and page titles.
import { STATUS_LABEL } from '../util.js';

export function ErrorBanner({ error, onClose }) {
    if (!error) return null;
    return (
        <div class="error-banner" role="alert">
            {error.code ? <b>{error.code}: </b> : null}
            <span>{error.message || String(error)}</span>
            {onClose ? <button class="link" onClick={onClose} aria-label="Dismiss">×</button>
                     : null}
        </div>
    );
}

export function Loading({ what }) {
    return <div class="loading">Loading{what ? ` ${what}` : ''}…</div>;
}

export function StatusBadge({ status }) {
    const s = status || 'RUNNING';
    return <span class={`status status-${s.toLowerCase()}`} title={s}>
        {STATUS_LABEL[s] || s}
    </span>;
}

export function PageTitle({ children, actions }) {
    return (
        <div class="page-title">
            <h1>{children}</h1>
            {actions ? <div class="actions">{actions}</div> : null}
        </div>
    );
}

/** Breadcrumb trail: [{label, href}] with the last item as plain text. */
export function Crumbs({ items }) {
    return (
        <nav class="crumbs">
            {items.map((it, i) => (
                <span key={i}>
                    {i ? <span class="sep">›</span> : null}
                    {it.href && i < items.length - 1 ? <a href={it.href}>{it.label}</a>
                                                       : <span>{it.label}</span>}
                </span>
            ))}
        </nav>
    );
}
