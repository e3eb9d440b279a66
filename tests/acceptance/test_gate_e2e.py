"""The regression gate end to end: real pytest processes (pytester), real baseline files.

Most runs use a stand-in worker (tests/fakes/step_worker.py) whose per-step times the test sets
through environment variables (the product's worker module does the protocol; only `train` is
replaced), so every verdict can be produced on purpose on a noisy machine. One test runs the real
TensorFlow worker.
"""

import json
import os
import textwrap

import pytest

from helpers import FAKES, make_fake_interpreter

pytestmark = pytest.mark.slow

CASE = "tensorflow-gpu0-b32-unroll-synthetic"
KEY = f"{CASE}|samples=256|repeats=2"  # baselines are kept per case and workload


# The gate judges each result (a non-finite loss is its regression): the test asserts nothing of
# its own, so every outcome below is the gate's.
BENCH = """
    import pytest  # for the marker that some tests put on test_lstm

    def test_lstm(rnnbench):
        rnnbench()
"""


@pytest.fixture
def gate(pytester, tmp_path_factory):
    directory = tmp_path_factory.mktemp("step-worker")
    pytester.makepyfile(test_bench=textwrap.dedent(BENCH))
    pytester.makeini("[pytest]\n")
    pytester.fake = make_fake_interpreter(directory, FAKES / "step_worker.py")
    return pytester


def run(pytester, *args, **env):
    for name in [n for n in os.environ if n.startswith("FAKE_")]:
        del os.environ[name]
    os.environ.update({k: str(v) for k, v in env.items()})
    try:
        return pytester.runpytest_subprocess(
            "--rnnbench",
            "--rnnbench-backends=tensorflow",
            "--rnnbench-datasets=synthetic",
            "--rnnbench-samples=256",
            "--rnnbench-batch-sizes=32",
            "--rnnbench-repeats=2",
            f"--rnnbench-python=tensorflow={pytester.fake}",
            "-ra",
            "-p",
            "no:cacheprovider",
            *args,
        )
    finally:
        for name in env:
            os.environ.pop(name, None)


def baseline_files(pytester):
    return sorted((pytester.path / "baselines").glob("*.json"))


# Step times of earlier sessions, as if the case had been recorded on three other runs: a stored
# baseline judges a run against the spread of its sessions (with fewer than three, against an
# assumed 10% spread that decides only large changes).
EARLIER_SESSIONS = (9.95, 10.05, 10.0)


def record(pytester, *args, sessions=EARLIER_SESSIONS, key=KEY, **env):
    """Save the case's baseline (FAKE_SEED=1 unless given), then give its entry `sessions`."""
    run(pytester, "--rnnbench-save-baseline", *args, **{"FAKE_SEED": 1, **env}).assert_outcomes(
        passed=1
    )
    (path,) = baseline_files(pytester)
    document = json.loads(path.read_text())
    entry = document["entries"][key]
    made = [dict(entry["sessions"][0], step_ms=step_ms) for step_ms in sessions]
    entry["sessions"] = made + entry["sessions"]
    path.write_text(json.dumps(document))


def test_save_then_check_passes_and_the_file_holds_the_entry(gate):
    saved = run(gate, "--rnnbench-save-baseline", FAKE_SEED=1)
    saved.assert_outcomes(passed=1)
    saved.stdout.fnmatch_lines(
        ["*rnnbench: saving baselines to *baselines*.json*", f"*added {CASE}*"]
    )
    (path,) = baseline_files(gate)
    assert "nogpu_py" in path.name
    entry = json.loads(path.read_text())["entries"][KEY]
    # A save runs 3 fresh workers (STORED_WORKERS): 3 x 2 epochs x 8 blocks.
    assert entry["metrics"]["step_time"]["n"] == 48
    assert entry["repeats"] == 2 and entry["samples"] == 256
    assert len(entry["sessions"]) == 1 and entry["sessions"][0]["workers"] == 3
    # One session cannot show how much sessions differ: the verdict says so and decides nothing.
    first = run(gate, FAKE_SEED=2)
    first.assert_outcomes(passed=1, warnings=1)
    first.stdout.fnmatch_lines(["*inconclusive*fewer than 3: their spread is assumed*"])
    # Two more sessions, on other runs: from now on their own spread decides.
    for seed in (3, 4):
        run(gate, "--rnnbench-save-baseline", FAKE_SEED=seed).assert_outcomes(passed=1)
    assert len(json.loads(path.read_text())["entries"][KEY]["sessions"]) == 3
    checked = run(gate, "--rnnbench-json=out.json", FAKE_SEED=5)
    checked.assert_outcomes(passed=1)
    checked.stdout.fnmatch_lines(
        [f"*checking against {path} (1 baseline of 1 case)*", f"{CASE}: pass*"]
    )
    results = json.loads((gate.path / "out.json").read_text())
    assert results["verdicts"][CASE]["verdict"] == "pass"
    # Refreshing says what changed.
    again = run(gate, "--rnnbench-save-baseline", FAKE_STEP_MS=11, FAKE_SEED=3)
    again.stdout.fnmatch_lines(
        [f"*updated {CASE} (256 samples x 2 epochs): median step * -> 11* ms (+*%)*"]
    )


