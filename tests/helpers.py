"""Shared constants and plain helper functions of the project's own tests (fixtures: conftest.py).

The end-to-end tests run pytest in a subprocess (pytester) on a small benchmark module, with
`--rnnbench-python BACKEND=PATH` pointing at small wrapper interpreters where a test needs a
worker that misbehaves. No product code has a test backdoor: the wrappers answer the backend
probe with the real interpreter and replace only the worker script with one of the stand-ins in
tests/fakes/.

The report tests use fixed inputs: tests/data/results-synthetic.json and results-nietzsche.json
were written by real runs on the project's 2-CPU development machine (see tests/data/README.md
for the commands), so the reports are tested on what the plugin actually writes. Golden files
live in tests/golden/; after an intended change, regenerate them with
`UPDATE_GOLDEN=1 pytest tests/unit/test_markdown.py tests/unit/test_terminal.py
tests/unit/test_comment.py tests/unit/test_history_page.py`. That run compares nothing: each test
that rewrote its golden file is reported as skipped ("golden file NAME rewritten: review the
diff"), never as passed. Review the diff (`git diff tests/golden`), then run the tests again
without UPDATE_GOLDEN to check the output against the files.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import importlib
import importlib.util
import itertools
import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from pytest_rnnbench.results.read import build_report
from pytest_rnnbench.results.rows import Report
from pytest_rnnbench.run import datasets
from pytest_rnnbench.run.protocol import WORKER_SCRIPT, build_request
from pytest_rnnbench.settings import default_cache_dir

# -- where things are ------------------------------------------------------------------------------

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
PACKAGE = REPO / "src" / "pytest_rnnbench"
FAKES = TESTS / "fakes"
DATA = TESTS / "data"
GOLDEN = TESTS / "golden"
RESULT_FILES = (DATA / "results-synthetic.json", DATA / "results-nietzsche.json")
PYTHON = sys.executable
MXNET_PYTHON = REPO / ".venv-mxnet" / "bin" / "python"

# -- the Nietzsche text ----------------------------------------------------------------------------
#
# Only the tests of the seed's real counts (200,285 samples, vocabulary 57) and the end-to-end tests
# that run pytest in a subprocess (where datasets.SOURCES cannot be patched) need the published
# text; the others use it when it is here and otherwise a small file of the same format
# (make_nietzsche).
# Where the published text is looked for, in order:
# 1. RNNBENCH_DATA_DIR, when set: the Makefile sets it when this checkout has this project's offline
#    copy beside it. Then a missing or wrong file there is a broken setup, and the tests that need
#    the text fail instead of skipping, so that CI cannot quietly stop testing the real counts.
# 2. A copy that the product has already downloaded and that matches the published sha256, in the
#    download cache (RNNBENCH_CACHE_DIR or the default cache).
# The tests never download it themselves: the suite must pass, and take the same paths, with or
# without network. The lookup runs once, at import, and only reads (600 KB to hash).
DATA_DIR_GIVEN = bool(os.environ.get("RNNBENCH_DATA_DIR"))


def _find_nietzsche() -> tuple[Path, str]:
    """Where the published text is or would be, and "" when it is there and verified, else why
    the tests that need it cannot run."""
    source = datasets.SOURCES["nietzsche"]
    if DATA_DIR_GIVEN:
        where = Path(os.environ["RNNBENCH_DATA_DIR"]) / source.filename
        if not where.is_file():
            return where, (
                "needs the published Nietzsche text, and the offline copy handed in through "
                f"RNNBENCH_DATA_DIR is missing: {where}"
            )
    else:
        cache = Path(os.environ.get("RNNBENCH_CACHE_DIR") or default_cache_dir())
        where = cache / "downloads" / source.filename
        if not where.is_file():
            return where, (
                "needs the published Nietzsche text: no offline copy (RNNBENCH_DATA_DIR is not "
                f"set) and no download in {where.parent} (the tests never download it); put "
                f"{source.filename} from {source.url} there, or set RNNBENCH_DATA_DIR to a "
                "directory holding it"
            )
    if datasets.sha256_of(where) != source.sha256:
        return where, (
            f"needs the published Nietzsche text: {where} does not match its sha256 "
            f"{source.sha256}; replace it with a fresh copy of {source.url}"
        )
    return where, ""


NIETZSCHE, NIETZSCHE_MISSING = _find_nietzsche()
NIETZSCHE_DIR = NIETZSCHE.parent
# The verified published text, or None (then NIETZSCHE_MISSING says why).
NIETZSCHE_REAL = None if NIETZSCHE_MISSING else NIETZSCHE

# A few sentences in the published file's format: English prose in UTF-8 with mixed case,
# punctuation, "--" dashes and a few accented letters, lines broken at about 70 characters and
# paragraphs separated by blank lines.
_PARAGRAPHS = [
    "SUPPOSING that the bench is a woman--what then? Is there not ground\n"
    "for suspecting that all benchmarkers, in so far as they have been\n"
    "dogmatists, have failed to understand warm-up epochs?",
    "1. The Will to Measure, which is to tempt us to many a hazardous\n"
    "enterprise, the famous Timing which all engineers have hitherto spoken\n"
    "of with respect, what questions has this Will to Measure not laid\n"
    "before us! What strange, perplexing, questionable questions!",
    '2. "How could anything originate out of its opposite? For example,\n'
    "speed out of noise, or the naïve régime of one CPU out of the crowd\n"
    'of shared machines?" Such genesis is impossible; whoever dreams of it\n'
    "is a fool, nay, worse than a fool.",
]


def make_nietzsche(directory: Path, repeats: int = 8) -> tuple[Path, datasets.Source]:
    """A small `nietzsche.txt` of the published file's format in `directory`, and the Source it
    would have if it were the published file: the same name, file name and URL, its own sha256
    and size. Tests monkeypatch datasets.SOURCES["nietzsche"] with that Source where the product
    verifies the file: it stands for the published identity, it is no product backdoor."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "nietzsche.txt"
    text = "PREFACE\n\n\n" + "\n\n".join(_PARAGRAPHS * repeats) + "\n"
    path.write_text(text, encoding="utf-8")
    source = dataclasses.replace(
        datasets.SOURCES["nietzsche"], sha256=datasets.sha256_of(path), size=path.stat().st_size
    )
    return path, source


