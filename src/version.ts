import { readFileSync } from 'node:fs';

/** hubmill's version, from package.json (one level above both src/ and dist/). */
export const HUBMILL_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();
