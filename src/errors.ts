/**
 * Every error hubmill raises on purpose carries a stable `code` and the HTTP status
 * the service answers with. The HTTP layer maps them to application/problem+json;
 * the CLI maps them to exit codes (2 for usage/input errors, 1 for execution failures).
 */
export class HubmillError extends Error {
  readonly code: string = 'HUBMILL_ERROR';
  readonly httpStatus: number = 500;
  /** Extra machine-readable fields for the problem document. */
  readonly extra: Record<string, unknown> = {};
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The input is not a readable nbformat v4 notebook (not JSON, wrong shape, nbformat 3). Raised by notebook/read; 422. */
export class NotebookFormatError extends HubmillError {
  override readonly code = 'NOTEBOOK_FORMAT';
  override readonly httpStatus = 422;
}

/** A parameter value or source (YAML, -p, file) cannot be used. Raised while merging/translating parameters; 422. */
export class ParameterError extends HubmillError {
  override readonly code = 'BAD_PARAMETER';
  override readonly httpStatus = 422;
}

/** No translator exists for the kernel/language pair. Raised by the translator registry; 422. */
export class UnsupportedLanguageError extends HubmillError {
  override readonly code = 'UNSUPPORTED_LANGUAGE';
  override readonly httpStatus = 422;
}

/** No kernelspec with that name was found in any Jupyter data dir. Raised by the kernelspec finder; 422. */
export class NoSuchKernelError extends HubmillError {
  override readonly code = 'NO_SUCH_KERNEL';
  override readonly httpStatus = 422;
}

/** The kernel did not become ready in time or its process failed to start. Raised by the launcher; 503. */
export class KernelStartError extends HubmillError {
  override readonly code = 'KERNEL_START';
  override readonly httpStatus = 503;
}

/** The kernel process exited or stopped answering heartbeats during a run. Raised by KernelClient waits. */
export class DeadKernelError extends HubmillError {
  override readonly code = 'DEAD_KERNEL';
  override readonly httpStatus = 500;
}

/** A bounded wait expired (a message reply, a cell, a whole run). */
export class TimeoutError extends HubmillError {
  override readonly code = 'TIMEOUT';
  override readonly httpStatus = 504;
}

/** A wait was abandoned because its AbortSignal fired (cancellation). */
export class AbortedError extends HubmillError {
  override readonly code = 'ABORTED';
  override readonly httpStatus = 409;
}

/** A path from a caller escapes its allowed root, has NUL bytes, or is otherwise hostile; 400. */
export class UnsafePathError extends HubmillError {
  override readonly code = 'UNSAFE_PATH';
  override readonly httpStatus = 400;
}

/** A file, notebook, user or job does not exist (or the caller may not know it exists); 404. */
export class NotFoundError extends HubmillError {
  override readonly code = 'NOT_FOUND';
  override readonly httpStatus = 404;
}

/** Command-line misuse or bad input that is the caller's fault; CLI exit 2, HTTP 400. */
export class UsageError extends HubmillError {
  override readonly code = 'USAGE';
  override readonly httpStatus = 400;
}

/** A job state change not allowed by JOB_TRANSITIONS (e.g. finishing a job that is already cancelled). Raised by job stores; 409. */
export class InvalidTransitionError extends HubmillError {
  override readonly code = 'INVALID_TRANSITION';
  override readonly httpStatus = 409;
}

/** A username that is not safe to use as a home directory segment (see users/home-path.ts for the rules). Raised by users/home; 400. */
export class InvalidUsernameError extends HubmillError {
  override readonly code = 'INVALID_USERNAME';
  override readonly httpStatus = 400;
}

/** A requested limit (a job's whole-run or per-cell timeout) is above the server's maximum, or not a positive number. Raised at job intake; 422. */
export class LimitError extends HubmillError {
  override readonly code = 'LIMIT';
  override readonly httpStatus = 422;
}

/**
 * The user already has the allowed number of runs queued and running. Raised by
 * the store's enqueue, inside the transaction that would add the job; 429.
 */
export class RunQuotaError extends HubmillError {
  override readonly code = 'RUN_QUOTA';
  override readonly httpStatus = 429;
  override readonly extra: Record<string, unknown>;
  constructor(username: string, counts: { running: number; queued: number; maxActive: number }) {
    super(
      `run quota reached for user '${username}': ${counts.running} running and ${counts.queued} waiting ` +
        `(at most ${counts.maxActive} running and waiting together); retry when a run finishes`,
    );
    this.extra = { username, running: counts.running, queued: counts.queued, max_active: counts.maxActive };
  }
}
