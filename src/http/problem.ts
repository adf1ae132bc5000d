/**
 * The one error handler: every error becomes `application/problem+json`
 * `{type, title, status, detail, code}` with the right status.
 *
 * - HubmillError: its `httpStatus` and `code` (plus `extra` fields).
 * - Request validation: body errors answer 422 as FastAPI does (its clients expect
 *   422 for a bad body) with FastAPI-style `errors[{loc, msg, type}]`; query,
 *   path and header errors answer 400.
 * - Fastify's own 4xx (body too large 413, bad JSON 400, bad media type 415) keep
 *   their status; 413 names the limit and HUBMILL_MAX_BODY_BYTES, 415 says to send
 *   `Content-Type: application/json`. Anything else is a 500 logged with its stack, never echoed.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HubmillError } from '../errors.js';
import { BodyTooLargeError, UnsupportedMediaTypeError } from './http-errors.js';

/** Seconds a 429 without its own hint (a run quota) suggests waiting. */
export const QUOTA_RETRY_AFTER_S = 5;

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  [extra: string]: unknown;
}

export function problemBody(status: number, code: string, detail: string, extra: Record<string, unknown> = {}): ProblemBody {
  return { ...extra, type: `urn:hubmill:error:${code.toLowerCase()}`, title: STATUS_CODES[status] ?? 'Error', status, detail, code };
}

export function sendProblem(reply: FastifyReply, body: ProblemBody): FastifyReply {
  return reply.code(body.status).type('application/problem+json').send(body);
}

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_CONTENT_LENGTH',
};

interface AjvError {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

function fastapiErrors(context: string, errs: AjvError[]): Array<{ loc: Array<string | number>; msg: string; type: string }> {
  const where = context === 'querystring' ? 'query' : context === 'params' ? 'path' : context;
  return errs.map((e) => {
    const loc: Array<string | number> = [where];
    for (const seg of (e.instancePath ?? '').split('/').filter(Boolean)) loc.push(/^\d+$/.test(seg) ? Number(seg) : seg);
    if (e.keyword === 'required' && typeof e.params?.missingProperty === 'string') loc.push(e.params.missingProperty);
    if (e.keyword === 'additionalProperties' && typeof e.params?.additionalProperty === 'string') loc.push(e.params.additionalProperty);
    return { loc, msg: e.message ?? 'invalid', type: e.keyword ?? 'invalid' };
  });
}

/** Fastify's own 413 and 415 say neither the limit nor the fix; these do. */
function explained(err: unknown, req?: FastifyRequest): unknown {
  const code = (err as Partial<FastifyError> | null)?.code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new BodyTooLargeError(req?.routeOptions.bodyLimit);
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new UnsupportedMediaTypeError(req?.headers['content-type'] ?? undefined);
  return err;
}

export function toProblem(error: unknown, req?: FastifyRequest): { body: ProblemBody; internal: boolean } {
  const err = explained(error, req);
  if (err instanceof HubmillError) {
    return { body: problemBody(err.httpStatus, err.code, err.message, err.extra), internal: err.httpStatus >= 500 && err.code === 'HUBMILL_ERROR' };
  }
  const fe = err as Partial<FastifyError> & { validation?: AjvError[]; validationContext?: string };
  if (Array.isArray(fe.validation)) {
    const context = fe.validationContext ?? 'body';
    const status = context === 'body' ? 422 : 400;
    const errors = fastapiErrors(context, fe.validation);
    const detail = errors.map((e) => `${e.loc.join('.')}: ${e.msg}`).join('; ') || 'invalid request';
    return { body: problemBody(status, 'VALIDATION', detail, { errors }), internal: false };
  }
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    const code = (fe.code && FASTIFY_CODES[fe.code]) ?? (status === 413 ? 'BODY_TOO_LARGE' : 'BAD_REQUEST');
    return { body: problemBody(status, code, fe.message ?? STATUS_CODES[status] ?? 'bad request'), internal: false };
  }
  return { body: problemBody(500, 'INTERNAL', 'internal server error'), internal: true };
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const { body, internal } = toProblem(err, req);
    if (internal) req.log.error({ err }, 'request failed');
    else if (body.status >= 500) req.log.warn({ code: body.code, detail: body.detail }, 'request failed');
    if (body.status === 401) reply.header('www-authenticate', 'token');
    if (body.status === 429) {
      // A run quota frees up when one of the user's runs ends, which nobody can predict: suggest a short wait.
      if (typeof body.retry_after !== 'number') body.retry_after = QUOTA_RETRY_AFTER_S;
      reply.header('retry-after', String(body.retry_after));
    }
    return sendProblem(reply, body);
  });
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    return sendProblem(reply, problemBody(404, 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
  });
}
