"""benchmarks/slow_host.py: the CPU quota it writes for a share, on cgroup v1 and v2 (a folder
stands in for the cgroup file system: the kernel's enforcement is not this script's), and the
command lines it refuses."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import REPO, benchmark_script

SCRIPT = REPO / "benchmarks" / "slow_host.py"


@pytest.fixture()
def slow_host():
    return benchmark_script("slow_host")


def test_a_share_becomes_a_quota_of_the_machines_cpus(slow_host, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(slow_host, "CGROUP_V1", tmp_path)
    monkeypatch.setattr(slow_host, "CGROUP_V2", tmp_path / "no-v2-here")
    monkeypatch.setattr(slow_host.os, "cpu_count", lambda: 2)
    group = slow_host.CpuGroup("g")
    assert (tmp_path / "g" / "cpu.cfs_period_us").read_text() == "10000"
    group.limit(0.8)
    assert (tmp_path / "g" / "cpu.cfs_quota_us").read_text() == "16000"
    group.limit(1.0)
    assert (tmp_path / "g" / "cpu.cfs_quota_us").read_text() == "-1"


def test_on_cgroup_v2_the_limit_is_cpu_max(slow_host, tmp_path, monkeypatch) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu")
    monkeypatch.setattr(slow_host, "CGROUP_V2", tmp_path)
    monkeypatch.setattr(slow_host.os, "cpu_count", lambda: 4)
    group = slow_host.CpuGroup("g")
    group.limit(0.5)
    assert (tmp_path / "g" / "cpu.max").read_text() == "20000 10000"
    group.limit(1.0)
    assert (tmp_path / "g" / "cpu.max").read_text() == "max 10000"
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+cpu"


@pytest.mark.parametrize(
    "arguments, error",
    [
        ([], "give the command to run after --"),
        (["--shares", "1.2", "--", "true"], "must be fractions"),
    ],
)
def test_bad_command_lines_are_refused(arguments: list[str], error: str) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *arguments], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and error in done.stderr
