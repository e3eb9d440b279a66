"""The report command (cli/report.py), called in this process: merging results files into one
report. `python -m pytest_rnnbench report` in a process of its own is in
tests/acceptance/test_cli_e2e.py.
"""

from __future__ import annotations

import argparse
import json

import pytest

from helpers import RESULT_FILES, fixed_report
from pytest_rnnbench.cli import main as cli_main
from pytest_rnnbench.cli import report as cli_report
from pytest_rnnbench.report import charts, markdown
from pytest_rnnbench.report.outputs import plots_available


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
    exported = json.loads((tmp_path / "bench.json").read_text())
    assert exported["benchmarks"]
    # When the latest of the files was written, as a run's own export says.
    latest = max(json.loads(path.read_text())["written"] for path in RESULT_FILES)
    assert exported["datetime"] == latest
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


def _mangled(change) -> dict:
    """A real results file with one field of the wrong kind (`change` mutates it)."""
    document = json.loads(RESULT_FILES[0].read_text())
    document.setdefault("verdicts", {})
    change(document, next(iter(document["results"])))
    return document


WRONG_KINDS = {
    "a result that is a number": (
        lambda d, c: d["results"].__setitem__(c, 5),
        "results['{case}']: int, expected an object",
    ),
    "failures as a list": (lambda d, c: d.__setitem__("failures", ["a"]), "failures: list"),
    "verdicts as a list": (lambda d, c: d.__setitem__("verdicts", ["a"]), "verdicts: list"),
    "a worker that is a list": (
        lambda d, c: d["results"][c].__setitem__("worker", [1]),
        "results['{case}'].worker: list",
    ),
    "epochs as a number": (
        lambda d, c: d["results"][c].__setitem__("epoch_seconds_all", 3),
        "results['{case}'].epoch_seconds_all: int, expected a list",
    ),
    "a memory figure in text": (
        lambda d, c: d["results"][c].__setitem__("gpu_nvml_process_peak_bytes", "a"),
        "results['{case}'].gpu_nvml_process_peak_bytes: str, expected a number",
    ),
    "a change in text": (
        lambda d, c: d["verdicts"].__setitem__(c, {"verdict": "pass", "change": "abc"}),
        "verdicts['{case}'].change: str, expected a number",
    ),
    "a metric that is text": (
        lambda d, c: d["verdicts"].__setitem__(c, {"verdict": "pass", "metrics": {"x": "y"}}),
        "verdicts['{case}'].metrics['x']: str, expected an object",
    ),
    "a confidence in text": (
        lambda d, c: d["verdicts"].__setitem__(
            c, {"verdict": "pass", "metrics": {"step_time": {"confidence": "high"}}}
        ),
        "verdicts['{case}'].metrics['step_time'].confidence: str, expected a number",
    ),
    # Entries are never null, step times are positive seconds, counts are finite.
    "a null result": (
        lambda d, c: d["results"].__setitem__(c, None),
        "results['{case}']: null, expected an entry",
    ),
    "a null verdict": (
        lambda d, c: d["verdicts"].__setitem__(c, None),
        "verdicts['{case}']: null, expected an entry",
    ),
    "a null metric": (
        lambda d, c: d["verdicts"].__setitem__(c, {"verdict": "pass", "metrics": {"x": None}}),
        "verdicts['{case}'].metrics['x']: null, expected an entry",
    ),
    "epochs that are numbers": (
        lambda d, c: d["results"][c]["worker"].__setitem__("epochs", [1, 2]),
        "results['{case}'].worker.epochs[0]: int, expected an object",
    ),
    "a step time in text": (
        lambda d, c: d["results"][c]["worker"]["epochs"][0]["step_seconds"].__setitem__(0, "x"),
        "results['{case}'].worker.epochs[0].step_seconds[0]: 'x', expected a positive number",
    ),
    "a step time of zero": (
        lambda d, c: d["results"][c]["worker"]["epochs"][0]["step_seconds"].__setitem__(0, 0),
        "results['{case}'].worker.epochs[0].step_seconds[0]: 0, expected a positive number",
    ),
    "a memory figure that is not a number": (
        lambda d, c: d["results"][c].__setitem__("gpu_nvml_process_peak_bytes", float("nan")),
        "results['{case}'].gpu_nvml_process_peak_bytes: nan, expected a finite number",
    ),
    # What compare and the verdicts read of a worker (a traceback there exited 1: a regression).
    "a worker's final loss in text": (
        lambda d, c: d["results"][c]["worker"].__setitem__("final_loss", "x"),
        "results['{case}'].worker.final_loss: str, expected a number",
    ),
    "a worker's versions in text": (
        lambda d, c: d["results"][c]["worker"].__setitem__("versions", "x"),
        "results['{case}'].worker.versions: str, expected an object",
    ),
    "a worker's GPU memory as a flag": (
        lambda d, c: d["results"][c]["worker"].__setitem__("gpu_memory", True),
        "results['{case}'].worker.gpu_memory: bool, expected an object",
    ),
    "an epoch's worker in text": (
        lambda d, c: d["results"][c]["worker"]["epochs"][0].__setitem__("worker", "x"),
        "results['{case}'].worker.epochs[0].worker: str, expected a number",
    ),
    "a worker's host memory in text": (
        lambda d, c: d["results"][c]["worker"].__setitem__("host_peak_rss_bytes", "x"),
        "results['{case}'].worker.host_peak_rss_bytes: str, expected a number",
    ),
    "a result's own verdict with a change in text": (
        lambda d, c: d["results"][c].__setitem__("verdict", {"verdict": "pass", "change": "x"}),
        "results['{case}'].verdict.change: str, expected a number",
    ),
    # What the run was (report, the comment, history and compare read it): its machine, the
    # commit it started in, the gate's two trees, when it was written.
    "a machine's GPUs as a count": (
        lambda d, c: d["machine"].__setitem__("gpus", 1),
        "machine.gpus: int, expected a list",
    ),
    "a machine's GPU without a name": (
        lambda d, c: d["machine"].__setitem__("gpus", [None]),
        "machine.gpus[0]: null, expected text",
    ),
    "a machine's CPU count that is not a number": (
        lambda d, c: d["machine"].__setitem__("cpus", float("inf")),
        "machine.cpus: inf, expected a finite number",
    ),
    "a machine's driver as a number": (
        lambda d, c: d["machine"].__setitem__("driver", 550),
        "machine.driver: int, expected text",
    ),
    "a source commit as a number": (
        lambda d, c: d.__setitem__("source", {"commit": 12345}),
        "source.commit: int, expected text",
    ),
    "a gate side named in text": (
        lambda d, c: d.__setitem__("gate", {"base": "master"}),
        "gate.base: str, expected an object",
    ),
    "a gate side's commit as a number": (
        lambda d, c: d.__setitem__("gate", {"head": {"commit": 12345}}),
        "gate.head.commit: int, expected text",
    ),
    "a written time as a number": (
        lambda d, c: d.__setitem__("written", 5),
        "written: int, expected text",
    ),
    "a case not judged without a reason": (
        lambda d, c: d.__setitem__("not_judged", {c: None}),
        "not_judged['{case}']: null, expected an entry",
    ),
    # Epoch times are finite seconds (the pytest-benchmark export's statistics).
    "an epoch time that is null": (
        lambda d, c: d["results"][c]["epoch_seconds_all"].__setitem__(0, None),
        "results['{case}'].epoch_seconds_all[0]: null, expected a number",
    ),
    "an epoch time that is not a number": (
        lambda d, c: d["results"][c]["epoch_seconds_all"].__setitem__(0, float("nan")),
        "results['{case}'].epoch_seconds_all[0]: nan, expected a finite number",
    ),
    # The objects of a worker's message that rows, compare, the verdicts and history read.
    "a worker's case with a batch size that is not a number": (
        lambda d, c: d["results"][c]["worker"]["case"].__setitem__("batch_size", float("inf")),
        "results['{case}'].worker.case.batch_size: inf, expected a finite number",
    ),
    "a worker's Python version as a number": (
        lambda d, c: d["results"][c]["worker"].__setitem__("python", {"version": 3.11}),
        "results['{case}'].worker.python.version: float, expected text",
    ),
    "a worker's thread pools as a list": (
        lambda d, c: d["results"][c]["worker"].__setitem__("run", {"thread_pools": ["x"]}),
        "results['{case}'].worker.run.thread_pools: list, expected text",
    ),
    "a worker's keras origin in text": (
        lambda d, c: d["results"][c]["worker"].__setitem__("keras_origin", "x"),
        "results['{case}'].worker.keras_origin: str, expected an object",
    ),
    "a worker's NVML peak that is not a number": (
        lambda d, c: d["results"][c]["worker"].__setitem__(
            "gpu_memory", {"nvml_process_peak_bytes": float("nan")}
        ),
        "results['{case}'].worker.gpu_memory.nvml_process_peak_bytes: nan, expected a finite",
    ),
    "a worker's other GPU processes as a count": (
        lambda d, c: d["results"][c]["worker"].__setitem__(
            "gpu_memory", {"nvml_other_processes": 3}
        ),
        "results['{case}'].worker.gpu_memory.nvml_other_processes: int, expected a list",
    ),
    "a worker's probe time that is null": (
        lambda d, c: d["results"][c]["worker"].__setitem__("worker_probe_ms", [None]),
        "results['{case}'].worker.worker_probe_ms[0]: null, expected a number",
    ),
    "a worker's turn size that is not a number": (
        lambda d, c: d["results"][c]["worker"].__setitem__("turn_steps", float("nan")),
        "results['{case}'].worker.turn_steps: nan, expected a finite number",
    ),
    "an epoch's worker that is not a number": (
        lambda d, c: d["results"][c]["worker"]["epochs"][0].__setitem__("worker", float("nan")),
        "results['{case}'].worker.epochs[0].worker: nan, expected a finite number",
    ),
    "an epoch's CPU time in text": (
        lambda d, c: d["results"][c]["worker"]["epochs"][0].__setitem__(
            "cpu", {"own_seconds": "x"}
        ),
        "results['{case}'].worker.epochs[0].cpu.own_seconds: str, expected a number",
    ),
    "a verdict's family with a case count that is not a number": (
        lambda d, c: d["verdicts"].__setitem__(
            c, {"verdict": "pass", "family": {"cases": float("inf")}}
        ),
        "verdicts['{case}'].family.cases: inf, expected a finite number",
    ),
}