# -- benchmark modules and conftests for pytester sessions ----------------------------------------

HEAVY_MODULES = ("keras", "tensorflow", "jax", "jaxlib", "torch", "mxnet")

BENCH_MODULE = """
    import math

    def test_lstm(rnnbench):
        result = rnnbench()
        assert math.isfinite(result.final_loss)
        assert result.samples_per_second > 0
"""

# The benchmark module of the `plain` fixture: no checks of its own.
BARE_BENCH_MODULE = """
    def test_lstm(rnnbench):
        rnnbench()
"""

# Records which machine-learning modules the pytest process itself imported.
HEAVY_CHECK_CONFTEST = f"""
    import json, sys

    HEAVY = {HEAVY_MODULES!r}

    def pytest_unconfigure(config):
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
        with open(str(config.rootpath / "heavy-modules.json"), "w") as out:
            json.dump(loaded, out)
"""

# -- the matrix and the options --------------------------------------------------------------------

SEED_IDS = {
    f"{backend}-gpu0-b{batch}-{unroll}-{dataset}"
    for backend, batch, unroll, dataset in itertools.product(
        ("tensorflow", "jax", "torch", "mxnet"),
        (32, 128),
        ("unroll", "nounroll"),
        ("synthetic", "nietzsche", "wikitext2"),
    )
}

