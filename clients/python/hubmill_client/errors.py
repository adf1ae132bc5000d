"""Typed errors. hubmill answers errors as application/problem+json with a
``detail`` field (FastAPI clients read it too); the error keeps it."""

from typing import Any, Dict, Optional


class HubmillError(Exception):
    """A request failed: ``status`` is the HTTP status (0 when no answer came),
    ``detail`` the server's explanation, ``body`` the whole problem document."""

    def __init__(self, status: int, detail: str, body: Optional[Dict[str, Any]] = None, code: Optional[str] = None):
        super().__init__(f"{status}: {detail}" if status else detail)
        self.status = status
        self.detail = detail
        self.body = body or {}
        self.code = code if code is not None else self.body.get("code")


class AuthError(HubmillError):
    """401 (no or bad token) or 403 (not allowed to act for that user)."""


class NotFound(HubmillError):
    """404: no such notebook, job, or output yet."""


class BadRequest(HubmillError):
    """400 or 422: the request cannot be used (bad path, bad parameters, timeout above the maximum...)."""


class RateLimited(HubmillError):
    """429: too many requests or runs; ``retry_after`` is the server's hint in seconds (or None)."""

    def __init__(self, status: int, detail: str, body: Optional[Dict[str, Any]] = None, retry_after: Optional[float] = None):
        super().__init__(status, detail, body)
        self.retry_after = retry_after


class JobFailed(HubmillError):
    """A waited-for job ended failed, cancelled or timed out; ``job`` is its final state."""

    def __init__(self, job: Dict[str, Any]):
        err = job.get("error") or {}
        detail = f"job {job.get('id')} {job.get('status')}"
        if err.get("ename"):
            detail += f": {err.get('ename')}: {err.get('evalue')}"
        super().__init__(0, detail, {"job": job})
        self.job = job


class PipelineRunFailed(HubmillError):
    """A waited-for pipeline run ended failed or cancelled; ``run`` is its final state (its tasks, their jobs)."""

    def __init__(self, run: Dict[str, Any]):
        failed = [f"{t.get('key')} {t.get('status')}" for t in run.get("tasks") or []
                  if t.get("status") not in ("succeeded", "skipped", "pending")]
        detail = f"pipeline run {run.get('id')} {run.get('status')}"
        if failed:
            detail += ": " + ", ".join(failed)
        super().__init__(0, detail, {"run": run})
        self.run = run


class Timeout(HubmillError):
    """A client-side wait ran out (the job keeps running on the server)."""


def error_for(status: int, detail: str, body: Optional[Dict[str, Any]], retry_after: Optional[float] = None) -> HubmillError:
    if status in (401, 403):
        return AuthError(status, detail, body)
    if status == 404:
        return NotFound(status, detail, body)
    if status in (400, 413, 415, 422):
        return BadRequest(status, detail, body)
    if status == 429:
        return RateLimited(status, detail, body, retry_after)
    return HubmillError(status, detail, body)
