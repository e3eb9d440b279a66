"""Charts (report/charts.py): every chart renders from the fixed results files to a real PNG of the
expected pixel size."""

from __future__ import annotations

import struct

import pytest

from helpers import fixed_report
from pytest_rnnbench.report import charts
from pytest_rnnbench.results.rows import Report, Row

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which a valid PNG has first."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG file"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


@pytest.mark.slow  # matplotlib renders every chart: about 3 s
def test_every_chart_renders_as_png_of_the_planned_size(tmp_path):
    image = pytest.importorskip("matplotlib.image")
    report = fixed_report()
    written = charts.render_all(report, tmp_path / "plots")
    specs = charts.plan(report)
    # per dataset, batch size and unroll: a speed chart and a memory chart
    assert {(s.dataset, s.batch_size, s.unroll) for s in specs} == {
        (r.dataset, r.batch_size, r.unroll) for r in report.rows
    }
    expected = {
        tmp_path / "plots" / s.filename(kind) for s in specs for kind in ("speed", "memory")
    }
    assert set(written) == expected and len(written) == 2 * len(specs)
    for spec in specs:
        width, height = charts.figure_size_px(report, spec)
        for kind in ("speed", "memory"):
            path = tmp_path / "plots" / spec.filename(kind)
            assert png_size(path.read_bytes()) == (width, height), path.name
            pixels = image.imread(path)
            assert pixels.shape[:2] == (height, width)
            assert pixels.std() > 0.05, f"{path.name} is blank"


def test_a_chart_that_fails_half_written_leaves_the_old_file_and_no_temporary(
    tmp_path, monkeypatch
):
    """Charts are written atomically: a reader of the folder (a report page, a dashboard) never
    sees half a PNG, even when drawing fails part way."""
    figure = pytest.importorskip("matplotlib.figure")
    report = fixed_report()
    target = tmp_path / charts.plan(report)[0].filename("speed")
    target.write_bytes(b"the chart of the last run")

    def half(self, handle, **kwargs):
        handle.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(figure.Figure, "savefig", half)
    with pytest.raises(OSError, match="disk full"):
        charts.render_all(report, tmp_path)
    assert target.read_bytes() == b"the chart of the last run"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_chart_names_follow_the_seed():
    assert charts.ChartSpec("synthetic", 128, True).filename("speed") == "lstm_Synthetic_128.png"
    assert (
        charts.ChartSpec("nietzsche", 32, False).filename("memory")
        == "memory_Nietzsche_32_nounroll.png"
    )


def report_with_groups(groups: int) -> Report:
    """One chart's rows in `groups` bar groups (GPU count, machine), two backends in each, and a
    row of another batch size (another chart) that must not count."""
    pairs = [(gpus, instance) for instance in ("m1", "m2", "m3") for gpus in (0, 1)][:groups]
    rows = [
        Row(
            instance,
            f"{backend}-gpu{gpus}-b32-unroll-synthetic",
            backend,
            gpus,
            32,
            True,
            "synthetic",
        )
        for gpus, instance in pairs
        for backend in ("jax", "torch")
    ]
    rows.append(Row("m9", "jax-gpu5-b64-unroll-synthetic", "jax", 5, 64, True, "synthetic"))
    return Report(rows=rows)


def test_charts_grow_wider_with_more_bar_groups():
    """Width: 3 in plus 1.8 in per bar group, at least 10 in, at 100 dpi; height 6 in."""
    widths = {}
    for groups in (1, 3, 4, 5, 6):
        report = report_with_groups(groups)
        spec = charts.ChartSpec("synthetic", 32, True)
        assert spec in charts.plan(report)
        expected = round(max(10.0, 3.0 + 1.8 * groups) * 100)
        assert charts.figure_size_px(report, spec) == (expected, 600), groups
        widths[groups] = expected
    # Up to three groups fit the minimum width; from four on each group adds 180 px.
    assert widths[1] == widths[3] == 1000 < widths[4] < widths[5] < widths[6]


def test_loading_the_report_modules_imports_no_matplotlib_or_framework():
    import subprocess
    import sys

    code = (
        "import sys, pytest_rnnbench.plugin, pytest_rnnbench.cli.report, "
        "pytest_rnnbench.report.charts, "
        "pytest_rnnbench.report.outputs, "
        "pytest_rnnbench.report.pytest_benchmark; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'matplotlib', 'PIL', "
        "'keras', 'tensorflow', 'jax', 'torch', 'mxnet', 'pytest_benchmark'}))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"
