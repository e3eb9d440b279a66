"""The command line, in real processes: `python -m pytest_rnnbench compare OLD NEW` (offline
verdicts and exit codes) and `python -m pytest_rnnbench report`."""

import json
import random
import re
import subprocess
import sys

import pytest

from helpers import REPO, RESULT_FILES
from pytest_rnnbench.verdicts import baseline
from pytest_rnnbench.verdicts.samples import metric_samples

pytestmark = pytest.mark.slow

CASE = "jax-gpu0-b32-unroll-synthetic"
OTHER = "tensorflow-gpu0-b32-unroll-synthetic"


# -- compare ---------------------------------------------------------------------------------------


def worker_result(case_id, step_ms, seed, loss=1.5, rss_mb=500, keras="3.15.1"):
    rng = random.Random(seed)
    backend = case_id.split("-")[0]
    epochs = []
    for _ in range(2):
        steps = [step_ms / 1000 * (1 + rng.uniform(-0.01, 0.01)) for _ in range(16)]
        epochs.append({"seconds": sum(steps), "step_seconds": steps, "loss": loss})
    return {
        "case": {
            "id": case_id,
            "backend": backend,
            "gpus": 0,
            "batch_size": 32,
            "unroll": True,
            "dataset": "synthetic",
        },
        "samples": 512,
        "steps_per_epoch": 16,
        "epochs": epochs,
        "final_loss": loss,
        "host_peak_rss_bytes": rss_mb * 2**20,
        "gpu_framework_peak_bytes": None,
        "versions": {"keras": keras},
        "repeats": 2,
        "warmup_seconds": 0.1,
    }


def results_file(path, cases, failures=None, cpu="Intel Xeon"):
    document = {
        "schema": "pytest-rnnbench/results",
        "version": 1,
        "written": "2024-01-01T00:00:00",
        "machine": {"cpu": cpu, "cpus": 2, "gpus": [], "driver": None, "cuda": None},
        "settings": {},
        "failures": failures or {},
        "results": {
            case_id: {
                "epoch_seconds": sum(r["epochs"][0]["step_seconds"]),
                "final_loss": r["final_loss"],
                "worker": r,
            }
            for case_id, r in cases.items()
        },
    }
    path.write_text(json.dumps(document))
    return path


