/**
 * Fetches and parses an output notebook off the main thread (a 50 MB notebook
 * takes the JSON parser a second or more on a loaded machine); the page gets
 * the parsed object by structured clone, which is cheap for a few big strings.
 */
interface NotebookRequest {
  id: number;
  url: string;
}

self.addEventListener('message', (e: MessageEvent<NotebookRequest>) => {
  const { id, url } = e.data;
  const post = (m: unknown) => (self as unknown as Worker).postMessage(m);
  fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } })
    .then(async (res) => {
      const text = await res.text();
      let body: unknown = null;
      try {
        body = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      if (!res.ok) post({ id, error: { status: res.status, detail: (body as { detail?: string } | null)?.detail ?? `${res.status} ${res.statusText}` } });
      else if (body === null) post({ id, error: { status: 0, detail: 'the output notebook is not valid JSON' } });
      else post({ id, value: body });
    })
    .catch((err: unknown) => post({ id, error: { status: 0, detail: String(err) } }));
});
