"""Under pytest-xdist, what the workers hand their controller, which runs no case itself.

Each worker hands over, at its end, its results document, its judge's summary (so that the
controller's summary lists every case, as a run without xdist does) and how many benchmark items
it collected (the controller collects none). A worker that never hands anything over (killed, out
of memory, or stopped by Ctrl-C before the controller heard it end) left its share of the results
file beside it (results_file.py): the controller takes that instead, so its finished cases stay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from ..verdicts.protocol import Judge, add_worker_summary, worker_summary
from . import results_file as files


def hand_over(
    workeroutput: dict[str, Any], document: dict[str, Any], judge: Judge, collected: int
) -> None:
    """A worker's side, at its session's end: what its controller reads in `node_down`."""
    workeroutput["rnnbench"] = document
    workeroutput["rnnbench_summary"] = worker_summary(judge)
    workeroutput["rnnbench_collected"] = collected


class XdistWorkers:
    """The controller's side: each worker's results document, by worker ("gw0"), taken once."""

    def __init__(self, json_path: Optional[Path], judge: Judge) -> None:
        self.json_path = json_path
        self.judge = judge
        self.documents: dict[str, dict[str, Any]] = {}
        self.collected = 0  # the most benchmark items any worker collected (after -k/-m)
        self._run: Optional[str] = None  # the controller's testrunuid, once a worker starts

    def node_configured(self, node: Any) -> None:
        """The run's id, which names its workers' share files."""
        self._run = node.workerinput.get("testrunuid")

    def node_down(self, node: Any) -> bool:
        """Take what a worker handed over when it ended, or its share when it died (called twice
        for a worker stopped by Ctrl-C: once as finished, once as down). True when this brought
        a document not taken before (the results file is then to be rewritten)."""
        worker = node.gateway.id
        output = getattr(node, "workeroutput", None) or {}
        share = None
        if self.json_path is not None:
            share = files.xdist_share(self.json_path, node.workerinput)
        sent = output.get("rnnbench") or files.read_share(share)
        if share is not None:
            share.unlink(missing_ok=True)
        self.collected = max(self.collected, output.get("rnnbench_collected") or 0)
        if not sent or worker in self.documents:
            return False
        self.documents[worker] = sent
        add_worker_summary(
            self.judge, output.get("rnnbench_summary") or {}, sent.get("verdicts") or {}
        )
        return True

    def take_left_shares(self) -> None:
        """The shares of workers never heard to end (Ctrl-C stops the controller's loop before
        their pytest_testnodedown)."""
        if self._run is None or self.json_path is None:
            return
        for worker, sent in files.take_left_shares(self.json_path, self._run):
            if worker not in self.documents:
                self.documents[worker] = sent
                add_worker_summary(self.judge, {}, sent.get("verdicts") or {})

    def merge_into(self, document: dict[str, Any]) -> None:
        """The workers' results, failures and verdicts, added to the controller's document."""
        for sent in self.documents.values():
            for key in ("results", "failures", "verdicts"):
                if sent.get(key):
                    document.setdefault(key, {}).update(sent[key])