def compare(*args):
    done = subprocess.run(
        [sys.executable, "-m", "pytest_rnnbench", "compare", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def old(tmp_path):
    return results_file(
        tmp_path / "old.json",
        {CASE: worker_result(CASE, 10, 1), OTHER: worker_result(OTHER, 20, 2)},
    )


def test_no_change_exits_0(tmp_path, old):
    new = results_file(
        tmp_path / "new.json",
        {CASE: worker_result(CASE, 10, 3), OTHER: worker_result(OTHER, 20, 4)},
    )
    code, out, err = compare(old, new)
    assert code == 0, out + err
    # Two results files are one session each: how much sessions differ is assumed (10%), so
    # unchanged code is inconclusive, never a failure.
    assert f"{CASE}: inconclusive" in out and f"{OTHER}: inconclusive" in out
    assert "the old file's run, one session (runs' spread assumed, not measured)" in out
    assert "a baseline file of several sessions as OLD (saved with --rnnbench-save-baseline)" in out
    assert "summary: 2 inconclusive" in out


def test_a_regression_exits_1_with_the_same_line_as_the_plugin(tmp_path, old):
    new = results_file(
        tmp_path / "new.json",
        {CASE: worker_result(CASE, 30, 3), OTHER: worker_result(OTHER, 20, 4)},
    )
    code, out, _ = compare(old, new)
    assert code == 1
    (line,) = [line for line in out.splitlines() if line.startswith(f"{CASE}: regression")]
    assert line.startswith(f"{CASE}: regression: time per step regression, baseline ")
    assert "-> now 30.0 ms, change +" in line and "tolerance 5.0%, resolves " in line
    assert "summary: 1 inconclusive, 1 regression" in out
    # A wider tolerance from the command line lets it pass.
    code, out, _ = compare(old, new, "--tolerance-time=250%")
    assert code == 0 and f"{CASE}: pass" in out


def test_an_old_run_on_a_busy_machine_is_no_session_to_judge_against(tmp_path):
    busy = worker_result(CASE, 10, 1)
    for epoch in busy["epochs"]:
        epoch["cpu"] = {"others_share": 0.4}
    old = results_file(tmp_path / "old.json", {CASE: busy})
    new = results_file(tmp_path / "new.json", {CASE: worker_result(CASE, 30, 3)})
    code, out, _ = compare(old, new)
    assert code == 0, out
    assert f"{CASE}: inconclusive" in out
    assert "the old file's run was measured while other processes took more than 10% of the " in out
    assert "measure the old side again on a quiet machine" in out


def test_improvement_missing_cases_and_version_notes_exit_0(tmp_path, old):
    new = results_file(
        tmp_path / "new.json",
        {
            CASE: worker_result(CASE, 3, 3, keras="3.16.0"),
            "jax-gpu0-b64-unroll-synthetic": worker_result("jax-gpu0-b64-unroll-synthetic", 8, 5),
        },
    )
    code, out, _ = compare(old, new)
    assert code == 0, out
    assert f"{CASE}: improvement" in out and "keras 3.15.1 -> 3.16.0" in out
    assert "jax-gpu0-b64-unroll-synthetic: no-baseline: not in the old file" in out
    # A case of the old run that the new one left out (-k) is listed, not failed.
    assert f"{OTHER}: not in the new file" in out


def test_runs_of_different_timed_epochs_are_not_compared(tmp_path, old):
    """More epochs lower the final loss: judged, that would read as an improvement (or a loss
    regression) of the code."""
    longer = worker_result(CASE, 10, 3)
    longer["repeats"] = 5
    code, out, _ = compare(old, results_file(tmp_path / "new.json", {CASE: longer}))
    assert code == 10, out
    assert "the baseline was recorded with 2 timed epochs, this run has 5" in out
    assert "could be judged (each case's line says why)" in out  # it has a counterpart


def test_nothing_judged_exits_10_as_the_gate_does(tmp_path, old):
    """A new file with no case of the old one (another matrix, a run stopped before its first
    case) must not pass as a clean comparison."""
    elsewhere = "jax-gpu0-b64-unroll-synthetic"
    other_cases = results_file(tmp_path / "new.json", {elsewhere: worker_result(elsewhere, 8, 5)})
    code, out, _ = compare(old, other_cases)
    assert code == 10, out
    said = f"nothing judged: no case of {other_cases} could be judged (none has a counterpart in "
    assert f"{said}{old})" in out
    code, out, _ = compare(old, results_file(tmp_path / "empty.json", {}))
    assert code == 10 and "summary: 2 not in the new file" in out, out


def test_non_finite_loss_exits_1(tmp_path, old):
    new = results_file(tmp_path / "new.json", {CASE: worker_result(CASE, 10, 3, loss=float("nan"))})
    code, out, _ = compare(old, new)
    assert code == 1 and "final loss regression" in out and "not finite" in out


def test_a_failed_case_exits_1(tmp_path, old):
    new = results_file(
        tmp_path / "new.json",
        {CASE: worker_result(CASE, 10, 3)},
        failures={OTHER: "worker was killed by SIGKILL"},
    )
    code, out, _ = compare(old, new)
    assert code == 1 and f"{OTHER}: failed: worker was killed by SIGKILL" in out


def test_different_machines_are_noted(tmp_path, old):
    new = results_file(tmp_path / "new.json", {CASE: worker_result(CASE, 10, 3)}, cpu="AMD EPYC")
    code, out, _ = compare(old, new)
    assert code == 0 and "different machines" in out and "'Intel Xeon' vs 'AMD EPYC'" in out


def test_another_gpu_driver_or_cuda_is_noted(tmp_path):
    def on_h100(name, driver, cuda):
        path = results_file(tmp_path / name, {CASE: worker_result(CASE, 10, 3)})
        document = json.loads(path.read_text())
        document["machine"].update(gpus=["NVIDIA H100"], driver=driver, cuda=cuda)
        path.write_text(json.dumps(document))
        return path

    old, same = on_h100("old.json", "550.54", "12.4"), on_h100("same.json", "550.54", "12.4")
    assert "different machines" not in compare(old, same)[1]
    out = compare(old, on_h100("new.json", "570.86", "12.8"))[1]
    assert "different machines (driver: '550.54' vs '570.86', cuda: '12.4' vs '12.8')" in out


def test_a_baseline_of_this_machine_is_not_noted_as_another(tmp_path):
    """The baseline's profile keeps the normalised CPU name, the results file the kernel's."""
    raw = "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz"
    profile = baseline.machine_profile(raw, 2, [], None, None, "3.11")
    path = baseline.baseline_path(tmp_path, profile)
    result = worker_result(CASE, 10, 1)
    entry = baseline.make_entry(result["case"], result, metric_samples(result))
    baseline.save(path, profile, {baseline.key_of(entry): entry})
    new = results_file(tmp_path / "new.json", {CASE: worker_result(CASE, 10, 3)}, cpu=raw)
    _, out, _ = compare(path, new)
    assert f"{CASE}:" in out and "different machines" not in out
    other = results_file(
        tmp_path / "other.json", {CASE: worker_result(CASE, 10, 3)}, cpu="AMD EPYC"
    )
    assert "different machines" in compare(path, other)[1]
    # A baseline keeps a GPU count and model, a results file the names: an H100 run against
    # this no-GPU baseline is noted too.
    on_gpu = json.loads(new.read_text())
    on_gpu["machine"]["gpus"] = ["NVIDIA H100 80GB HBM3"]
    new.write_text(json.dumps(on_gpu))
    assert "gpus: 0 vs ['NVIDIA H100 80GB HBM3']" in compare(path, new)[1]


def test_a_baseline_file_can_be_the_old_side(tmp_path):
    profile = baseline.machine_profile("Intel Xeon", 2, [], None, None, "3.11")
    path = baseline.baseline_path(tmp_path, profile)
    result = worker_result(CASE, 10, 1)
    entry = baseline.make_entry(result["case"], result, metric_samples(result))
    entry["tolerances"] = {"tolerance_time": 0.3}
    # Four sessions that agree within 1%: their own spread decides.
    entry["sessions"] = [dict(entry["sessions"][0], step_ms=ms) for ms in (9.9, 10.05, 10.0)] + [
        entry["sessions"][0]
    ]
    baseline.save(path, profile, {baseline.key_of(entry): entry})
    new = results_file(tmp_path / "new.json", {CASE: worker_result(CASE, 12, 3)})
    code, out, _ = compare(path, new)
    assert code == 0 and f"{CASE}: pass" in out and "tolerance 30.0%" in out
    code, out, _ = compare(
        path, results_file(tmp_path / "n2.json", {CASE: worker_result(CASE, 14, 3)})
    )
    assert code == 1 and "tolerance 30.0%" in out
    # The baseline is looked up by workload, as in the plugin: another sample count is not judged.
    quick = worker_result(CASE, 14, 3)
    quick["samples"] = 256
    code, out, _ = compare(path, results_file(tmp_path / "n3.json", {CASE: quick}))
    assert (
        code == 10  # nothing judged
        and (
            f"{CASE}: no-baseline: the baseline holds 512 samples x 2 epochs, this run has "
            "256 samples x 2 epochs"
        )
        in out
    ), out


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "cannot read"),
        ('{"schema": "pytest-rnnbench/results", "vers', "not a JSON file"),
        ('{"schema": "something-else"}', "not a pytest-rnnbench results file"),
        (
            '{"schema": "pytest-rnnbench/results", "version": 7, "machine": {}, "results": {}}',
            "version 7 is not supported",
        ),
        (
            '{"schema": "pytest-rnnbench/results", "version": 1, "machine": {}, '
            '"results": {"x": {}}}',
            "has no worker result",
        ),
        (
            '{"schema": "pytest-rnnbench/results", "version": 1, "machine": {}, '
            '"results": {"x": {"worker": {"epochs": 3}}}}',
            "malformed results['x'].worker.epochs: int, expected a list",
        ),
    ],
)
def test_unusable_files_exit_2_naming_the_file(tmp_path, old, content, message):
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    code, out, err = compare(old, bad)
    assert code == 2, out + err
    assert str(bad) in err and message in err


