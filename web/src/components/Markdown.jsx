// Markdown as MLflow renders run and experiment descriptions. This is the one place
// in the UI that sets innerHTML, and only with markdown-it's output under html:false:
// raw HTML in the source comes out escaped, and markdown-it's link check refuses
// javascript:, vbscript: and non-image data: URLs.
import MarkdownIt from 'markdown-it';

const md = new MarkdownIt({ html: false, linkify: true, typographer: false });

// Links open in a new tab without handing it this window.
const defaultLinkOpen = md.renderer.rules.link_open ||
    ((tokens, idx, options, env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
    tokens[idx].attrSet('target', '_blank');
    tokens[idx].attrSet('rel', 'noopener noreferrer nofollow');
    return defaultLinkOpen(tokens, idx, options, env, self);
};

export function renderMarkdown(text) {
    return md.render(text || '');
}

export function Markdown({ text, class: cls }) {
    return <div class={`markdown ${cls || ''}`}
                dangerouslySetInnerHTML={{ __html: renderMarkdown(text) }} />;
}
