"""The end-of-run output (session/summary.py): a pull-request comment of a run that judged no
case says so in its headline, and why for each case."""

from __future__ import annotations

import copy
import json

from helpers import RESULT_FILES, VERDICTS
from pytest_rnnbench.report import comment
from pytest_rnnbench.session import summary

SKIPPED = {
    "jax-gpu0-b128-unroll-synthetic": "interpreter '/no/python' for the jax backend does not exist",
    "torch-gpu0-b128-unroll-synthetic": "synthetic: not available here",
}


def empty_document() -> dict:
    document = json.loads(RESULT_FILES[0].read_text())
    return dict(document, results={}, verdicts={}, failures={})


def test_a_run_that_measured_nothing_says_so_and_why_for_each_case() -> None:
    document = dict(empty_document(), not_judged=summary.not_judged(SKIPPED, {}))
    text = comment.render(document)
    lines = text.splitlines()
    assert lines[0] == comment.MARKER
    assert lines[1] == "### pytest-rnnbench: no case was judged: nothing was measured (2 skipped)"
    at = lines.index("Why no case was judged:")
    assert lines[at : at + 5] == [
        "Why no case was judged:",
        "",
        "- `jax-gpu0-b128-unroll-synthetic`: skipped: interpreter '/no/python' for the jax "
        "backend does not exist",
        "- `torch-gpu0-b128-unroll-synthetic`: skipped: synthetic: not available here",
        "",
    ]


def test_cases_measured_but_not_judged_are_no_pass_and_say_why() -> None:
    document = json.loads(RESULT_FILES[0].read_text())
    document["verdicts"], document["failures"] = {}, {}
    unjudged = {
        case_id: "the baseline was recorded with 512 samples" for case_id in document["results"]
    }
    document["not_judged"] = summary.not_judged({}, unjudged)
    text = comment.render(document)
    measured = len(document["results"])
    assert text.splitlines()[1] == (
        f"### pytest-rnnbench: no case was judged: {measured} measured but not judged"
    )
    assert "pass" not in text.splitlines()[1]
    for case_id in document["results"]:
        assert f"- `{case_id}`: measured, not judged: the baseline was recorded" in text


def test_a_run_that_judged_cases_lists_the_ones_it_did_not_judge_apart() -> None:
    document = json.loads(RESULT_FILES[0].read_text())
    document["verdicts"] = copy.deepcopy(VERDICTS)
    plain = comment.render(document)
    document["not_judged"] = summary.not_judged(SKIPPED, {})
    text = comment.render(document)
    # The headline counts them too: "... 1 pass" alone read as if the whole change passed.
    assert text.splitlines()[1] == plain.splitlines()[1] + ", 2 not judged"
    assert "Not judged:" in text and "Why no case was judged:" not in text
    assert "- `torch-gpu0-b128-unroll-synthetic`: skipped: synthetic: not available here" in text


def test_the_headline_reason_counts_what_happened() -> None:
    none = dict(empty_document(), not_judged={})
    assert comment.nothing_judged(none) == "nothing was measured"
    three = dict(none, not_judged={f"c{i}": "skipped: no backend" for i in range(3)})
    assert comment.nothing_judged(three) == "nothing was measured (3 skipped)"


def test_a_live_case_measured_then_skipped_counts_as_measured_not_twice() -> None:
    document = json.loads(RESULT_FILES[0].read_text())
    document["verdicts"], document["failures"] = {}, {}
    measured = sorted(document["results"])
    skipped = {measured[0]: "measured, not judged: ...", "other-case": "no backend"}
    document["not_judged"] = summary.not_judged(skipped, {})
    assert comment.nothing_judged(document) == (
        f"{len(measured)} measured but not judged, 1 skipped"
    )
    document["verdicts"] = copy.deepcopy(VERDICTS)
    assert comment.nothing_judged(document) == ""  # a run that judged a case says nothing of it


def test_the_seed_suite_hint_runs_as_printed_with_the_run_s_own_program() -> None:
    from pytest_rnnbench.settings import Settings

    plain = summary.no_case_selected(Settings())
    assert plain.endswith("suite: pytest --rnnbench --pyargs pytest_rnnbench.suite")
    venv = Settings(program=(".venv/bin/python", "-m", "pytest"))
    assert summary.no_case_selected(venv).endswith(
        "suite: .venv/bin/python -m pytest --rnnbench --pyargs pytest_rnnbench.suite"
    )
    assert venv.command("--rnnbench-save-baseline", case_ids=["a"]) == (
        ".venv/bin/python -m pytest --rnnbench-save-baseline -k a"
    )


def test_a_run_that_selected_no_case_says_why() -> None:
    from pytest_rnnbench.settings import Settings

    sharded = Settings(shard=(3, 3))
    assert summary.nothing_selected(sharded, 0, 2, 0) == (
        "rnnbench: shard 3/3 holds none of the 2 cases; nothing to run here"
    )
    assert "none of the only case;" in summary.nothing_selected(Settings(shard=(2, 2)), 0, 1, 0)
    assert summary.nothing_selected(Settings(), 8, 8, 1) == (
        "rnnbench: -k/-m deselected the one benchmark case collected; none ran"
    )
    assert "deselected all 8 benchmark cases" in summary.nothing_selected(sharded, 3, 8, 8)
    assert summary.nothing_selected(Settings(), 8, 8, 0) == summary.no_case_selected(Settings())
