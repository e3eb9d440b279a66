"""The GitHub Actions recipes in examples/github/: linted, and the properties a security review
asks for, read from the parsed YAML and, for the comment's shell steps, run against a stand-in
`gh` (no network): the pull-request number is believed only for the run's own head, only the
bot's marked comment is edited, nothing that runs pull-request code holds a write token."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from helpers import REPO, RESULT_FILES

EXAMPLES = REPO / "examples" / "github"
WORKFLOWS = sorted(EXAMPLES.glob("rnnbench-*.yml"))
REQUIREMENTS = EXAMPLES / "rnnbench-requirements.txt"
BIN = Path(sys.executable).parent
PLUGIN_PIN = "pytest-rnnbench==0.2.0"


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is not installed (requirements/dev.txt has it)"
    return found


def workflow(name: str) -> dict[str, Any]:
    try:
        import yaml
    except ImportError:  # pragma: no cover - a broken environment, not a pass
        pytest.fail("PyYAML is not installed (requirements/dev.txt has it)")
    loaded: dict[Any, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    # YAML 1.1 reads the key `on` as true.
    loaded["on"] = loaded.pop(True, loaded.get("on"))
    return loaded


def jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path.name, job_id, job)
        for path in WORKFLOWS
        for job_id, job in workflow(path.name)["jobs"].items()
    ]


def step(job: dict[str, Any], name_starts: str) -> dict[str, Any]:
    found = [s for s in job["steps"] if s.get("name", "").startswith(name_starts)]
    assert len(found) == 1, f"one step named {name_starts!r}: {found}"
    return found[0]


def writes(job: dict[str, Any], flow: dict[str, Any]) -> list[str]:
    permissions = job.get("permissions", flow.get("permissions"))
    assert isinstance(permissions, dict), "every job's permissions are spelled out"
    return [scope for scope, level in permissions.items() if level == "write"]


def runs_pull_request_code(flow: dict[str, Any], job: dict[str, Any]) -> bool:
    """A job of a pull_request workflow, or one that checks out a pull request's ref."""
    if "pull_request" in flow["on"] or "pull_request_target" in flow["on"]:
        return True
    refs = [
        s.get("with", {}).get("ref", "") for s in job["steps"] if "checkout" in s.get("uses", "")
    ]
    return any("refs/pull/" in ref or "head_sha" in ref or "head_branch" in ref for ref in refs)


# -- linters ---------------------------------------------------------------------------------------


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


