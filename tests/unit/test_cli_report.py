"""The report command (cli/report.py), called in this process: merging results files into one
report. `python -m pytest_rnnbench report` in a process of its own is in
tests/acceptance/test_cli_e2e.py.
"""

from __future__ import annotations

import argparse
import json

import pytest

from helpers import RESULT_FILES, fixed_report
from pytest_rnnbench.cli import report as cli_report
from pytest_rnnbench.report import charts, markdown


def report_main(argv: list[str]) -> int:
    """The report command as __main__ wires it, without depending on the other commands."""
    parser = argparse.ArgumentParser(prog="python -m pytest_rnnbench")
    commands = parser.add_subparsers(dest="command", required=True)
    cli_report.add_parser(commands)
    args = parser.parse_args(argv)
    return int(args.handler(args))


@pytest.mark.slow  # matplotlib renders every chart: about 3 s
def test_report_merges_files_into_markdown_charts_and_export(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "out" / "RESULTS.md"
    code = report_main(
        [
            "report",
            *map(str, RESULT_FILES),
            "-o",
            str(out),
            "--plots",
            str(tmp_path / "out" / "plots"),
            "--benchmark-json",
            str(tmp_path / "bench.json"),
        ]
    )
    assert code == 0
    report = fixed_report()
    assert out.read_text() == markdown.render(report, "plots") + "\n"
    for spec in charts.plan(report):
        assert (tmp_path / "out" / "plots" / spec.filename("speed")).is_file()
    assert json.loads((tmp_path / "bench.json").read_text())["benchmarks"]
    captured = capsys.readouterr()
    assert captured.out.startswith("synthetic, 256 samples/epoch")  # the terminal tables
    assert f"markdown report written to {out}" in captured.err


def test_report_without_output_prints_markdown(capsys):
    assert report_main(["report", str(RESULT_FILES[0]), "--title", "Nightly"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("# Nightly\n")
    assert "synthetic, 256 samples/epoch" in captured.err


def test_unreadable_results_file_is_an_error_naming_it(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert report_main(["report", str(RESULT_FILES[0]), str(bad)]) == 2
    assert f"error: {bad}: not a JSON file" in capsys.readouterr().err
    assert report_main(["report", str(tmp_path / "missing.json")]) == 2
    assert "missing.json: cannot read results file" in capsys.readouterr().err


def test_report_writes_the_pull_request_comment_of_one_results_file(tmp_path, capsys):
    from pytest_rnnbench.report import comment
    from pytest_rnnbench.results.read import load

    out, posted = tmp_path / "R.md", tmp_path / "comment.md"
    code = report_main(["report", str(RESULT_FILES[0]), "-o", str(out), "--comment", str(posted)])
    assert code == 0
    assert posted.read_text() == comment.render(load(RESULT_FILES[0]))
    err = capsys.readouterr().err.splitlines()
    assert err[-2:] == [
        f"markdown report written to {out}",
        f"pull-request comment written to {posted}",
    ]


def test_the_comment_of_a_merge_and_charts_without_matplotlib_are_refused(
    tmp_path, capsys, monkeypatch
):
    posted = tmp_path / "comment.md"
    assert report_main(["report", *map(str, RESULT_FILES), "--comment", str(posted)]) == 2
    assert "error: --comment renders one results file" in capsys.readouterr().err
    monkeypatch.setattr(cli_report, "plots_available", lambda: False)
    assert report_main(["report", str(RESULT_FILES[0]), "--plots", str(tmp_path / "p")]) == 2
    assert (
        "error: --plots needs matplotlib: pip install 'pytest-rnnbench[plots]'"
        in capsys.readouterr().err
    )
    assert list(tmp_path.iterdir()) == []


def test_a_results_file_without_cases_still_gets_its_comment(tmp_path, capsys):
    empty = json.loads(RESULT_FILES[0].read_text())
    empty["results"], empty["failures"] = {}, {}
    path, posted = tmp_path / "empty.json", tmp_path / "comment.md"
    path.write_text(json.dumps(empty))
    assert report_main(["report", str(path), "--comment", str(posted)]) == 1
    assert "error: the results files hold no case" in capsys.readouterr().err
    assert posted.read_text().startswith("<!-- pytest-rnnbench:pr-comment -->\n")


def test_a_malformed_case_is_an_error_naming_the_file_and_writes_nothing(tmp_path, capsys):
    document = json.loads(RESULT_FILES[0].read_text())
    document["failures"] = {"tensorflow-gpu0-b32-unroll-../../x": "killed"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    out = tmp_path / "R.md"
    assert report_main(["report", str(bad), "-o", str(out)]) == 2
    assert f"error: {bad}: case id 'tensorflow-gpu0-b32-unroll-../../x' is not of the form" in (
        capsys.readouterr().err
    )
    assert not out.exists()