# Bad values of the core options, tried on the command line (tests/acceptance/test_options_e2e.py),
# in the environment and in the ini file (tests/unit/test_options.py):
# (command-line arguments, environment variable, ini key, bad value, what the message must say)
BAD_VALUES = [
    (["--rnnbench-gpus=-1"], "RNNBENCH_GPUS", "rnnbench_gpus", "-1", "cannot be negative"),
    (["--rnnbench-gpus=two"], "RNNBENCH_GPUS", "rnnbench_gpus", "two", "expected GPU counts"),
    (
        ["--rnnbench-backends=jax,theano"],
        "RNNBENCH_BACKENDS",
        "rnnbench_backends",
        "jax,theano",
        "unknown theano; accepted: tensorflow, jax, torch, mxnet",
    ),
    (
        ["--rnnbench-batch-sizes=0"],
        "RNNBENCH_BATCH_SIZES",
        "rnnbench_batch_sizes",
        "0",
        "positive whole number",
    ),
    (
        ["--rnnbench-unroll=maybe"],
        "RNNBENCH_UNROLL",
        "rnnbench_unroll",
        "maybe",
        "accepted: true, false, both",
    ),
    (
        ["--rnnbench-datasets=imdb"],
        "RNNBENCH_DATASETS",
        "rnnbench_datasets",
        "imdb",
        "unknown imdb; accepted: synthetic, nietzsche, wikitext2",
    ),
    (
        ["--rnnbench-samples=-5"],
        "RNNBENCH_SAMPLES",
        "rnnbench_samples",
        "-5",
        "positive whole number",
    ),
    (
        ["--rnnbench-repeats=0"],
        "RNNBENCH_REPEATS",
        "rnnbench_repeats",
        "0",
        "positive whole number",
    ),
    (
        ["--rnnbench-matrix=huge"],
        "RNNBENCH_MATRIX",
        "rnnbench_matrix",
        "huge",
        "accepted: default, seed",
    ),
    (
        ["--rnnbench-timeout=soon"],
        "RNNBENCH_TIMEOUT",
        "rnnbench_timeout",
        "soon",
        "positive number of seconds",
    ),
    (
        ["--rnnbench-timeout=-3"],
        "RNNBENCH_TIMEOUT",
        "rnnbench_timeout",
        "-3",
        "positive number of seconds",
    ),
    (["--rnnbench-python", "jax"], None, "rnnbench_python", "jax", "expected BACKEND=PATH"),
    (
        ["--rnnbench-python", "theano=/usr/bin/python3"],
        None,
        "rnnbench_python",
        "theano=/usr/bin/python3",
        "unknown backend 'theano'",
    ),
    (None, "RNNBENCH", "rnnbench", "maybe", "accepted: 1, true, yes, on, 0, false, no, off"),
]

# -- processes and wrapper interpreters ------------------------------------------------------------


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie waiting for a parent that no longer cares."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return not re.search(r"^State:\s+Z", status, re.MULTILINE)


def wait_gone(pids: list[int], within_s: float = 5.0) -> list[int]:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        left = [pid for pid in pids if alive(pid)]
        if not left:
            return []
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


def failure_sections(text: str) -> dict[str, str]:
    """The FAILURES section of a pytest run, per test id."""
    sections: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        header = re.match(r"^_{3,} (test_lstm\[.*\]) _{3,}$", line)
        if header:
            current = header.group(1)
            sections[current] = ""
        elif re.match(r"^={3,} ", line):
            current = None
        elif current:
            sections[current] += line + "\n"
    return sections


def require_framework(module: str) -> None:
    """Skip unless `module` is installed, asked without importing it: the test process, like
    pytest's own under --rnnbench, never imports a framework (importing one beside another's
    numpy extensions clashed in a full run: ml_dtypes)."""
    import pytest

    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")


def benchmark_script(name: str) -> Any:
    """A script of benchmarks/ (not a package) imported as a module, for tests of the code
    changes and repeats the calibration uses."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def benchmark_script_importing_neighbours(name: str) -> Iterator[Any]:
    """benchmark_script(name) for a script that imports its neighbours (bounds, another script)
    as `python benchmarks/...` would: benchmarks/ is first on sys.path while the module is in
    use, and sys.path is as it was afterwards (the script's own inserts gone too)."""
    import pytest

    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(REPO / "benchmarks"))
        yield benchmark_script(name)


def start_as_a_foreground_job(command: list[str], **popen: Any) -> subprocess.Popen:
    """Start `command` in its own process group with SIGINT at its default, as a terminal's
    foreground job has it: a shell without job control starts background commands with SIGINT
    ignored, the child would inherit that, and a test of Ctrl-C would measure the shell that
    started pytest, not the product."""

    def default_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    return subprocess.Popen(command, start_new_session=True, preexec_fn=default_sigint, **popen)


def write_executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def make_fake_interpreter(directory: Path, worker: Path = FAKES / "fake_worker.py") -> Path:
    """An interpreter for --rnnbench-python: the real one for the backend probe, `worker` (a
    stand-in from tests/fakes/ that loads the real worker module) for the worker script."""
    return write_executable(
        directory / "fake-python",
        textwrap.dedent(f"""\
        #!/bin/sh
        if [ "$1" = "-c" ]; then exec "{PYTHON}" "$@"; fi
        exec "{PYTHON}" "{worker}" "$@"
        """),
    )


# -- the report's fixed inputs and golden files ----------------------------------------------------