def test_regression_fails_the_item_with_a_one_line_reason(gate):
    record(gate)
    result = run(gate, FAKE_STEP_MS=12, FAKE_SEED=2)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "rnnbench: false-alarm level 1% for the whole run: each of its 1 case is judged at "
            "0.01 (Bonferroni)",
            f"{CASE}: regression: time per step regression, baseline *10* ms -> now 12.0 ms, "
            "change +*%, tolerance 5.0%, resolves *%, confidence *% (prediction interval over "
            "stored sessions; 3 worker process(es) per stored session, 3 in this one, n=4/1)",
        ]
    )


def test_injected_slowdown_reaches_the_worker_and_is_caught(gate):
    record(gate)
    result = run(gate, "--rnnbench-inject-slowdown=1.25", FAKE_SEED=2)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*injecting a slowdown: every training step x1.25*",
            "*time per step regression*change +2*%*",
        ]
    )


@pytest.mark.parametrize("how", ["ini", "command line", "marker", "baseline entry"])
def test_tolerance_overrides(gate, how):
    record(gate)
    args = []
    if how == "ini":
        gate.makeini("[pytest]\nrnnbench_tolerance_time = 30%\n")
    elif how == "command line":
        args = ["--rnnbench-tolerance-time=0.3"]
    elif how == "marker":
        gate.makepyfile(
            test_bench=textwrap.dedent(BENCH).replace(
                "def test_lstm", "@pytest.mark.rnnbench(tolerance_time=0.3)\ndef test_lstm"
            )
        )
    else:
        (path,) = baseline_files(gate)
        document = json.loads(path.read_text())
        document["entries"][KEY]["tolerances"] = {"tolerance_time": 0.3}
        path.write_text(json.dumps(document))
    result = run(gate, *args, FAKE_STEP_MS=12, FAKE_SEED=2)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"{CASE}: pass*"])


def test_the_marker_beats_the_ini_and_bad_marker_arguments_fail(gate):
    record(gate)
    gate.makeini("[pytest]\nrnnbench_tolerance_time = 30%\n")
    gate.makepyfile(
        test_bench=textwrap.dedent(BENCH).replace(
            "def test_lstm", "@pytest.mark.rnnbench(tolerance_time='2%')\ndef test_lstm"
        )
    )
    run(gate, FAKE_STEP_MS=11, FAKE_SEED=2).assert_outcomes(failed=1)
    gate.makepyfile(
        test_bench=textwrap.dedent(BENCH).replace(
            "def test_lstm", "@pytest.mark.rnnbench(tolerance_speed=0.3)\ndef test_lstm"
        )
    )
    result = run(gate, FAKE_SEED=2)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*unknown argument tolerance_speed=0.3; accepted: tolerance_time*"]
    )


def test_improvement_passes_with_a_hint(gate):
    record(gate)
    result = run(gate, FAKE_STEP_MS=7, FAKE_SEED=2)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"{CASE}: improvement: time per step improvement*change -3*%*",
            # The user's own selection is kept; -k names the case.
            "*hint: if the change is accepted, start this baseline afresh (each later save "
            "narrows what it resolves; a few percent takes several): *pytest *--rnnbench "
            "--rnnbench-backends=tensorflow *--rnnbench-samples=256 *-ra -p no:cacheprovider "
            f"--rnnbench-save-baseline --rnnbench-reset-baseline -k {CASE}",
        ]
    )
    # Following the hint: the stored sessions are this level's alone, so the next run of the
    # same code is no improvement.
    run(gate, "--rnnbench-save-baseline", "--rnnbench-reset-baseline", FAKE_STEP_MS=7, FAKE_SEED=3)
    (path,) = baseline_files(gate)
    assert len(json.loads(path.read_text())["entries"][KEY]["sessions"]) == 1
    again = run(gate, FAKE_STEP_MS=7, FAKE_SEED=4)
    again.assert_outcomes(passed=1)
    assert f"{CASE}: improvement" not in again.stdout.str()


