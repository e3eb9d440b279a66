"""This repository's release recipe, .github/workflows/release.yml: linted like the example
recipes (actionlint; zizmor's regular, pedantic and auditor personas) and held to its promises:
it runs on a version tag only, never for a pull request; the build job can read and nothing more;
only the publish job gets the OIDC token (trusted publishing, no stored secret); every action is
pinned to a commit; its tools are installed by hash."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO

RELEASE = REPO / ".github" / "workflows" / "release.yml"
RELEASE_REQUIREMENTS = REPO / "requirements" / "release.txt"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is not installed (requirements/dev.txt has it)"
    return found


def jobs(text: str) -> dict[str, str]:
    """Each job's block of the workflow, by job name (the workflow is indented by two)."""
    body = text.split("\njobs:\n", 1)[1]
    parts = re.split(r"^  ([\w-]+):\n", body, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_actionlint_finds_nothing() -> None:
    done = subprocess.run(
        [tool("actionlint"), str(RELEASE)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("persona", ["regular", "pedantic", "auditor"])
def test_zizmor_finds_nothing(persona: str) -> None:
    done = subprocess.run(
        [tool("zizmor"), "--offline", f"--persona={persona}", str(RELEASE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr


def test_it_runs_on_version_tags_only_with_no_token_for_pull_requests() -> None:
    text = RELEASE.read_text()
    trigger = text.split("\non:\n", 1)[1].split("\n\n", 1)[0]
    assert trigger == '  push:\n    tags: ["v*"]'
    for event in ("pull_request", "pull_request_target", "workflow_run", "issue_comment"):
        assert event not in text
    assert "secrets." not in text  # trusted publishing: no stored token
    assert "\npermissions: {}\n" in text  # nothing by default; each job names its own


def test_only_the_publish_job_gets_the_oidc_token() -> None:
    found = jobs(RELEASE.read_text())
    assert sorted(found) == ["build", "publish"]
    build, publish = found["build"], found["publish"]
    assert "    permissions:\n      contents: read\n    steps:" in build
    assert re.search(r"    permissions:\n      id-token: write[^\n]*\n    steps:", publish)
    assert "id-token" not in build and "actions/checkout" not in publish
    assert "needs: build" in publish and "environment:\n      name: pypi" in publish
    assert "pypa/gh-action-pypi-publish@" in publish
    for job in found.values():
        assert re.search(r"timeout-minutes: \d+", job)


def test_actions_are_pinned_to_commits_and_tools_to_hashes() -> None:
    text = RELEASE.read_text()
    uses = re.findall(r"uses: (\S+)", text)
    assert len(uses) == 5
    assert [u for u in uses if not re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u)] == []
    assert "persist-credentials: false" in text
    assert "pip install --require-hashes --only-binary=:all: -r requirements/release.txt" in text
    assert "python -m build --no-isolation" in text  # the backend is the pinned setuptools
    assert "twine check --strict" in text and "set -euo pipefail" in text
    requirements = RELEASE_REQUIREMENTS.read_text()
    pins = re.findall(r"^([\w.-]+)==(\S+) \\\n    --hash=sha256:[0-9a-f]{64}$", requirements, re.M)
    named = [line for line in requirements.splitlines() if line and line[0] not in "# "]
    assert len(pins) == len(named) and len(pins) >= 3, named
    assert {"build", "twine", "setuptools"} <= {name for name, _ in pins}


def test_the_pinned_release_tools_are_the_ones_the_tests_use() -> None:
    """requirements/release.txt and requirements/dev.txt name the same build and twine."""
    release = dict(re.findall(r"^([\w.-]+)==(\S+)", RELEASE_REQUIREMENTS.read_text(), re.M))
    dev = dict(re.findall(r"^([\w.-]+)==(\S+)", (REPO / "requirements/dev.txt").read_text(), re.M))
    assert release["build"] == dev["build"] and release["twine"] == dev["twine"]
