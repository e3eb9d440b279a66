"""The metric registry (metrics.py): one row per metric, read by the verdicts, the history and the
options alike, and the fraction parser its tolerances share."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pytest_rnnbench import metrics
from pytest_rnnbench.history import runs as series
from pytest_rnnbench.options import OPTIONS
from pytest_rnnbench.verdicts import verdict


def test_names_keys_options_and_history_names_are_unique() -> None:
    rows = list(metrics.METRICS.values())
    for attribute in ("name", "tolerance_key", "tolerance_flag", "tolerance_env", "label"):
        values = [getattr(metric, attribute) for metric in rows]
        assert len(set(values)) == len(values), attribute
    assert [metric.name for metric in rows] == list(metrics.METRICS)
    names = [view.name for view in metrics.HISTORY_VIEWS]
    assert sorted(names) == sorted({metric.history.name for metric in rows})


def test_every_metric_has_a_tolerance_option_with_its_default_in_the_help() -> None:
    by_dest = {option.dest: option for option in OPTIONS}
    for metric in metrics.METRICS.values():
        option = by_dest[metric.tolerance_ini]
        assert option.flags == (metric.tolerance_flag,)
        assert option.env == metric.tolerance_env == metric.tolerance_ini.upper()
        assert option.key == metric.name and option.field == "tolerances"
        assert option.help.endswith(f" Default: {metric.default_tolerance * 100:g}%.")
        assert metrics.TOLERANCE_KEYS[metric.tolerance_key] == metric.name
    assert metrics.METRICS["step_time"].tolerance_flag == "--rnnbench-tolerance-time"
    assert metrics.METRICS["gpu_peak_memory"].tolerance_env == "RNNBENCH_TOLERANCE_GPU_MEMORY"


def test_the_json_keys_and_history_names_stay_as_published() -> None:
    """Baselines, results files and `history --metric` use these names; renaming one is a format
    change, not a refactoring."""
    assert list(metrics.METRICS) == ["step_time", "host_peak_rss", "gpu_peak_memory", "final_loss"]
    assert [view.name for view in metrics.HISTORY_VIEWS] == ["time", "gpu-memory", "rss", "loss"]
    assert list(metrics.TOLERANCE_KEYS) == [
        "tolerance_time",
        "tolerance_rss",
        "tolerance_gpu_memory",
        "tolerance_loss",
    ]
    assert [m.sampled for m in metrics.METRICS.values()] == ["step", "run", "run", "run"]


def test_the_verdicts_and_the_history_read_the_registry() -> None:
    assert verdict.METRICS is metrics.METRICS
    assert verdict.TOLERANCE_KEYS is metrics.TOLERANCE_KEYS
    assert list(series.METRICS) == [view.name for view in metrics.HISTORY_VIEWS]
    for view in metrics.HISTORY_VIEWS:
        metric = series.METRICS[view.name]
        assert (metric.label, metric.axis, metric.unit) == (view.label, view.axis, view.unit)


def test_history_views_read_a_point_in_their_units() -> None:
    row = SimpleNamespace(epoch_seconds=12.5, gpu_memory_bytes=None, final_loss=1.75)
    point = SimpleNamespace(row=row, rss_bytes=3 * 2**20 + 2**19)
    read = {view.name: view.read(point) for view in metrics.HISTORY_VIEWS}
    assert read == {"time": 12.5, "gpu-memory": None, "rss": 3.5, "loss": 1.75}


@pytest.mark.parametrize(
    "text, expected",
    [("0.05", 0.05), ("5%", 0.05), (" 12.5% ", 0.125), ("0", 0.0), (0.2, 0.2), ("0.99", 0.99)]
    + [("100%", 1.0), ("500%", 5.0)],  # written with its sign, a fraction may be 1 or more
)
def test_parse_fraction(text: object, expected: float) -> None:
    assert metrics.parse_fraction(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text, message",
    [
        ("lots", "expected a fraction such as 0.05 or a percentage such as 5%"),
        ("-1", "expected a fraction >= 0 such as 0.05, or a percentage such as 5%"),
        ("nan", "expected a fraction >= 0"),
        ("inf", "expected a fraction >= 0"),
        ("1000%", "expected a fraction >= 0"),
        # A bare number of 1 or more is a percentage without its sign, not a fraction.
        ("5", r"5 would be 500%; did you mean 5%\? \(a bare number is a fraction: 0.05 is 5%\)"),
        # 100% is a busy limit that turns the check off: said how to write it, not only 1%.
        ("1", r"1 would be 100%; did you mean 1%\? .*; for 100%, write 100%\)"),
        (" 12.5 ", r"12.5 would be 1250%; did you mean 12.5%\?"),
    ],
)
def test_parse_fraction_rejects_with_what_is_accepted(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        metrics.parse_fraction(text)
    assert verdict.parse_tolerance is metrics.parse_fraction  # the old name, kept for its callers
