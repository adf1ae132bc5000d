/**
 * JSON request bodies.
 *
 * - Parsed by Fastify's safe parser (secure-json-parse: `__proto__` and
 *   `constructor.prototype` keys are refused), so every field validates as usual.
 * - Fields a route names in `config.losslessBody` (the free-form parameters) are
 *   parsed again losslessly with `lossless-json`, each number typed the way
 *   Python's `json.loads` types it: `1.0` and `1e3` stay floats (PyFloat), integers
 *   beyond 2^53 keep every digit (bigint). See notebook/parameters-json.
 * - Before any parser runs, the text is scanned (no recursion) for its nesting
 *   depth: a body whose parameters would nest deeper than MAX_PARAMETER_DEPTH is
 *   refused with 422, so no parser or encoder can exhaust the stack.
 * - An empty body means "no body" (e.g. `POST .../cancel` from scripts), not a 400.
 * - A route with a body schema answers anything but `Content-Type: application/json`
 *   (another type, or none) with 415 telling the caller to add that header.
 *
 * Responses of routes that echo parameters use `losslessReply`, which writes
 * PyFloat as `1.0` and bigint as its digits (notebook/write's toJsonText).
 */
import type { FastifyInstance } from 'fastify';
import { parseJsonLossless } from '../notebook/exact-json.js';
import { MAX_PARAMETER_DEPTH, jsonTextDepth, tooDeepError } from '../notebook/parameters-json.js';
import { toJsonText } from '../notebook/write.js';
import { UnsupportedMediaTypeError } from './http-errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Body fields parsed losslessly (numbers typed like Python's json; see json-body.ts): top-level names, or
     * dotted paths where `*` stands for every element of an array or every value of an object
     * (`tasks.*.parameters`), so the other fields of those objects keep plain numbers for validation.
     */
    losslessBody?: readonly string[];
  }
}

/** Route options for responses that may hold PyFloat or bigint values (the response schema still documents them). */
export const losslessReply = { serializerCompiler: () => (data: unknown) => toJsonText(data) } as const;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';

/** Puts the lossless value found at `path` in `exact` at the same place in `plain` (where both have it). */
function replaceAt(plain: Record<string, unknown>, exact: unknown, path: string[]): void {
  if (!isObject(exact)) return;
  const [head, ...rest] = path;
  const keys = head === '*' ? Object.keys(plain) : [head!];
  for (const k of keys) {
    if (!Object.hasOwn(plain, k) || !Object.hasOwn(exact, k)) continue;
    const ex = (exact as Record<string, unknown>)[k];
    if (rest.length === 0) plain[k] = ex;
    else if (isObject(plain[k])) replaceAt(plain[k] as Record<string, unknown>, ex, rest);
  }
}

export function installJsonBody(app: FastifyInstance): void {
  const parseSafe = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, raw, done) => {
    const text = raw as string;
    if (text.trim() === '') return done(null, undefined);
    // Parameters sit one level below the body ({"parameters": {...}}).
    if (jsonTextDepth(text, MAX_PARAMETER_DEPTH + 1) > MAX_PARAMETER_DEPTH + 1) return done(tooDeepError(), undefined);
    parseSafe(req, text, (err, plain) => {
      if (err) return done(err, undefined);
      const fields = req.routeOptions.config?.losslessBody;
      if (!fields?.length || plain === null || typeof plain !== 'object' || Array.isArray(plain)) return done(null, plain);
      let exact: Record<string, unknown>;
      try {
        exact = parseJsonLossless(text) as Record<string, unknown>;
      } catch (e) {
        return done(e as Error, undefined);
      }
      const body = plain as Record<string, unknown>;
      for (const f of fields) replaceAt(body, exact, f.split('.'));
      done(null, body);
    });
  });

  // Fastify parses text/plain too, and a bare POST has no body: a route that needs a JSON body says how to send one.
  app.addHook('preValidation', async (req) => {
    if (!req.routeOptions.schema?.body) return;
    const type = req.headers['content-type'];
    if (type?.split(';', 1)[0]!.trim().toLowerCase() === 'application/json') return;
    throw new UnsupportedMediaTypeError(type);
  });
}
