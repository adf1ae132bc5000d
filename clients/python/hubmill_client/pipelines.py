"""Pipelines: notebooks in a graph, parameter sweeps and repair (``/api/v1/pipelines``).

Mixed into ``JupyterHubPapermillClient``; it uses the client's request plumbing.
Numbers come back as the server wrote them and ``json`` reads them: a float stays
a float (``1.0``) and an integer keeps every digit (Python's int has no limit).
"""

import json
import time
import urllib.parse
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from .errors import HubmillError, PipelineRunFailed, Timeout

RUN_ENDED = ("succeeded", "failed", "cancelled")
JOB_ENDED = ("succeeded", "failed", "cancelled", "timed_out")


def _q(s: str) -> str:
    return urllib.parse.quote(str(s), safe="")


def run_settled(run: Dict[str, Any]) -> bool:
    """True once the run has ended and every job of it too (a cancelled job may still be stopping)."""
    if run.get("status") not in RUN_ENDED:
        return False
    return all(j.get("status") in JOB_ENDED for t in run.get("tasks") or [] for j in t.get("jobs") or [])


def _flat_row(row: Dict[str, Any]) -> Dict[str, Any]:
    """A result row as one flat record: the CSV's columns (``item.K``, ``param.K``, ``result.K``)."""
    out: Dict[str, Any] = {k: row.get(k) for k in ("task", "item_index", "status", "job_id", "attempt", "duration_s")}
    item = row.get("item")
    if isinstance(item, dict):
        for k, v in item.items():
            out["item." + k] = v
    elif item is not None:
        out["item"] = item
    for k, v in (row.get("parameters") or {}).items():
        out["param." + k] = v
    for k, v in (row.get("result") or {}).items():
        out["result." + k] = v
    out["error"] = row.get("error")
    return out