def test_under_xdist_the_summary_lists_the_workers_verdicts(gate):
    """The controller judges no case itself: its summary shows what its workers judged."""
    record(gate)
    result = run(gate, "-n", "2", FAKE_STEP_MS=7, FAKE_SEED=2)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"{CASE}: improvement: time per step improvement*change -3*%*",
            "*hint: if the change is accepted, start this baseline afresh *",
        ]
    )


def test_inconclusive_passes_with_a_warning_that_says_why(gate):
    noisy_base = "10,30,11,25,10,30,11,25"
    run(
        gate, "--rnnbench-save-baseline", "--rnnbench-repeats=1", FAKE_STEPS_MS=noisy_base
    ).assert_outcomes(passed=1)
    # One worker (fewer than a session's 3): the verdict says so.
    one = ("--rnnbench-repeats=1", "--rnnbench-workers=1")
    result = run(gate, *one, FAKE_STEPS_MS="12,33,13,27,12,33,13,27")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*RnnbenchInconclusiveWarning: *inconclusive*change +*%*not significant at the "
            "run's level*1 stored session(s) (3 worker process(es) per stored session, 1 in "
            "this one; fewer than 3: their spread is assumed, not measured) resolve changes of "
            "*% and more*"
        ]
    )
    # A project's `filterwarnings = error` does not turn it into a failure (the plugin's own
    # `default` lines come after); a typed -W for this warning still does: the user's choice.
    gate.makeini("[pytest]\nfilterwarnings = error\n")
    kept = run(gate, *one, FAKE_STEPS_MS="12,33,13,27,12,33,13,27")
    kept.assert_outcomes(passed=1, warnings=1)
    strict = run(
        gate, *one, "-W", "error::pytest_rnnbench.verdicts.RnnbenchInconclusiveWarning",
        FAKE_STEPS_MS="12,33,13,27,12,33,13,27",
    )  # fmt: skip
    strict.assert_outcomes(failed=1)


@pytest.mark.parametrize("loss", ["nan", "inf"])
def test_non_finite_loss_is_a_regression_and_is_never_recorded(gate, loss):
    run(gate, "--rnnbench-save-baseline", FAKE_SEED=1).assert_outcomes(passed=1)
    result = run(gate, FAKE_SEED=2, FAKE_LOSS=loss)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*final loss regression*now {loss}*the loss is not finite*"])
    refused = run(gate, "--rnnbench-save-baseline", FAKE_SEED=2, FAKE_LOSS=loss)
    refused.assert_outcomes(failed=1)
    refused.stdout.fnmatch_lines([f"*not recording a baseline whose final loss is {loss}*"])


def test_memory_regression_and_version_notes(gate):
    run(gate, "--rnnbench-save-baseline", FAKE_SEED=1).assert_outcomes(passed=1)
    result = run(gate, FAKE_SEED=2, FAKE_RSS_MB=700, FAKE_KERAS="3.16.0")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*host peak RSS regression, baseline 500 MiB -> now 700 MiB, change +40.0%, tolerance "
            "20.0%, n=1/1: measured once per run*[versions differ from the baseline's: "
            "keras 3.15.1 -> 3.16.0]*"
        ]
    )


def test_a_case_without_baseline_passes_unjudged_and_the_summary_says_how_to_record_it(gate):
    record(gate)
    result = run(gate, "--rnnbench-batch-sizes=32,64", FAKE_SEED=2)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            f"{CASE}: pass*",
            "not judged (1): measured, with no baseline to judge",
            "  tensorflow-gpu0-b64-unroll-synthetic: no baseline for this case in *.json",
            # Only the unjudged case: the hint must not re-record the baseline that judged CASE.
            "  record them with: *pytest *--rnnbench *--rnnbench-batch-sizes=32,64 "
            "--rnnbench-save-baseline -k tensorflow-gpu0-b64-unroll-synthetic",
            "rnnbench: 2 measured, 1 judged (1 pass), 1 not judged, 0 failed",
        ]
    )
    # CI asks for every case to be judged: the same run fails the unjudged case, saying why.
    strict = run(gate, "--rnnbench-batch-sizes=32,64", "--rnnbench-require-baseline", FAKE_SEED=2)
    strict.assert_outcomes(passed=1, failed=1)
    strict.stdout.fnmatch_lines(
        [
            "*tensorflow-gpu0-b64-unroll-synthetic: not judged: no baseline for this case in "
            "*--rnnbench-require-baseline makes that a failure*",
            "rnnbench: 2 measured, 1 judged (1 pass), 1 not judged, 1 failed",
        ]
    )


