"""The regression gate inside a pytest run: record baselines or assert each case against its own.

Owned by the benchmarking session (session.py), which calls `check` after every measured case.
The decisions themselves live in verdict.py (statistics, no pytest) and the storage in
baseline.py; this module turns them into pytest outcomes:

    regression    the test item fails with the verdict's one-line reason
    inconclusive  passes with an RnnbenchInconclusiveWarning saying why
    improvement   passes; the terminal summary hints to refresh the baseline
    no baseline   skipped with the command that records one; a machine profile without any
                  baseline file is said once in the report header, and every case skips with
                  the same short reason (so `-ra` folds them into one line)
"""

from __future__ import annotations

import platform
import warnings
from collections.abc import MutableMapping
from pathlib import Path
from typing import Optional

import pytest

from ..matrix import Case
from ..quantiles import median
from ..run.devices import GpuInventory, cpu_count, cpu_model
from ..settings import Settings
from . import baseline, samples, verdict
from .protocol import CaseRun, RnnbenchBaselineWarning, enforce, tolerances

RECORD_COMMAND = "pytest --rnnbench --rnnbench-save-baseline"


class BaselineGate:
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
        self.commit = baseline.git_commit(Path(config.rootpath)) if self.saving else None
        self.entries: Optional[dict[str, dict]] = None
        self.problem = ""  # an unusable file, when saving (it is renamed aside at the save)
        try:
            self.entries = baseline.load(self.path, self.profile)
        except baseline.BaselineError as exc:
            if not self.saving:
                raise pytest.UsageError(
                    f"{exc}. Fix or remove it, or record a new one with "
                    f"{RECORD_COMMAND} (which renames the broken file aside)"
                ) from None
            self.problem = str(exc)
        self.outcomes: dict[str, verdict.CaseVerdict] = {}
        self.saved: list[str] = []

    # -- output ----------------------------------------------------------------------------------

    def no_file_reason(self) -> str:
        return (
            f"no baseline for this machine profile ({self.path.name} not in {self.directory}); "
            f"record one with: {RECORD_COMMAND}"
        )

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
            lines = [profile, "rnnbench: " + self.no_file_reason()]
            if others:
                lines.append(
                    f"rnnbench: {self.directory} holds baselines for other profiles "
                    f"only: {', '.join(others)}"
                )
            return lines
        return [profile, f"rnnbench: checking against {self.path} ({len(self.entries)} cases)"]

    def summary_lines(self) -> list[str]:
        lines = []
        if self.saved:
            lines.append(f"baselines saved to {self.path}:")
            lines.extend(f"  {line}" for line in self.saved)
        for case_id, found in sorted(self.outcomes.items()):
            lines.append(found.line())
            if found.outcome == verdict.IMPROVEMENT:
                lines.append(f"  hint: refresh this baseline with: {RECORD_COMMAND} -k {case_id}")
        return lines

    # -- per case --------------------------------------------------------------------------------

    def tolerances(self, item: pytest.Item, entry: dict) -> dict[str, float]:
        return tolerances(self.settings, item, baseline.entry_tolerances(entry))

    def check(self, run: CaseRun, verdicts: MutableMapping[str, dict]) -> None:
        """Save the case's baseline, or judge it against it (failing, skipping or warning)."""
        case, item, summary = run.case, run.item, run.summary
        result = summary.raw
        measured = samples.metric_samples(result)
        if self.saving:
            self._save(case, result, measured)
            return
        if self.entries is None:
            pytest.skip(self.no_file_reason())
        entry = self.entries.get(case.id)
        if entry is None:
            pytest.skip(
                f"no baseline for {case.id} in {self.path}; record it with: "
                f"{RECORD_COMMAND} -k {case.id}"
            )
        different = samples.comparable(entry, result)
        if different:
            pytest.skip(
                f"{case.id}: {different}; record a baseline for this configuration with: "
                f"{RECORD_COMMAND} -k {case.id}"
            )
        notes = verdict.version_notes(entry.get("versions") or {}, summary.versions)
        found = verdict.compare_case(
            case.id,
            baseline.entry_samples(entry),
            measured,
            self.tolerances(item, entry),
            notes=notes,
        )
        distrust = verdict.timing_distrust(entry, result, self.settings.busy_limit)
        if distrust:
            found = verdict.untrusted_timing(found, distrust)
        self.outcomes[case.id] = found
        stored = found.to_dict()
        epochs = entry.get("epoch_seconds") or []
        if epochs:
            stored["baseline_seconds"] = median(epochs)
        verdicts[case.id] = stored
        enforce(found, item)

    def _save(self, case: Case, result: dict, measured: dict) -> None:
        loss = measured.get("final_loss", [0.0])
        if any(value != value or value in (float("inf"), float("-inf")) for value in loss):
            pytest.fail(
                f"{case.id}: not recording a baseline whose final loss is {loss[0]} "
                "(training diverged)",
                pytrace=False,
            )
        entry = baseline.make_entry(case.to_dict(), result, measured, commit=self.commit)
        try:
            report = baseline.save(self.path, self.profile, {case.id: entry})
        except baseline.BaselineError as exc:  # we built an entry we cannot read back: a bug
            pytest.fail(f"{case.id}: baseline not saved: {exc}", pytrace=False)
        self.saved.extend(report.lines())
        if report.moved_aside is not None:
            warnings.warn(RnnbenchBaselineWarning(report.lines()[0]), stacklevel=1)
