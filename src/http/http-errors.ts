/**
 * Errors only the HTTP layer raises. The error handler (problem.ts) maps them
 * like every other HubmillError.
 */
import { HubmillError } from '../errors.js';

/** No credentials, or credentials no authenticator accepts. Raised by the auth hook; 401. */
export class UnauthorizedError extends HubmillError {
  override readonly code = 'UNAUTHORIZED';
  override readonly httpStatus = 401;
}

/** The caller is authenticated but may not act for that user. Raised by `assertCanActFor`; 403. */
export class ForbiddenError extends HubmillError {
  override readonly code = 'FORBIDDEN';
  override readonly httpStatus = 403;
}

/** A request is well-formed but its values cannot be used (timeout above the server maximum, ...); 422. */
export class UnprocessableError extends HubmillError {
  override readonly code = 'UNPROCESSABLE';
  override readonly httpStatus = 422;
}

/**
 * A notebook run behind a synchronous seed endpoint (`/execute`, `/run-notebook`)
 * did not succeed. The seed's FastAPI app raised HTTPException(500, detail=...)
 * when papermill failed, and its clients only look at `status_code` and
 * `detail`, so a failed notebook stays a 500 (a timeout a 504); the problem
 * document adds the job id, ename/evalue and the output notebook path.
 */
export class NotebookRunError extends HubmillError {
  override readonly code: string;
  override readonly httpStatus: number;
  override readonly extra: Record<string, unknown>;
  constructor(message: string, opts: { code: string; httpStatus: number; extra: Record<string, unknown> }) {
    super(message);
    this.code = opts.code;
    this.httpStatus = opts.httpStatus;
    this.extra = opts.extra;
  }
}

/** A body that is not declared as JSON (or no body where one is required); 415 with the header to add. */
export class UnsupportedMediaTypeError extends HubmillError {
  override readonly code = 'UNSUPPORTED_MEDIA_TYPE';
  override readonly httpStatus = 415;
  constructor(contentType: string | undefined) {
    super(
      contentType
        ? `unsupported Content-Type '${contentType}': send the body as JSON with the header 'Content-Type: application/json'`
        : "missing Content-Type: send the body as JSON with the header 'Content-Type: application/json'",
    );
  }
}

/** A body above the server's limit; 413 naming the limit and the setting that raises it. */
export class BodyTooLargeError extends HubmillError {
  override readonly code = 'BODY_TOO_LARGE';
  override readonly httpStatus = 413;
  constructor(limitBytes: number | undefined) {
    super(
      `request body too large: the limit is ${limitBytes ?? 'set by the server'} bytes ` +
        '(raise it with HUBMILL_MAX_BODY_BYTES on the server)',
    );
  }
}

/** A request for the jobs API sent to a worker node, which serves only /health and /metrics; 421. */
export class WrongNodeError extends HubmillError {
  override readonly code = 'WRONG_NODE';
  override readonly httpStatus = 421;
}

/** A retry asked of a notification that was already delivered (routes/deliveries.ts); 409. */
export class DeliveredError extends HubmillError {
  override readonly code = 'ALREADY_DELIVERED';
  override readonly httpStatus = 409;
}
