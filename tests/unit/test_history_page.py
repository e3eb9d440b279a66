"""The history page (report/history_page.py): a golden page from the real series of
tests/data/history/ and a GPU machine's nightly runs made from the real results file of
tests/data/, and the figures its tables show."""

from __future__ import annotations

import copy
import random

import pytest

from helpers import DATA, check_golden, documents
from helpers import P3_MACHINE as P3
from pytest_rnnbench.history import runs
from pytest_rnnbench.history import series as history
from pytest_rnnbench.history.changes import OTAVA_INSTALL, Detection, analyse_all
from pytest_rnnbench.report import history_charts, history_page

pytest.importorskip("otava.analysis", reason=f"the history page needs Otava: {OTAVA_INSTALL}")

REAL_CHANGE = DATA / "history" / "rnn-work-16"
TIME = runs.METRICS["time"]
SLOWED = "torch-gpu0-b32-unroll-synthetic"
FAILED = "mxnet-gpu0-b128-unroll-synthetic"


def gpu_nights() -> list[tuple[str, dict]]:
    """12 nights of the synthetic results on a 4-GPU machine: +-3% noise; from night 7 on a new
    driver and PyTorch 15% slower; MXNet failed on night 9."""
    (_, template), _ = documents()
    rng = random.Random(2026)
    nights = []
    for night in range(1, 13):
        document = copy.deepcopy(template)
        document["written"] = f"2026-12-{night:02d}T02:00:00+00:00"
        document["machine"] = dict(P3, driver="550.54" if night >= 7 else P3["driver"])
        for case_id, entry in document["results"].items():
            entry["epoch_seconds"] *= (1 + rng.uniform(-0.03, 0.03)) * (
                1.15 if case_id == SLOWED and night >= 7 else 1.0
            )
        if night == 9:
            del document["results"][FAILED]
            document["failures"] = {FAILED: "worker was killed by SIGKILL (out of memory?)"}
        nights.append((f"p3/night-{night:02d}.json", document))
    return nights


def golden_history() -> history.History:
    from pytest_rnnbench.results.read import load

    real = [
        (f"rnn-work-16/{path.name}", load(path)) for path in sorted(REAL_CHANGE.glob("run-*.json"))
    ]
    return history.build_history(real + gpu_nights())


def test_the_history_page_matches_its_golden_file():
    built = golden_history()
    analyses = analyse_all(built, TIME, Detection())
    page = history_page.render(built, analyses, TIME, Detection(), history_charts.images(built))
    check_golden("history.md", page)


def test_the_page_shows_the_real_change_and_the_gpu_machines_driver_change():
    built = golden_history()
    page = history_page.render(built, analyse_all(built, TIME, Detection()), TIME, Detection())
    cpu, gpu = page.split("\n## 4x Tesla V100-SXM2-16GB")
    assert "**+19.4%** at run 16" in cpu and '(latest: "rnn-work 16")' in cpu
    assert cpu.count("**") == 2  # one change point on the 2-CPU machine
    assert f"`{SLOWED}` (256 samples/epoch): **+1" in gpu
    assert "NVIDIA driver 535.104 -> 550.54" in gpu
    assert f"- `{FAILED}`, run 9 (p3/night-09.json): worker was killed by SIGKILL" in gpu
    assert "### Charts" not in page  # no charts asked for


def test_latest_values_against_the_previous_run_and_the_level_before_the_change():
    (_, template), _ = documents()
    # Levels 4.0 and 5.0, each with a 1% spread (without any, one run off its level would be
    # a certain change point of its own).
    values = [4.04, 3.96] * 3 + [5.05, 4.95] * 3
    case = "jax-gpu0-b32-unroll-synthetic"
    runs = []
    for night, value in enumerate(values):
        document = copy.deepcopy(template)
        document["written"] = f"2026-10-{night + 1:02d}T02:00:00+00:00"
        document["results"] = {case: document["results"][case]}
        document["results"][case]["epoch_seconds"] = value
        runs.append((f"night-{night:02d}.json", document))
    built = history.build_history(runs)
    analyses = analyse_all(built, TIME, Detection())
    table = "\n".join(history_page.latest_table(built, analyses))
    assert "| 4.95 s (run 12) | -2.0% (from 5.05 s)" in table
    assert "| +23.8% (from 4.00 s)" in table and "| +25.0% at run 7 " in table


