// The Node.js version check of scripts/ensure.mjs, on its own so a test can call it.
// Only the `>=X[.Y[.Z]]` form that package.json's "engines.node" uses is understood.

/** null when `version` (e.g. "20.20.2") satisfies `range` (e.g. ">=20.6"); otherwise the message to print. */
export function nodeVersionProblem(range, version) {
  const m = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(String(range).trim());
  if (!m) return `package.json engines.node "${range}" is not of the form ">=X.Y.Z"`;
  const want = [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
  const have = String(version).replace(/^v/, '').split('.').map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < 3; i++) {
    if ((have[i] ?? 0) > want[i]) return null;
    if ((have[i] ?? 0) < want[i]) {
      return (
        `hubmill needs Node.js ${range.replace(/^>=\s*/, '')} or newer; this is Node.js ${version} (${process.execPath}). ` +
        'Install a newer Node.js (e.g. from https://nodejs.org or NodeSource\'s Debian packages) and run the command again.'
      );
    }
  }
  return null;
}
