"""Pipeline methods of hubmill_client against a live hubmill.

Environment as test_client.py; the user's home also holds pl/extract.ipynb, pl/train.ipynb,
pl/report.ipynb, pl/flaky.ipynb and pl/ok.ipynb (test/clients/python-client.test.ts writes them).
"""

import os
import sys
import types
import unittest
import uuid
from unittest import mock

from hubmill_client import BadRequest, HubmillError, JupyterHubPapermillClient, PipelineRunFailed

URL = os.environ.get("HUBMILL_URL")
TOKEN = os.environ.get("HUBMILL_TEST_TOKEN")
USER = os.environ.get("HUBMILL_TEST_USER", "testuser")

SWEEP_TASKS = [
    {"key": "extract", "notebook": "pl/extract.ipynb"},
    {"key": "sweep", "notebook": "pl/train.ipynb", "depends_on": ["extract"],
     "parameters": {"n_rows": "{{tasks.extract.result.rows}}"},
     "for_each": {"grid": {"lr": [0.1, 0.01], "depth": [1, 2]}, "concurrency": 2}},
    {"key": "report", "notebook": "pl/report.ipynb", "depends_on": ["sweep"],
     "parameters": {"scores": "{{tasks.sweep.result.score}}", "big": "{{tasks.extract.result.big}}"}},
]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@unittest.skipUnless(URL and TOKEN, "HUBMILL_URL and HUBMILL_TEST_TOKEN are not set")
class PipelineSweepTest(unittest.TestCase):
    """One extract → grid sweep → report run, shared by the tests that read it."""

    @classmethod
    def setUpClass(cls):
        cls.client = JupyterHubPapermillClient(URL, token=TOKEN)
        cls.pipeline = cls.client.create_pipeline(unique("sweep"), SWEEP_TASKS, parameters={"rows": 3}, username=USER)
        cls.progress = []
        cls.sweep_run = cls.client.run_pipeline(cls.pipeline["id"], {"rows": 4}, wait=True, timeout=200,
                                          on_progress=cls.progress.append)

    def rows(self, task=None):
        return self.client.pipeline_results(self.pipeline["id"], self.sweep_run["id"], task=task)

    def test_the_run_succeeds_with_its_tasks_in_order_and_progress_reported(self):
        self.assertEqual(self.sweep_run["status"], "succeeded", self.sweep_run)
        self.assertEqual([t["key"] for t in self.sweep_run["tasks"]], ["extract", "sweep", "report"])
        self.assertEqual(self.sweep_run["parameters"], {"rows": 4})
        sweep = self.sweep_run["tasks"][1]
        self.assertEqual((sweep["items_total"], sweep["items_done"]), (4, 4))
        self.assertTrue(self.progress, "on_progress was never called")
        self.assertEqual(self.progress[-1]["status"], "succeeded")
        again = self.client.wait_pipeline_run(self.sweep_run)
        self.assertEqual(again["id"], self.sweep_run["id"])

    def test_results_are_rows_with_exact_typed_values(self):
        rows = self.rows()
        self.assertIsInstance(rows, list)
        extract = [r for r in rows if r["task"] == "extract"][0]
        self.assertEqual(extract["result"]["rows"], 4)
        self.assertEqual(extract["result"]["big"], 2**63 + 1)
        self.assertIsInstance(extract["result"]["ratio"], float)
        sweep = [r for r in rows if r["task"] == "sweep"]
        self.assertEqual([r["item"] for r in sweep],
                         [{"lr": 0.1, "depth": 1}, {"lr": 0.1, "depth": 2}, {"lr": 0.01, "depth": 1}, {"lr": 0.01, "depth": 2}])
        self.assertEqual([r["item_index"] for r in sweep], [0, 1, 2, 3])
        for r in sweep:
            self.assertEqual(r["status"], "succeeded")
            # The file extract wrote next to the notebooks, read by each item.
            self.assertEqual(r["result"]["file_rows"], 4)
            self.assertIsInstance(r["result"]["score"], float)
            self.assertAlmostEqual(r["result"]["score"], r["item"]["lr"] * r["item"]["depth"] * 4)
        report = [r for r in rows if r["task"] == "report"][0]
        self.assertEqual(report["result"]["n"], 4)
        self.assertTrue(report["result"]["big_exact"])
        self.assertEqual({r["task"] for r in self.rows(task="sweep")}, {"sweep"})

    def test_results_as_a_dataframe_only_when_asked_and_pandas_is_there(self):
        made = {}

        class FakeFrame:
            @classmethod
            def from_records(cls, records, columns=None):
                made.update(records=records, columns=columns)
                return cls()

        fake = types.ModuleType("pandas")
        fake.DataFrame = FakeFrame
        with mock.patch.dict(sys.modules, {"pandas": fake}):
            self.assertIsInstance(self.rows(), list)
            frame = self.client.pipeline_results(self.sweep_run, as_dataframe=True)
        self.assertIsInstance(frame, FakeFrame)
        cols = made["columns"]
        self.assertEqual(cols[:6], ["task", "item_index", "status", "job_id", "attempt", "duration_s"])
        for c in ("item.lr", "item.depth", "param.lr", "result.score", "result.big"):
            self.assertIn(c, cols)
        self.assertEqual(cols[-1], "error")
        sweep = [r for r in made["records"] if r["task"] == "sweep"]
        self.assertEqual(sweep[1]["item.depth"], 2)
        with mock.patch.dict(sys.modules, {"pandas": None}):
            with self.assertRaises(ImportError) as cm:
                self.client.pipeline_results(self.sweep_run, as_dataframe=True)
        self.assertIn("pandas", str(cm.exception))


