"""The pull-request comment, rendered from a results document (golden file)."""

from __future__ import annotations

import copy
import json

from helpers import RESULT_FILES, VERDICTS, check_golden
from pytest_rnnbench.report import comment

GATE = {
    "base": {
        "side": "base",
        "spec": "origin/master",
        "path": "/path/to/tmp/rnnbench-base-x",
        "commit": "e4e1343054b56ecaf35f639e26494c0812a63faa",
        "dirty": False,
    },
    "head": {
        "side": "head",
        "spec": "/src/keras-apache-mxnet",
        "path": "/src/keras-apache-mxnet",
        "commit": "077a43f2c0e1e7255e6de898bbeae9e10839cdab",
        "dirty": True,
    },
}


def gate_document() -> dict:
    document = json.loads(RESULT_FILES[0].read_text())
    verdicts = copy.deepcopy(VERDICTS)
    for case_id, found in verdicts.items():
        found["baseline_seconds"] = document["results"][case_id]["epoch_seconds"] / (
            1 + found["change"]
        )
    time = verdicts["tensorflow-gpu0-b32-unroll-synthetic"]["metrics"]["epoch_time"]
    time["confidence"] = 0.99991
    verdicts["jax-gpu0-b32-unroll-synthetic"]["metrics"]["host_peak_rss"] = {
        "outcome": "pass",
        "change": 0.061,
        "tolerance": 0.2,
    }
    document["verdicts"] = verdicts
    document["failures"] = {"mxnet-gpu0-b32-unroll-synthetic": "worker was killed by SIGKILL\n..."}
    document["gate"] = GATE
    return document


def test_the_comment_matches_its_golden_file() -> None:
    check_golden("pr-comment.md", comment.render(gate_document()))


def test_the_marker_comes_first_and_the_headline_counts_outcomes() -> None:
    text = comment.render(gate_document())
    lines = text.splitlines()
    assert lines[0] == comment.MARKER
    assert lines[1] == ("### pytest-rnnbench: 1 failed, 1 regression, 1 inconclusive, 1 pass")
    assert "`077a43f2c0e1` + uncommitted changes" in text and "(origin/master)" in text
    assert "**Inconclusive** means" in text and "--rnnbench-against-workers" in text
    assert "host peak RSS +6.1% (pass, tolerance 20%)" in text
    assert ">99.99%" in text


def test_a_run_without_verdicts_says_nothing_was_judged() -> None:
    document = json.loads(RESULT_FILES[0].read_text())
    text = comment.render(document)
    assert "no case was judged" in text.splitlines()[1]
    assert f"{len(document['results'])} case(s) measured, none judged." in text
