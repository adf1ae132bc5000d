/**
 * Unit test of homes/contents-api.ts with a fake fetch: API path rules, URL
 * encoding, the text round trip and how errors are reported. The real Jupyter
 * Server is exercised in test/hub/contents.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError, UnsafePathError } from '../../src/errors.js';
import { apiDirname, apiPath, ContentsApi, ContentsApiError, contentsSink } from '../../src/homes/contents-api.js';
import { parseNotebook } from '../../src/notebook/read.js';
import { serializeNotebook } from '../../src/notebook/write.js';

interface Seen {
  method: string;
  url: string;
  auth: string | null;
  body: unknown;
}

function fakeFetch(answer: (s: Seen) => { status: number; body?: unknown }): { fetch: typeof fetch; seen: Seen[] } {
  const seen: Seen[] = [];
  const f = (async (input: string | URL | Request, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    const s: Seen = { method: init?.method ?? 'GET', url: String(input), auth: headers.get('authorization'), body: init?.body ? JSON.parse(String(init.body)) : undefined };
    seen.push(s);
    const a = answer(s);
    return new Response(a.body === undefined ? null : JSON.stringify(a.body), { status: a.status });
  }) as typeof fetch;
  return { fetch: f, seen };
}

describe('Contents API client', () => {
  test('API paths: relative, normalized, no .. at all, no NUL, no absolute path, no encoded tricks', () => {
    assert.equal(apiPath('proj/./a.ipynb'), 'proj/a.ipynb');
    assert.equal(apiPath('proj//a b.ipynb'), 'proj/a b.ipynb');
    assert.equal(apiPath(''), '');
    for (const bad of ['../a', 'a/../b', 'a/..', '/etc/passwd', 'a\u0000b', '%2e%2e/a', 'a%2fb', 'a\\b', '~root/x', 'a\nb', 7, null]) {
      assert.throws(() => apiPath(bad), UnsafePathError, JSON.stringify(bad));
    }
    assert.equal(apiDirname('a/b/c.ipynb'), 'a/b');
    assert.equal(apiDirname('c.ipynb'), '');
  });

  test('reads and writes text with the token; each segment percent-encoded', async () => {
    const nbText = serializeNotebook(parseNotebook(JSON.stringify({ cells: [], metadata: { a: 1.5 }, nbformat: 4, nbformat_minor: 5 }), 'x'));
    const { fetch, seen } = fakeFetch((s) => (s.method === 'GET' ? { status: 200, body: { type: 'file', content: nbText } } : { status: 201, body: {} }));
    const api = new ContentsApi('http://hub/user/al/', 'tok', { fetch });
    assert.equal(await api.readText('my dir/ä#?.ipynb'), nbText);
    assert.equal(seen[0]!.url, 'http://hub/user/al/api/contents/my%20dir/%C3%A4%23%3F.ipynb?type=file&format=text&content=1');
    assert.equal(seen[0]!.auth, 'token tok');
    const sink = contentsSink(api, 'out/x.ipynb');
    await sink.write(parseNotebook(nbText, 'x'));
    assert.equal(seen[1]!.method, 'PUT');
    assert.deepEqual(seen[1]!.body, { type: 'file', format: 'text', content: nbText });
    await assert.rejects(api.readText('../x'), UnsafePathError);
    assert.equal(seen.length, 2, 'a hostile path never reaches the server');
  });

  test('404 is NotFoundError, other failures ContentsApiError with the server\'s message', async () => {
    const { fetch } = fakeFetch((s) => (s.url.includes('missing') ? { status: 404, body: { message: 'No such file' } } : { status: 403, body: { message: 'Forbidden: no scope' } }));
    const api = new ContentsApi('http://hub/user/al', 'tok', { fetch, label: "al's server" });
    await assert.rejects(api.readText('missing.ipynb'), (e: Error) => e instanceof NotFoundError && /al's server: missing\.ipynb/.test(e.message));
    assert.equal(await api.stat('missing.ipynb'), null);
    await assert.rejects(api.readText('x.ipynb'), (e: Error) => e instanceof ContentsApiError && /403: Forbidden: no scope/.test(e.message));
  });

  test('mkdir accepts an existing folder and refuses a file in the way', async () => {
    const { fetch } = fakeFetch((s) =>
      s.method === 'PUT' ? { status: 400, body: { message: 'exists' } } : { status: 200, body: { type: s.url.includes('dir') ? 'directory' : 'file' } },
    );
    const api = new ContentsApi('http://hub/user/al', 'tok', { fetch });
    await api.mkdir('dir');
    await assert.rejects(api.mkdir('file'), ContentsApiError);
  });
});
