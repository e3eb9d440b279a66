"""The live A/B gate (gate/live.py): merging the workers of one side."""

from __future__ import annotations

from pytest_rnnbench.verdicts.live import merge_side


def test_merging_a_side_keeps_every_epoch_and_never_hides_a_broken_loss() -> None:
    good = {
        "epochs": [{"seconds": 1.0}],
        "final_loss": 1.0,
        "host_peak_rss_bytes": 10,
        "gpu_framework_peak_bytes": None,
    }
    broken = dict(good, final_loss=float("nan"), host_peak_rss_bytes=30)
    merged = merge_side([good, broken])
    assert [e["worker"] for e in merged["epochs"]] == [0, 1]
    assert merged["host_peak_rss_bytes"] == 30
    assert merged["final_loss"] != merged["final_loss"]
    assert merge_side([good, good])["final_loss"] == 1.0