def test_bad_options_exit_2(tmp_path, old):
    code, _, err = compare(old, old, "--tolerance-time=lots")
    assert code == 2 and "expected a fraction" in err
    code, _, err = compare(old, old, "--alpha", "5")  # a level, not a percentage without %
    assert code == 2 and "5 would be 500%; did you mean 5%?" in err


def test_the_alpha_reads_as_the_plugins_option_does(tmp_path, old):
    """`--alpha 1%` is the level 0.01, as `--alpha 0.01`: a +30% step time (p about 0.03 from one
    stored session) is inconclusive at the per-case level 0.01 / 2 cases and a regression at
    10% / 2, and the line prints the per-case level the verdict was taken at."""
    new = results_file(
        tmp_path / "new.json",
        {CASE: worker_result(CASE, 13, 3), OTHER: worker_result(OTHER, 20, 4)},
    )
    per_case = f"{0.01 / 2:.2g}"
    outputs = {}
    for alpha in ("1%", "0.01"):
        code, out, err = compare(old, new, "--alpha", alpha)
        assert code == 0, alpha + out + err
        (line,) = [line for line in out.splitlines() if line.startswith(f"{CASE}: ")]
        assert line.startswith(f"{CASE}: inconclusive"), (alpha, line)
        p = float(re.search(r"\(p=([0-9.e-]+) >= ", line).group(1))
        assert f"(p={p:.3g} >= {per_case})" in line and 0.01 / 2 < p < 0.1 / 2, (alpha, line)
        outputs[alpha] = out
    assert outputs["1%"] == outputs["0.01"]
    # The pair tells the levels apart: at 10% the same change is a regression.
    code, out, _ = compare(old, new, "--alpha", "10%")
    assert code == 1 and f"{CASE}: regression" in out, out


