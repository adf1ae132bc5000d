/** Coloured terminal text (tracebacks, streams) as escaped HTML with CSS classes. */
import { AnsiUp } from 'ansi_up';

const au = new AnsiUp();
au.use_classes = true;
au.escape_html = true;

export function ansiToHtml(text: string): string {
  return au.ansi_to_html(text);
}
