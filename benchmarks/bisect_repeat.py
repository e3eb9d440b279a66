"""How often does `rnnbench bisect` name the right commit, and what does a bisect cost?

Builds a git history of the Keras-MXNet tree (the `keras` package of .venv-mxnet, as
benchmarks/keras_trees.py does) whose commits are documentation edits, no-op code edits and one
(or more) real slowdowns of the RNN loop, then runs the real command, `python -m pytest_rnnbench
bisect --good BASE --bad TIP`, several times on it: real git, real workers, live A/B at every step.
Each run's own output (stdout and stderr) and its JSON record (--json) are kept under --out; the
summary printed at the end (and written to --out/summary.txt) is what the runs' records say.

    .venv/bin/python benchmarks/bisect_repeat.py --runs 5 --out benchmarks/results/bisect-DATE
    .venv/bin/python benchmarks/bisect_repeat.py --history notes,noop,rnn-work=20,notes,rnn-more=40

History edits (one commit each, applied in order on top of the released package):
    docs         keras_trees' docstring edit of mxnet_backend.py (once only: it goes first in the
                 file, so a second would push `from __future__` down and break the import)
    notes        a line added to NOTES.md (documentation only)
    noop         a comment line appended to keras/__init__.py (code that does nothing)
    rnn-work=N   keras_trees' real slowdown: the RNN loop runs its cell twice on the first N steps
    rnn-more=N   after rnn-work: the same extra work on the first N steps instead (slower still)
    break        keras/__init__.py imports a module that does not exist (the tree cannot be used)
    unbreak      that import removed again
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
MXNET_PYTHON = ROOT / ".venv-mxnet" / "bin" / "python"
DEFAULT_HISTORY = "docs,noop,notes,noop,rnn-work=40,notes,noop,notes"
# Small but real: 8 steps per epoch, 2 epochs, three worker processes per side (the default: with
# Keras-MXNet's processes agreeing within about 1%, three resolve a few percent at the 1% level).
QUICK = [
    "--rnnbench-samples=1024",
    "--rnnbench-repeats=2",
    "--rnnbench-against-workers=3",
    "-k",
    "synthetic and not nounroll",
]


def _keras_trees() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "keras_trees", ROOT / "benchmarks" / "keras_trees.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


keras_trees = _keras_trees()


BROKEN = "import keras_module_that_does_not_exist  # a commit whose tree does not import\n"


def _commit(repo: Path, edit: str, amount: int, number: int) -> None:
    if edit in ("docs", "rnn-work"):
        keras_trees.apply_edit(repo, edit, amount)
    elif edit == "notes":
        notes = repo / "NOTES.md"
        old = notes.read_text() if notes.exists() else ""
        notes.write_text(old + f"Note {number}: documentation only.\n")
        keras_trees.git(repo, "add", "NOTES.md")
    elif edit == "noop":
        init = repo / "keras" / "__init__.py"
        init.write_text(init.read_text() + f"# no-op edit {number}\n")
    elif edit in ("break", "unbreak"):
        init = repo / "keras" / "__init__.py"
        text = init.read_text().replace(BROKEN, "")
        init.write_text(text + BROKEN if edit == "break" else text)
    elif edit == "rnn-more":
        backend = repo / keras_trees.MXNET_BACKEND
        text, count = re.subn(r"if step < \d+:", f"if step < {amount}:", backend.read_text())
        if count != 1:
            raise SystemExit("rnn-more needs an rnn-work commit before it")
        backend.write_text(text)
    else:
        raise SystemExit(f"unknown edit {edit!r}")
    subject = f"{edit} {amount}" if edit.startswith("rnn") else f"{edit} {number}"
    keras_trees.git(repo, "commit", "-q", "-am", subject)


def build_history(repo: Path, history: str, keras: Path | None = None) -> list[tuple[str, str]]:
    """A repository at `repo`: the released package, then one commit per edit of `history`
    (comma-separated, see the module docstring). Returns (commit, edit) oldest first, base first."""
    package = keras if keras is not None else keras_trees.installed_keras(MXNET_PYTHON)
    commits = [(keras_trees.make_repo(package, repo), "base")]
    for number, spec in enumerate(history.split(","), start=1):
        edit, _, amount = spec.partition("=")
        _commit(repo, edit, int(amount or 1), number)
        commits.append((keras_trees.git(repo, "rev-parse", "HEAD"), spec))
    return commits


def bisect(repo: Path, good: str, bad: str, record: Path, *extra: str) -> tuple[int, str, float]:
    """Run the real command in `repo`; its exit status, its output and its wall time."""
    command = [
        sys.executable, "-m", "pytest_rnnbench", "bisect", "--good", good, "--bad", bad,
        "--json", str(record), f"--rnnbench-python=mxnet={MXNET_PYTHON}", *QUICK, *extra,
    ]  # fmt: skip
    began = time.monotonic()
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=1800)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--history", default=DEFAULT_HISTORY)
    parser.add_argument("--out", type=Path, required=True, help="a new directory")
    args = parser.parse_args()
    args.out = args.out.resolve()  # the bisect runs in the repository: its --json must be absolute
    args.out.mkdir(parents=True)
    # The repository lives outside --out: a results directory holds only what the runs wrote.
    repo = Path(tempfile.mkdtemp(prefix="bisect-history-")) / "keras-apache-mxnet"
    commits = build_history(repo, args.history)
    slow = [commit for commit, edit in commits if edit.startswith("rnn-work")]
    lines = [f"history: {args.history} ({len(commits) - 1} commits after the base)"]
    lines += [f"  {commit} {edit}" for commit, edit in commits]
    lines.append(f"cpus: {os.cpu_count()}; load average at start: {os.getloadavg()}")
    right = 0
    for run in range(1, args.runs + 1):
        record = args.out / f"run-{run}.json"
        status, output, seconds = bisect(repo, commits[0][0], commits[-1][0], record)
        (args.out / f"run-{run}.txt").write_text(output)
        found = json.loads(record.read_text())
        result = found.get("result") or {}
        named = result.get("first_bad")
        right += named == slow[0]
        steps = [*found["ends"], *result.get("steps", [])]
        changes = ", ".join(
            f"{s['commit'][:7]} {s['verdict']} {s['change'] * 100:+.1f}%"
            if s["change"] is not None else f"{s['commit'][:7]} {s['verdict']}"
            for s in steps
        )  # fmt: skip
        lines.append(
            f"run {run}: exit {status}, named {named and named[:12]} "
            f"({'right' if named == slow[0] else 'WRONG or none'}), {len(steps)} steps, "
            f"{seconds / 60:.2f} min; {changes}"
        )
    lines.append(f"named the first slow commit in {right} of {args.runs} runs")
    summary = "\n".join(lines) + "\n"
    (args.out / "summary.txt").write_text(summary)
    print(summary, end="")
    shutil.rmtree(repo.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
