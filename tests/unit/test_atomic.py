"""Atomic writes (atomic.py): readers see a whole file, with the mode a plain write would give."""

from __future__ import annotations

import os
import stat

import pytest

from pytest_rnnbench.atomic import write_json, write_text


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_umask_s_mode_not_the_temporary_file_s(tmp_path, umask_022):
    # mkstemp makes 0600: a baseline or report written so is unreadable to other accounts.
    write_json(tmp_path / "baseline.json", {"version": 3})
    assert mode(tmp_path / "baseline.json") == 0o644


def test_a_replaced_file_keeps_its_own_mode(tmp_path, umask_022):
    target = tmp_path / "report.md"
    target.write_text("old\n")
    target.chmod(0o640)
    write_text(target, "new\n")
    assert target.read_text() == "new\n"
    assert mode(target) == 0o640


def test_a_failed_write_leaves_the_target_and_no_temporary_file(tmp_path):
    target = tmp_path / "results.json"
    target.write_text("{}\n")
    with pytest.raises(ValueError):
        write_json(target, {"x": float("nan")}, allow_nan=False)
    assert target.read_text() == "{}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