@pytest.mark.parametrize("kind", WRONG_KINDS)
def test_a_field_of_the_wrong_kind_is_an_error_naming_it_not_a_traceback(kind, tmp_path, capsys):
    change, message = WRONG_KINDS[kind]
    document = _mangled(change)
    case_id = next(iter(json.loads(RESULT_FILES[0].read_text())["results"]))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    for extra in ([], ["--comment", str(tmp_path / "c.md")]):
        assert report_main(["report", str(bad), *extra]) == 2
        err = capsys.readouterr().err
        assert f"error: {bad}: malformed " + message.format(case=case_id) in err, err


@pytest.mark.parametrize("kind", [kind for kind in WRONG_KINDS if "worker" in kind])
def test_compare_refuses_a_worker_field_of_the_wrong_kind_with_exit_2(kind, tmp_path, capsys):
    change, message = WRONG_KINDS[kind]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_mangled(change)))
    assert cli_main(["compare", str(RESULT_FILES[0]), str(bad)]) == 2
    assert f"error: {bad}: malformed " in capsys.readouterr().err


def test_a_verdict_written_as_its_bare_word_is_shown_in_the_comment(tmp_path, capsys):
    document = _mangled(lambda d, c: d["verdicts"].__setitem__(c, "regression"))
    path, posted = tmp_path / "words.json", tmp_path / "comment.md"
    path.write_text(json.dumps(document))
    assert report_main(["report", str(path), "--comment", str(posted)]) == 0
    assert "1 regression" in posted.read_text().splitlines()[1]


def test_every_output_is_checked_before_any_is_written(tmp_path, capsys, monkeypatch):
    """A comment path that is a folder was found after the report and export were written."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    out = tmp_path / "R.md"
    code = report_main(["report", str(RESULT_FILES[0]), "-o", str(out), "--comment", str(folder)])
    assert code == 2
    assert f"error: pull-request comment: {folder} is a directory" in capsys.readouterr().err
    assert not out.exists()
    plots_on_a_file = [
        "report",
        str(RESULT_FILES[0]),
        "-o",
        str(out),
        "--plots",
        str(RESULT_FILES[0]),
    ]
    assert report_main(plots_on_a_file) == 2
    said = f"{RESULT_FILES[0]} is not a directory" if plots_available() else "needs matplotlib"
    assert said in capsys.readouterr().err
    assert not out.exists()
    # The job summary is appended to: its folder must be there (GitHub's file always is).
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "no" / "summary.md"))
    assert report_main(["report", str(RESULT_FILES[0]), "-o", str(out)]) == 2
    said = f"error: job summary: {tmp_path / 'no'} is not a directory"
    assert said in capsys.readouterr().err
    assert not out.exists()
