"""The stored-baseline judge of a pytest run: record baselines or judge each case against its own.

Owned by the benchmarking session (session/), which calls `check` after every measured case and
enforces what it returns. The judging itself is judge.py (the same for every judge), the storage
baseline.py; the outcomes in pytest:

    regression    the test item fails with the verdict's one-line reason
    inconclusive  passes with an RnnbenchInconclusiveWarning saying why
    improvement   passes; the terminal summary hints to refresh the baseline
    no baseline   passes unjudged: the measurement is its result (tables, results file). The
                  header says when the machine profile has no baseline file at all, the summary
                  lists the unjudged cases with the command that records them, and
                  --rnnbench-require-baseline (for CI) fails them instead.

Baselines are looked up by case *and workload* (samples per epoch, timed epochs): a quick run is
never judged against a full-epoch baseline, nor recorded over it. Every suggested command keeps
the user's own selection (Settings.command).
"""

from __future__ import annotations

import platform
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

import pytest

from ..atomic import cannot_write
from ..machine import cpu_count, cpu_model
from ..matrix import Case
from ..quantiles import median
from ..run.devices import GpuInventory
from ..settings import Settings
from . import baseline, samples, verdict
from .distrust import busy_limit_of
from .family import RunFamily
from .judge import NotJudged, Side, judge
from .protocol import CaseRun, Judgement, RnnbenchBaselineWarning, tolerances
from .session_time import (
    RESET_FLAG,
    SAVE_FLAG,
    all_sessions_busy,
    session_time_judge,
    stored_sessions,
)
from .time_verdict import unresolved_lines


