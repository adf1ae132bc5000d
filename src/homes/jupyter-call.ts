/**
 * One call to a Jupyter REST API (the hub's, or a user's server's Contents API)
 * with a token: bounded by `timeoutMs` and the caller's signal. A call that gets
 * no answer throws what `noAnswer` makes of the network error (the caller's own
 * abort is rethrown as it is). The answer's body is parsed as JSON, or kept as
 * text when it is not JSON (a proxy's error page).
 */
export interface JupyterAnswer {
  status: number;
  body: unknown;
}

export interface JupyterCall {
  method: string;
  token: string;
  body?: unknown;
  timeoutMs: number;
  signal?: AbortSignal;
  fetch?: typeof fetch;
  redirect?: RequestRedirect;
  noAnswer: (err: Error) => Error;
}

export async function jupyterCall(url: string, o: JupyterCall): Promise<JupyterAnswer> {
  const signals = [AbortSignal.timeout(o.timeoutMs)];
  if (o.signal) signals.push(o.signal);
  let res: Response;
  try {
    res = await (o.fetch ?? fetch)(url, {
      method: o.method,
      headers: {
        authorization: `token ${o.token}`,
        accept: 'application/json',
        ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: o.body !== undefined ? JSON.stringify(o.body) : undefined,
      signal: AbortSignal.any(signals),
      redirect: o.redirect,
    });
  } catch (err) {
    if (o.signal?.aborted) throw err;
    throw o.noAnswer(err as Error);
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // keep the text
  }
  return { status: res.status, body };
}

/** What a Jupyter error answer says: its `message`, or the start of its text; null when neither. */
export function jupyterMessage(body: unknown): string | null {
  const m = (body as { message?: unknown } | null)?.message;
  return typeof m === 'string' && m ? m : typeof body === 'string' ? body.slice(0, 200) : null;
}
