"""End to end: the report options, the job summary, JUnit properties and progress in a real session.

The first tests use tests/fakes/fake_worker.py behind a wrapper interpreter (the `fake_python`
fixture) so they take seconds; one trains a real, tiny case to see the worker's phases reach the
log.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from helpers import require_framework, tiny_tf_args
from pytest_rnnbench.results.schema import RESULTS_SCHEMA

pytestmark = pytest.mark.slow


CASE = "tensorflow-gpu0-b1-unroll-synthetic"


def fake_run(bench: pytest.Pytester, fake_python, *args: str) -> pytest.RunResult:
    result = bench.runpytest_subprocess(
        *tiny_tf_args(fake_python),
        *args,
    )
    # Without a baseline the case is measured and passes, unjudged.
    assert result.parseoutcomes().get("passed") == 1, result.parseoutcomes()
    return result


def test_report_options_write_every_output(bench, fake_python, monkeypatch):
    pytest.importorskip("matplotlib")
    summary = bench.path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = fake_run(
        bench,
        fake_python,
        "--rnnbench-json=out/results.json",
        "--rnnbench-report=out/RESULTS.md",
        "--rnnbench-plots=out/plots",
        "--rnnbench-benchmark-json=out/bench.json",
        "--junitxml=out/junit.xml",
    )
    out = bench.path / "out"
    assert json.loads((out / "results.json").read_text())["schema"] == RESULTS_SCHEMA
    text = (out / "RESULTS.md").read_text()
    assert text.startswith("# RNN Benchmark Results\n")
    assert (
        "| 0.50 sec, N/A" in text and "![lstm_Synthetic_1.png](plots/lstm_Synthetic_1.png)" in text
    )
    assert (out / "plots" / "lstm_Synthetic_1.png").read_bytes()[:4] == b"\x89PNG"
    bench_json = json.loads((out / "bench.json").read_text())
    assert [b["param"] for b in bench_json["benchmarks"]] == [CASE]
    # the job summary is appended to, not replaced
    step = summary.read_text()
    assert step.startswith("earlier step\n## pytest-rnnbench results\n")
    assert "| Keras-TensorFlow (Time/Epoch), (GPU Mem) |" in step
    # the end-of-run table
    result.stdout.fnmatch_lines(
        [
            "*rnnbench results*",
            "synthetic, 16 samples/epoch (capped); *",
            "*tensorflow*",
            "GPUs  batch  unroll    s/epoch  GPU MiB",
            "   0      1     yes       0.50      n/a",
            f"rnnbench: results written to {out / 'results.json'}",
            f"rnnbench: markdown report written to {out / 'RESULTS.md'}",
            f"rnnbench: pytest-benchmark JSON written to {out / 'bench.json'}",
            f"rnnbench: job summary written to {summary}",
            f"rnnbench: 2 charts written to {out / 'plots'}",
        ]
    )
    # per-case metrics as JUnit XML properties
    properties = {
        p.get("name"): p.get("value")
        for p in ET.parse(out / "junit.xml").getroot().iter("property")
    }
    assert float(properties["rnnbench_epoch_seconds"]) == 0.5
    assert float(properties["rnnbench_final_loss"]) == 1.5
    assert float(properties["rnnbench_step_ms_median"]) == 200.0
    assert properties["rnnbench_gpu_framework_peak_bytes"] == "None"


def test_under_xdist_only_the_controller_writes_the_outputs(bench, fake_python, monkeypatch):
    """pytest-xdist calls the terminal summary in its workers too: the job summary is appended
    once, by the controller, with every case; not once more per worker with its part."""
    summary = bench.path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("FAKE_MODE", "ok")  # batch size 2 would pick another mode
    result = bench.runpytest_subprocess(
        *tiny_tf_args(fake_python), "--rnnbench-batch-sizes=1,2", "-n", "2"
    )
    assert result.parseoutcomes().get("passed") == 2, result.stdout.str()
    step = summary.read_text()
    assert step.count("## pytest-rnnbench results") == 1, step
    rows = [line for line in step.splitlines() if "0.50 sec" in line]
    assert [row.split("|")[3].strip() for row in rows] == ["1", "2"], step  # the batch sizes


def test_progress_in_a_log_is_plain_lines(bench, fake_python):
    result = fake_run(bench, fake_python)
    result.stdout.fnmatch_lines(
        [
            f"rnnbench: case 1 of 1: {CASE}: starting worker [[]* s]",
            f"rnnbench: case 1 of 1: {CASE}: worker finished [[]* s*]",
            "test_bench.py [.s]*",
        ]
    )
    assert "\r" not in result.stdout.str() and "\x1b" not in result.stdout.str()


def test_quiet_run_shows_no_progress_lines(bench, fake_python):
    result = fake_run(bench, fake_python, "-q")
    assert "starting worker" not in result.stdout.str()


def test_no_report_outputs_without_the_options(bench, fake_python, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    result = fake_run(bench, fake_python)
    assert "written to" not in result.stdout.str()
    assert sorted(p.name for p in bench.path.iterdir() if p.suffix in (".md", ".png")) == []


def test_verdicts_against_a_recorded_baseline_reach_the_reports(bench, fake_python):
    # Three sessions: from then on their own spread decides (with one, an assumed 10% would).
    for _ in range(3):
        fake_run(bench, fake_python, "--rnnbench-save-baseline")
    result = fake_run(bench, fake_python, "--rnnbench-report=R.md", "--rnnbench-json=r.json")
    result.assert_outcomes(passed=1)
    verdicts = json.loads((bench.path / "r.json").read_text())["verdicts"]
    assert list(verdicts) == [CASE]
    text = (bench.path / "R.md").read_text()
    assert "## Comparison with baseline" in text
    row = next(line for line in text.splitlines() if line.startswith(f"| `{CASE}`"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1:5] == ["200", "200", "0.0%", verdicts[CASE]["verdict"]]  # no sign: none
    result.stdout.fnmatch_lines(
        [
            "GPUs  batch  unroll    s/epoch  GPU MiB  change  verdict",
            "   0      1     yes       0.50      n/a    0.0%     pass",
        ]
    )


def test_real_worker_phases_reach_the_log(bench, heavy_modules):
    require_framework("jax")
    result = bench.runpytest_subprocess(
        "--rnnbench",
        "--rnnbench-backends=jax",
        "--rnnbench-datasets=synthetic",
        "--rnnbench-unroll=false",
        "--rnnbench-batch-sizes=32",
        "--rnnbench-samples=64",
        "--rnnbench-repeats=2",
        "-p",
        "no:cacheprovider",
        "--rnnbench-report=R.md",
    )
    assert result.ret == 0
    case = "jax-gpu0-b32-nounroll-synthetic"
    result.stdout.fnmatch_lines(
        [
            f"rnnbench: case 1 of 1: {case}: importing jax [[]* s]",
            f"rnnbench: case 1 of 1: {case}: loading data [[]* s]",
            f"rnnbench: case 1 of 1: {case}: building model [[]* s]",
            f"rnnbench: case 1 of 1: {case}: compiling (warm-up) [[]* s]",
            f"rnnbench: case 1 of 1: {case}: epoch 1 of 2 (2 steps) [[]* s]",
            # Once an epoch is measured, the line carries an estimate of the time left.
            f"rnnbench: case 1 of 1: {case}: epoch 2 of 2 (2 steps) [[]* s; * left]",
            f"rnnbench: case 1 of 1: {case}: worker finished [[]*]",
        ]
    )
    assert "| Keras-JAX (Time/Epoch), (GPU Mem) |" in (bench.path / "R.md").read_text()
    assert heavy_modules() == []  # neither progress nor the report imported a framework


def test_on_a_terminal_one_status_line_is_rewritten_and_erased(bench, fake_python):
    """pytest on a pseudo-terminal: the status line goes below pytest's line and disappears."""
    pty = pytest.importorskip("pty")
    import os
    import subprocess
    import sys

    primary, secondary = pty.openpty()
    env = dict(os.environ, COLUMNS="100", TERM="xterm")
    env.pop("GITHUB_STEP_SUMMARY", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            *tiny_tf_args(fake_python),
        ],
        cwd=bench.path,
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        env=env,
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # the pseudo-terminal closes when the process exits
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(primary)
    out = b"".join(chunks).decode("utf-8", "replace")
    prefix = "test_bench.py "
    # status line below pytest's line, then erased, cursor back up to the end of pytest's line
    status = f"rnnbench case 1 of 1 | {CASE} | starting worker | 0 s"
    assert f"{prefix}\r\n{status}" in out
    assert f"\r\x1b[K\x1b[1A\x1b[{len(prefix) + 1}G" in out
    assert "rnnbench: " + CASE not in out  # no plain log lines on a terminal


def test_plots_without_matplotlib_is_a_usage_error_before_any_test(bench, monkeypatch, capsys):
    monkeypatch.setattr("pytest_rnnbench.report.outputs.plots_available", lambda: False)
    result = bench.runpytest("--rnnbench", "--rnnbench-plots=plots", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        "command-line option --rnnbench-plots: invalid value 'plots': charts need matplotlib: "
        "pip install 'pytest-rnnbench[plots]'"
    ) in result.stderr.str() + capsys.readouterr().err