@pytest.mark.parametrize("persona", ["regular", "pedantic", "auditor"])
def test_zizmor_finds_nothing(persona: str) -> None:
    done = subprocess.run(
        [tool("zizmor"), "--offline", f"--persona={persona}", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr


def test_every_zizmor_ignore_says_why_and_there_are_only_the_two_known_ones() -> None:
    ignores = []
    for path in WORKFLOWS:
        for line in path.read_text().splitlines():
            found = re.search(r"zizmor: ignore\[([a-z-]+)\](.*)", line)
            if found:
                ignores.append((path.name, found.group(1)))
                assert len(found.group(2).split()) >= 8, f"{path.name}: say why: {line.strip()}"
    assert sorted(ignores) == [
        ("rnnbench-comment.yml", "dangerous-triggers"),  # workflow_run: see the file's header
        ("rnnbench-gate-gpu.yml", "self-hosted-runner"),  # ephemeral group, dispatch only
    ]


# -- properties of every job -----------------------------------------------------------------------


def test_every_job_has_a_timeout() -> None:
    for name, job_id, job in jobs():
        minutes = job.get("timeout-minutes")
        assert isinstance(minutes, int) and 0 < minutes <= 60, (name, job_id, minutes)


def test_every_run_step_is_bash_with_pipefail() -> None:
    for path in WORKFLOWS:
        flow = workflow(path.name)
        # GitHub runs `shell: bash` as `bash --noprofile --norc -eo pipefail {0}`.
        assert flow["defaults"]["run"]["shell"] == "bash", path.name
        for job in flow["jobs"].values():
            assert "defaults" not in job, path.name
            assert all(s.get("shell", "bash") == "bash" for s in job["steps"]), path.name


def test_no_script_has_an_expression_in_it() -> None:
    # Values reach scripts through env: only, so no text (a branch name, a title) becomes code.
    for name, job_id, job in jobs():
        for the_step in job["steps"]:
            assert "${{" not in the_step.get("run", ""), (name, job_id, the_step.get("name"))


def test_the_gates_measure_the_pull_requests_head_not_githubs_merge_commit() -> None:
    """The comment's bisect command walks the first-parent commits from the base to the head;
    from a merge commit (refs/pull/N/merge, the default) that is the merge alone."""
    refs = {
        name: [s["with"].get("ref") for s in job["steps"] if "checkout" in s.get("uses", "")]
        for name, job_id, job in jobs()
        if job_id == "gate"
    }
    assert refs == {
        "rnnbench-gate.yml": ["${{ github.event.pull_request.head.sha }}"],
        "rnnbench-gate-gpu.yml": ["refs/pull/${{ inputs.pr }}/head"],
    }


def test_no_job_that_runs_pull_request_code_holds_a_write_token_or_a_secret() -> None:
    checked = []
    for name, job_id, job in jobs():
        flow = workflow(name)
        if not runs_pull_request_code(flow, job):
            continue
        checked.append((name, job_id))
        assert writes(job, flow) == [], (name, job_id)
        text = json.dumps(job)
        assert "secrets." not in text and "github.token" not in text, (name, job_id)
        checkouts = [s for s in job["steps"] if "checkout" in s.get("uses", "")]
        assert checkouts and all(s["with"]["persist-credentials"] is False for s in checkouts)
    assert checked == [("rnnbench-gate-gpu.yml", "gate"), ("rnnbench-gate.yml", "gate")]


def test_jobs_with_a_write_token_run_no_checked_out_code_and_install_only_hashed_files() -> None:
    checked = []
    for name, job_id, job in jobs():
        flow = workflow(name)
        if not writes(job, flow):
            continue
        checked.append((name, job_id))
        assert not runs_pull_request_code(flow, job)
        for checkout in (s for s in job["steps"] if "checkout" in s.get("uses", "")):
            # The base repository's own files: the default branch (one file) or the data branch.
            ref = checkout["with"]["ref"]
            assert ref in ("${{ github.event.repository.default_branch }}", "rnnbench-results")
            assert checkout["with"]["persist-credentials"] is False
        scripts = [s["run"] for s in job["steps"] if "run" in s]
        installs = [line for run in scripts for line in run.splitlines() if "pip install" in line]
        assert installs, (name, job_id)
        for line in installs:
            assert "--require-hashes" in line and "--no-deps" in line, line
            assert "trusted/.github/rnnbench-requirements.txt" in line, line
        # Python started with -I: nothing in the working directory is importable.
        for run in scripts:
            for call in re.findall(r"python (-\S+ )*-m pytest_rnnbench", run):
                assert call.strip() == "-I", run
            assert "python -m pytest_rnnbench" not in run, run
    assert sorted(checked) == [
        ("rnnbench-comment.yml", "comment"),
        ("rnnbench-gate-gpu.yml", "comment"),
        ("rnnbench-nightly.yml", "history"),
    ]


def test_the_requirements_pin_every_package_by_hash_and_the_plugin_by_version() -> None:
    text = REQUIREMENTS.read_text()
    requirements = [
        " ".join(entry.split())
        for entry in text.replace("\\\n", " ").splitlines()
        if entry.strip() and not entry.lstrip().startswith("#")
    ]
    names = [entry.split("==")[0] for entry in requirements]
    assert PLUGIN_PIN in (entry.split()[0] for entry in requirements)
    for needed in ("pytest", "numpy", "scipy", "pooch", "matplotlib", "apache-otava"):
        assert needed in names
    for entry in requirements:
        pin, *hashes = entry.split()
        assert re.fullmatch(r"[a-z0-9-]+==[0-9][0-9a-z.]*", pin), entry
        if pin == PLUGIN_PIN:  # not released yet: the file says how to fill it in
            assert hashes == [
                "--hash=sha256:REPLACE-WITH-THE-SHA256-OF-THE-PYTEST-RNNBENCH-0.2.0-WHEEL"
            ]
        else:
            assert hashes and all(re.fullmatch(r"--hash=sha256:[0-9a-f]{64}", h) for h in hashes)


def pip_installs(name: str) -> list[str]:
    """Every `pip install` command in the recipe's run: scripts, a backslash-continued command
    joined into one line."""
    commands = [
        " ".join(command.split())
        for job in workflow(name)["jobs"].values()
        for s in job["steps"]
        for command in s.get("run", "").replace("\\\n", " ").splitlines()
    ]
    return [command for command in commands if re.search(r"\bpip install\b", command)]


def test_every_recipe_installs_the_pinned_plugin() -> None:
    """Each recipe installs pytest-rnnbench, and every install pins it: by version on the command
    line, or from the hash-pinned requirements file (whose pin the test above checks)."""
    found: dict[str, int] = {}
    for path in WORKFLOWS:
        installs = [
            command
            for command in pip_installs(path.name)
            if "pytest-rnnbench" in command or REQUIREMENTS.name in command
        ]
        for command in installs:
            if REQUIREMENTS.name in command:
                assert "--require-hashes" in command, (path.name, command)
            else:
                named = re.findall(r"\S*pytest-rnnbench\S*", command)
                assert named == [f'"{PLUGIN_PIN}"'], (path.name, command)
        found[path.name] = len(installs)
    assert found and all(count > 0 for count in found.values()), found


def test_the_nightly_commits_and_pushes_with_hooks_disabled() -> None:
    history = workflow("rnnbench-nightly.yml")["jobs"]["history"]
    script = step(history, "Keep the results")["run"]
    calls = re.findall(r"git( -c \S+)? (commit|push)", script)
    assert calls == [
        (" -c core.hooksPath=/dev/null", "commit"),
        (" -c core.hooksPath=/dev/null", "push"),
    ]


def test_a_nightly_with_failed_cases_is_kept_and_one_that_measured_nothing_fails(
    tmp_path: Path,
) -> None:
    flow = workflow("rnnbench-nightly.yml")
    upload = next(
        s for s in flow["jobs"]["measure"]["steps"] if "upload-artifact" in s.get("uses", "")
    )
    assert upload["if"] == "${{ !cancelled() }}" and upload["with"]["if-no-files-found"] == "error"
    assert flow["jobs"]["history"]["if"] == (
        "${{ !cancelled() && needs.measure.result != 'skipped' }}"
    )
    # The recipe's own check, run on real results files: one with a case, one with none.
    script = step(flow["jobs"]["measure"], "Measure this commit")["run"]
    (check,) = [line.strip() for line in script.splitlines() if "measured no case" in line]
    document = json.loads(RESULT_FILES[0].read_text())
    for results, code in ((document["results"], 0), ({}, 1)):
        path = tmp_path / "night.json"
        path.write_text(json.dumps(dict(document, results=results)))
        done = subprocess.run(
            ["bash", "-c", check], env=dict(os.environ, out=str(path)), capture_output=True
        )
        assert done.returncode == code, done.stderr
    assert b"measured no case" in done.stderr


# -- the comment workflow --------------------------------------------------------------------------


def test_the_comment_workflow_runs_only_after_a_finished_pull_request_run() -> None:
    flow = workflow("rnnbench-comment.yml")
    assert list(flow["on"]) == ["workflow_run"] and flow["permissions"] == {}
    condition = flow["jobs"]["verify"]["if"]
    assert "github.event.workflow_run.event == 'pull_request'" in condition
    allowed = json.loads(re.search(r"fromJSON\('(\[.*?\])'\)", condition).group(1))
    assert "cancelled" not in allowed and "success" in allowed and "failure" in allowed
    assert "github.event.workflow_run.conclusion" in condition


def test_the_comment_job_is_keyed_by_repository_and_pull_request_number() -> None:
    flow = workflow("rnnbench-comment.yml")
    group = flow["jobs"]["comment"]["concurrency"]["group"]
    assert "${{ github.repository }}" in group and "${{ needs.verify.outputs.number }}" in group
    assert "head_branch" not in json.dumps(flow)
    assert flow["jobs"]["comment"]["if"] == "needs.verify.outputs.number != ''"
    post = step(flow["jobs"]["comment"], "Post or update")
    assert post["env"]["NUMBER"] == "${{ needs.verify.outputs.number }}"
    gpu = workflow("rnnbench-gate-gpu.yml")
    assert "${{ inputs.pr }}" in gpu["jobs"]["comment"]["concurrency"]["group"]


def test_the_posted_comment_is_rendered_again_not_taken_from_the_artifact() -> None:
    for name in ("rnnbench-comment.yml", "rnnbench-gate-gpu.yml"):
        job = workflow(name)["jobs"]["comment"]
        render = step(job, "Render the comment")["run"]
        assert "python -I -m pytest_rnnbench report rnnbench/results.json --comment" in render
        assert "rnnbench/comment.md" not in json.dumps(job)
    render = step(workflow("rnnbench-comment.yml")["jobs"]["comment"], "Render the comment")
    assert 'if [ "$RUN_REPO" != "$REPO" ]' in render["run"] and "advice, not proof" in render["run"]


# The comment workflow's shell steps, run as GitHub would (bash -e -o pipefail) with a stand-in
# `gh` that answers from JSON files and records what would be written.

FAKE_GH = """
import json, os, subprocess, sys
args = sys.argv[1:]
assert args[0] == "api", args
method, fields, jq, path = "GET", [], None, None
i = 1
while i < len(args):
    if args[i] == "--method": method = args[i + 1]; i += 2
    elif args[i] == "-F": fields.append(args[i + 1]); i += 2
    elif args[i] == "--jq": jq = args[i + 1]; i += 2
    elif args[i] == "--paginate": i += 1
    else: path = args[i]; i += 1
with open(os.environ["GH_LOG"], "a") as log:
    log.write(json.dumps([method, path, fields]) + "\\n")
if method != "GET":
    sys.exit(0)
answer = os.path.join(os.environ["GH_API"], path.replace("/", "_") + ".json")
if not os.path.exists(answer):
    sys.stderr.write("gh: Not Found (HTTP 404)\\n"); sys.exit(1)
text = open(answer).read()
if jq:
    done = subprocess.run(["jq", "-r", jq], input=text, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = done.stdout
sys.stdout.write(text)
"""

RUN_SHA = "a" * 40
RUN_REPO = "someone/keras-fork"
EXPRESSIONS = {
    "github.token": "token",
    "github.repository": "owner/keras",
    "github.event.workflow_run.head_sha": RUN_SHA,
    "github.event.workflow_run.head_repository.full_name": RUN_REPO,
    "github.event.workflow_run.html_url": "https://github.com/owner/keras/actions/runs/1",
    "needs.verify.outputs.number": "7",
}


def run_step(
    tmp_path: Path,
    the_step: dict[str, Any],
    api: dict[str, Any],
    inputs: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Run one `run:` step in tmp_path; returns its exit code and the GITHUB_OUTPUT it wrote."""
    expressions = {**EXPRESSIONS, **(inputs or {})}
    tool("jq")
    fake = tmp_path / "bin" / "gh"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(f"#!{sys.executable}\n{textwrap.dedent(FAKE_GH)}")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    answers = tmp_path / "api"
    answers.mkdir(exist_ok=True)
    for path, answer in api.items():
        (answers / (path.replace("/", "_") + ".json")).write_text(json.dumps(answer))
    env = {
        key: re.sub(r"\$\{\{ (.+?) \}\}", lambda m: expressions[m.group(1)], str(value))
        for key, value in the_step.get("env", {}).items()
    }
    output = tmp_path / "github-output"
    output.write_text("")
    env.update(
        PATH=f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
        GH_API=str(answers),
        GH_LOG=str(tmp_path / "gh.log"),
        GITHUB_OUTPUT=str(output),
    )
    script = tmp_path / "step.sh"
    script.write_text(the_step["run"])
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, output.read_text()


def gh_calls(tmp_path: Path) -> list[list[Any]]:
    log = tmp_path / "gh.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def verify(tmp_path: Path, number: str, head: dict[str, Any] | None) -> tuple[int, str]:
    (tmp_path / "rnnbench").mkdir()
    (tmp_path / "rnnbench" / "pr-number").write_text(number)
    check = step(workflow("rnnbench-comment.yml")["jobs"]["verify"], "Require the pull request")
    api = {} if head is None else {"repos/owner/keras/pulls/7": {"number": 7, "head": head}}
    return run_step(tmp_path, check, api)


def test_the_number_is_believed_when_the_pull_requests_head_is_the_runs(tmp_path: Path) -> None:
    head = {"sha": RUN_SHA, "repo": {"full_name": RUN_REPO}}
    assert verify(tmp_path, "7\n", head) == (0, "number=7\n")
    assert gh_calls(tmp_path) == [["GET", "repos/owner/keras/pulls/7", []]]


def test_another_repositorys_pull_request_is_refused(tmp_path: Path) -> None:
    # A fork names pull request 7, whose head is the same commit pushed to another repository.
    head = {"sha": RUN_SHA, "repo": {"full_name": "victim/keras-fork"}}
    code, output = verify(tmp_path, "7", head)
    assert code == 1 and output == ""


def test_a_pull_request_whose_fork_is_gone_is_refused(tmp_path: Path) -> None:
    code, output = verify(tmp_path, "7", {"sha": RUN_SHA, "repo": None})
    assert code == 1 and output == ""


def test_a_pull_request_that_moved_on_gets_no_comment_from_the_older_run(tmp_path: Path) -> None:
    code, output = verify(tmp_path, "7", {"sha": "b" * 40, "repo": {"full_name": RUN_REPO}})
    assert code == 0 and output == ""


@pytest.mark.parametrize("number", ["", "7; rm -rf /", "../7", "-7", "7 8", "7\r\n", "\n7"])
def test_a_number_that_is_not_a_number_is_refused(tmp_path: Path, number: str) -> None:
    code, output = verify(tmp_path, number, {"sha": RUN_SHA, "repo": {"full_name": RUN_REPO}})
    assert (code, output) == (1, "")
    assert gh_calls(tmp_path) == []


def test_an_unknown_pull_request_is_refused(tmp_path: Path) -> None:
    code, output = verify(tmp_path, "8", None)
    assert (code, output) == (1, "")


def comments(*entries: tuple[int, str, str]) -> list[dict[str, Any]]:
    return [{"id": i, "user": {"login": login}, "body": body} for i, login, body in entries]


MARKER = "<!-- pytest-rnnbench:pr-comment -->"


def post(tmp_path: Path, existing: list[dict[str, Any]]) -> list[list[Any]]:
    (tmp_path / "body.md").write_text(f"{MARKER}\n### pytest-rnnbench: 1 pass\n")
    posting = step(workflow("rnnbench-comment.yml")["jobs"]["comment"], "Post or update")
    code, _ = run_step(tmp_path, posting, {"repos/owner/keras/issues/7/comments": existing})
    assert code == 0
    return [call for call in gh_calls(tmp_path) if call[0] != "GET"]


def test_only_the_bots_marked_comment_is_edited(tmp_path: Path) -> None:
    existing = comments(
        (11, "mallory", f"{MARKER}\nfake verdict"),
        (12, "github-actions[bot]", "another bot comment"),
        (13, "github-actions[bot]", f"{MARKER}\n### pytest-rnnbench: 1 regression"),
        (14, "github-actions[bot]", f"{MARKER}\nlater"),
    )
    assert post(tmp_path, existing) == [
        ["PATCH", "repos/owner/keras/issues/comments/13", ["body=@body.md"]]
    ]


def test_someone_elses_marked_comment_gets_a_new_comment_beside_it(tmp_path: Path) -> None:
    existing = comments((11, "mallory", f"{MARKER}\nfake verdict"))
    assert post(tmp_path, existing) == [
        ["POST", "repos/owner/keras/issues/7/comments", ["body=@body.md"]]
    ]


# -- the GPU recipe --------------------------------------------------------------------------------


def test_the_gpu_recipe_runs_only_a_reviewed_commit_on_an_ephemeral_group() -> None:
    flow = workflow("rnnbench-gate-gpu.yml")
    # No pull-request trigger: the file that runs is the default branch's, started by a maintainer.
    assert list(flow["on"]) == ["workflow_dispatch"]
    assert set(flow["on"]["workflow_dispatch"]["inputs"]) == {"pr", "sha"}
    gate = flow["jobs"]["gate"]
    assert gate["runs-on"]["group"] == "rnnbench-gpu"
    names = [s.get("name") or s["uses"].split("@")[0] for s in gate["steps"]]
    assert names[:3] == [
        "Check that the reviewed commit is a full SHA",
        "actions/checkout",
        "Require the pull request's head to be the reviewed commit",
    ]
    assert gate["steps"][1]["with"]["ref"] == "refs/pull/${{ inputs.pr }}/head"
    # The console script: no checkout first on sys.path, on any Python the package supports (the
    # image's interpreter may be older than 3.11, which `python -P` needs).
    assert step(gate, "Gate the pull request")["run"].startswith("rnnbench gate ")
    # The comment job posts only when the gate step ran, after the commit was checked.
    assert step(gate, "Gate the pull request")["id"] == "gate"
    assert "steps.gate.outcome" in gate["outputs"]["measured"]
    assert "needs.gate.outputs.measured == 'true'" in flow["jobs"]["comment"]["if"]


@pytest.mark.parametrize(
    ("sha", "head", "code"),
    [
        ("c" * 40, "c" * 40, 0),
        ("c" * 40, "d" * 40, 1),
        ("c" * 39, "c" * 39, 1),
        ("C" * 40, "C" * 40, 1),
    ],
)
def test_the_gpu_gate_stops_unless_it_checked_out_the_reviewed_commit(
    tmp_path: Path, sha: str, head: str, code: int
) -> None:
    gate = workflow("rnnbench-gate-gpu.yml")["jobs"]["gate"]
    fake_git = tmp_path / "bin" / "git"
    fake_git.parent.mkdir()
    fake_git.write_text(f"#!/bin/sh\necho {head}\n")
    fake_git.chmod(0o755)
    results = [
        run_step(tmp_path, the_step, {}, {"inputs.sha": sha})[0]
        for the_step in (gate["steps"][0], gate["steps"][2])
    ]
    assert (1 if 1 in results else 0) == code, results


# The render step, run with a stand-in `python` that insists on -I and imports this checkout's
# pytest_rnnbench (what the pinned release will be).

FAKE_PYTHON = """
import runpy, sys
sys.path.insert(0, {src!r})
args = sys.argv[1:]
assert args[0] == "-I", args  # isolated: nothing in the working directory is importable
if args[1] == "-m":
    sys.argv = [args[2], *args[3:]]
    runpy.run_module(args[2], run_name="__main__", alter_sys=True)
else:
    sys.argv = ["-c", *args[3:]]
    exec(args[2], {{"__name__": "__main__"}})
"""


def render(tmp_path: Path, results: str | None, same_repository: bool) -> str:
    fake = tmp_path / "bin" / "python"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(f"#!{sys.executable}\n" + FAKE_PYTHON.format(src=str(REPO / "src")))
    fake.chmod(0o755)
    (tmp_path / "rnnbench").mkdir()
    if results is not None:
        (tmp_path / "rnnbench" / "results.json").write_text(results)
    rendering = step(workflow("rnnbench-comment.yml")["jobs"]["comment"], "Render the comment")
    run_repo = {"github.event.workflow_run.head_repository.full_name": "owner/keras"}
    code, _ = run_step(tmp_path, rendering, {}, run_repo if same_repository else None)
    assert code == 0
    return (tmp_path / "body.md").read_text(encoding="utf-8")


def test_the_comment_is_rendered_from_the_results_by_the_package(tmp_path: Path) -> None:
    from helpers import RESULT_FILES
    from pytest_rnnbench.report import comment
    from pytest_rnnbench.results.read import load

    body = render(tmp_path, RESULT_FILES[0].read_text(), same_repository=True)
    assert body == comment.render(load(RESULT_FILES[0]))


def test_a_forks_comment_says_its_verdict_is_advice(tmp_path: Path) -> None:
    from helpers import RESULT_FILES

    body = render(tmp_path, RESULT_FILES[0].read_text(), same_repository=False)
    assert body.startswith(MARKER + "\n### pytest-rnnbench: ")
    assert body.endswith(
        "read this verdict as advice, not proof (pytest-rnnbench docs/security.md).\n"
    )


@pytest.mark.parametrize("results", [None, "{not json", '{"format": "something else"}'])
def test_results_that_cannot_be_read_post_a_comment_that_says_so(
    tmp_path: Path, results: str | None
) -> None:
    body = render(tmp_path, results, same_repository=True)
    assert body.splitlines()[:2] == [MARKER, "### pytest-rnnbench: no results"]
    assert "https://github.com/owner/keras/actions/runs/1" in body


def test_a_huge_comment_is_cut_to_what_github_takes(tmp_path: Path) -> None:
    from helpers import RESULT_FILES

    document = json.loads(RESULT_FILES[0].read_text())
    document["failures"] = {f"jax-gpu{i}-b32-unroll-synthetic": "\u00e9" * 250 for i in range(2000)}
    body = render(tmp_path, json.dumps(document), same_repository=True)
    assert len(body) == 60000 and body.startswith(MARKER)
