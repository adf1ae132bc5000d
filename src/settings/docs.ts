/**
 * The configuration table of README.md and docs/admin.md, rendered from the
 * settings table. Both files hold it between the two markers below;
 * `npm run docs:settings` rewrites it there, test/settings/docs-sync.test.ts checks it.
 */
import type { Config, SettingKey } from './config-type.js';
import { OTHER_VARIABLES, SETTINGS, type OtherVariable, type Setting } from './table.js';

export const DOCS_BEGIN = '<!-- settings table: generated from src/settings/table.ts by `npm run docs:settings`; edit the table, not this -->';
export const DOCS_END = '<!-- end of settings table -->';

/** How the docs state a setting's default. */
export function shownDefault(s: Setting<unknown>): string {
  if (s.shown !== undefined) return s.shown;
  if (typeof s.default === 'function') throw new Error(`setting ${s.env} has a computed default but no 'shown' text`);
  if (s.default === null) return 'none';
  return `\`${typeof s.default === 'object' ? JSON.stringify(s.default) : String(s.default)}\``;
}

const cell = (text: string): string => text.replace(/\|/g, '\\|');
const names = (v: OtherVariable): string => v.names.map((n) => `\`${n}\``).join(', ');
const row = (cells: string[]): string => `| ${cells.map(cell).join(' | ')} |`;

/** The Markdown table: variable, flag, default, what it does. */
export function renderSettingsTable(): string {
  const rows = [row(['variable', 'flag', 'default', 'what it does']), row(['---', '---', '---', '---'])];
  const other = (v: OtherVariable) => rows.push(row([names(v), '', v.shown, v.doc]));
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    const s = SETTINGS[key] as Setting<Config[typeof key]>;
    rows.push(row([`\`${s.env}\``, s.flag ? `\`${s.flag.name}\`` : '', shownDefault(s as Setting<unknown>), s.doc]));
    for (const v of s.related ?? []) other(v);
  }
  for (const v of OTHER_VARIABLES) other(v);
  return rows.join('\n');
}

/** `markdown` with the text between the markers replaced by the table; throws when the markers are missing. */
export function withSettingsTable(markdown: string, where: string): string {
  const at = markdown.indexOf(DOCS_BEGIN);
  const end = markdown.indexOf(DOCS_END);
  if (at < 0 || end < at) throw new Error(`${where}: the settings table markers are missing`);
  return `${markdown.slice(0, at + DOCS_BEGIN.length)}\n${renderSettingsTable()}\n${markdown.slice(end)}`;
}

/** Every variable the table documents (settings, the ones their defaults read, and the others). */
export function documentedVariables(): string[] {
  const out: string[] = [];
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    const s = SETTINGS[key] as Setting<unknown>;
    out.push(s.env, ...(s.related ?? []).flatMap((v) => v.names));
  }
  return [...out, ...OTHER_VARIABLES.flatMap((v) => v.names)];
}