def test_a_baseline_of_another_workload_is_neither_compared_nor_overwritten(gate):
    record(gate)
    result = run(gate, "--rnnbench-samples=512", FAKE_SEED=2)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"  {CASE}: no baseline for this workload (512 samples x 2 epochs) in *.json; it "
            "holds 256 samples x 2 epochs",
            "rnnbench: 1 measured, 0 judged, 1 not judged, 0 failed",
        ]
    )
    # Recording the quick run keeps the other workload's baseline; each judges its own runs.
    record(gate, "--rnnbench-samples=512", key=f"{CASE}|samples=512|repeats=2", FAKE_SEED=3)
    (path,) = baseline_files(gate)
    assert sorted(json.loads(path.read_text())["entries"]) == [
        KEY,
        f"{CASE}|samples=512|repeats=2",
    ]
    run(gate, FAKE_SEED=4).stdout.fnmatch_lines([f"{CASE}: pass*"])
    run(gate, "--rnnbench-samples=512", FAKE_SEED=4).stdout.fnmatch_lines([f"{CASE}: pass*"])


def test_a_machine_profile_without_baselines_is_said_once(gate):
    other = gate.path / "baselines" / "some-other-cpu-64cpu_nogpu_py3.11.json"
    other.parent.mkdir()
    other.write_text("{}")
    result = run(gate, "--rnnbench-batch-sizes=32,64,128", FAKE_SEED=2)
    # Measured, so passed: the measurement is the result; nothing was judged, and it says so.
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "rnnbench: no baseline for this machine profile (*.json not in *baselines): every "
            "case is measured, nothing is judged; record baselines with: *pytest *--rnnbench "
            "*--rnnbench-batch-sizes=32,64,128 --rnnbench-save-baseline",
            "rnnbench: *baselines holds baselines for other profiles only: "
            "some-other-cpu-64cpu_nogpu_py3.11.json",
            "not judged (3): measured, with no baseline to judge",
            "  every case: no baseline for this machine profile (*.json not in *baselines)",
            # Nothing judged: the hint records the user's whole selection, no -k.
            "  record them with: *pytest *--rnnbench *--rnnbench-batch-sizes=32,64,128 "
            "--rnnbench-save-baseline",
            "rnnbench: 3 measured, 0 judged, 3 not judged, 0 failed",
        ]
    )


