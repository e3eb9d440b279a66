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
