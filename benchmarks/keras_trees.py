"""Keras source trees with real code changes, for the pull-request gate's tests and calibration.

Takes the `keras` package that an environment has installed (Keras-MXNet 2.2.4.3 in .venv-mxnet,
Keras 3 in .venv: both are complete, pure-Python source trees), commits it to a fresh git
repository as the base, and commits edits on top, the kind of change a pull request makes:

    rnn-work N   Keras-MXNet: keras/backend/mxnet_backend.py's unrolled RNN loop runs the cell a
                 second time on the first N of the 40 time steps and averages the two outputs and
                 states
                 (a "consistency check": the same numbers, bit for bit, at more cost; the input
                 is multiplied by 1 so that MXNet's common-expression elimination, on by
                 default, cannot merge the two cells into one)
    cell-work N  Keras 3: the LSTM cell's step (keras/src/layers/rnn/lstm.py) does N (1-4) extra
                 matrix products of the hidden state, each with another gate block of the
                 recurrent kernel (distinct, so no common-expression elimination merges them)
    cell-part N  Keras 3: the LSTM cell's step does one extra product of the hidden state with
                 N/8 (1-8) of a gate block's columns: a finer knob than cell-work (TensorFlow
                 and JAX run this cell on CPU)
    torch-loop-work N  Keras 3: the torch backend's own LSTM loop (keras/src/backend/torch/
                 rnn.py, `_fallback_lstm`, which torch runs on CPU instead of the cell) computes
                 the recurrent product a second time on the first N of the time steps, added
                 times 0.0 (the same numbers, bit for bit, gradients included)
    docs         a docstring and a comment change only (must not move any figure)

Usage:

    python benchmarks/keras_trees.py --keras .venv-mxnet/lib/python3.11/site-packages/keras \
        --out "$(mktemp -d)/trees" --edit docs --edit rnn-work=7 --edit rnn-work=16

prints one line per commit (edit, commit, directory). Each edit is also materialised as its own
checkout under --out, so a calibration can point both sides of the gate at directories.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

MXNET_BACKEND = Path("keras") / "backend" / "mxnet_backend.py"
KERAS3_LSTM = Path("keras") / "src" / "layers" / "rnn" / "lstm.py"
KERAS3_TORCH_RNN = Path("keras") / "src" / "backend" / "torch" / "rnn.py"

# The unrolled loop of Keras-MXNet's K.rnn (one step_function call per time step).
_MXNET_STEP = """        for inp, msk in zip(inputs, masks):
            last_output, new_states = step_function(KerasSymbol(inp),
                                                    states + constants)
"""
# Keras 3's LSTMCell.call, where the new hidden state is made.
_KERAS3_STEP = """        h = o * self.activation(c)
"""
# The torch backend's LSTM loop (Keras 3.15), one recurrent product per time step.
_TORCH_STEP = """    for t in range(time_steps):
        z = x_proj[t] + torch.matmul(h, recurrent_kernel)
