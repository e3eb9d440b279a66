"""The markdown report (report/markdown.py), on real results files (golden files in
tests/golden/)."""

from __future__ import annotations

import copy
import re

from helpers import check_golden, documents, fixed_report, report_with_verdicts
from pytest_rnnbench.report import formatting, markdown, terminal
from pytest_rnnbench.results.read import build_report


def test_markdown_report_matches_golden_file():
    check_golden("report.md", markdown.render(fixed_report(), "plots") + "\n")


def test_chart_links_hold_a_plots_folder_with_a_space_or_parentheses():
    rendered = markdown.render(fixed_report(), "my plots (ci)")
    images = re.findall(r"!\[([^\]]+)\]\(([^)]*\)?[^)]*)\)", rendered)
    assert images
    for name, target in images:
        assert target == f"<my plots (ci)/{name}>"


def test_markdown_report_with_verdicts_matches_golden_file():
    check_golden("report-verdicts.md", markdown.render(report_with_verdicts()) + "\n")


def test_summary_tables_have_the_seeds_columns_and_every_case():
    rendered = markdown.render(fixed_report())
    assert (
        "| Instance Type | GPUs | Batch Size | Unroll | Keras-TensorFlow (Time/Epoch), (GPU Mem)"
        in rendered.replace("  ", " ").replace("  ", " ").replace("  ", " ")
    )
    for _, document in documents():
        for case_id, entry in document["results"].items():
            assert formatting.format_seconds(entry["epoch_seconds"]) + " sec, N/A" in rendered, (
                case_id
            )


def test_failed_cases_are_shown_not_dropped():
    document = copy.deepcopy(documents()[0][1])
    case_id = "torch-gpu0-b128-unroll-synthetic"
    del document["results"][case_id]
    document["failures"] = {
        case_id: "worker was killed by SIGKILL (the kernel's out-of-memory killer sends SIGKILL)"
    }
    merged = build_report([("run.json", document)])
    rendered = markdown.render(merged)
    assert "## Failed cases" in rendered and f"`{case_id}`" in rendered
    assert "failed" in markdown.summary_table(merged, "synthetic")[3 + 1] or any(
        "| failed" in line for line in markdown.summary_table(merged, "synthetic")
    )
    assert any(
        line.startswith(f"FAILED {case_id}: worker was killed")
        for line in terminal.terminal_tables(merged)
    )


# Text a results file can carry, which anyone may have written: the CI recipes append the short
# form to the job summary of a workflow that can write to the pull request.
HOSTILE = "x | [click](http://e.example) <img src=//e.example/p.png> @octo/team\n### 9 pass"


def hostile_report():
    document = copy.deepcopy(documents()[0][1])
    document["machine"]["name"] = HOSTILE
    case_id, entry = next(iter(document["results"].items()))
    key = "`" + HOSTILE  # the worker's "case" says what ran; the key is only a name
    document["results"][key] = document["results"].pop(case_id)
    entry["worker"].setdefault("versions", {})["keras"] = HOSTILE
    document["verdicts"] = {
        key: {"verdict": "regression", "change": 0.2, "reason": HOSTILE, "metrics": {}}
    }
    document["failures"] = {"torch-gpu0-b32-unroll-synthetic": HOSTILE}
    return build_report([(HOSTILE, document)])


def test_text_from_a_results_file_stays_literal_in_the_report_and_the_job_summary() -> None:
    from markdown_it import MarkdownIt

    report = hostile_report()
    for text in (markdown.render(report), markdown.step_summary(report)):
        tokens = MarkdownIt("commonmark").enable("table").parse(text)
        inlines = [c for t in tokens if t.children for c in t.children]
        # The dataset sources and `fit`'s documentation are the report's own links.
        links = [c.attrs.get("href") for c in inlines if c.type == "link_open"]
        assert all("e.example" not in str(href) for href in links), links
        assert not [c for c in inlines if c.type == "image" or "html" in c.type]
        assert not [t for t in tokens if t.type == "html_block"]
        headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
        assert "9 pass" not in " ".join(headings)
        assert "@octo" not in text and "@\u200docto" in text
        # A table is a block of "|" lines; each of its rows has as many unescaped pipes.
        for block in text.split("\n\n"):
            rows = [line for line in block.splitlines() if line.startswith("|")]
            cells = {len(re.split(r"(?<!\\)\|", row)) for row in rows}
            assert len(cells) <= 1, rows
