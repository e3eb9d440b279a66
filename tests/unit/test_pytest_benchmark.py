"""The pytest-benchmark export (report/pytest_benchmark.py), read back by the real
`pytest-benchmark compare` command."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys

import pytest

from helpers import fixed_report, report_with_verdicts
from pytest_rnnbench.report.pytest_benchmark import stats, to_pytest_benchmark


def run_compare(*args: str, cwd) -> subprocess.CompletedProcess:
    pytest.importorskip("pytest_benchmark")
    return subprocess.run(
        [sys.executable, "-m", "pytest_benchmark", "compare", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_pytest_benchmark_compare_reads_the_export(tmp_path):
    report = report_with_verdicts()
    path = tmp_path / "rnnbench-benchmark.json"
    path.write_text(json.dumps(to_pytest_benchmark(report, "2026-01-01T00:00:00+00:00")))
    completed = run_compare(
        str(path),
        f"--csv={tmp_path / 'compare.csv'}",
        "--group-by=group",
        "--columns=min,max,mean,median,rounds",
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr
    passed = [row for row in report.rows if row.status == "passed"]
    for row in passed:
        assert f"test_lstm_training[{row.case_id}]" in completed.stdout
        assert f"lstm-{row.dataset}-b{row.batch_size}-" in completed.stdout
    with open(tmp_path / "compare.csv", newline="") as handle:
        table = {line["param:rnnbench_case"]: line for line in csv.DictReader(handle)}
    assert len(table) == len(passed)
    for row in passed:
        line = table[row.case_id]
        assert float(line["median"]) == pytest.approx(row.epoch_seconds)
        assert int(line["rounds"]) == len(row.epoch_seconds_all)


def test_export_keeps_what_pytest_benchmark_has_no_column_for():
    document = to_pytest_benchmark(report_with_verdicts())
    by_name = {b["name"]: b for b in document["benchmarks"]}
    bench = by_name["test_lstm_training[tensorflow-gpu0-b32-unroll-synthetic]"]
    assert bench["extra_info"]["verdict"] == "regression"
    assert bench["extra_info"]["change"] == pytest.approx(0.124)
    assert bench["extra_info"]["step_ms_median"] > 0
    assert bench["group"] == "lstm-synthetic-b32-unroll"


def test_two_machines_get_distinct_names(tmp_path):
    report = fixed_report()
    report.machines["other machine"] = {}
    names = [b["name"] for b in to_pytest_benchmark(report)["benchmarks"]]
    assert all(name.endswith(")") for name in names)  # "case (machine)" once machines differ
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 13])
def test_stats_match_pytest_benchmarks_own(n):
    own = pytest.importorskip("pytest_benchmark.stats")
    rng = random.Random(n)
    data = [rng.uniform(0.5, 2.0) for _ in range(n)] + ([9.0] if n > 4 else [])
    reference = own.Stats()
    for value in data:
        reference.update(value)
    ours = stats(data)
    for field in own.Stats.fields:
        expected = getattr(reference, field)
        if isinstance(expected, str):
            assert ours[field] == expected, field
        else:
            assert ours[field] == pytest.approx(expected), field
