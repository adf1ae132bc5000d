/**
 * Markdown and math from untrusted notebooks: marked → KaTeX for `$…$`/`$$…$$`
 * → DOMPurify (everything goes through the sanitizer last, including KaTeX's
 * output). Links open in a new tab without an opener; `javascript:` and other
 * unsafe URLs are removed by DOMPurify's URI policy.
 */
import DOMPurify from 'dompurify';
import { marked } from 'marked';
import katex from 'katex';

DOMPurify.addHook('uponSanitizeAttribute', (_node, data) => {
  // KaTeX sizes boxes with style attributes; nothing else may load a URL through CSS.
  if (data.attrName === 'style' && /url\s*\(|@import|expression|image-set/i.test(data.attrValue)) data.keepAttr = false;
});

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  // Images only from data: URLs: an output may not make the browser call the API or any server.
  if (node.tagName === 'IMG' && !/^data:image\/(png|jpeg|gif|webp);/i.test(node.getAttribute('src') ?? '')) node.removeAttribute('src');
  if (node.hasAttribute('srcset')) node.removeAttribute('srcset');
  // In-page anchors (papermill's "In [n]" marker) would change the UI's hash route.
  if (node.tagName === 'A' && node.getAttribute('href')?.startsWith('#')) node.removeAttribute('href');
  if (node.tagName === 'A' && node.getAttribute('href')) {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

const PURIFY = { USE_PROFILES: { html: true, mathMl: true, svg: true }, FORBID_TAGS: ['style', 'form', 'input', 'button', 'iframe'], FORBID_ATTR: ['style'] };
const PURIFY_MATH = { ...PURIFY, FORBID_ATTR: [] };

export function sanitize(html: string): string {
  return DOMPurify.sanitize(html, PURIFY) as unknown as string;
}

export function renderLatex(tex: string, display: boolean): string {
  try {
    return katex.renderToString(tex, { displayMode: display, throwOnError: false, trust: false, strict: 'ignore', maxExpand: 500, maxSize: 50 });
  } catch {
    return `<code>${tex.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!)}</code>`;
  }
}

/** Markdown (with math) to sanitized HTML. */
export function renderMarkdown(src: string): string {
  const math: string[] = [];
  // Math is cut out before markdown sees it (so `_` and `*` inside it survive), then put back.
  const held = src.replace(/\$\$([\s\S]+?)\$\$|(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$/g, (_m, block?: string, inline?: string) => {
    math.push(renderLatex((block ?? inline)!, block !== undefined));
    return `@@HUBMILLMATH${math.length - 1}@@`;
  });
  let html = marked.parse(held, { async: false, gfm: true }) as string;
  html = html.replace(/@@HUBMILLMATH(\d+)@@/g, (_m, i: string) => math[Number(i)] ?? '');
  return DOMPurify.sanitize(html, math.length ? PURIFY_MATH : PURIFY) as unknown as string;
}
