"""The output registry (report/outputs.py): every format one row, written by publish_outputs and
announced by written_lines, for the plugin's settings and the report command's arguments alike."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from helpers import RESULT_FILES, documents, fixed_report
from pytest_rnnbench.report import comment, markdown, outputs
from pytest_rnnbench.report.outputs import OUTPUTS, publish_outputs, written_lines
from pytest_rnnbench.report.pytest_benchmark import to_pytest_benchmark
from pytest_rnnbench.results.rows import Report
from pytest_rnnbench.settings import Settings


def test_every_row_names_a_real_option_ini_key_and_settings_field(pytester: pytest.Pytester):
    fields = {field.name for field in dataclasses.fields(Settings)}
    for output in OUTPUTS:
        assert (output.option is None) == (output.ini is None) == (output.settings_field is None)
        if output.option is None:
            assert output.env, f"{output.name}: nothing asks for it"
            continue
        assert output.settings_field in fields, output.name
        config = pytester.parseconfig(f"{output.option}=x")
        assert config.getoption(output.ini) == "x", output.name
        assert config.getini(output.ini) in (None, "", []), output.name  # ValueError if unknown


def test_the_names_flags_and_dests_are_unique():
    for attribute in ("name", "option", "dest"):
        values = [getattr(o, attribute) for o in OUTPUTS if o.cli or attribute != "dest"]
        values = [value for value in values if value is not None]
        assert len(values) == len(set(values)), attribute


def test_every_output_is_written_and_announced(tmp_path):
    """The whole registry but the charts (tests/acceptance/test_report_e2e.py draws those)."""
    document = json.loads(RESULT_FILES[0].read_text())
    report = fixed_report()
    paths = {
        "markdown": tmp_path / "out" / "RESULTS.md",
        "pytest-benchmark": tmp_path / "bench.json",
        "job-summary": tmp_path / "summary.md",
        "comment": tmp_path / "comment.md",
    }
    paths["job-summary"].write_text("earlier step\n")
    done, failed = publish_outputs(report, paths, document=document, title="Nightly", written="T")
    assert failed == []
    assert [w.output.name for w in done] == [
        "markdown",
        "pytest-benchmark",
        "job-summary",
        "comment",
    ]
    assert paths["markdown"].read_text() == markdown.render(report, None, "Nightly") + "\n"
    exported = json.loads(paths["pytest-benchmark"].read_text())
    assert exported == json.loads(json.dumps(to_pytest_benchmark(report, "T")))
    assert paths["job-summary"].read_text() == (
        "earlier step\n" + markdown.step_summary(report) + "\n"
    )  # appended: the job summary collects every step's part
    assert paths["comment"].read_text() == comment.render(document)
    assert written_lines(done) == [
        f"markdown report written to {paths['markdown']}",
        f"pytest-benchmark JSON written to {paths['pytest-benchmark']}",
        f"job summary written to {paths['job-summary']}",
        f"pull-request comment written to {paths['comment']}",
    ]


def test_the_markdown_links_to_the_charts_relative_to_itself(tmp_path, monkeypatch):
    drawn = []
    charts_row = outputs.BY_NAME["charts"]

    def draw(rendering, directory):  # the real charts need matplotlib: drawn in the e2e test
        drawn.append(directory)
        return [directory / "lstm_Synthetic_32.png", directory / "memory_Synthetic_32.png"]

    rows = tuple(
        dataclasses.replace(charts_row, write=draw) if o is charts_row else o for o in OUTPUTS
    )
    monkeypatch.setattr(outputs, "OUTPUTS", rows)
    report = fixed_report()
    paths = {"charts": tmp_path / "site" / "plots", "markdown": tmp_path / "site" / "R.md"}
    done, _ = publish_outputs(report, paths)
    assert drawn == [paths["charts"]]
    assert paths["markdown"].read_text() == markdown.render(report, "plots") + "\n"
    assert written_lines(done) == [
        f"markdown report written to {paths['markdown']}",
        f"2 charts written to {paths['charts']}",  # the folder once, after the files
    ]


def test_a_run_without_cases_writes_only_the_pull_request_comment(tmp_path):
    document = dict(documents()[0][1], results={}, failures={})
    paths = {"markdown": tmp_path / "R.md", "comment": tmp_path / "comment.md"}
    done, _ = publish_outputs(Report(), paths, document=document)
    assert [w.output.name for w in done] == ["comment"]
    assert not paths["markdown"].exists()
    assert paths["comment"].read_text() == comment.render(document)


def test_an_output_that_cannot_be_written_is_said_and_the_comment_still_written(tmp_path):
    """The job summary comes before the comment: a path of it that is a folder (or a full disk)
    lost the pull request its comment after an hour's run."""
    document = json.loads(RESULT_FILES[0].read_text())
    paths = {"job-summary": tmp_path / "a-folder", "comment": tmp_path / "comment.md"}
    paths["job-summary"].mkdir()
    done, failed = publish_outputs(fixed_report(), paths, document=document)
    assert [w.output.name for w in done] == ["comment"]
    assert paths["comment"].read_text() == comment.render(document)
    assert failed == [
        f"job summary not written to {paths['job-summary']} ($GITHUB_STEP_SUMMARY): Is a directory"
    ]


def test_the_comment_needs_a_results_document_and_unknown_outputs_are_refused(tmp_path):
    with pytest.raises(ValueError, match="one run's results document"):
        publish_outputs(fixed_report(), {"comment": tmp_path / "c.md"})
    with pytest.raises(ValueError, match="no output format named html"):
        publish_outputs(fixed_report(), {"html": tmp_path / "r.html"})
    assert list(tmp_path.iterdir()) == []


def test_settings_arguments_and_environment_ask_for_outputs(tmp_path):
    settings = Settings(report_path=tmp_path / "R.md", comment_path=tmp_path / "c.md")
    environ = {"GITHUB_STEP_SUMMARY": f" {tmp_path / 's.md'} "}
    assert outputs.from_settings(settings, environ) == {
        "markdown": tmp_path / "R.md",
        "comment": tmp_path / "c.md",
        "job-summary": tmp_path / "s.md",
    }
    args = type("Args", (), {"output": None, "plots": Path("p"), "benchmark_json": None})()
    assert outputs.from_arguments(args, {}) == {"charts": Path("p")}