"""


def installed_keras(python: Path | str) -> Path:
    """The `keras` package that `python` (an environment's interpreter) has installed: its
    site-packages differ by Python version, so ask the interpreter rather than spell them."""
    done = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(done.stdout.strip()) / "keras"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def make_repo(keras_package: Path, repo: Path) -> str:
    """A git repository whose top holds a copy of `keras_package`; returns the base commit."""
    repo.mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        keras_package, repo / "keras", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    git(repo, "init", "-q", "-b", "master")
    git(repo, "config", "user.email", "gate@example.invalid")
    git(repo, "config", "user.name", "pytest-rnnbench")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base: the released keras package")
    return git(repo, "rev-parse", "HEAD")


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if old not in text:
        raise SystemExit(f"{path}: the code this edit changes is not there (another version?)")
    path.write_text(text.replace(old, new, 1))


def apply_edit(repo: Path, edit: str, amount: int = 1) -> None:
    """Change the working tree of `repo` as a pull request would (see the module docstring)."""
    if edit == "rnn-work":
        edited = (
            "        for step, (inp, msk) in enumerate(zip(inputs, masks)):\n"
            "            last_output, new_states = step_function(KerasSymbol(inp),\n"
            "                                                    states + constants)\n"
            f"            if step < {amount}:\n"
            "                # Consistency check: run the cell again and average (same value).\n"
            "                again, again_states = step_function(KerasSymbol(inp * 1),\n"
            "                                                    states + constants)\n"
            "                last_output = KerasSymbol((last_output.symbol + again.symbol) / 2)\n"
            "                new_states = [KerasSymbol((s.symbol + t.symbol) / 2)\n"
            "                              for s, t in zip(new_states, again_states)]\n"
        )
        _replace(repo / MXNET_BACKEND, _MXNET_STEP, edited)
    elif edit == "cell-work":
        if not 1 <= amount <= 4:
            raise SystemExit("cell-work takes 1 to 4 (one product per gate block of the kernel)")
        extra = "".join(
            "        # Project the state on a gate block once more (numerically a no-op).\n"
            f"        h = h + 0.0 * ops.matmul(h, self.recurrent_kernel[:, {i} * self.units :"
            f" {i + 1} * self.units])\n"
            for i in range(amount)
        )
        _replace(repo / KERAS3_LSTM, _KERAS3_STEP, _KERAS3_STEP + extra)
    elif edit == "cell-part":
        if not 1 <= amount <= 8:
            raise SystemExit("cell-part takes 1 to 8 (eighths of a gate block)")
        extra = (
            "        # Project the state on part of a gate block (numerically a no-op).\n"
            f"        part = self.recurrent_kernel[:, : max(1, {amount} * self.units // 8)]\n"
            "        h = h + 0.0 * ops.mean(ops.matmul(h, part), axis=-1, keepdims=True)\n"
        )
        _replace(repo / KERAS3_LSTM, _KERAS3_STEP, _KERAS3_STEP + extra)
    elif edit == "torch-loop-work":
        edited = _TORCH_STEP + (
            f"        if t < {amount}:\n"
            "            # Consistency check: the recurrent product again (numerically a no-op;\n"
            "            # averaging instead would reorder the gradient's sums).\n"
            "            z = z + 0.0 * torch.matmul(h, recurrent_kernel)\n"
        )
        _replace(repo / KERAS3_TORCH_RNN, _TORCH_STEP, edited)
    elif edit == "docs":
        target = repo / MXNET_BACKEND if (repo / MXNET_BACKEND).exists() else repo / KERAS3_LSTM
        text = target.read_text()
        target.write_text('"""Reviewed for the RNN benchmark (documentation only)."""\n' + text)
    else:
        raise SystemExit(
            f"unknown edit {edit!r}: rnn-work, cell-work, cell-part, torch-loop-work or docs"
        )


def commit_edit(repo: Path, edit: str, amount: int = 1) -> str:
    apply_edit(repo, edit, amount)
    git(repo, "commit", "-q", "-am", f"{edit} {amount}")
    return git(repo, "rev-parse", "HEAD")


def checkout(repo: Path, commit: str, target: Path) -> Path:
    """The files of `commit` in a directory of their own (a plain copy, no .git)."""
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", commit],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keras", type=Path, required=True, help="an installed keras package")
    parser.add_argument("--out", type=Path, required=True, help="a new directory")
    parser.add_argument(
        "--edit", action="append", default=[], help="EDIT or EDIT=N, applied to the base, one each"
    )
    args = parser.parse_args()
    repo = args.out / "repo"
    base = make_repo(args.keras, repo)
    print(f"base {base} {checkout(repo, base, args.out / 'base')}")
    print(f"base-copy {base} {checkout(repo, base, args.out / 'base-copy')}")
    for spec in args.edit:
        name, _, amount = spec.partition("=")
        git(repo, "checkout", "-q", "-B", f"edit-{name}-{amount or 1}", base)
        commit = commit_edit(repo, name, int(amount or 1))
        label = f"{name}-{amount or 1}"
        print(f"{label} {commit} {checkout(repo, commit, args.out / label)}")
    git(repo, "checkout", "-q", "master")


if __name__ == "__main__":
    main()
