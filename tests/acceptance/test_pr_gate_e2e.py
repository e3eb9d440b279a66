"""The pull-request gate on real Keras code: real git, real workers, real code changes.

The base of each repository is the `keras` package that an environment of this project has
installed (Keras-MXNet 2.2.4.3 in .venv-mxnet, Keras 3 in .venv): complete, pure-Python source
trees. Head commits change them as pull requests do (benchmarks/keras_trees.py): the RNN loop of
the MXNet backend runs its cell twice on every time step, the Keras 3 LSTM cell does four more
matrix products per step, or only a docstring changes. Each side's workers import Keras from their
own tree; the gate must call the slower code a regression and pass the others.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import (
    MXNET_PYTHON,
    NIETZSCHE_DIR,
    PYTHON,
    benchmark_script,
    start_as_a_foreground_job,
)

pytestmark = pytest.mark.slow

# Small but real: 8 steps per epoch, 2 epochs, one worker per side (16 paired turns).
QUICK = [
    "--rnnbench-samples=1024",
    "--rnnbench-repeats=2",
    "--rnnbench-against-workers=1",
    "-k",
    "synthetic and not nounroll",
]


keras_trees = benchmark_script("keras_trees")


def git(repo: Path, *args: str) -> str:
    return keras_trees.git(repo, *args)


def branch(repo: Path, name: str, edit: str, amount: int = 1) -> str:
    git(repo, "checkout", "-q", "-B", name, "master")
    commit = keras_trees.commit_edit(repo, edit, amount)
    git(repo, "checkout", "-q", "master")
    return commit


@pytest.fixture(scope="module")
def mxnet_fork(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mxnet_keras = keras_trees.installed_keras(MXNET_PYTHON)
    assert mxnet_keras.is_dir(), f"{mxnet_keras} is missing: run `make setup`"
    repo = tmp_path_factory.mktemp("fork") / "keras-apache-mxnet"
    keras_trees.make_repo(mxnet_keras, repo)
    branch(repo, "slower-rnn", "rnn-work", 40)
    branch(repo, "docs-only", "docs")
    return repo


def gate(repo: Path, tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict, str]:
    """`python -m pytest_rnnbench gate` in `repo`; its output, results file and comment."""
    temp = tmp_path / "tmp"  # where the base tree is extracted: it must be empty afterwards
    temp.mkdir()
    env = dict(os.environ, TMPDIR=str(temp))
    if NIETZSCHE_DIR.is_dir():
        env.setdefault("RNNBENCH_DATA_DIR", str(NIETZSCHE_DIR))
    command = [
        PYTHON, "-m", "pytest_rnnbench", "gate", "--comment", str(tmp_path / "comment.md"),
        "--json", str(tmp_path / "results.json"), *args,
    ]  # fmt: skip
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    leftovers = [p.name for p in temp.iterdir() if p.name.startswith("rnnbench-base-")]
    assert leftovers == [], f"the extracted base tree was left behind: {leftovers}\n{output}"
    results = json.loads((tmp_path / "results.json").read_text())
    return done, results, (tmp_path / "comment.md").read_text()


def test_the_gate_calls_a_slower_rnn_loop_in_keras_mxnet_a_regression(
    mxnet_fork: Path, tmp_path: Path
) -> None:
    git(mxnet_fork, "checkout", "-q", "slower-rnn")
    # Two workers a side: their own spread (MXNet's processes agree within 3%) is measured. With
    # one, the 13% assumed spread resolves only about 53%, and beside a CI job the edit measured
    # +52.8%: inconclusive.
    two_a_side = [a.replace("workers=1", "workers=2") for a in QUICK]
    done, results, comment = gate(
        mxnet_fork, tmp_path, "--base", "master", f"--rnnbench-python=mxnet={MXNET_PYTHON}",
        *two_a_side,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    case = "mxnet-gpu0-b128-unroll-synthetic"
    found = results["verdicts"][case]
    assert found["verdict"] == "regression" and found["change"] > 0.2, found
    base, head = git(mxnet_fork, "rev-parse", "master"), git(mxnet_fork, "rev-parse", "HEAD")
    assert (found["base_commit"], found["head_commit"]) == (base, head)
    assert results["gate"]["base"]["commit"] == base and results["gate"]["head"]["commit"] == head
    # The head's workers imported the head's keras; the loss is the same number (the edit
    # averages two identical computations).
    origin = results["results"][case]["worker"]["keras_origin"]
    assert origin["file"] == str(mxnet_fork / "keras" / "__init__.py") and origin["commit"] == head
    assert found["metrics"]["final_loss"]["outcome"] == "pass"
    assert comment.startswith("<!-- pytest-rnnbench:pr-comment -->\n")
    assert "1 regression" in comment and f"`{head[:12]}`" in comment and f"`{base[:12]}`" in comment
    assert f"| `{case}` |" in comment and ":x: regression" in comment


def test_a_docs_only_change_passes(mxnet_fork: Path, tmp_path: Path) -> None:
    git(mxnet_fork, "checkout", "-q", "docs-only")
    done, results, comment = gate(
        mxnet_fork, tmp_path, "--base", "master", f"--rnnbench-python=mxnet={MXNET_PYTHON}", *QUICK
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (found,) = results["verdicts"].values()
    assert found["verdict"] != "regression"
    assert "regression" not in comment.splitlines()[1]


def test_the_head_against_itself_is_refused_and_leaves_no_tree(
    mxnet_fork: Path, tmp_path: Path
) -> None:
    """On master, `--base master`: an A/A run would pass every case and say nothing of a change
    (a local master with unpushed commits is its own merge-base)."""
    git(mxnet_fork, "checkout", "-q", "master")
    temp = tmp_path / "tmp"
    temp.mkdir()
    command = [PYTHON, "-m", "pytest_rnnbench", "gate", "--base", "master", *QUICK]
    env = dict(os.environ, TMPDIR=str(temp))
    done = subprocess.run(command, cwd=mxnet_fork, env=env, capture_output=True, text=True)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "the base and the head are the same tree" in done.stderr
    assert list(temp.iterdir()) == []


def mxnet_without_keras(where: Path) -> Path:
    """An interpreter as the CPU gate recipe installs it: MXNet and the fork's dependencies, but
    no Keras, the Keras under test coming from each side's tree. It is .venv-mxnet's Python
    without its site-packages (-S), which sees them again through a folder of links to each of
    them but keras (after PYTHONPATH, where the gate puts the side's tree)."""
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    found = subprocess.run([str(MXNET_PYTHON), "-c", purelib], capture_output=True, text=True)
    site = Path(found.stdout.strip())
    assert (site / "keras" / "backend" / "mxnet_backend.py").is_file(), found
    links = where / "site-packages-but-keras"
    links.mkdir(parents=True)
    for entry in site.iterdir():
        if entry.name == "keras" or entry.name.startswith("keras_mxnet-"):
            continue
        (links / entry.name).symlink_to(entry)
    python = where / "python"
    python.write_text(
        "#!/bin/sh\n"
        f'PYTHONPATH="${{PYTHONPATH:+$PYTHONPATH:}}{links}" exec "{MXNET_PYTHON}" -S "$@"\n'
    )
    python.chmod(0o755)
    return python


def test_the_recipes_environment_without_keras_gates_on_the_sides_trees(
    mxnet_fork: Path, tmp_path: Path
) -> None:
    """examples/github/rnnbench-gate.yml installs MXNet but never Keras: each side's workers
    import keras from that side's tree, so the backend is there although no Keras is installed
    (the probe asked for keras-mxnet's package metadata and skipped every case: exit 10)."""
    python = mxnet_without_keras(tmp_path / "env")
    alone = subprocess.run([str(python), "-c", "import keras"], capture_output=True, text=True)
    assert alone.returncode != 0 and "No module named 'keras'" in alone.stderr
    git(mxnet_fork, "checkout", "-q", "docs-only")
    done, results, _ = gate(
        mxnet_fork, tmp_path, "--base", "master", f"--rnnbench-python=mxnet={python}", *QUICK
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (case,) = results["results"]
    origin = results["results"][case]["worker"]["keras_origin"]
    assert origin["file"] == str(mxnet_fork / "keras" / "__init__.py")
    assert results["verdicts"][case]["verdict"] != "regression"


def test_keras3_through_pytest_catches_a_slower_lstm_cell(tmp_path: Path) -> None:
    """The pytest route, with a Keras 3 tree and the TensorFlow backend."""
    repo = tmp_path / "keras"
    keras_trees.make_repo(keras_trees.installed_keras(sys.executable), repo)
    keras_trees.commit_edit(repo, "cell-work", 4)
    command = [
        PYTHON, "-m", "pytest", "-p", "no:cacheprovider", "--noconftest", "--pyargs",
        "pytest_rnnbench.suite", "--rnnbench", "--rnnbench-base=HEAD~1",
        "--rnnbench-backends=tensorflow", f"--rnnbench-json={tmp_path / 'results.json'}", *QUICK,
    ]  # fmt: skip
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    results = json.loads((tmp_path / "results.json").read_text())
    found = results["verdicts"]["tensorflow-gpu0-b128-unroll-synthetic"]
    assert found["verdict"] == "regression", found
    assert "pull-request gate" in output and "against base" in output


def test_a_side_that_imports_keras_from_elsewhere_is_an_error(tmp_path: Path) -> None:
    """A worker told to measure a tree whose keras it did not import fails, saying so."""
    from pytest_rnnbench.matrix import Case
    from pytest_rnnbench.run import datasets
    from pytest_rnnbench.run.process import WorkerError, run_worker
    from pytest_rnnbench.run.protocol import build_request, worker_env

    tree = tmp_path / "tree"
    (tree / "keras").mkdir(parents=True)
    (tree / "keras" / "__init__.py").write_text("")
    spec = datasets.worker_spec("synthetic", None, tmp_path / "cache", 256)
    request = build_request(Case("tensorflow", 0, 128, True, "synthetic").to_dict(), spec, 1)
    request["keras_tree"] = str(tree)  # but the tree is not on PYTHONPATH: site-packages wins
    with pytest.raises(WorkerError, match="not from this side's tree"):
        run_worker(PYTHON, request, worker_env("tensorflow", []), 300, tmp_path / "w.log")


def test_ctrl_c_during_a_gate_removes_the_extracted_base(mxnet_fork: Path, tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the whole foreground group, as a terminal sends it) mid-run: the gate
    stops, and the base tree it extracted is gone."""
    git(mxnet_fork, "checkout", "-q", "slower-rnn")
    temp = tmp_path / "tmp"
    temp.mkdir()
    command = [
        PYTHON, "-m", "pytest_rnnbench", "gate", "--base", "master",
        f"--rnnbench-python=mxnet={MXNET_PYTHON}", *QUICK,
    ]  # fmt: skip
    log = (tmp_path / "gate.log").open("w")
    child = start_as_a_foreground_job(
        command,
        cwd=mxnet_fork,
        env=dict(os.environ, TMPDIR=str(temp)),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while (
        time.monotonic() < deadline and "importing mxnet" not in (tmp_path / "gate.log").read_text()
    ):
        time.sleep(0.2)
    extracted = [p for p in temp.iterdir() if p.name.startswith("rnnbench-base-")]
    assert extracted, "the base tree was not extracted before the workers started"
    os.killpg(child.pid, signal.SIGINT)
    child.wait(timeout=120)
    log.close()
    output = (tmp_path / "gate.log").read_text()
    assert child.returncode != 0 and "KeyboardInterrupt" in output, output
    assert not any(path.exists() for path in extracted), output


def test_a_gate_that_judged_no_case_fails_with_its_own_exit_code_and_says_why(
    tmp_path: Path,
) -> None:
    """Every case skipped (the backend's interpreter does not exist): the gate must not pass the
    pull request, and the comment's headline says nothing was measured, with each case's reason."""
    repo = tmp_path / "keras"
    # A Keras 3 tree (a package keras/src/backend): serves tensorflow, jax, torch.
    (repo / "keras" / "src" / "backend").mkdir(parents=True)
    (repo / "keras" / "__init__.py").write_text("")
    (repo / "keras" / "src" / "__init__.py").write_text("")
    (repo / "keras" / "src" / "backend" / "__init__.py").write_text("")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for message in ("base", "head"):
        (repo / "keras" / "version.py").write_text(f"# {message}\n")
        subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
        subprocess.run(
            ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid",
             "commit", "-q", "-m", message],
            check=True,
        )  # fmt: skip
    command = [
        PYTHON, "-m", "pytest_rnnbench", "gate", "--base", "HEAD~1",
        "--comment", str(tmp_path / "comment.md"), "--rnnbench-backends=tensorflow",
        "--rnnbench-python=tensorflow=/no/such/python",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 10, output  # EXIT_NOTHING_JUDGED: not 0 (pass), 1 (regression)
    lines = (tmp_path / "comment.md").read_text().splitlines()
    assert lines[1] == "### pytest-rnnbench: no case was judged: nothing was measured (4 skipped)"
    why = "interpreter '/no/such/python' for the tensorflow backend does not exist"
    reasons = [line for line in lines if line.startswith("- `tensorflow-")]
    assert len(reasons) == 4 and all(f"`: skipped: {why}" in line for line in reasons), lines
    assert (
        "rnnbench: the pull-request gate judged no case: nothing was measured (4 skipped); "
        "exit status 10" in output
    )