def test_a_broken_baseline_is_a_usage_error_and_a_save_moves_it_aside(gate):
    run(gate, "--rnnbench-save-baseline", FAKE_SEED=1).assert_outcomes(passed=1)
    (path,) = baseline_files(gate)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    result = run(gate, FAKE_SEED=2)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: baseline file {path}: truncated or not JSON*"])
    assert path.read_text() == text[: len(text) // 2]
    saved = run(gate, "--rnnbench-save-baseline", FAKE_SEED=1)
    saved.assert_outcomes(passed=1, warnings=1)
    saved.stdout.fnmatch_lines(["*the old baseline file was unusable*renamed to *.broken-*"])
    (aside,) = path.parent.glob(path.name + ".broken-*")
    assert aside.read_text() == text[: len(text) // 2]
    run(gate, FAKE_SEED=2).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--rnnbench-tolerance-time=fast"],
            "command-line option --rnnbench-tolerance-time: invalid "
            "value 'fast': expected a fraction such as 0.05*",
        ),
        (
            ["--rnnbench-inject-slowdown=0.5"],
            "*--rnnbench-inject-slowdown: invalid value '0.5': expected a factor between 1 and 10*",
        ),
        (
            ["--rnnbench-inject-slowdown=1.1", "--rnnbench-save-baseline"],
            "*would record an injected slowdown as the baseline*",
        ),
    ],
)
def test_bad_options_are_usage_errors(gate, args, message):
    result = run(gate, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_baseline_dir_option(gate, tmp_path):
    where = tmp_path / "elsewhere"
    run(
        gate, f"--rnnbench-baseline-dir={where}", "--rnnbench-save-baseline", FAKE_SEED=1
    ).assert_outcomes(passed=1)
    assert len(list(where.glob("*.json"))) == 1 and not (gate.path / "baselines").exists()
    run(gate, f"--rnnbench-baseline-dir={where}", FAKE_SEED=2).assert_outcomes(passed=1)


def test_real_tensorflow_save_then_injected_slowdown_fails(pytester):
    """The real worker: record, then a 5x injected slowdown is a regression. The tolerance is
    wide (50%) because runs on a shared 2-core machine differ by up to 2x on their own; 5x
    stays beyond it even then."""
    pytester.makepyfile(test_bench=textwrap.dedent(BENCH))
    pytester.makeini("[pytest]\n")
    common = [
        "--rnnbench",
        "--rnnbench-backends=tensorflow",
        "--rnnbench-datasets=synthetic",
        "--rnnbench-samples=256",
        "--rnnbench-batch-sizes=32",
        "--rnnbench-repeats=2",
        "-p",
        "no:cacheprovider",
    ]
    pytester.runpytest_subprocess(*common, "--rnnbench-save-baseline").assert_outcomes(passed=1)
    (path,) = sorted((pytester.path / "baselines").glob("*.json"))
    entry = json.loads(path.read_text())["entries"][KEY]
    assert entry["versions"]["keras"].startswith("3.") and "tensorflow" in entry["versions"]
    assert entry["metrics"]["step_time"]["n"] == 48  # 3 workers (a save's default) x 16
    # A 5x slowdown dwarfs what a busy machine does, so the busy-machine check stays out of it.
    slow = pytester.runpytest_subprocess(
        *common,
        "--rnnbench-inject-slowdown=5",
        "--rnnbench-tolerance-time=50%",
        "--rnnbench-busy-limit=100%",
    )
    slow.assert_outcomes(failed=1)
    slow.stdout.fnmatch_lines(["*time per step regression*tolerance 50.0%*"])


BASELINE_HELP = """\
  --rnnbench-baseline-dir=DIR
                        where baseline files live, one per machine profile. Default: baselines/ in
                        the rootdir.
  --rnnbench-save-baseline
                        record (or refresh) the baselines of the cases that run, instead of checking
                        them.
  --rnnbench-require-baseline
                        fail a measured case that has no baseline for its workload (for CI); without
                        it such a case passes, unjudged.
  --rnnbench-reset-baseline
                        with --rnnbench-save-baseline: start the saved cases' stored sessions afresh
                        (after an accepted change) instead of adding this session to them.
  --rnnbench-inject-slowdown=FACTOR
                        stretch every training step by FACTOR (e.g. 1.10) to show that the gate
                        catches a known slowdown. Default: 1 (none).
  --rnnbench-tolerance-time=FRACTION
                        allowed slowdown of the time per step before a regression, as 0.05 or 5%.
                        Default: 5%.
  --rnnbench-tolerance-rss=FRACTION
                        allowed growth of the worker's host peak RSS. Default: 20%.
  --rnnbench-tolerance-gpu-memory=FRACTION
                        allowed growth of the peak GPU memory. Default: 10%.
  --rnnbench-tolerance-loss=FRACTION
                        allowed growth of the final training loss. Default: 10%.
"""


def test_help_text_of_the_baseline_options(pytester, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    result = pytester.runpytest_subprocess("--help")
    text = result.stdout.str()
    assert BASELINE_HELP in text, text[text.find("--rnnbench-baseline-dir") :][:2000]
    # The ini keys are listed too, one per tolerance; pytest 9.2's [tool.pytest] takes a switch's
    # true/false and a number where one fits (options/register.py).
    typed = pytest.version_tuple >= (9, 2)
    number, switch = ("string | int | float", "string | bool") if typed else ("string",) * 2
    for key, kind in (
        ("rnnbench_tolerance_time", number),
        ("rnnbench_tolerance_rss", number),
        ("rnnbench_tolerance_gpu_memory", number),
        ("rnnbench_tolerance_loss", number),
        ("rnnbench_baseline_dir", number),
        ("rnnbench_save_baseline", switch),
        ("rnnbench_require_baseline", switch),
    ):
        assert f"  {key} ({kind}):" in text, key
