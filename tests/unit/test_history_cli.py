"""The history command (cli/history.py), called in this process: the page and the charts from the
real series of tests/data/history/, the job summary, exit codes, bad input refused before anything
is written; and the charts checked as images."""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys

import pytest

from helpers import DATA, RESULT_FILES, tiny_tf_args
from pytest_rnnbench.cli import history as cli_history
from pytest_rnnbench.history import series as history
from pytest_rnnbench.history.changes import OTAVA_INSTALL
from pytest_rnnbench.report import history_charts, history_page

pytest.importorskip("otava.analysis", reason=f"the history command needs Otava: {OTAVA_INSTALL}")

REAL_CHANGE = sorted((DATA / "history" / "rnn-work-16").glob("run-*.json"))
NO_CHANGE = sorted((DATA / "history" / "no-change").glob("run-*.json"))
FOLDER = "intel-xeon-2-cpus"


def history_main(argv: list[str]) -> int:
    """The history command as __main__ wires it, without depending on the other commands."""
    parser = argparse.ArgumentParser(prog="python -m pytest_rnnbench")
    commands = parser.add_subparsers(dest="command", required=True)
    cli_history.add_parser(commands)
    args = parser.parse_args(argv)
    return int(args.handler(args))


def test_the_page_goes_to_a_directory_and_the_job_summary(tmp_path, capsys, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = tmp_path / "history"
    code = history_main(["history", *map(str, REAL_CHANGE), "-o", str(out), "--no-charts"])
    assert code == 0
    page = (out / "history.md").read_text()
    assert "**+19.4%** at run 16" in page and "### Charts" not in page
    assert summary.read_text() == "earlier step\n" + page + "\n"
    captured = capsys.readouterr()
    assert captured.out.startswith("history: 27 runs, 1 series, 1 change point(s) in seconds")
    assert f"history page written to {out / 'history.md'}" in captured.err
    assert sorted(path.name for path in out.iterdir()) == ["history.md"]


def test_without_output_the_page_goes_to_standard_output(capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert history_main(["history", *map(str, NO_CHANGE), "--metric", "rss"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("# Benchmark history\n")
    assert "Metric: peak host memory (RSS)" in captured.out
    assert "None: every series stayed within its noise." in captured.out


def test_a_bad_file_among_many_is_named_and_nothing_is_written(tmp_path, capsys):
    cut = tmp_path / "run-99.json"
    cut.write_text(REAL_CHANGE[-1].read_text()[:1000])
    out = tmp_path / "history"
    assert history_main(["history", *map(str, REAL_CHANGE), str(cut), "-o", str(out)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {cut}: not a JSON file")
    assert not out.exists()


def test_unwritable_outputs_and_malformed_entries_are_errors_naming_the_path(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    files = [str(path) for path in NO_CHANGE[:3]]
    a_file = tmp_path / "taken"
    a_file.write_text("not a directory")
    assert history_main(["history", *files, "-o", str(a_file), "--no-charts"]) == 2
    assert f"error: -o {a_file}: not a directory" in capsys.readouterr().err
    # The job summary cannot be appended to: an error before anything is written (exit 2 writes
    # nothing, as tracking.md says; the page was written first).
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "no" / "such" / "summary.md"))
    out = tmp_path / "out"
    assert history_main(["history", *files, "-o", str(out), "--no-charts"]) == 2
    said = f"error: GITHUB_STEP_SUMMARY: {tmp_path / 'no' / 'such'} is not a directory"
    assert said in capsys.readouterr().err
    assert not out.exists()
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    document = json.loads(NO_CHANGE[0].read_text())
    document["results"][next(iter(document["results"]))] = ["not", "an", "object"]
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps(document))
    assert history_main(["history", str(odd), *files[1:], "--no-charts"]) == 2
    assert f"error: {odd}: malformed results[" in capsys.readouterr().err


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["source"].__setitem__("commit", 12345), "source.commit: int, expected text"),
        (
            lambda d: d.__setitem__("gate", {"head": {"commit": ["x"]}}),
            "gate.head.commit: list, expected text",
        ),
        (lambda d: d["machine"].__setitem__("gpus", 1), "machine.gpus: int, expected a list"),
        (
            lambda d: next(iter(d["results"].values()))["worker"].__setitem__(
                "python", {"version": 3.11}
            ),
            "worker.python.version: float, expected text",
        ),
    ],
    ids=["source commit", "gate head commit", "machine GPUs", "worker Python"],
)
def test_a_field_the_suspects_read_of_the_wrong_kind_is_refused_naming_it(
    change, message, tmp_path, capsys
):
    # Run 16 is the first after the change point: its commits, machine and worker's Python are
    # compared with run 15's (history/suspects.py), where a traceback exited 1.
    document = json.loads(REAL_CHANGE[15].read_text())
    change(document)
    odd = tmp_path / REAL_CHANGE[15].name
    odd.write_text(json.dumps(document))
    files = [*REAL_CHANGE[:15], odd, *REAL_CHANGE[16:]]
    out = tmp_path / "history"
    assert history_main(["history", *map(str, files), "-o", str(out), "--no-charts"]) == 2
    err = capsys.readouterr().err
    assert f"error: {odd}: malformed " in err and message in err, err
    assert not out.exists()


def test_a_run_with_a_failure_is_named_and_shown(tmp_path, capsys):
    failed = json.loads(REAL_CHANGE[5].read_text())
    case_id = next(iter(failed["results"]))
    del failed["results"][case_id]
    failed["failures"] = {case_id: "worker timed out after 600 s"}
    path = tmp_path / "run-06.json"
    path.write_text(json.dumps(failed))
    files = [*REAL_CHANGE[:5], path, *REAL_CHANGE[6:]]
    assert (
        history_main(["history", *map(str, files), "-o", str(tmp_path / "h"), "--no-charts"]) == 0
    )
    err = capsys.readouterr().err
    assert f"note: {path}: {case_id} failed (worker timed out after 600 s)" in err
    page = (tmp_path / "h" / "history.md").read_text()
    shown = history_page.plain(str(path))  # the tmp_path's "_" are escaped in markdown
    assert f"- `{case_id}`, run 6 ({shown}): worker timed out after 600 s" in page
    assert "**+19.4%** at run 16" in page


def test_files_without_a_case_exit_1(tmp_path, capsys):
    empty = json.loads(RESULT_FILES[0].read_text())
    empty["results"] = {}
    path = tmp_path / "empty.json"
    path.write_text(json.dumps(empty))
    assert history_main(["history", str(path), "-o", str(tmp_path / "h")]) == 1
    assert "error: the results files hold no case" in capsys.readouterr().err
    assert not (tmp_path / "h").exists()


def test_missing_otava_or_matplotlib_is_a_usage_error_naming_the_install(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "otava.analysis", None)
    assert history_main(["history", str(REAL_CHANGE[0]), "-o", str(tmp_path / "h")]) == 2
    assert capsys.readouterr().err == (
        "error: history needs Apache Otava: pip install --no-deps 'apache-otava==0.8.0'\n"
    )
    monkeypatch.undo()
    monkeypatch.setattr(cli_history, "plots_available", lambda: False)
    assert history_main(["history", str(REAL_CHANGE[0]), "-o", str(tmp_path / "h")]) == 2
    assert "charts need matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "h").exists()


@pytest.mark.parametrize(
    "option, message",
    [
        (["--max-pvalue", "2"], "expected a p-value between 0 and 1, got '2'"),
        (["--min-change", "lots"], "--min-change"),
        (["--window", "2"], "expected a whole number of runs >= 4, got '2'"),
        (["--metric", "speed"], "invalid choice: 'speed'"),
    ],
)
def test_bad_options_are_refused(option, message, capsys):
    with pytest.raises(SystemExit) as caught:
        history_main(["history", str(REAL_CHANGE[0]), *option])
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


# -- the charts, as images -------------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a valid PNG has first."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return struct.unpack(">II", data[16:24])


def pixels_near(image, colour: str, within: float = 0.12) -> int:
    """How many pixels are within `within` (per channel, 0..1) of the colour "#RRGGBB"."""
    import numpy

    rgb = numpy.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((numpy.abs(image[:, :, :3] - rgb).max(axis=2) < within).sum())


@pytest.mark.slow  # matplotlib draws four charts: about 3 s
def test_the_charts_show_the_line_its_levels_and_the_change_point(tmp_path, capsys):
    image = pytest.importorskip("matplotlib.image")

    for name, files in (("change", REAL_CHANGE), ("none", NO_CHANGE)):
        assert history_main(["history", *map(str, files), "-o", str(tmp_path / name)]) == 0
    width, height = history_charts.figure_size_px(27)
    assert (width, height) == (1750, 600)
    mxnet = "#3366CC"
    drawn = {}
    for name, runs in (("change", 27), ("none", 24)):
        for chart in ("lstm_Synthetic_128.png", "memory_Synthetic_128.png"):
            path = tmp_path / name / FOLDER / chart
            assert png_size(path.read_bytes()) == history_charts.figure_size_px(runs), path
            drawn[name, chart] = image.imread(path)
    for chart in ("lstm_Synthetic_128.png", "memory_Synthetic_128.png"):
        # The MXNet line is drawn in both; the change point's dashed line only where it is.
        assert pixels_near(drawn["change", chart], mxnet) > 2000
        assert pixels_near(drawn["none", chart], mxnet) > 2000
        assert pixels_near(drawn["change", chart], history_charts.CHANGE_COLOUR) > 300
        assert pixels_near(drawn["none", chart], history_charts.CHANGE_COLOUR) == 0
    page = (tmp_path / "change" / "history.md").read_text()
    assert f"({FOLDER}/lstm_Synthetic_128.png)" in page
    assert f"({FOLDER}/memory_Synthetic_128.png)" in page


def test_chart_folders_are_plain_names_and_distinct_per_machine():
    docs = [json.loads(path.read_text()) for path in REAL_CHANGE[:2]]
    docs[1]["machine"] = dict(docs[1]["machine"], name="GPU box ../../etc")
    other = dict(docs[0], machine=dict(docs[0]["machine"], cpus=4, name="Intel Xeon, 2 CPUs"))
    built = history.build_history([("a.json", docs[0]), ("b.json", docs[1]), ("c.json", other)])
    folders = sorted(chart.folder for chart in history_charts.plan(built))
    assert folders == ["gpu-box-etc", "intel-xeon-2-cpus", "intel-xeon-2-cpus-2"]


def test_loading_the_history_modules_imports_no_otava_matplotlib_or_framework():
    code = (
        "import sys, pytest_rnnbench.cli, pytest_rnnbench.cli.history, "
        "pytest_rnnbench.history.series, pytest_rnnbench.history.changes, "
        "pytest_rnnbench.report.history_page, pytest_rnnbench.report.history_charts; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'otava', 'matplotlib', "
        "'keras', 'tensorflow', 'jax', 'torch', 'mxnet'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_command_is_registered_with_the_others(tmp_path, capsys):
    from pytest_rnnbench.cli import main

    assert main(["history", *map(str, NO_CHANGE[:3]), "-o", str(tmp_path), "--no-charts"]) == 0
    assert (tmp_path / "history.md").is_file()
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "history" in capsys.readouterr().out


@pytest.mark.slow  # three pytest sessions in subprocesses (a stand-in worker): about 4 s
def test_runs_of_a_checkout_record_its_commits_and_the_history_names_them(
    bench, fake_python, tmp_path, capsys
):
    """Real sessions with --rnnbench-json in a git checkout, as a nightly job in a Keras
    checkout runs them; a commit between the second and the third run."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=bench.path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    git("init", "-q", "-b", "master")
    git("config", "user.email", "nightly@example.invalid")
    git("config", "user.name", "nightly")
    git("add", "-A")
    git("commit", "-q", "-m", "first")
    commits = []
    for night in range(3):
        if night == 2:
            (bench.path / "CHANGES").write_text("faster RNN\n")
            git("add", "-A")
            git("commit", "-q", "-m", "rnn: a faster loop")
        commits.append(git("rev-parse", "HEAD"))
        result = bench.runpytest_subprocess(
            *tiny_tf_args(fake_python),
            f"--rnnbench-json={tmp_path}/night-{night}.json",
        )
        assert result.ret == 0, result.stdout.str()
    written = [json.loads((tmp_path / f"night-{n}.json").read_text()) for n in range(3)]
    assert [d["source"]["commit"] for d in written] == commits
    # Three runs, three ids: two runs of one commit written within one second stay two runs.
    assert len({d["run_id"] for d in written}) == 3
    assert written[2]["source"]["subject"] == "rnn: a faster loop"
    assert written[0]["source"]["branch"] == "master" and not written[0]["source"]["dirty"]
    built = history.load_history([tmp_path / f"night-{n}.json" for n in range(3)])
    (series,) = built.series
    from pytest_rnnbench.history.suspects import suspects

    assert suspects(series.points[1], series.points[2])[0] == (
        f'commits {commits[1][:7]}..{commits[2][:7]} (latest: "rnn: a faster loop")'
    )


def test_a_chart_that_cannot_be_written_stops_the_history_before_anything_is_written(
    tmp_path, capsys, monkeypatch
):
    """A folder where a chart goes: the charts before it were drawn, then exit 2 left new
    charts beside the old page ("exit 2 writes nothing", tracking.md)."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    out = tmp_path / "out"
    assert history_main(["history", *map(str, NO_CHANGE), "-o", str(out)]) == 0
    page = (out / history_page_name()).read_text()
    charts = {path: path.read_bytes() for path in out.rglob("*.png")}
    in_the_way = sorted(charts)[-1]
    in_the_way.unlink()
    in_the_way.mkdir()
    assert history_main(["history", *map(str, REAL_CHANGE), "-o", str(out)]) == 2
    assert f"error: cannot write the history: {in_the_way}" in capsys.readouterr().err
    assert (out / history_page_name()).read_text() == page
    assert all(path.read_bytes() == data for path, data in charts.items() if path != in_the_way)


def history_page_name() -> str:
    return cli_history.PAGE


def test_a_run_that_stopped_before_its_end_is_said(tmp_path, capsys, monkeypatch):
    """A nightly job killed while a case hung: that case vanished from its series, with no note
    (exit 0, "no change point")."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    document = json.loads(NO_CHANGE[-1].read_text())
    document["finished"], document["cases_selected"] = False, len(document["results"]) + 1
    stopped = tmp_path / "stopped.json"
    stopped.write_text(json.dumps(document))
    assert history_main(["history", *map(str, NO_CHANGE[:-1]), str(stopped), "--no-charts"]) == 0
    captured = capsys.readouterr()
    said = (
        f"{stopped}: the run stopped before its end (1 case(s) of the 2 selected in it): a case it "
        "never finished is missing from its series, not shown as failed"
    )
    assert f"note: {said}" in captured.err and f"- {said}" in captured.out.replace("\\", "")