# Shaped as verdict.CaseVerdict.to_dict() writes them into results files.
VERDICTS = {
    "tensorflow-gpu0-b32-unroll-synthetic": {
        "verdict": "regression",
        "change": 0.124,
        "reason": "tensorflow-gpu0-b32-unroll-synthetic: regression: time per step regression, "
        "baseline 20.1 ms -> now 22.6 ms, change +12.4%, tolerance 5.0%",
        "metrics": {
            "step_time": {"outcome": "regression", "baseline": 20.1, "now": 22.6, "change": 0.124}
        },
    },
    "jax-gpu0-b32-unroll-synthetic": {
        "verdict": "pass",
        "change": -0.01,
        "reason": "jax-gpu0-b32-unroll-synthetic: pass",
        "metrics": {
            "step_time": {"outcome": "pass", "baseline": 60.0, "now": 59.4, "change": -0.01}
        },
    },
    "torch-gpu0-b32-unroll-synthetic": {
        "verdict": "inconclusive",
        "change": 0.081,
        "reason": "torch-gpu0-b32-unroll-synthetic: inconclusive: time per step inconclusive | "
        "too noisy to tell",
        "metrics": {
            "step_time": {
                "outcome": "inconclusive",
                "baseline": 1225.0,
                "now": 1325.0,
                "change": 0.081,
            }
        },
    },
}


def documents() -> list[tuple[str, dict]]:
    return [(path.name, json.loads(path.read_text())) for path in RESULT_FILES]


def fixed_report() -> Report:
    return build_report(documents())


def report_with_verdicts() -> Report:
    docs = copy.deepcopy(documents())
    docs[0][1]["verdicts"] = copy.deepcopy(VERDICTS)
    return build_report(docs)


def check_golden(name: str, text: str) -> None:
    """Compare with tests/golden/NAME; UPDATE_GOLDEN=1 rewrites it instead and skips the test
    (a rewritten file checks nothing until its diff is reviewed and the test is run again)."""
    import pytest

    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        pytest.skip(f"golden file {name} rewritten: review the diff")
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from its golden file (UPDATE_GOLDEN=1 to accept)"


# A machine section of another profile than this one's (an AWS p3.8xlarge: 4 V100 GPUs), for
# results made to come from a second machine.
P3_MACHINE = {
    "cpu": "Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz",
    "cpus": 32,
    "gpus": ["Tesla V100-SXM2-16GB"] * 4,
    "driver": "535.104",
    "cuda": "12.2",
}


def tiny_tf_args(fake_python) -> list[str]:
    """The smallest benchmark run: one TensorFlow case on 16 synthetic samples, its worker
    interpreter `fake_python` (a stand-in from make_fake_interpreter)."""
    return [
        "--rnnbench",
        "--rnnbench-backends=tensorflow",
        "--rnnbench-datasets=synthetic",
        "--rnnbench-batch-sizes=1",
        "--rnnbench-samples=16",
        "-p",
        "no:cacheprovider",
        f"--rnnbench-python=tensorflow={fake_python}",
    ]


# -- git repositories of a Keras fork ---------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    """`git -C repo ARGS`, its output; a failure raises."""
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def make_fork_repo(repo: Path) -> Path:
    """A Keras-MXNet-like repository at `repo`: master (the base) and feature (checked out: one
    commit on top, the head)."""
    (repo / "keras" / "backend").mkdir(parents=True)
    (repo / "keras" / "__init__.py").write_text("__version__ = 'base'\n")
    (repo / "keras" / "backend" / "mxnet_backend.py").write_text("# the fork\n")
    git(repo.parent, "init", "-q", "-b", "master", str(repo))
    git(repo, "config", "user.email", "t@example.invalid")
    git(repo, "config", "user.name", "t")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "keras" / "__init__.py").write_text("__version__ = 'head'\n")
    git(repo, "commit", "-q", "-am", "head")
    return repo


def load_worker_module(name: str) -> ModuleType:
    """One of the worker's modules, imported as the worker imports it: with its directory on
    sys.path (its modules import one another as top-level names)."""
    sys.path.insert(0, str(WORKER_SCRIPT))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(WORKER_SCRIPT))


def tiny_tensorflow_request(unroll: bool) -> dict:
    """One TensorFlow case on the CPU, small enough to train in seconds."""
    case = {"id": "tensorflow-gpu0-b8-synthetic", "backend": "tensorflow", "gpus": 0,
            "batch_size": 8, "unroll": unroll, "dataset": "synthetic"}  # fmt: skip
    data = {"kind": "synthetic", "samples": 16, "cap": 16, "timesteps": 5, "features": 8,
            "seed": 1234}  # fmt: skip
    return build_request(case, data, 1)
