"""The client. ``base_url`` is hubmill's root: ``http://localhost:8002`` standalone,
or ``https://hub.example.org/services/hubmill`` behind JupyterHub's proxy."""

import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from .errors import HubmillError, JobFailed, Timeout, error_for
from .pipelines import PipelinesMixin

TERMINAL = ("succeeded", "failed", "cancelled", "timed_out")


def _retry_after(value: Optional[str]) -> Optional[float]:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None


class JupyterHubPapermillClient(PipelinesMixin):
    """Runs notebooks through hubmill.

    The token comes from ``token``, else ``JUPYTERHUB_API_TOKEN``, else
    ``HUBMILL_API_TOKEN``; it is sent as ``Authorization: token <t>``.
    """

    def __init__(self, base_url: str = "http://localhost:8002", token: Optional[str] = None, request_timeout: float = 60.0):
        self.base_url = base_url.rstrip("/")
        self.token = token or os.environ.get("JUPYTERHUB_API_TOKEN") or os.environ.get("HUBMILL_API_TOKEN")
        self.request_timeout = request_timeout

    # -- plumbing -------------------------------------------------------------

    def _url(self, path: str, query: Optional[Dict[str, Any]] = None) -> str:
        url = self.base_url + path
        if query:
            q = {k: ("true" if v is True else "false" if v is False else v) for k, v in query.items() if v is not None}
            if q:
                url += "?" + urllib.parse.urlencode(q)
        return url

    def _open(self, method: str, path: str, body: Any = None, query: Optional[Dict[str, Any]] = None,
              timeout: Optional[float] = None, accept: str = "application/json"):
        headers = {"Accept": accept, "User-Agent": "hubmill-client/0.1"}
        if self.token:
            headers["Authorization"] = f"token {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self._url(path, query), data=data, method=method, headers=headers)
        try:
            return urllib.request.urlopen(req, timeout=timeout if timeout is not None else self.request_timeout)
        except urllib.error.HTTPError as e:
            raise self._error(e) from None
        except (urllib.error.URLError, socket.timeout, ConnectionError) as e:
            reason = getattr(e, "reason", e)
            if isinstance(reason, socket.timeout) or isinstance(e, socket.timeout):
                raise Timeout(0, f"no answer from {self.base_url} within the timeout") from None
            raise HubmillError(0, f"cannot reach {self.base_url}: {reason}") from None

    @staticmethod
    def _error(e: "urllib.error.HTTPError") -> HubmillError:
        raw = b""
        try:
            raw = e.read()
        except Exception:  # noqa: BLE001 - the status alone is still useful
            pass
        body: Dict[str, Any] = {}
        try:
            parsed = json.loads(raw.decode("utf-8")) if raw else {}
            if isinstance(parsed, dict):
                body = parsed
        except ValueError:
            pass
        detail = body.get("detail")
        if not isinstance(detail, str):
            detail = json.dumps(detail) if detail is not None else (raw.decode("utf-8", "replace")[:500] or e.reason or "error")
        return error_for(e.code, str(detail), body, _retry_after(e.headers.get("Retry-After") if e.headers else None))

    def _json(self, method: str, path: str, body: Any = None, query: Optional[Dict[str, Any]] = None,
              timeout: Optional[float] = None) -> Any:
        with self._open(method, path, body, query, timeout) as res:
            raw = res.read()
        return json.loads(raw.decode("utf-8")) if raw else None

    # -- the seed's API ---------------------------------------------------------

    def execute_notebook(self, username: str, notebook_name: str, parameters: Optional[Dict[str, Any]] = None,
                         timeout: int = 300) -> Dict[str, Any]:
        """Execute a notebook with parameters and wait for it (``POST /execute``)."""
        return self._json("POST", "/execute",
                          {"username": username, "notebook_name": notebook_name, "parameters": parameters or {}},
                          timeout=timeout)

    def list_notebooks(self, username: str) -> List[Dict[str, Any]]:
        """All notebooks of a user (``GET /list-notebooks/{username}``)."""
        return self._json("GET", f"/list-notebooks/{urllib.parse.quote(username, safe='')}")["notebooks"]

    def health(self) -> Dict[str, Any]:
        return self._json("GET", "/health")

    # -- jobs -------------------------------------------------------------------

    def submit_job(self, notebook: str, parameters: Optional[Dict[str, Any]] = None, username: Optional[str] = None,
                   kernel: Optional[str] = None, timeout_s: Optional[float] = None, cell_timeout_s: Optional[float] = None,
                   idempotency_key: Optional[str] = None, output_path: Optional[str] = None, wait: bool = False,
                   target: Optional[str] = None, server_name: Optional[str] = None) -> Dict[str, Any]:
        """Queue a run (``POST /api/v1/jobs``); ``notebook`` is relative to the user's home (or to the root of the
        user's server for ``target="user-server"``). ``username`` defaults to the token's owner; ``server_name`` picks
        one of the user's named servers."""
        body: Dict[str, Any] = {"notebook": notebook, "parameters": parameters or {}}
        for k, v in (("username", username), ("kernel", kernel), ("timeout_s", timeout_s), ("cell_timeout_s", cell_timeout_s),
                     ("idempotency_key", idempotency_key), ("output_path", output_path), ("target", target),
                     ("server_name", server_name)):
            if v is not None:
                body[k] = v
        return self._json("POST", "/api/v1/jobs", body, query={"wait": True} if wait else None,
                          timeout=max(self.request_timeout, 120.0) if wait else None)

    def get_job(self, job_id: str) -> Dict[str, Any]:
        return self._json("GET", f"/api/v1/jobs/{urllib.parse.quote(job_id, safe='')}")

    def list_jobs(self, status: Optional[str] = None, username: Optional[str] = None, notebook: Optional[str] = None,
                  limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """Jobs, newest first (every page). ``status`` may be a comma-separated list."""
        query: Dict[str, Any] = {"status": status, "username": username, "notebook": notebook, "limit": limit}
        jobs: List[Dict[str, Any]] = []
        while True:
            page = self._json("GET", "/api/v1/jobs", query=query)
            jobs.extend(page["jobs"])
            if not page.get("next_cursor") or (limit is not None and len(jobs) >= limit):
                return jobs
            query["cursor"] = page["next_cursor"]

    def cancel_job(self, job_id: str) -> Dict[str, Any]:
        return self._json("POST", f"/api/v1/jobs/{urllib.parse.quote(job_id, safe='')}/cancel")

    def results(self, job_id: str) -> Any:
        """The values the notebook glued (scrapbook), as recorded in the job's ``result``."""
        return self.get_job(job_id).get("result")

    def download_output(self, job_id: str, path: Optional[str] = None) -> Dict[str, Any]:
        """The output notebook as a dict; also written to ``path`` when given."""
        with self._open("GET", f"/api/v1/jobs/{urllib.parse.quote(job_id, safe='')}/output",
                        accept="application/x-ipynb+json, application/json") as res:
            raw = res.read()
        if path:
            with open(path, "wb") as f:
                f.write(raw)
        return json.loads(raw.decode("utf-8"))

    def events(self, job_id: str, timeout: Optional[float] = None) -> Iterator[Tuple[str, Dict[str, Any]]]:
        """Live events ``(type, data)`` from ``/api/v1/jobs/{id}/events`` (server-sent events) until the job ends."""
        yield from self._sse(f"/api/v1/jobs/{urllib.parse.quote(job_id, safe='')}/events", timeout)

    def _sse(self, path: str, timeout: Optional[float]) -> Iterator[Tuple[str, Dict[str, Any]]]:
        """The events ``(type, data)`` of a server-sent-events stream until the server ends it (each read
        waits at most 30 s, or ``timeout`` when shorter; the server sends a comment every 15 s)."""
        read_timeout = 30.0 if timeout is None else max(1.0, min(timeout, 30.0))
        with self._open("GET", path, timeout=read_timeout, accept="text/event-stream") as res:
            event, data = "message", []
            for raw in res:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line == "":
                    if data:
                        try:
                            payload = json.loads("\n".join(data))
                        except ValueError:
                            payload = {"raw": "\n".join(data)}
                        yield event, payload
                    event, data = "message", []
                elif line.startswith(":"):
                    continue
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip(" "))

    def wait_job(self, job_id: str, timeout: float = 300, on_progress: Optional[Callable[[Dict[str, Any]], None]] = None,
                 poll_interval: float = 1.0, raise_on_failure: bool = False) -> Dict[str, Any]:
        """Waits until the job ends and returns it. ``on_progress(job)`` is called with
        the job each time its state or progress changes. Follows the live event
        stream; falls back to polling if the stream breaks. Raises ``Timeout`` when
        ``timeout`` seconds pass (the job keeps running), ``JobFailed`` for an
        unsuccessful end when ``raise_on_failure``."""
        deadline = time.monotonic() + timeout
        job: Dict[str, Any] = {}

        def done(j: Dict[str, Any]) -> Dict[str, Any]:
            if raise_on_failure and j.get("status") != "succeeded":
                raise JobFailed(j)
            return j

        try:
            for kind, data in self.events(job_id, timeout=timeout):
                if kind == "state" and isinstance(data.get("job"), dict):
                    job = data["job"]
                    if on_progress:
                        on_progress(job)
                    if job.get("status") in TERMINAL:
                        return done(job)
                elif kind == "cell_finished" and job and on_progress:
                    prog = dict(job.get("progress") or {})
                    if isinstance(data.get("cells_done"), int):
                        prog["cells_done"] = data["cells_done"]
                    if isinstance(data.get("cells_total"), int):
                        prog["cells_total"] = data["cells_total"]
                    job = dict(job, progress=prog)
                    on_progress(job)
                if time.monotonic() > deadline:
                    break
        except (HubmillError, OSError) as e:
            if isinstance(e, HubmillError) and e.status in (401, 403, 404):
                raise
        # Polling: the stream ended early, broke, or is not available.
        last = None
        while True:
            job = self.get_job(job_id)
            marker = (job.get("status"), json.dumps(job.get("progress"), sort_keys=True))
            if on_progress and marker != last:
                on_progress(job)
            last = marker
            if job.get("status") in TERMINAL:
                return done(job)
            if time.monotonic() > deadline:
                raise Timeout(0, f"job {job_id} still {job.get('status')} after {timeout} s", {"job": job})
            time.sleep(min(poll_interval, max(0.05, deadline - time.monotonic())))

    # -- schedules --------------------------------------------------------------

    def create_schedule(self, name: str, notebook: str, cron: str, parameters: Optional[Dict[str, Any]] = None,
                        timezone: Optional[str] = None, username: Optional[str] = None, **options: Any) -> Dict[str, Any]:
        """Create a server-side cron schedule (``POST /api/v1/schedules``). ``cron`` has 5 fields
        (6 with seconds first) or is @hourly/@daily/@weekly/@monthly; ``timezone`` is an IANA name
        (default UTC). Other fields go in ``options``: kernel, timeout_s, cell_timeout_s, overlap,
        max_concurrent, max_retries, retry_backoff_s, catchup, max_catchup, misfire_grace_s, start_at, end_at, paused,
        notify. The answer carries ``webhook_secret`` this once when ``notify`` is given."""
        body: Dict[str, Any] = {"name": name, "notebook": notebook, "cron": cron, "parameters": parameters or {}}
        if timezone is not None:
            body["timezone"] = timezone
        if username is not None:
            body["username"] = username
        body.update({k: v for k, v in options.items() if v is not None})
        return self._json("POST", "/api/v1/schedules", body)

    def list_schedules(self, username: Optional[str] = None) -> List[Dict[str, Any]]:
        """Your schedules (admins: everyone's, or ``username``'s), newest first, every page."""
        query: Dict[str, Any] = {"username": username}
        out: List[Dict[str, Any]] = []
        while True:
            page = self._json("GET", "/api/v1/schedules", query=query)
            out.extend(page["schedules"])
            if not page.get("next_cursor"):
                return out
            query["cursor"] = page["next_cursor"]

    def get_schedule(self, schedule_id: str) -> Dict[str, Any]:
        return self._json("GET", self._schedule_path(schedule_id))

    def pause_schedule(self, schedule_id: str) -> Dict[str, Any]:
        return self._json("POST", self._schedule_path(schedule_id, "/pause"))

    def resume_schedule(self, schedule_id: str) -> Dict[str, Any]:
        """Resume; the next fire time counts from now (nothing missed while paused is caught up)."""
        return self._json("POST", self._schedule_path(schedule_id, "/resume"))

    def run_schedule(self, schedule_id: str, parameters: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Run now; ``parameters`` override the schedule's. Returns the job."""
        return self._json("POST", self._schedule_path(schedule_id, "/run"), {"parameters": parameters or {}})

    def schedule_runs(self, schedule_id: str, limit: int = 50) -> List[Dict[str, Any]]:
        """The schedule's jobs, newest first (one page of ``limit``)."""
        return self._json("GET", self._schedule_path(schedule_id, "/runs"), query={"limit": limit})["jobs"]

    def delete_schedule(self, schedule_id: str) -> None:
        """Delete; it never fires again, its jobs stay."""
        self._json("DELETE", self._schedule_path(schedule_id))

    @staticmethod
    def _schedule_path(schedule_id: str, tail: str = "") -> str:
        return f"/api/v1/schedules/{urllib.parse.quote(schedule_id, safe='')}{tail}"


HubmillClient = JupyterHubPapermillClient