class PipelinesMixin:
    """The pipeline methods of the client (see the module's doc)."""

    # Provided by the client.
    _json: Callable[..., Any]
    _open: Callable[..., Any]
    request_timeout: float

    @staticmethod
    def _pipeline_path(pipeline_id: str, tail: str = "") -> str:
        return f"/api/v1/pipelines/{_q(pipeline_id)}{tail}"

    @classmethod
    def _run_path(cls, pipeline_id: Any, run_id: Optional[str], tail: str = "") -> str:
        # A run (dict) may stand for both ids.
        if run_id is None and isinstance(pipeline_id, dict):
            pipeline_id, run_id = pipeline_id.get("pipeline_id"), pipeline_id.get("id")
        if not pipeline_id or not run_id:
            raise ValueError("give the pipeline id and the run id, or the run (a dict from run_pipeline)")
        return cls._pipeline_path(pipeline_id, f"/runs/{_q(run_id)}{tail}")

    # -- pipelines ----------------------------------------------------------------

    def create_pipeline(self, name: Any, tasks: Optional[List[Dict[str, Any]]] = None,
                        parameters: Optional[Dict[str, Any]] = None, username: Optional[str] = None,
                        **options: Any) -> Dict[str, Any]:
        """Create a pipeline (``POST /api/v1/pipelines``). ``tasks`` is a list of
        ``{key, notebook, parameters?, depends_on?, run_if?, for_each?, kernel?, timeout_s?, cell_timeout_s?,
        max_retries?, retry_backoff_s?}``; ``parameters`` are the pipeline's, with their defaults. Other fields go in
        ``options``: max_concurrent_runs, notify. ``name`` may also be a whole body (a dict, e.g. a pipeline file
        read with ``yaml.safe_load``). It is checked completely: ``BadRequest`` (422) names each task and problem,
        its ``body["problems"]`` lists them as ``{task, path, message}``."""
        if isinstance(name, dict):
            body: Dict[str, Any] = dict(name)
        else:
            body = {"name": name, "tasks": tasks or []}
        if parameters is not None:
            body["parameters"] = parameters
        if username is not None:
            body["username"] = username
        body.update({k: v for k, v in options.items() if v is not None})
        return self._json("POST", "/api/v1/pipelines", body)

    def get_pipeline(self, pipeline_id: str) -> Dict[str, Any]:
        return self._json("GET", self._pipeline_path(pipeline_id))

    def list_pipelines(self, username: Optional[str] = None) -> List[Dict[str, Any]]:
        """Your pipelines (admins: everyone's, or ``username``'s), newest first, every page."""
        query: Dict[str, Any] = {"username": username}
        out: List[Dict[str, Any]] = []
        while True:
            page = self._json("GET", "/api/v1/pipelines", query=query)
            out.extend(page["pipelines"])
            if not page.get("next_cursor"):
                return out
            query["cursor"] = page["next_cursor"]

    def update_pipeline(self, pipeline_id: str, **fields: Any) -> Dict[str, Any]:
        """Change fields (name, parameters, tasks, max_concurrent_runs, notify); checked again as at creation."""
        return self._json("PATCH", self._pipeline_path(pipeline_id), fields)

    def delete_pipeline(self, pipeline_id: str) -> None:
        """Delete a pipeline; its runs and their jobs stay."""
        self._json("DELETE", self._pipeline_path(pipeline_id))

    # -- runs ---------------------------------------------------------------------

    def run_pipeline(self, pipeline_id: str, parameters: Optional[Dict[str, Any]] = None, wait: bool = False,
                     timeout: float = 3600, on_progress: Optional[Callable[[Dict[str, Any]], None]] = None,
                     raise_on_failure: bool = False) -> Dict[str, Any]:
        """Start a run; ``parameters`` override the pipeline's (only its own names). Returns the run; with
        ``wait=True`` waits for its end as ``wait_pipeline_run`` does (same ``timeout``, ``on_progress``,
        ``raise_on_failure``)."""
        run = self._json("POST", self._pipeline_path(pipeline_id, "/runs"), {"parameters": parameters or {}})
        if not wait:
            return run
        return self.wait_pipeline_run(pipeline_id, run["id"], timeout=timeout, on_progress=on_progress,
                                      raise_on_failure=raise_on_failure)

    def get_pipeline_run(self, pipeline_id: Any, run_id: Optional[str] = None) -> Dict[str, Any]:
        return self._json("GET", self._run_path(pipeline_id, run_id))

    def list_pipeline_runs(self, pipeline_id: str, limit: int = 20) -> List[Dict[str, Any]]:
        """The pipeline's runs, newest first (one page of ``limit``)."""
        return self._json("GET", self._pipeline_path(pipeline_id, "/runs"), query={"limit": limit})["runs"]

    def cancel_pipeline_run(self, pipeline_id: Any, run_id: Optional[str] = None) -> Dict[str, Any]:
        """Cancel a run: running jobs stop, nothing new starts, the run ends ``cancelled``."""
        return self._json("POST", self._run_path(pipeline_id, run_id, "/cancel"))

    def repair_pipeline_run(self, pipeline_id: Any, run_id: Optional[str] = None, tasks: Optional[List[str]] = None,
                            items: Optional[Dict[str, List[int]]] = None, wait: bool = False, timeout: float = 3600,
                            raise_on_failure: bool = False) -> Dict[str, Any]:
        """Re-run a finished run in place (same id, an entry appended to ``repairs``). By default its failed,
        timed-out, cancelled and upstream-failed tasks, and of a ``for_each`` only the failed items; ``tasks``
        and ``items`` (``{"sweep": [3]}``) choose instead. What is downstream re-runs, succeeded upstream
        tasks keep their results. A run still running answers 409 (``HubmillError``, status 409)."""
        body: Dict[str, Any] = {}
        if tasks is not None:
            body["tasks"] = list(tasks)
        if items is not None:
            body["items"] = {k: list(v) for k, v in items.items()}
        run = self._json("POST", self._run_path(pipeline_id, run_id, "/repair"), body)
        if not wait:
            return run
        return self.wait_pipeline_run(run["pipeline_id"], run["id"], timeout=timeout, raise_on_failure=raise_on_failure)

    def pipeline_run_events(self, pipeline_id: Any, run_id: Optional[str] = None,
                            timeout: Optional[float] = None) -> Iterator[Tuple[str, Dict[str, Any]]]:
        """Live events ``(type, data)`` of a run (server-sent events: ``run``, ``task``, ``item``) until it ends."""
        yield from self._sse(self._run_path(pipeline_id, run_id, "/events"), timeout)

    def wait_pipeline_run(self, pipeline_id: Any, run_id: Optional[str] = None, timeout: float = 3600,
                          on_progress: Optional[Callable[[Dict[str, Any]], None]] = None, poll_interval: float = 1.0,
                          raise_on_failure: bool = False) -> Dict[str, Any]:
        """Waits until the run and its jobs have ended and returns the run. ``on_progress(run)`` is called with
        the run whenever a task or item changes state. Follows the live event stream and falls back to polling.
        ``Timeout`` when ``timeout`` seconds pass (the run goes on); ``PipelineRunFailed`` for an unsuccessful
        end when ``raise_on_failure``."""
        if run_id is None and isinstance(pipeline_id, dict):
            pipeline_id, run_id = pipeline_id.get("pipeline_id"), pipeline_id.get("id")
        deadline = time.monotonic() + timeout

        def done(r: Dict[str, Any]) -> Dict[str, Any]:
            if raise_on_failure and r.get("status") != "succeeded":
                raise PipelineRunFailed(r)
            return r

        last = None

        def report(r: Dict[str, Any]) -> None:
            nonlocal last
            marker = json.dumps([(t.get("key"), t.get("status"), t.get("items_done"),
                                  [(j.get("id"), j.get("status")) for j in t.get("jobs") or []])
                                 for t in r.get("tasks") or []] + [r.get("status")])
            if on_progress and marker != last:
                on_progress(r)
            last = marker

        fetched = 0.0
        try:
            for kind, data in self.pipeline_run_events(pipeline_id, run_id, timeout=timeout):
                if kind == "run" and isinstance(data.get("run"), dict):
                    # The whole run comes with the stream's first event and with each change of the run's state.
                    run = data["run"]
                    report(run)
                    if run_settled(run):
                        return done(run)
                elif kind in ("task", "item") and on_progress and time.monotonic() - fetched >= min(poll_interval, 1.0):
                    fetched = time.monotonic()
                    report(self.get_pipeline_run(pipeline_id, run_id))
                if time.monotonic() > deadline:
                    break
        except (HubmillError, OSError) as e:
            if isinstance(e, HubmillError) and e.status in (401, 403, 404):
                raise
        # Polling: the stream ended, broke, or is not available.
        while True:
            run = self.get_pipeline_run(pipeline_id, run_id)
            report(run)
            if run_settled(run):
                return done(run)
            if time.monotonic() > deadline:
                raise Timeout(0, f"pipeline run {run_id} still {run.get('status')} after {timeout} s", {"run": run})
            time.sleep(min(poll_interval, max(0.05, deadline - time.monotonic())))

    def pipeline_results(self, pipeline_id: Any, run_id: Optional[str] = None, task: Optional[str] = None,
                         as_dataframe: bool = False) -> Any:
        """A run's results: one row per task, or per item of a ``for_each`` task (a sweep's table), as a list of
        dicts ``{task, item_index, item, parameters, status, job_id, attempt, result, duration_s, error}``.
        ``task`` keeps one task's rows. With ``as_dataframe=True``, a pandas DataFrame with one flat column per
        item key, parameter and result (``item.lr``, ``param.lr``, ``result.score``), as the CSV has them;
        pandas is then needed (it is never required otherwise)."""
        page = self._json("GET", self._run_path(pipeline_id, run_id, "/results"), query={"task": task})
        rows = page["rows"]
        if not as_dataframe:
            return rows
        try:
            import pandas  # noqa: PLC0415 - optional, only for as_dataframe
        except ImportError:
            raise ImportError("pipeline_results(as_dataframe=True) needs pandas (pip install pandas); "
                              "without it, use the rows (a list of dicts)") from None
        records = [_flat_row(r) for r in rows]
        # The CSV's order: the fixed columns, then each key in order of first appearance, error last.
        columns: List[str] = []
        for rec in records:
            columns.extend(k for k in rec if k not in columns and k != "error")
        return pandas.DataFrame.from_records(records, columns=columns + ["error"])
