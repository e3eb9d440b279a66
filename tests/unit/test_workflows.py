"""The GitHub Actions recipes in examples/github/ pass actionlint and a zizmor audit."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO

EXAMPLES = REPO / "examples" / "github"
WORKFLOWS = sorted(EXAMPLES.glob("rnnbench-*.yml"))
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is not installed (requirements/dev.txt has it)"
    return found


def test_there_are_the_cpu_gpu_comment_and_nightly_workflows() -> None:
    names = [path.name for path in WORKFLOWS]
    assert names == [
        "rnnbench-comment.yml",
        "rnnbench-gate-gpu.yml",
        "rnnbench-gate.yml",
        "rnnbench-nightly.yml",
    ]


def test_actionlint_finds_nothing() -> None:
    done = subprocess.run(
        [
            tool("actionlint"),
            "-config-file",
            str(EXAMPLES / "actionlint.yaml"),
            *map(str, WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("persona", ["regular", "pedantic"])
def test_zizmor_finds_nothing(persona: str) -> None:
    done = subprocess.run(
        [tool("zizmor"), "--offline", f"--persona={persona}", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr


def test_the_pull_request_side_has_no_write_token_and_the_comment_side_runs_no_pr_code() -> None:
    gate = (EXAMPLES / "rnnbench-gate.yml").read_text()
    assert "permissions:\n  contents: read\n" in gate and "secrets." not in gate
    assert "persist-credentials: false" in gate and "pull_request:" in gate
    assert "pull_request_target" not in gate
    posting = (EXAMPLES / "rnnbench-comment.yml").read_text()
    assert "workflow_run:" in posting and "actions/checkout" not in posting
    assert "pytest_rnnbench" not in posting  # nothing from the pull request runs here
    assert "-F body=@body.md" in posting  # the untrusted text goes to the API as a file
