"""Tests of hubmill_client against a live hubmill.

Environment:
  HUBMILL_URL         base URL (e.g. http://127.0.0.1:8002 or http://127.0.0.1:8000/services/hubmill)
  HUBMILL_TEST_TOKEN  a token that may act for HUBMILL_TEST_USER
  HUBMILL_TEST_USER   a user whose home holds params.ipynb, fail.ipynb and slow.ipynb
                      (test/clients/python-client.test.ts writes them)

Run: PYTHONPATH=clients/python python3 -m unittest discover -s clients/python/tests -v
"""

import http.server
import json
import os
import tempfile
import threading
import unittest
from unittest import mock

from hubmill_client import (
    AuthError,
    BadRequest,
    HubmillError,
    JobFailed,
    JupyterHubPapermillClient,
    NotFound,
    RateLimited,
    Timeout,
)

URL = os.environ.get("HUBMILL_URL")
TOKEN = os.environ.get("HUBMILL_TEST_TOKEN")
USER = os.environ.get("HUBMILL_TEST_USER", "testuser")


@unittest.skipUnless(URL and TOKEN, "HUBMILL_URL and HUBMILL_TEST_TOKEN are not set")
class LiveServiceTest(unittest.TestCase):
    def setUp(self):
        self.client = JupyterHubPapermillClient(URL, token=TOKEN)

    def test_health_answers(self):
        self.assertEqual(self.client.health()["status"], "healthy")

    def test_list_notebooks_returns_the_seed_fields(self):
        notebooks = self.client.list_notebooks(USER)
        names = {n["name"] for n in notebooks}
        self.assertIn("params.ipynb", names)
        for n in notebooks:
            for field in ("name", "path", "relative_path", "size", "modified"):
                self.assertIn(field, n)

    def test_execute_notebook_runs_synchronously_like_the_seed(self):
        result = self.client.execute_notebook(USER, "params.ipynb", {"alpha": 2, "label": "py"}, timeout=120)
        self.assertEqual(result["status"], "success")
        self.assertEqual(result["username"], USER)
        self.assertEqual(result["parameters"], {"alpha": 2, "label": "py"})
        self.assertTrue(result["output_notebook"].endswith(".ipynb"))

    def test_submit_wait_with_progress_results_and_output(self):
        job = self.client.submit_job("params.ipynb", {"alpha": 5}, username=USER)
        self.assertIn(job["status"], ("queued", "running", "succeeded"))
        seen = []
        final = self.client.wait_job(job["id"], timeout=120, on_progress=seen.append)
        self.assertEqual(final["status"], "succeeded")
        self.assertTrue(seen, "on_progress was never called")
        self.assertEqual(seen[-1]["status"], "succeeded")
        self.assertEqual(self.client.results(job["id"]), {"doubled": 10})
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "out.ipynb")
            nb = self.client.download_output(job["id"], path)
            self.assertEqual(nb["metadata"]["papermill"]["parameters"], {"alpha": 5})
            with open(path, encoding="utf-8") as f:
                self.assertEqual(json.load(f)["nbformat"], 4)
        self.assertIn(job["id"], [j["id"] for j in self.client.list_jobs(username=USER)])

    def test_wait_by_polling_gives_the_same_answer(self):
        job = self.client.submit_job("params.ipynb", {"alpha": 1}, username=USER)
        with mock.patch.object(JupyterHubPapermillClient, "events", side_effect=OSError("no stream")):
            final = self.client.wait_job(job["id"], timeout=120, poll_interval=0.1)
        self.assertEqual(final["status"], "succeeded")

    def test_a_failing_notebook_raises_job_failed_with_the_error(self):
        job = self.client.submit_job("fail.ipynb", username=USER)
        with self.assertRaises(JobFailed) as cm:
            self.client.wait_job(job["id"], timeout=120, raise_on_failure=True)
        self.assertEqual(cm.exception.job["status"], "failed")
        self.assertEqual(cm.exception.job["error"]["ename"], "ValueError")
        self.assertIn("ValueError", cm.exception.detail)

    def test_cancel_stops_a_running_job(self):
        job = self.client.submit_job("slow.ipynb", username=USER)
        self.client.cancel_job(job["id"])
        final = self.client.wait_job(job["id"], timeout=60)
        self.assertEqual(final["status"], "cancelled")

    def test_wait_timeout_raises_timeout(self):
        job = self.client.submit_job("slow.ipynb", username=USER)
        try:
            with self.assertRaises(Timeout):
                self.client.wait_job(job["id"], timeout=0.5, poll_interval=0.1)
        finally:
            self.client.cancel_job(job["id"])

    def test_schedules_create_list_run_pause_resume_delete(self):
        s = self.client.create_schedule("nightly", "params.ipynb", "0 2 * * *", {"alpha": 3},
                                        timezone="Europe/Berlin", username=USER, max_retries=1)
        self.assertEqual(s["cron"], "0 2 * * *")
        self.assertEqual(s["timezone"], "Europe/Berlin")
        self.assertEqual(s["max_retries"], 1)
        self.assertTrue(s["next_run_at"].endswith("Z"))
        self.assertIn(s["id"], [x["id"] for x in self.client.list_schedules(username=USER)])
        job = self.client.run_schedule(s["id"], {"alpha": 4})
        self.assertEqual(job["schedule_id"], s["id"])
        self.assertEqual(job["parameters"], {"alpha": 4})
        self.assertEqual(self.client.wait_job(job["id"], timeout=120)["status"], "succeeded")
        self.assertEqual([j["id"] for j in self.client.schedule_runs(s["id"])], [job["id"]])
        self.assertTrue(self.client.pause_schedule(s["id"])["paused"])
        self.assertFalse(self.client.resume_schedule(s["id"])["paused"])
        self.client.delete_schedule(s["id"])
        with self.assertRaises(NotFound):
            self.client.get_schedule(s["id"])
        self.assertEqual(self.client.get_job(job["id"])["schedule_id"], s["id"])

    def test_bad_cron_is_a_bad_request_that_says_why(self):
        with self.assertRaises(BadRequest) as ctx:
            self.client.create_schedule("bad", "params.ipynb", "61 * * * *", username=USER)
        self.assertIn("minute", str(ctx.exception))

    def test_bad_token_is_an_auth_error_with_detail(self):
        bad = JupyterHubPapermillClient(URL, token="not-a-valid-token")
        with self.assertRaises(AuthError) as cm:
            bad.list_notebooks(USER)
        self.assertEqual(cm.exception.status, 401)
        self.assertTrue(cm.exception.detail)

    def test_token_from_environment(self):
        with mock.patch.dict(os.environ, {"JUPYTERHUB_API_TOKEN": TOKEN}, clear=False):
            self.assertTrue(JupyterHubPapermillClient(URL).list_notebooks(USER))
        with mock.patch.dict(os.environ, {"HUBMILL_API_TOKEN": TOKEN, "JUPYTERHUB_API_TOKEN": ""}, clear=False):
            self.assertTrue(JupyterHubPapermillClient(URL).list_notebooks(USER))

    def test_unknown_job_is_not_found(self):
        with self.assertRaises(NotFound) as cm:
            self.client.get_job("j_doesnotexist")
        self.assertEqual(cm.exception.status, 404)

    def test_unknown_notebook_is_not_found(self):
        with self.assertRaises(NotFound):
            self.client.submit_job("no-such-notebook.ipynb", username=USER)

    def test_path_outside_the_home_is_a_bad_request(self):
        with self.assertRaises((BadRequest, AuthError)) as cm:
            self.client.submit_job("../../etc/passwd", username=USER)
        self.assertIn(cm.exception.status, (400, 403, 422))
        self.assertTrue(cm.exception.detail)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        body = json.dumps({"type": "urn:hubmill:error:rate_limited", "status": 429, "detail": "slow down", "code": "RATE_LIMITED"}).encode()
        self.send_response(429)
        self.send_header("Content-Type", "application/problem+json")
        self.send_header("Retry-After", "7")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class ErrorMappingTest(unittest.TestCase):
    """The 429 mapping, against a tiny local server (hubmill's limits are exercised in test/hub)."""

    def test_429_is_rate_limited_with_retry_after(self):
        srv = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            client = JupyterHubPapermillClient(f"http://127.0.0.1:{srv.server_address[1]}", token="x")
            with self.assertRaises(RateLimited) as cm:
                client.health()
            self.assertEqual(cm.exception.status, 429)
            self.assertEqual(cm.exception.retry_after, 7.0)
            self.assertEqual(cm.exception.detail, "slow down")
            self.assertEqual(cm.exception.code, "RATE_LIMITED")
        finally:
            srv.shutdown()
            srv.server_close()

    def test_unreachable_server_is_a_hubmill_error_with_status_0(self):
        client = JupyterHubPapermillClient("http://127.0.0.1:9", token="x", request_timeout=2)
        with self.assertRaises(HubmillError) as cm:
            client.health()
        self.assertEqual(cm.exception.status, 0)


if __name__ == "__main__":
    unittest.main()