class BaselineJudge:
    """Judges each case against this machine profile's baseline file, or records it there."""

    def __init__(self, config: pytest.Config, settings: Settings, inventory: GpuInventory) -> None:
        self.settings = settings
        self.directory = settings.baseline_dir or Path(config.rootpath) / "baselines"
        self.profile = baseline.machine_profile(
            cpu_model(),
            cpu_count(),
            inventory.names,
            inventory.driver,
            inventory.cuda,
            platform.python_version(),
        )
        self.path = baseline.baseline_path(self.directory, self.profile)
        self.saving = settings.save_baseline
        unwritable = cannot_write(self.path) if self.saving else None
        if unwritable:  # before the first case, not after each case's measurement
            raise pytest.UsageError(f"{SAVE_FLAG}: {unwritable}")
        self.commit = baseline.git_commit(Path(config.rootpath)) if self.saving else None
        self.entries: Optional[dict[str, dict[str, Any]]] = None
        self.problem = ""  # an unusable file, when saving (it is renamed aside at the save)
        try:
            self.entries = baseline.load(self.path, self.profile)
        except baseline.BaselineNotOurs as exc:
            # Not broken: saving would set aside sessions that another plugin version or
            # machine still reads (in CI, lost with the job's workspace).
            kept = ". Not replaced: fix or move it yourself" if self.saving else ""
            raise pytest.UsageError(f"{exc}{kept}") from None
        except baseline.BaselineError as exc:
            if not self.saving:
                raise pytest.UsageError(
                    f"{exc}. Fix or remove it, or record a new one with "
                    f"{settings.command(SAVE_FLAG)} (which renames the broken file aside)"
                ) from None
            self.problem = str(exc)
        self.outcomes: dict[str, verdict.CaseVerdict] = {}
        self.unjudged: dict[str, str] = {}  # case id -> why it was measured but not judged
        self.saved: list[str] = []
        self.run_family = RunFamily(settings.false_alarm_rate)  # cases known after collection

    def family(self, cases: int) -> None:
        self.run_family.collected(cases)

    def makes_session(self, case_id: str, samples: Any, repeats: Any) -> bool:
        """Whether this case's measurement is saved as a session or judged against stored ones
        (both want several fresh workers); a case with nothing to judge it against does not."""
        if self.saving:
            return True
        return self.entries is not None and bool(
            baseline.find(self.entries, case_id, samples, repeats)
        )

    # -- output ----------------------------------------------------------------------------------

    def no_file_reason(self) -> str:
        return f"no baseline for this machine profile ({self.path.name} not in {self.directory})"

    def header_lines(self) -> list[str]:
        profile = f"rnnbench: machine profile: {self.profile.describe()}"
        if self.saving:
            line = f"rnnbench: saving baselines to {self.path}"
            if self.problem:
                line += (
                    f" (the existing file is unusable and will be renamed aside: {self.problem})"
                )
            return [profile, line]
        if self.entries is None:
            others = baseline.other_profiles(self.directory, self.profile)
            consequence = (
                "--rnnbench-require-baseline fails every case"
                if self.settings.require_baseline
                else "every case is measured, nothing is judged"
            )
            lines = [
                profile,
                f"rnnbench: {self.no_file_reason()}: {consequence}; record baselines with: "
                f"{self.settings.command(SAVE_FLAG)}",
            ]
            if others:
                lines.append(
                    f"rnnbench: {self.directory} holds baselines for other profiles "
                    f"only: {', '.join(others)}"
                )
            return lines
        cases = {entry["case"]["id"] for entry in self.entries.values()}
        return [
            profile,
            f"rnnbench: checking against {self.path} ({_count(len(self.entries), 'baseline')} "
            f"of {_count(len(cases), 'case')})",
        ]

    def summary_lines(self) -> list[str]:
        lines = unresolved_lines(self.outcomes.values())
        if self.saved:
            lines.append(f"baselines saved to {self.path}:")
            lines.extend(f"  {line}" for line in self.saved)
        for case_id, found in sorted(self.outcomes.items()):
            lines.append(found.line())
            if found.outcome == verdict.IMPROVEMENT:
                # Afresh: one more session appended is outweighed by those stored before it (a
                # level shift needs two sessions on each side), so the next run would be called
                # an improvement again.
                command = self.settings.command(SAVE_FLAG, RESET_FLAG, case_ids=[case_id])
                lines.append(
                    "  hint: if the change is accepted, start this baseline afresh (each later "
                    f"save narrows what it resolves; a few percent takes several): {command}"
                )
        if self.unjudged:
            lines.append(f"not judged ({len(self.unjudged)}): measured, with no baseline to judge")
            if self.entries is None:  # one reason for all: said once
                lines.append(f"  every case: {self.no_file_reason()}")
            else:
                lines.extend(
                    f"  {case_id}: {why}" for case_id, why in sorted(self.unjudged.items())
                )
            # The whole selection when nothing was judged, else just these cases: a hint must
            # never re-record the baselines that did judge this run. (Under pytest-xdist the
            # controller judged nothing itself; the workers' unjudged cases are merged in.)
            judged_any = bool(self.outcomes) or self.entries is not None
            ids = sorted(self.unjudged) if judged_any else []
            lines.append(f"  record them with: {self.settings.command(SAVE_FLAG, case_ids=ids)}")
        return lines

    # -- per case --------------------------------------------------------------------------------

    def tolerances(self, item: pytest.Item, entry: Mapping[str, Any]) -> dict[str, float]:
        return tolerances(self.settings, item, baseline.entry_tolerances(entry))

    def check(self, run: CaseRun) -> Optional[Judgement]:
        """Save the case's baseline (None), or judge it against it; a case with no baseline for
        its workload is not judged (None), and fails under --rnnbench-require-baseline."""
        case, item, result = run.case, run.item, run.summary.raw
        if self.saving:
            self._save(case, result, samples.metric_samples(result))
            return None
        if self.entries is None:
            self._not_judged(case, self.no_file_reason())
            return None
        entry = baseline.find(self.entries, case.id, result.get("samples"), result.get("repeats"))
        if entry is None:
            self._not_judged(case, self._missing_entry_reason(case.id, result))
            return None
        measured = samples.metric_samples(result)
        found = judge(
            case.id,
            Side.of_entry(entry),
            Side(measured, result, run.summary.versions),
            self.tolerances(item, entry),
            alpha=self.run_family.alpha,
            busy_limit=self.settings.busy_limit,
            time=session_time_judge(
                stored_sessions(entry, self.settings.busy_limit),
                samples.worker_step_ms(result),
                self.run_family.alpha,
            )
            or all_sessions_busy(entry, self.settings.busy_limit),
        )
        if isinstance(found, NotJudged):
            self._not_judged(case, found.why)
            return None
        self.outcomes[case.id] = found
        epochs = entry.get("epoch_seconds") or []
        context: dict[str, Any] = {"baseline_seconds": median(epochs)} if epochs else {}
        context["family"] = self.run_family.to_dict()
        return Judgement(found, context)

    def _missing_entry_reason(self, case_id: str, result: Mapping[str, Any]) -> str:
        assert self.entries is not None
        workload = baseline.describe_workload(result)
        recorded = [
            baseline.describe_workload(e) for e in baseline.entries_of_case(self.entries, case_id)
        ]
        if recorded:
            return (
                f"no baseline for this workload ({workload}) in {self.path.name}; it holds "
                f"{', '.join(recorded)}"
            )
        return f"no baseline for this case in {self.path.name}"

    def _not_judged(self, case: Case, why: str) -> None:
        """A measured case with nothing to judge it against: it passes, unless CI asked for a
        baseline (--rnnbench-require-baseline)."""
        self.unjudged[case.id] = why
        if self.settings.require_baseline:
            pytest.fail(
                f"{case.id}: not judged: {why}; --rnnbench-require-baseline makes that a "
                f"failure. Record it with: {self.settings.command(SAVE_FLAG, case_ids=[case.id])}",
                pytrace=False,
            )

    def _save(
        self, case: Case, result: Mapping[str, Any], measured: Mapping[str, list[float]]
    ) -> None:
        loss = measured.get("final_loss", [0.0])
        if any(value != value or value in (float("inf"), float("-inf")) for value in loss):
            pytest.fail(
                f"{case.id}: not recording a baseline whose final loss is {loss[0]} "
                "(training diverged)",
                pytrace=False,
            )
        entry = baseline.make_entry(case.to_dict(), result, measured, commit=self.commit)
        try:
            report = baseline.save(
                self.path,
                self.profile,
                {baseline.key_of(entry): entry},
                reset=self.settings.reset_baseline,
            )
        except baseline.BaselineError as exc:  # we built an entry we cannot read back: a bug
            pytest.fail(f"{case.id}: baseline not saved: {exc}", pytrace=False)
        except OSError as exc:  # the disk filled, or the folder changed since the start
            pytest.fail(f"{case.id}: baseline not saved to {self.path}: {exc}", pytrace=False)
        self.saved.extend(report.lines())
        if report.moved_aside is not None:
            warnings.warn(RnnbenchBaselineWarning(report.lines()[0]), stacklevel=1)
        busy = max(samples.busy_shares(result), default=0.0)
        limit = busy_limit_of(self.settings.busy_limit)
        if busy > limit:
            warnings.warn(
                RnnbenchBaselineWarning(
                    f"{case.id}: saved while other processes took {busy:.0%} of the CPU (over "
                    f"{limit:.0%}): the session is kept but left out of judgements; save again "
                    "on a quiet machine"
                ),
                stacklevel=1,
            )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