@unittest.skipUnless(URL and TOKEN, "HUBMILL_URL and HUBMILL_TEST_TOKEN are not set")
class PipelineLifecycleTest(unittest.TestCase):
    def setUp(self):
        self.client = JupyterHubPapermillClient(URL, token=TOKEN)

    def test_a_failed_run_raises_when_asked_and_repair_reruns_it_in_place(self):
        tasks = [{"key": "flaky", "notebook": "pl/flaky.ipynb", "parameters": {"marker": unique("marker")}},
                 {"key": "after", "notebook": "pl/ok.ipynb", "depends_on": ["flaky"]}]
        p = self.client.create_pipeline({"name": unique("flaky"), "tasks": tasks}, username=USER)
        run = self.client.run_pipeline(p["id"])
        # This wait polls (the event stream is broken); the repair's below follows the stream.
        with mock.patch.object(JupyterHubPapermillClient, "pipeline_run_events", side_effect=OSError("no stream")):
            with self.assertRaises(PipelineRunFailed) as cm:
                self.client.wait_pipeline_run(p["id"], run["id"], timeout=120, poll_interval=0.1, raise_on_failure=True)
        failed = cm.exception.run
        self.assertEqual(failed["status"], "failed")
        self.assertEqual([t["status"] for t in failed["tasks"]], ["failed", "upstream_failed"])
        self.assertIn("flaky failed", cm.exception.detail)
        repaired = self.client.repair_pipeline_run(failed, wait=True, timeout=120)
        self.assertEqual(repaired["id"], run["id"])
        self.assertEqual(repaired["status"], "succeeded", repaired)
        self.assertEqual(len(repaired["repairs"]), 1)
        self.assertEqual([j["attempt"] for j in repaired["tasks"][0]["jobs"]], [1, 2])

    def test_cancel_a_running_run_and_no_repair_while_it_runs(self):
        p = self.client.create_pipeline(unique("slow"), [{"key": "slow", "notebook": "slow.ipynb"}], username=USER)
        run = self.client.run_pipeline(p["id"])
        with self.assertRaises(HubmillError) as cm:
            self.client.repair_pipeline_run(p["id"], run["id"])
        self.assertEqual(cm.exception.status, 409)
        self.client.cancel_pipeline_run(p["id"], run["id"])
        final = self.client.wait_pipeline_run(p["id"], run["id"], timeout=60)
        self.assertEqual(final["status"], "cancelled")
        self.assertIn(run["id"], [r["id"] for r in self.client.list_pipeline_runs(p["id"])])

    def test_a_bad_pipeline_is_a_bad_request_naming_each_task(self):
        tasks = [{"key": "a", "notebook": "pl/ok.ipynb", "depends_on": ["b"]},
                 {"key": "b", "notebook": "pl/ok.ipynb", "depends_on": ["a"]},
                 {"key": "c", "notebook": "pl/missing.ipynb"}]
        with self.assertRaises(BadRequest) as cm:
            self.client.create_pipeline(unique("bad"), tasks, username=USER)
        self.assertEqual(cm.exception.status, 422)
        problems = cm.exception.body["problems"]
        self.assertTrue({"a", "c"} <= {p["task"] for p in problems}, problems)
        for p in problems:
            self.assertEqual(sorted(p), ["message", "path", "task"])

    def test_get_list_rename_and_delete_a_pipeline(self):
        p = self.client.create_pipeline(unique("crud"), [{"key": "ok", "notebook": "pl/ok.ipynb"}], username=USER)
        self.assertEqual(self.client.get_pipeline(p["id"])["name"], p["name"])
        self.assertIn(p["id"], [x["id"] for x in self.client.list_pipelines(username=USER)])
        renamed = self.client.update_pipeline(p["id"], name=p["name"] + "-renamed")
        self.assertEqual(renamed["name"], p["name"] + "-renamed")
        self.client.delete_pipeline(p["id"])
        with self.assertRaises(HubmillError) as cm:
            self.client.get_pipeline(p["id"])
        self.assertEqual(cm.exception.status, 404)


if __name__ == "__main__":
    unittest.main()
