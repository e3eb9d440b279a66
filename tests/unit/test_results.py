"""Results files read into a report (results/read.py): merging, verdicts, machine names, and
documents that are refused."""

from __future__ import annotations

import copy

import pytest

from helpers import VERDICTS, documents
from pytest_rnnbench.machine import instance_name, short_cpu
from pytest_rnnbench.matrix import Case
from pytest_rnnbench.report import markdown, terminal
from pytest_rnnbench.results.read import build_report, parse_verdict, rows_of
from pytest_rnnbench.results.schema import ResultsError, check


def test_merge_combines_machines_and_later_file_replaces_same_case():
    docs = documents()
    other = copy.deepcopy(docs[0][1])
    other["machine"] = {
        "cpu": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
        "cpus": 8,
        "gpus": ["NVIDIA A10G"] * 4,
        "driver": "550.54",
        "cuda": "12.4",
    }
    rerun = copy.deepcopy(docs[0][1])
    case_id = next(iter(rerun["results"]))
    rerun["results"] = {case_id: rerun["results"][case_id]}
    rerun["results"][case_id]["epoch_seconds"] = 99.0
    merged = build_report([*docs, ("p3.json", other), ("rerun.json", rerun)])
    assert set(merged.machines) == {"Intel Xeon, 2 CPUs", "4x NVIDIA A10G"}
    replaced = [
        row
        for row in merged.rows
        if row.case_id == case_id and row.instance == "Intel Xeon, 2 CPUs"
    ]
    assert [row.epoch_seconds for row in replaced] == [99.0]
    assert merged.notes == [
        f"{case_id} on Intel Xeon, 2 CPUs: rerun.json replaces results-synthetic.json"
    ]
    rendered = markdown.render(merged)
    assert "| 4x NVIDIA A10G" in rendered and "CUDA              | v12.4" in rendered
    lines = terminal.terminal_tables(merged)
    assert max(map(len, lines)) <= 120 and any(line.startswith("4x NVIDIA A10G") for line in lines)


def test_verdicts_as_the_verdict_module_writes_them_are_read():
    from pytest_rnnbench.verdicts import verdict

    metric = verdict.MetricVerdict(
        "step_time", verdict.REGRESSION, baseline=20.0, now=23.0, change=0.15, tolerance=0.05
    )
    case = verdict.CaseVerdict(
        "tensorflow-gpu0-b32-unroll-synthetic", verdict.REGRESSION, (metric,)
    )
    parsed = parse_verdict(case.to_dict())
    assert parsed.verdict == "regression" and parsed.change == pytest.approx(0.15)
    assert parsed.baseline_step_ms == 20.0 and parsed.now_step_ms == 23.0
    assert parsed.reason.startswith("tensorflow-gpu0-b32-unroll-synthetic: regression")
    assert set(VERDICTS["jax-gpu0-b32-unroll-synthetic"]) <= set(case.to_dict())
    assert parsed.time_verdict == "regression"
    # The case is the worst of its metrics; the time's own outcome is kept apart (bisect).
    rss = verdict.MetricVerdict("host_peak_rss", verdict.REGRESSION, change=0.3, tolerance=0.2)
    quiet = verdict.MetricVerdict("step_time", verdict.PASS, change=0.01, tolerance=0.05)
    both = verdict.CaseVerdict(
        "tensorflow-gpu0-b32-unroll-synthetic", verdict.REGRESSION, (quiet, rss)
    )
    parsed = parse_verdict(both.to_dict())
    assert parsed.verdict == "regression" and parsed.time_verdict == "pass"
    assert parse_verdict("regression").time_verdict == "regression"  # a bare word: all there is


@pytest.mark.parametrize(
    "machine, name",
    [
        ({"cpu": "Intel(R) Xeon(R) Processor", "cpus": 2, "gpus": []}, "Intel Xeon, 2 CPUs"),
        (
            {"cpu": "AMD EPYC 7R13 48-Core Processor", "cpus": 96, "gpus": []},
            "AMD EPYC 7R13, 96 CPUs",
        ),
        ({"cpu": "x", "cpus": 8, "gpus": ["NVIDIA H200"] * 8}, "8x NVIDIA H200"),
        ({"name": "p3.8xlarge", "cpu": "x", "gpus": ["Tesla V100-SXM2-16GB"] * 4}, "p3.8xlarge"),
    ],
)
def test_instance_names_are_readable(machine, name):
    assert instance_name(machine) == name


def test_short_cpu_keeps_the_model():
    assert short_cpu("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz") == "Intel Xeon Platinum 8375C"


@pytest.mark.parametrize(
    "document, message",
    [
        ({"schema": "something-else"}, "not a pytest-rnnbench results file"),
        (
            {"schema": "pytest-rnnbench/results", "version": 99, "machine": {}, "results": {}},
            "results format version 99 is not supported",
        ),
        ({"schema": "pytest-rnnbench/results", "version": 1, "results": {}}, "'machine' section"),
    ],
)
def test_bad_results_documents_are_refused_with_the_reason(document, message):
    with pytest.raises(ResultsError, match=message):
        check(document, "run.json")


def test_a_case_id_that_case_id_cannot_have_made_is_refused_naming_the_file():
    document = copy.deepcopy(documents()[0][1])
    document["failures"] = {"tensorflow-gpu01-b32-unroll-synthetic": "killed"}
    with pytest.raises(ResultsError) as caught:
        build_report([("night.json", document)])
    assert str(caught.value) == (
        "night.json: case id 'tensorflow-gpu01-b32-unroll-synthetic' is not of the form "
        "BACKEND-gpuN-bSIZE-unroll|nounroll-DATASET"
    )


def test_a_worker_case_names_its_case_and_must_use_plain_names():
    document = copy.deepcopy(documents()[0][1])
    case_id, entry = next(iter(document["results"].items()))
    row = next(row for row in rows_of(document) if row.case_id == case_id)
    assert row.case == Case.from_id(case_id)  # the worker's case: the same values as its id
    entry["worker"]["case"]["dataset"] = "../escaped"
    with pytest.raises(ResultsError, match=r"dataset '../escaped' is not a plain name"):
        rows_of(document, "night.json")


def test_a_verdict_of_0_1_with_its_time_metric_named_epoch_time_is_read() -> None:
    old = {"verdict": "pass", "metrics": {"epoch_time": {"baseline": 20.0, "now": 21.0}}}
    parsed = parse_verdict(old)
    assert parsed is not None and parsed.baseline_step_ms == 20.0


def test_a_cap_above_the_dataset_is_not_called_a_cap() -> None:
    # The worker reports the --rnnbench-samples it was given even when the dataset is smaller.
    document = copy.deepcopy(documents()[0][1])
    case_id, entry = next(iter(document["results"].items()))
    entry["worker"]["samples_cap"] = entry["samples"] * 10
    assert not next(r for r in rows_of(document) if r.case_id == case_id).samples_capped
    entry["worker"]["samples_cap"] = entry["samples"]
    assert next(r for r in rows_of(document) if r.case_id == case_id).samples_capped
