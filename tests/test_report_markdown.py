"""The markdown report and the terminal tables, on real results files (golden files)."""

from __future__ import annotations

import copy

import pytest
from report_helpers import VERDICTS, check_golden, documents, fixed_report, report_with_verdicts

from pytest_rnnbench.report import formatting, markdown, terminal
from pytest_rnnbench.report.results import (ResultsError, build_report, check, instance_name,
                                     parse_verdict, short_cpu)


def test_markdown_report_matches_golden_file():
    check_golden("report.md", markdown.render(fixed_report(), "plots") + "\n")


def test_markdown_report_with_verdicts_matches_golden_file():
    check_golden("report-verdicts.md", markdown.render(report_with_verdicts()) + "\n")


def test_terminal_tables_match_golden_file():
    lines = terminal.terminal_tables(fixed_report())
    check_golden("terminal.txt", "\n".join(lines) + "\n")
    assert max(map(len, lines)) <= 120


def test_terminal_tables_with_verdicts_match_golden_file_and_fit_120_columns():
    lines = terminal.terminal_tables(report_with_verdicts())
    check_golden("terminal-verdicts.txt", "\n".join(lines) + "\n")
    assert max(map(len, lines)) <= 120
    text = "\n".join(lines)
    assert "+12.4%" in text and "regression" in text and "inconclusive" in text


@pytest.mark.parametrize("width", [72, 80, 100])
def test_narrow_terminal_splits_backends_instead_of_wrapping(width):
    lines = terminal.terminal_tables(report_with_verdicts(), width=width)
    assert max(map(len, lines)) <= width
    text = "\n".join(lines)
    for backend in ("tensorflow", "jax", "torch", "mxnet"):
        assert backend in text


def test_summary_tables_have_the_seeds_columns_and_every_case():
    rendered = markdown.render(fixed_report())
    assert ("| Instance Type | GPUs | Batch Size | Unroll | Keras-TensorFlow (Time/Epoch), (GPU Mem)"
            in rendered.replace("  ", " ").replace("  ", " ").replace("  ", " "))
    for _, document in documents():
        for case_id, entry in document["results"].items():
            assert formatting.format_seconds(entry["epoch_seconds"]) + " sec, N/A" in rendered, case_id


def test_merge_combines_machines_and_later_file_replaces_same_case():
    docs = documents()
    other = copy.deepcopy(docs[0][1])
    other["machine"] = {"cpu": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "cpus": 8,
                        "gpus": ["NVIDIA A10G"] * 4, "driver": "550.54", "cuda": "12.4"}
    rerun = copy.deepcopy(docs[0][1])
    case_id = next(iter(rerun["results"]))
    rerun["results"] = {case_id: rerun["results"][case_id]}
    rerun["results"][case_id]["epoch_seconds"] = 99.0
    merged = build_report([*docs, ("p3.json", other), ("rerun.json", rerun)])
    assert set(merged.machines) == {"Intel Xeon, 2 CPUs", "4x NVIDIA A10G"}
    replaced = [row for row in merged.rows if row.case_id == case_id
                and row.instance == "Intel Xeon, 2 CPUs"]
    assert [row.epoch_seconds for row in replaced] == [99.0]
    assert merged.notes == [f"{case_id} on Intel Xeon, 2 CPUs: rerun.json replaces "
                            "results-synthetic.json"]
    rendered = markdown.render(merged)
    assert "| 4x NVIDIA A10G" in rendered and "CUDA              | v12.4" in rendered
    lines = terminal.terminal_tables(merged)
    assert max(map(len, lines)) <= 120 and any(line.startswith("4x NVIDIA A10G") for line in lines)


def test_failed_cases_are_shown_not_dropped():
    document = copy.deepcopy(documents()[0][1])
    case_id = "torch-gpu0-b128-unroll-synthetic"
    del document["results"][case_id]
    document["failures"] = {case_id: "worker was killed by SIGKILL (the kernel's out-of-memory "
                                      "killer sends SIGKILL)"}
    merged = build_report([("run.json", document)])
    rendered = markdown.render(merged)
    assert "## Failed cases" in rendered and f"`{case_id}`" in rendered
    assert "failed" in markdown.summary_table(merged, "synthetic")[3 + 1] or \
        any("| failed" in line for line in markdown.summary_table(merged, "synthetic"))
    assert any(line.startswith(f"FAILED {case_id}: worker was killed")
               for line in terminal.terminal_tables(merged))


def test_verdicts_as_the_verdict_module_writes_them_are_read():
    from pytest_rnnbench.gate import verdict

    metric = verdict.MetricVerdict("epoch_time", verdict.REGRESSION, baseline=20.0, now=23.0,
                                   change=0.15, tolerance=0.05)
    case = verdict.CaseVerdict("tensorflow-gpu0-b32-unroll-synthetic", verdict.REGRESSION,
                               (metric,))
    parsed = parse_verdict(case.to_dict())
    assert parsed.verdict == "regression" and parsed.change == pytest.approx(0.15)
    assert parsed.baseline_step_ms == 20.0 and parsed.now_step_ms == 23.0
    assert parsed.reason.startswith("tensorflow-gpu0-b32-unroll-synthetic: regression")
    assert set(VERDICTS["jax-gpu0-b32-unroll-synthetic"]) <= set(case.to_dict())


@pytest.mark.parametrize("machine, name", [
    ({"cpu": "Intel(R) Xeon(R) Processor", "cpus": 2, "gpus": []}, "Intel Xeon, 2 CPUs"),
    ({"cpu": "AMD EPYC 7R13 48-Core Processor", "cpus": 96, "gpus": []}, "AMD EPYC 7R13, 96 CPUs"),
    ({"cpu": "x", "cpus": 8, "gpus": ["NVIDIA H200"] * 8}, "8x NVIDIA H200"),
    ({"name": "p3.8xlarge", "cpu": "x", "gpus": ["Tesla V100-SXM2-16GB"] * 4}, "p3.8xlarge"),
])
def test_instance_names_are_readable(machine, name):
    assert instance_name(machine) == name


def test_short_cpu_keeps_the_model():
    assert short_cpu("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz") == "Intel Xeon Platinum 8375C"


@pytest.mark.parametrize("document, message", [
    ({"schema": "something-else"}, "not a pytest-rnnbench results file"),
    ({"schema": "pytest-rnnbench/results", "version": 99, "machine": {}, "results": {}},
     "results format version 99 is not supported"),
    ({"schema": "pytest-rnnbench/results", "version": 1, "results": {}}, "'machine' section"),
])
def test_bad_results_documents_are_refused_with_the_reason(document, message):
    with pytest.raises(ResultsError, match=message):
        check(document, "run.json")
