/** Syntax highlighting of code cells (highlight.js core with the notebook languages only). */
import hljs from 'highlight.js/lib/core';
import python from 'highlight.js/lib/languages/python';
import r from 'highlight.js/lib/languages/r';
import bash from 'highlight.js/lib/languages/bash';
import julia from 'highlight.js/lib/languages/julia';
import sql from 'highlight.js/lib/languages/sql';
import json from 'highlight.js/lib/languages/json';

hljs.registerLanguage('python', python);
hljs.registerLanguage('r', r);
hljs.registerLanguage('bash', bash);
hljs.registerLanguage('julia', julia);
hljs.registerLanguage('sql', sql);
hljs.registerLanguage('json', json);

const MAX = 100_000;

/** Escaped, highlighted HTML for a code cell (plain escaped text for unknown languages or huge cells). */
export function highlight(code: string, language: string | undefined): string {
  const lang = (language ?? '').toLowerCase();
  if (code.length <= MAX && hljs.getLanguage(lang)) return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
  return code.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
}