def test_results_written_by_the_plugin_compare(tmp_path):
    """The results file format the plugin writes is what compare reads (golden round trip)."""
    from pytest_rnnbench import atomic
    from pytest_rnnbench.options import Settings
    from pytest_rnnbench.results.write import results_document
    from pytest_rnnbench.run.devices import GpuInventory
    from pytest_rnnbench.run.summary import summarize

    def write(name, step_ms, seed):
        summary = summarize(CASE, worker_result(CASE, step_ms, seed))
        path = tmp_path / name
        atomic.write_json(path, results_document({CASE: summary}, {}, Settings(), GpuInventory()))
        return path

    code, out, _ = compare(write("a.json", 10, 1), write("b.json", 15, 2))
    assert code == 1 and f"{CASE}: regression" in out


# -- report ----------------------------------------------------------------------------------------


def test_python_dash_m_report(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_rnnbench",
            "report",
            *map(str, RESULT_FILES),
            "-o",
            str(tmp_path / "R.md"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert (tmp_path / "R.md").read_text().startswith("# RNN Benchmark Results\n")


def test_a_report_that_cannot_be_written_exits_2_saying_why(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_rnnbench",
            "report",
            str(RESULT_FILES[0]),
            "-o",
            str(blocker / "R.md"),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2, completed.stderr
    assert (
        f"error: markdown report: cannot write {blocker / 'R.md'}: {blocker} is not a directory"
        in completed.stderr
    )
    assert "Traceback" not in completed.stderr