def test_a_newest_run_that_failed_or_diverged_is_not_hidden_behind_an_older_value():
    """A diverged loss (NaN) is the event a loss series exists to catch: the Latest cell says
    what the newest run gave, not only the last number there was."""
    (_, template), _ = documents()
    case = "jax-gpu0-b32-unroll-synthetic"
    nights = []
    for night in range(6):
        document = copy.deepcopy(template)
        document["written"] = f"2026-10-{night + 1:02d}T02:00:00+00:00"
        document["results"] = {case: document["results"][case]}
        if night == 5:
            document["results"][case]["final_loss"] = float("nan")
        nights.append((f"night-{night}.json", document))
    built = history.build_history(nights)
    loss = runs.METRICS["loss"]
    table = "\n".join(history_page.latest_table(built, analyse_all(built, loss, Detection())))
    assert "(run 5); run 6: not a finite number (nan)" in table, table
    # The page's span is the earliest and latest written, though runs go in commit order: here
    # the newest commit was measured first (a re-measure, a skewed clock).
    for night, (_, document) in enumerate(nights):
        committed = f"2026-09-{(20 if night == 0 else 10 - night):02d}T00:00:00+00:00"
        document["source"] = {"commit": f"{night + 1:040d}", "committed": committed}
    page = history_page.render(history.build_history(nights), [], loss, Detection())
    assert "2026-10-01 02:00 to 2026-10-06 02:00 UTC" in page, page


def test_a_metric_no_case_measured_says_so():
    built = history.build_history(gpu_nights()[:3])
    gpu_memory = runs.METRICS["gpu-memory"]
    analyses = analyse_all(built, gpu_memory, Detection())
    page = history_page.render(built, analyses, gpu_memory, Detection())
    assert analyses == [] and "No case of this machine measured peak GPU memory." in page


def test_recorded_text_is_shown_as_text():
    assert history_page.plain("fix <b>|</b> `rnn` *fast* [x](y) #1") == (
        "fix \\<b>\\|\\</b> \\`rnn\\` \\*fast\\* \\[x\\](y) \\#1"
    )


@pytest.mark.parametrize("slow_nights", [1, 2, 3])
def test_a_change_in_the_last_runs_is_called_new(slow_nights: int) -> None:
    """One slow night is no level of its own (it was a change point "at >99.99%", its segment
    having no spread), nor are two (Welch's test has one degree of freedom for them): the
    Latest table shows the newest against the previous run. Three are a change point, said to
    be new."""
    (_, template), _ = documents()
    case = "jax-gpu0-b32-unroll-synthetic"
    runs = []
    for night, value in enumerate([4.04, 3.96] * 6 + [6.0, 6.1, 5.95][:slow_nights]):
        document = copy.deepcopy(template)
        document["written"] = f"2026-10-{night + 1:02d}T02:00:00+00:00"
        document["results"] = {case: document["results"][case]}
        document["results"][case]["epoch_seconds"] = value
        runs.append((f"night-{night:02d}.json", document))
    built = history.build_history(runs)
    page = history_page.render(built, analyse_all(built, TIME, Detection()), TIME, Detection())
    if slow_nights < 3:
        assert "None: every series stayed within its noise." in page
        assert f"(run {12 + slow_nights}) | +" in page  # the Latest table: against the last run
        return
    assert "**+50.4%** at run 13" in page and "confidence >" not in page
    assert "only 3 runs at the new level so far: the next runs tell" in page
