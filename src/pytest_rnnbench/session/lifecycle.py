"""The benchmarking session: registered as a plugin only when --rnnbench is on.

It owns what lives for the whole run and the pytest and pytest-xdist hooks around it: the
matrix, the judge (stored baselines or a live reference), the case runner (runner.py), the
results measured so far (written after every case, so an interrupted run loses nothing), the
report header (header.py) and the end-of-run output (summary.py).

Exit status: pytest's, except that a run that asked for verdicts (a live comparison, the
pull-request gate's among them, or --rnnbench-require-baseline: Settings.verdicts_required) and
judged no case, every case skipped or measured but not judged, exits with EXIT_NOTHING_JUDGED (10)
instead of passing: a gate that judged nothing must not pass a pull request. pytest's own statuses
are 0 to 6 (6: MAX_WARNINGS_ERROR in recent pytest); 10 leaves room for the ones it may add.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import pytest

from ..matrix import Case, build_matrix, shard
from ..report import comment
from ..results.write import new_run_id, results_document
from ..run.devices import GpuInventory, slot_for
from ..run.process import WorkerError
from ..run.summary import Summary
from ..run.trees import remove as remove_tree
from ..settings import Settings
from ..verdicts.family import family_line
from ..verdicts.live import LiveJudge
from ..verdicts.protocol import CaseRun, Judge, enforce
from ..verdicts.stored import BaselineJudge
from . import header, summary
from . import results_file as files
from .display import ProgressDisplay
from .interrupt import interrupt_on_sigterm
from .item_reports import case_id_of, failure_cause, skip_reason
from .one_measurement import family_size, later_tests
from .runner import CaseRunner, source_trees
from .skips import why_not_here
from .xdist_workers import XdistWorkers, hand_over

EXIT_NOTHING_JUDGED = 10

# What a benchmark case records as the test's user properties (junitxml and the like).
SUMMARY_PROPERTIES = (
    "epoch_seconds",
    "step_ms_median",
    "samples_per_second",
    "final_loss",
    "host_peak_rss_bytes",
    "warmup_seconds",
    "gpu_framework_peak_bytes",
    "gpu_nvml_process_peak_bytes",
)


class RnnbenchSession:
    def __init__(self, config: pytest.Config, settings: Settings, inventory: GpuInventory) -> None:
        self.config = config
        self.settings = settings
        self.inventory = inventory
        # The whole matrix's size too: an empty shard says how many cases it holds none of.
        self.matrix_size, self.cases = _matrix(settings)
        # Under pytest-xdist each worker process owns a disjoint block of GPUs.
        self.slot = slot_for(os.environ, inventory)
        self.summaries: dict[str, Summary] = {}
        self.failures: dict[str, str] = {}
        self.progress = ProgressDisplay(config)
        # case id -> verdict.CaseVerdict.to_dict() (and its context), for the results file
        self.verdicts: dict[str, dict[str, Any]] = {}
        # The pull-request gate's two Keras trees: a bad ref or directory is a usage error now.
        start = Path(config.invocation_params.dir)
        self.trees = source_trees(settings, start) if settings.gate_base is not None else {}
        # A live run judges against reference workers; else this machine's baseline file, loaded
        # now: a broken one is a usage error before any test.
        live = LiveJudge(settings, self.trees) if settings.live else None
        self.judge: Judge = live or BaselineJudge(config, settings, inventory)
        # `pytest --co` writes no output, so it holds no results file (an xdist worker: a share).
        self.collect_only = bool(config.option.collectonly)
        self.results_unwritten: Optional[str] = None  # why the latest write failed
        json_path = None if self._is_xdist_worker or self.collect_only else settings.json_path
        self._claim = files.claim_results_file(json_path) if json_path is not None else None
        # Made after everything that may raise a usage error, so pytest_unconfigure removes it.
        self._log_dir = Path(tempfile.mkdtemp(prefix="rnnbench-logs-"))
        # A cancelled CI job (SIGTERM) stops the run as Ctrl-C does, cleaning up as it goes.
        self._restore_sigterm = interrupt_on_sigterm()
        # Which fresh cases need several workers: only a stored baseline's judge knows.
        stored = self.judge if isinstance(self.judge, BaselineJudge) else None
        self.runner = CaseRunner(
            settings, self.slot, self.trees, self.progress, self._log_dir, stored
        )
        # pytest-xdist controller: what its workers hand over (it runs no case itself).
        self.xdist = XdistWorkers(settings.json_path, self.judge)
        # Cases whose test failed, whatever failed it (a regression, a missing baseline under
        # --rnnbench-require-baseline, a worker): for the counts line. Under pytest-xdist the
        # controller hears its workers' reports too.
        self.failed_cases: set[str] = set()
        # What failed each of those tests (its first line): the results file's failure for a
        # case that failed before any worker reported (a broken dataset, an error in the plugin).
        self.failure_causes: dict[str, str] = {}
        self.skipped: dict[str, str] = {}  # case id -> why its test was skipped
        # One identity per run: every rewrite of its results file keeps it (history dedups on it).
        self.run_id = new_run_id()
        self.selected: Optional[int] = None  # benchmark items collected here (None: not known)
        self.collected = 0  # benchmark items before -k/-m deselected any (xdist: a worker's)
        self.finished = False  # the run reached its end (not interrupted): said in its file
        self._session: Optional[pytest.Session] = None
        self.measured_elsewhere: dict[str, str] = {}  # node id -> why (one_measurement.py)

    # -- collection ------------------------------------------------------------------------------

    def skip_reason(self, case: Case) -> Optional[str]:
        """Why `case` cannot run on this machine, known before any worker starts."""
        return why_not_here(case, self.settings, self.inventory, self.slot, self.trees)

    @pytest.hookimpl(tryfirst=True)  # before -k/-m: what they deselect counts as collected
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Under --rnnbench only benchmark cases run (like pytest-benchmark's --benchmark-only):
        items given a case (an empty shard gives a benchmark test none: it is left out too)."""
        keep = [item for item in items if "rnnbench_case" in _params(item)]
        self.collected = len(keep)
        if len(keep) != len(items):
            config.hook.pytest_deselected(items=[item for item in items if item not in keep])
            items[:] = keep

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.measured_elsewhere = later_tests(session.items, _case_of)
        # After deselection and reordering: the progress line counts "case 3 of 8" of these.
        self.selected = len(session.items)
        self.judge.family(self._family_size(session.items))
        self.progress.start_run(session.items)

    def _family_size(self, items: Sequence[pytest.Item]) -> int:
        """The cases the run judges: a share of its false-alarm rate each (verdicts/family.py)."""
        judgeable = [item for item in items if self._may_be_judged(item)]
        return family_size(judgeable, _case_of, self.matrix_size - len(self.cases))

    def _may_be_judged(self, item: pytest.Item) -> bool:
        """False for a case that no process of this run can measure (no such GPUs, a backend
        its interpreter lacks, one the head tree does not serve), known now and alike on every
        pytest-xdist worker: never judged, it takes no share of the run's false-alarm rate."""
        case = _params(item).get("rnnbench_case")
        if case is None or self.collect_only:  # a listing judges nothing: no interpreter probed
            return True
        if why_not_here(case, self.settings, self.inventory, None, self.trees) is not None:
            return False
        return self.runner.backend_problem(case.backend) is None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        case_id = case_id_of(report.nodeid)
        if case_id is None:
            return
        if report.failed:
            self.failed_cases.add(case_id)
            self.failure_causes.setdefault(case_id, failure_cause(report))
        elif report.skipped:
            self.skipped[case_id] = skip_reason(report)
            self.progress.skipped(report.nodeid)  # not to be waited for in the estimate

    def pytest_report_collectionfinish(
        self, config: pytest.Config, start_path: Path, items: Sequence[pytest.Item]
    ) -> list[str]:
        """Once the cases are known: the level the whole run holds (verdicts/family.py)."""
        if self.settings.save_baseline or not items or self.collect_only:
            return []
        cases = self._family_size(items)
        if not cases:  # none can run here: their skips say why
            return []
        return [f"rnnbench: {family_line(self.settings.false_alarm_rate, cases)}"]

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        workers = getattr(config.option, "numprocesses", None)
        return header.header_lines(
            self.settings, self.inventory, self.cases, workers, self.judge.header_lines()
        )

    # -- running a case --------------------------------------------------------------------------

    def run_case(self, case: Case, item: pytest.Item) -> Summary:
        """Measure `case` in worker processes, record it, and judge it (failing, skipping or
        warning the test item as its verdict says)."""
        if item.nodeid in self.measured_elsewhere:
            pytest.fail(self.measured_elsewhere[item.nodeid], pytrace=False)
        try:
            measured = self.runner.measure(case, item.nodeid)
        except WorkerError as exc:
            failed: Optional[WorkerError] = exc  # failed outside this block: said once, unchained
        else:
            failed = None
        if failed is not None:
            self.failures[case.id] = failed.cause
            self._write_results()
            # Under xdist only this worker knows where its logs are: the controller's summary
            # cannot say it, so the failure does.
            kept = f"\nfull output: {self._log_dir}" if self._is_xdist_worker else ""
            pytest.fail(f"{case.id}: {failed}{kept}", pytrace=False)
        summary = measured.summary
        self.summaries[case.id] = summary
        for key in SUMMARY_PROPERTIES:
            item.user_properties.append((f"rnnbench_{key}", getattr(summary, key)))
        run = CaseRun(case, item, summary, measured.reference, measured.candidate)
        try:
            judged = self.judge.check(run)  # may fail or skip the item itself
            if judged is not None:
                self.verdicts[case.id] = judged.to_dict()
                enforce(judged.verdict, item)  # fails a regression, warns when unsure
        finally:
            self._write_results()
        return summary

    # -- results ---------------------------------------------------------------------------------

    def results_document(self) -> dict[str, Any]:
        gate = {side: tree.to_dict() for side, tree in self.trees.items()}
        document = results_document(
            self.summaries,
            self.failures,
            self.settings,
            self.inventory,
            self.verdicts,
            gate,
            # The checkout the user ran pytest in: its commit places the run in a history.
            started_in=Path(self.config.invocation_params.dir),
            run_id=self.run_id,
            not_judged=summary.not_judged(self.skipped, self.judge.unjudged),
            progress={"finished": self.finished, "cases_selected": self.selected},
        )
        self.xdist.merge_into(document)
        # A case whose test failed with no verdict or failure recorded (a worker that imported
        # another Keras, after its result) must not vanish: a failure, with its test's cause.
        recorded = set(document.get("verdicts") or {}) | set(document.get("failures") or {})
        for case_id, cause in sorted(self.failure_causes.items()):
            if case_id not in recorded:
                document.setdefault("failures", {})[case_id] = cause
        return document

    @property
    def _is_xdist_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def _write_results(self) -> None:
        if self.settings.json_path is None or self.collect_only:
            return
        path = self.settings.json_path
        if self._is_xdist_worker:
            # The controller writes the one file from what each worker hands it at its end. A
            # worker that dies first (killed, out of memory) hands nothing: its share so far,
            # rewritten after every case, is what the controller takes instead.
            path = files.xdist_share(path, self.config.workerinput)  # type: ignore[attr-defined]
        self.results_unwritten = files.write_results_file(path, self.results_document())

    # -- the end of the run ----------------------------------------------------------------------

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        # Runs after Ctrl-C too: an extracted base tree never outlives the session.
        for tree in self.trees.values():
            remove_tree(tree)
        # Worker logs are only needed to look into a failure (its tail is in the message).
        if not self.failures:
            shutil.rmtree(self._log_dir, ignore_errors=True)
        self._restore_sigterm()
        if self._claim is not None:
            self._claim.close()

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # The file is this run's from the start: one stopped before its first case (killed, a
        # cancelled job) must not leave the previous run's file looking like its own.
        if not self._is_xdist_worker:
            self._write_results()
            if self.results_unwritten:  # before any case: a usage error, as a bad folder is
                raise pytest.UsageError(self.results_unwritten)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """pytest-xdist controller: a worker starts (it names its share of the results file)."""
        self.xdist.node_configured(node)

    # Last: under pytest-xdist, after its workers are torn down (a SIGTERM to the controller
    # alone let them rewrite their shares after these were collected: finished cases lost).
    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self._is_xdist_worker:
            output = self.config.workeroutput  # type: ignore[attr-defined]
            hand_over(output, self.results_document(), self.judge, self.collected)
            return
        self.xdist.take_left_shares()
        self._session = session  # the terminal summary, after this, may change its exit status
        self.finished = int(session.exitstatus) != pytest.ExitCode.INTERRUPTED
        # Written at the end too: a run whose every case was skipped still leaves its file.
        self._write_results()
        if int(session.exitstatus) == pytest.ExitCode.OK and self._judged_nothing():
            session.exitstatus = EXIT_NOTHING_JUDGED
        elif session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and not self.cases:
            # A CI matrix of more shards than cases: this one has nothing to run, as it should.
            session.exitstatus = pytest.ExitCode.OK

    def _judged_nothing(self) -> bool:
        """A run that asked for verdicts, judged no case and had no failure (all skipped or
        measured but not judged): it must not pass."""
        if not self.settings.verdicts_required or self._is_xdist_worker or self.failed_cases:
            return False
        if self.collect_only:  # --co: nothing was to be judged
            return False
        document = self.results_document()
        return not document.get("verdicts") and not document.get("failures")

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """pytest-xdist controller: each worker collects the run's selection (after -k/-m)."""
        self.selected = len(ids)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """pytest-xdist controller: a worker's results when it ends, or its share when it dies."""
        if self.xdist.node_down(node):
            self._write_results()
        # The controller collects nothing itself: what -k/-m left out, it hears from a worker.
        self.collected = max(self.collected, self.xdist.collected)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self._is_xdist_worker:
            # pytest-xdist keeps a worker's terminal reporter, and pytest calls this there too:
            # its document is a part, and its outputs would be the controller's written early
            # with part of the cases (a job summary appended once per worker).
            return
        document = self.results_document()
        if self._no_case_selected(document):
            line = summary.nothing_selected(
                self.settings, len(self.cases), self.matrix_size, self.collected
            )
            terminalreporter.write_line(line)
        elif self._judged_nothing() and self.finished:  # interrupted: exit status 2
            reason = comment.nothing_judged(document)  # the comment's headline says the same
            line = summary.judged_nothing(self.settings, reason, EXIT_NOTHING_JUDGED)
            terminalreporter.write_line(line)
        if document["results"] or document["failures"]:
            summary.write_results(
                terminalreporter,
                document,
                self.settings,
                self.judge.summary_lines(),
                self.failed_cases,
                summary.table_width(terminalreporter, self.progress.tty),
                failed_logs=self._log_dir if self.failures else None,
            )
        if self.collect_only:  # a listing must not replace the last run's outputs
            return
        written = summary.write_outputs(
            terminalreporter, document, self.settings, self.results_unwritten
        )
        unmarked = (pytest.ExitCode.OK, EXIT_NOTHING_JUDGED)
        if not written and self._session is not None and self._session.exitstatus in unmarked:
            self._session.exitstatus = pytest.ExitCode.INTERNAL_ERROR  # it must not pass

    def _no_case_selected(self, document: dict[str, Any]) -> bool:
        """No benchmark case ran or was skipped, and (where known) none was collected; not said of
        an interrupted run (a pytest-xdist controller, which collects nothing, may know of none)."""
        if self.selected or not self.finished:
            return False
        seen = self.failed_cases or self.skipped or document["results"] or document["failures"]
        return not seen


def _matrix(settings: Settings) -> tuple[int, list[Case]]:
    """The matrix's size, and the cases of it that this run holds (its shard's, if any)."""
    s = settings  # its five axes, in build_matrix's order
    cases = build_matrix(s.backends, s.gpu_counts, s.batch_sizes, s.unrolls, s.datasets)
    return len(cases), shard(cases, *settings.shard) if settings.shard is not None else cases


def _case_of(item: pytest.Item) -> Optional[str]:
    return getattr(_params(item).get("rnnbench_case"), "id", None)


def _params(item: pytest.Item) -> dict[str, Any]:
    """The item's parameters by argument name ({} when it was not parametrized)."""
    callspec = getattr(item, "callspec", None)
    return callspec.params if callspec is not None else {}
