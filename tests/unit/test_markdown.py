"""The markdown report (report/markdown.py), on real results files (golden files in
tests/golden/)."""

from __future__ import annotations

import copy

from helpers import check_golden, documents, fixed_report, report_with_verdicts
from pytest_rnnbench.report import formatting, markdown, terminal
from pytest_rnnbench.results.read import build_report


def test_markdown_report_matches_golden_file():
    check_golden("report.md", markdown.render(fixed_report(), "plots") + "\n")


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
