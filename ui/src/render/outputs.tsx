/**
 * One notebook output, rendered by the safety policy:
 * - text, streams, tracebacks: escaped (ansi_up), truncated with "Show more";
 * - PNG/JPEG/GIF: <img> from a data: URL; markdown and LaTeX: sanitized HTML;
 * - HTML, SVG and JavaScript: only inside <iframe sandbox="allow-scripts">
 *   (no allow-same-origin) loading `ui/frame`, whose own CSP forbids every
 *   request; the content is handed over with postMessage.
 */
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { conf, joinText, type Output } from '../api';
import { ansiToHtml } from './ansi';
import { renderLatex, renderMarkdown } from './markdown';

const FIRST = 20_000;
const MORE = 200_000;

export function Truncated(props: { text: string; className?: string; ansi?: boolean }) {
  const [shown, setShown] = useState(FIRST);
  const { text } = props;
  const part = text.length > shown ? text.slice(0, shown) : text;
  const html = props.ansi === false ? part.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!) : ansiToHtml(part);
  return (
    <div>
      <pre class={props.className} dangerouslySetInnerHTML={{ __html: html }} />
      {text.length > shown && (
        <button type="button" class="more" onClick={() => setShown(shown + MORE)}>
          Show more ({(text.length - shown).toLocaleString()} more characters)
        </button>
      )}
    </div>
  );
}

const LARGE_FRAME = 2_000_000;

export function SandboxFrame(props: { html: string; title: string }) {
  const ref = useRef<HTMLIFrameElement>(null);
  const [height, setHeight] = useState(40);
  const [rendered, setRendered] = useState(false);
  const [open, setOpen] = useState(props.html.length <= LARGE_FRAME);
  // A layout effect: the listeners are in place before the frame can load or say it is ready.
  useLayoutEffect(() => {
    const frame = ref.current;
    if (!frame || !open) return;
    let sent = false;
    const send = () => {
      if (sent || !frame.contentWindow) return;
      sent = true;
      // The frame has an opaque origin, so '*' is the only target that reaches it.
      frame.contentWindow?.postMessage({ hubmillRender: props.html }, '*');
    };
    const onLoad = () => send();
    const onMessage = (e: MessageEvent) => {
      if (e.source !== frame.contentWindow) return;
      if ((e.data as { hubmillReady?: unknown })?.hubmillReady === true) send();
      const h = (e.data as { hubmillHeight?: unknown })?.hubmillHeight;
      if (typeof h === 'number' && Number.isFinite(h)) {
        setHeight(Math.max(20, Math.min(Math.ceil(h), 4000)));
        setRendered(true);
      }
    };
    frame.addEventListener('load', onLoad);
    window.addEventListener('message', onMessage);
    return () => {
      frame.removeEventListener('load', onLoad);
      window.removeEventListener('message', onMessage);
    };
  }, [props.html, open]);
  if (!open) {
    return (
      <button type="button" class="more" onClick={() => setOpen(true)}>
        Show large output ({(props.html.length / 1e6).toFixed(1)} MB)
      </button>
    );
  }
  return <iframe ref={ref} class="out-frame" sandbox="allow-scripts" src={`${conf.prefix}ui/frame`} title={props.title} data-rendered={rendered ? 'true' : undefined} style={{ height: `${height}px` }} />;
}

const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif'];

function dataText(v: unknown): string {
  return Array.isArray(v) ? v.join('') : typeof v === 'string' ? v : JSON.stringify(v, null, 2);
}

export function OutputView({ output }: { output: Output }) {
  switch (output.output_type) {
    case 'stream':
      return <Truncated text={joinText(output.text)} className={`out-stream ${output.name === 'stderr' ? 'stderr' : ''}`} />;
    case 'error':
      return <Truncated text={(output.traceback ?? [`${output.ename}: ${output.evalue}`]).join('\n')} className="out-error" />;
    case 'execute_result':
    case 'display_data':
      return <MimeView data={output.data ?? {}} metadata={output.metadata} />;
    default:
      return null;
  }
}

export function MimeView({ data, metadata }: { data: Record<string, unknown>; metadata?: Record<string, unknown> }) {
  if ('application/scrapbook.scrap.json+json' in data) {
    const name = (data['application/scrapbook.scrap.json+json'] as { name?: unknown })?.name;
    return <p class="muted small">Result recorded: {String(name)}</p>;
  }
  if ('application/javascript' in data) {
    return <SandboxFrame title="Script output (sandboxed)" html={`<script>${dataText(data['application/javascript']).replace(/<\/script/gi, '<\\/script')}</script>`} />;
  }
  if ('text/html' in data) return <SandboxFrame title="HTML output (sandboxed)" html={dataText(data['text/html'])} />;
  if ('text/markdown' in data) return <div class="out-md markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(dataText(data['text/markdown'])) }} />;
  if ('text/latex' in data) {
    const tex = dataText(data['text/latex']).trim().replace(/^\$\$?|\$\$?$/g, '');
    return <div class="out-latex" dangerouslySetInnerHTML={{ __html: renderLatex(tex, true) }} />;
  }
  if ('image/svg+xml' in data) return <SandboxFrame title="SVG output (sandboxed)" html={dataText(data['image/svg+xml'])} />;
  for (const t of IMAGE_TYPES) {
    if (t in data) {
      const b64 = dataText(data[t]).replace(/\s/g, '');
      const m = (metadata?.[t] ?? {}) as { width?: unknown; height?: unknown };
      const size = (v: unknown) => (typeof v === 'number' && v > 0 ? v : undefined);
      if (/^[A-Za-z0-9+/=]*$/.test(b64)) return <img class="out-img" alt="Image output" width={size(m.width)} height={size(m.height)} src={`data:${t};base64,${b64}`} />;
    }
  }
  if ('application/json' in data) return <Truncated text={dataText(data['application/json'])} className="out-text" ansi={false} />;
  if ('text/plain' in data) return <Truncated text={dataText(data['text/plain'])} className="out-text" />;
  return <p class="muted">Output of type {Object.keys(data).join(', ')} is not shown.</p>;
}
