"""GPU verification: the product's GPU behaviours that were only checked with scripted NVML, on
one real GPU (about 5-6 minutes on one H100; `--budget-s`, default 330, bounds it).

Small `pytest --rnnbench` runs of the jax and torch cases (synthetic data, batch 128, 4,096
samples), each under its own `timeout`, cheapest and most important first; then each results
file (`--rnnbench-json`) is read. Every check prints one line, `PASS|FAIL|N/A <check>: <the
fields read>`; the script exits 0 when none failed and some passed (1: one failed; 2: none
could be judged, e.g. a missing module). Checks (the commit that made each):

- lstm path (1f00897): torch and jax without unroll record the fused cuDNN kernel, unroll the
  generic loop; tf32 flags (a060286): torch's tf32_cudnn and tf32_matmul are booleans.
- gpu unseen (2394d3c): a jax worker given a GPU that jax cannot see (JAX_PLATFORMS=cpu)
  fails its case, naming what jax saw; never a skip.
- xdist gpu blocks (1162610, 0c5f79a): `-n 2` on one GPU: no worker owns it, every GPU case is
  skipped once, saying so; `-n 1`: the worker locks its block while it runs, no lock file left.
- live A/A (the same interpreter on both sides): verdict pass or inconclusive; the turns' CPU
  loads; the reference side's GPU memory (ab0f00d); no late exit (fd509fd), last turns' times.
- doubled workers: 12 per side, as bisect's second looks, fit on the GPU (peak memory), last.
- at the end, over every GPU worker: CUDA_DEVICE_ORDER=PCI_BUS_ID (8a1d556) in its environment
  (read from /proc while it ran), gpus_seen 1, CUDA_VISIBLE_DEVICES the GPU the plugin chose;
  NVML never counts the case's own workers as other processes (4d430d9), nvml_reason when a PID
  namespace hides them.

It imports no framework: it runs pytest and reads JSON, /proc and nvidia-smi. Keras and
pytest-xdist come from the wheels in `.whl/` (git-ignored), installed with --target into the
work folder. Fetch them once where there is a network:

    python3 -m pip download --only-binary=:all: --no-deps --python-version 3.12 \
        --implementation cp --abi cp312 --platform manylinux_2_28_x86_64 \
        --platform manylinux2014_x86_64 -d .whl \
        keras==3.15.1 namex optree absl-py pytest-xdist execnet

(optree's wheels are manylinux_2_28 only; about 3 MB in all; cp312: that machine's python3 is
3.12, and another one's install fails, so every check says N/A and the script exits 2.)

On the GPU machine (the device tool's `run`, carry [".whl"], timeout_s 420), from the checkout:

    nvidia-smi -L; python3 benchmarks/gpu_verify.py

Output: stdout and `$OUT/gpu_verify.txt`, each stage's results file, JUnit file and pytest output
in `$OUT/`, and `$OUT/gpu_verify.json`. Where no GPU is found (or with `--cpu-dry-run`) the same
stages run on the CPU at the smallest settings (512 samples, 2 workers a side) and the GPU-only
checks say N/A: `.venv/bin/python benchmarks/gpu_verify.py --cpu-dry-run --out DIR` (4-5 minutes on
2 busy cores). `--stages` runs some stages only.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "src" / "pytest_rnnbench" / "suite" / "test_seed_lstm.py"
SHARED_GPU = "the GPU was shared with other processes"  # verdicts/distrust.py's SHARED_GPU
LOCKS = "pytest-rnnbench-*-gpus*.lock"  # run/gpu_claim.py's lock files
MIB = 2**20
DEFAULT_BUDGET_S = 330.0


class Unavailable(Exception):
    """A check that cannot be judged: its status (FAIL or N/A) and why."""

    def __init__(self, status: str, evidence: str) -> None:
        super().__init__(evidence)
        self.status = status
        self.evidence = evidence


# ----------------------------------------------------------------------------------------------
# Watching a stage: our workers' environments (/proc), the GPU (nvidia-smi), lock files.


def _read(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _stat_fields(pid: int) -> Optional[list[str]]:
    raw = _read(f"/proc/{pid}/stat")
    if raw is None:
        return None
    text = raw.decode(errors="replace")
    return text[text.rfind(")") + 2 :].split()  # from field 3 (state) on


def _is_worker(pid: int) -> bool:
    cmdline = _read(f"/proc/{pid}/cmdline") or b""
    return b"--result-fd" in cmdline.split(b"\0")


def _descends_from_us(pid: int) -> bool:
    me = os.getpid()
    for _ in range(32):
        fields = _stat_fields(pid)
        if fields is None:
            return False
        pid = int(fields[1])
        if pid == me:
            return True
        if pid <= 1:
            return False
    return False


def _smi(*query: str) -> list[list[str]]:
    """nvidia-smi's CSV rows for `query` (e.g. --query-gpu=memory.used); [] when it fails."""
    try:
        done = subprocess.run(
            ["nvidia-smi", *query, "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    return [[cell.strip() for cell in line.split(",")] for line in done.stdout.splitlines() if line]


ENV_KEYS = ("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "JAX_PLATFORMS", "KERAS_BACKEND")


class Watcher:
    """While a stage runs (every 0.5 s): the worker processes this script started (their
    environment, how many were alive at once), lock files in `lock_dir`; with a GPU, every
    second, the device's used memory and the pids NVML lists."""

    def __init__(self, gpu: bool, lock_dir: Optional[Path] = None) -> None:
        self.gpu = gpu
        self.lock_dir = lock_dir
        self.workers: dict[int, dict[str, Optional[str]]] = {}  # pid -> ENV_KEYS' values
        self.started: dict[int, str] = {}  # pid -> its start time (stat field 22)
        self.most_alive = 0
        self.used_peak_mib: Optional[int] = None
        self.nvml_pids: set[int] = set()
        self.locks_seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def _run(self) -> None:
        next_smi = 0.0
        while not self._stop.is_set():
            self._scan()
            if self.gpu and time.monotonic() >= next_smi:
                next_smi = time.monotonic() + 1.0
                self._query_gpu()
            self._stop.wait(0.5)

    def _scan(self) -> None:
        alive = 0
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            pid = int(name)
            if pid in self.workers:
                alive += os.path.exists(f"/proc/{pid}")
                continue
            if not _is_worker(pid) or not _descends_from_us(pid):
                continue
            environ = _read(f"/proc/{pid}/environ") or b""
            pairs = dict(
                item.decode(errors="replace").partition("=")[::2]
                for item in environ.split(b"\0")
                if b"=" in item
            )
            self.workers[pid] = {key: pairs.get(key) for key in ENV_KEYS}
            fields = _stat_fields(pid)
            self.started[pid] = fields[19] if fields else ""
            alive += 1
        self.most_alive = max(self.most_alive, alive)
        if self.lock_dir is not None:
            self.locks_seen.update(Path(p).name for p in glob.glob(str(self.lock_dir / LOCKS)))

    def _query_gpu(self) -> None:
        used = [int(float(row[0])) for row in _smi("--query-gpu=memory.used") if row]
        if used:
            self.used_peak_mib = max(self.used_peak_mib or 0, sum(used))
        for row in _smi("--query-compute-apps=pid"):
            if row and row[0].isdigit():
                self.nvml_pids.add(int(row[0]))

    def kill_leftovers(self) -> list[int]:
        """Kill (SIGKILL, its process group) every worker of ours still alive: the same process
        (its start time), a worker still, and its group's leader (start_new_session)."""
        killed = []
        for pid, started in self.started.items():
            fields = _stat_fields(pid)
            if fields is None or fields[19] != started or not _is_worker(pid):
                continue
            try:
                if os.getpgid(pid) == pid:
                    os.killpg(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except OSError:
                pass
        return killed


# ----------------------------------------------------------------------------------------------
# One stage's pytest run and what it wrote.


@dataclass
class StageRun:
    """A stage's pytest run: exit status, results document, JUnit outcomes, output's last lines."""

    name: str
    rc: Optional[int] = None
    seconds: float = 0.0
    limit_s: float = 0.0
    clipped: bool = False  # its limit was the budget's deadline, not its own cap
    doc: Optional[dict[str, Any]] = None
    junit: list[tuple[str, str, str]] = field(default_factory=list)  # (test, outcome, message)
    tail: str = ""
    command: list[str] = field(default_factory=list)
    watcher: Optional[Watcher] = None
    locks_left: list[str] = field(default_factory=list)
    killed: list[int] = field(default_factory=list)

    @property
    def timed_out(self) -> bool:
        return self.rc in (124, 137)

    def how(self) -> str:
        """How the run ended, for evidence."""
        end = f"pytest rc {self.rc} after {self.seconds:.0f} s"
        if self.timed_out:
            end += f" (killed at its {self.limit_s:.0f} s limit)"
        last = self.tail.strip().splitlines()[-1:] or ["(no output)"]
        return f"{end}; last line: {last[0][:160]}"

    def _missing(self, what: str) -> Unavailable:
        if self.timed_out and self.clipped:
            return Unavailable("N/A", f"(budget) stopped at the deadline; {what}: {self.how()}")
        failure = ((self.doc or {}).get("failures") or {}).get(what)
        said = f"; failure: {failure[:300]}" if failure else ""
        return Unavailable("FAIL", f"no {what} in the results; {self.how()}{said}")

    def result(self, case: str) -> dict[str, Any]:
        found = ((self.doc or {}).get("results") or {}).get(case)
        if found is None:
            raise self._missing(case)
        return found

    def verdict(self, case: str) -> dict[str, Any]:
        found = ((self.doc or {}).get("verdicts") or {}).get(case)
        if found is None:
            raise self._missing(case)
        return found


def read_junit(path: Path) -> list[tuple[str, str, str]]:
    """(test name, passed | failed | error | skipped, message) per test case of a JUnit file."""
    try:
        tree = ET.parse(path)
    except (OSError, ET.ParseError):
        return []
    found = []
    for case in tree.iter("testcase"):
        outcome, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            node = case.find(kind)
            if node is not None:
                outcome = {"failure": "failed"}.get(kind, kind)
                message = node.get("message") or (node.text or "")
                break
        found.append((case.get("name") or "", outcome, message))
    return found


def case_id(backend: str, gpus: int, unroll: bool) -> str:
    return f"{backend}-gpu{gpus}-b128-{'unroll' if unroll else 'nounroll'}-synthetic"


# ----------------------------------------------------------------------------------------------
# The session: settings, output, budget.


@dataclass
class Context:
    args: argparse.Namespace
    out: Path
    work: Path
    gpu: bool
    gpu_count: int
    gpu_memory_mib: Optional[int]
    python: str
    env: dict[str, str]
    xdist: str  # "" when importable, else why not
    started: float  # time.monotonic() at the start: the budget counts from there
    lines: list[str] = field(default_factory=list)
    checks: list[tuple[str, str, str]] = field(default_factory=list)
    stages: list[StageRun] = field(default_factory=list)
    foreign_pids: set[int] = field(default_factory=set)  # on the GPU before any stage

    @property
    def gpus(self) -> int:
        """The GPU count of the cases: 1 on the GPU, 0 in the dry run."""
        return 1 if self.gpu else 0

    @property
    def deadline(self) -> float:
        return self.started + self.args.budget_s

    def say(self, text: str) -> None:
        print(text, flush=True)
        self.lines.append(text)
        with open(self.out / "gpu_verify.txt", "a", encoding="utf-8") as handle:
            handle.write(text + "\n")

    def progress(self, text: str) -> None:
        self.say(f"[{time.monotonic() - self.started:5.0f} s] {text}")

    def check(self, name: str, judge: Callable[[], tuple[str, str]]) -> None:
        try:
            status, evidence = judge()
        except Unavailable as exc:
            status, evidence = exc.status, exc.evidence
        except Exception as exc:  # a field missing or of another shape: the product's answer
            status, evidence = "FAIL", f"reading the results raised {type(exc).__name__}: {exc}"
        self.checks.append((status, name, evidence))
        self.say(f"{status} {name}: {evidence}")

    def not_run(self, names: Iterable[str], why: str) -> None:
        for name in names:
            self.check(name, lambda: ("N/A", why))

    def gpu_results(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(stage, case id, result) of every GPU case measured."""
        return [
            (run.name, case, result)
            for run in self.stages
            for case, result in ((run.doc or {}).get("results") or {}).items()
            if "-gpu0-" not in case
        ]

    def workers_seen(self) -> dict[int, dict[str, Optional[str]]]:
        seen: dict[int, dict[str, Optional[str]]] = {}
        for run in self.stages:
            if run.watcher is not None:
                seen.update(run.watcher.workers)
        return seen


def base_args(ctx: Context, stage: str, limit_s: float) -> list[str]:
    samples = ctx.args.samples or (4096 if ctx.gpu else 512)
    return [
        str(SUITE),
        "-q",
        "-p",
        "no:cacheprovider",
        # Not pip-installed on the GPU machine: the plugin is loaded by module (gpu_check.sh).
        "-p",
        "no:rnnbench",
        "-p",
        "pytest_rnnbench.plugin",
        "-o",
        "filterwarnings=default",
        f"--junitxml={ctx.out / f'{stage}-junit.xml'}",
        f"--rnnbench-json={ctx.out / f'{stage}-results.json'}",
        f"--rnnbench-cache-dir={ctx.work / 'cache'}",
        f"--rnnbench-baseline-dir={ctx.work / 'baselines'}",
        "--rnnbench-datasets=synthetic",
        "--rnnbench-batch-sizes=128",
        f"--rnnbench-samples={samples}",
        f"--rnnbench-timeout={max(30, int(limit_s) - 15)}",
    ]


def run_pytest(
    ctx: Context,
    stage: str,
    extra: list[str],
    cap_s: float,
    env: Optional[Mapping[str, str]] = None,
) -> StageRun:
    """pytest on the seed suite under `timeout` (its cap, or what the budget leaves)."""
    left = ctx.deadline - time.monotonic()
    limit = max(5.0, min(cap_s, left))
    run = StageRun(stage, limit_s=limit, clipped=left < cap_s)
    temp = ctx.work / "tmp" / stage
    temp.mkdir(parents=True, exist_ok=True)
    stage_env = dict(ctx.env, TMPDIR=str(temp), **(env or {}))
    pytest = [ctx.python, "-m", "pytest", *base_args(ctx, stage, limit), *extra]
    run.command = ["timeout", "-k", "10", f"{limit:.0f}", *pytest]
    ctx.progress(f"stage {stage}: up to {limit:.0f} s: {' '.join(pytest[3:])}")
    output = ctx.out / f"{stage}-pytest.txt"
    results, junit = ctx.out / f"{stage}-results.json", ctx.out / f"{stage}-junit.xml"
    for stale in (results, junit):  # an earlier run's must not pass for this one's
        stale.unlink(missing_ok=True)
    t0 = time.monotonic()
    with Watcher(ctx.gpu, lock_dir=temp) as watcher, open(output, "w") as log:
        proc = subprocess.Popen(
            run.command, cwd=ROOT, env=stage_env, stdout=log, stderr=subprocess.STDOUT
        )
        beat = t0 + 30
        while proc.poll() is None:
            time.sleep(1.0)
            if time.monotonic() >= beat:  # a heartbeat: where a hang shows
                beat += 30
                memory = f", GPU used {watcher.used_peak_mib} MiB" if ctx.gpu else ""
                ctx.progress(f"  {stage}: {len(watcher.workers)} worker(s) so far{memory}")
    run.seconds = time.monotonic() - t0
    run.rc = proc.returncode
    run.watcher = watcher
    run.killed = watcher.kill_leftovers()
    run.locks_left = sorted(Path(p).name for p in glob.glob(str(temp / LOCKS)))
    run.tail = "\n".join(output.read_text(errors="replace").splitlines()[-15:])
    if results.exists():
        try:
            run.doc = json.loads(results.read_text())
        except ValueError:
            run.doc = None
    run.junit = read_junit(junit)
    ctx.stages.append(run)
    outcomes = ", ".join(f"{case}: {outcome}" for case, outcome, _ in run.junit) or "none"
    memory = f"; GPU used peak {watcher.used_peak_mib} MiB" if watcher.used_peak_mib else ""
    ctx.progress(
        f"stage {stage}: rc {run.rc} in {run.seconds:.0f} s; tests: {outcomes}; "
        f"{len(watcher.workers)} worker(s), {watcher.most_alive} at once{memory}"
        + (f"; killed leftover workers {run.killed}" if run.killed else "")
    )
    return run


# ----------------------------------------------------------------------------------------------
# Checks read from the results.


def lstm_check(ctx: Context, run: StageRun, backend: str, unroll: bool) -> tuple[str, str]:
    case = case_id(backend, ctx.gpus, unroll)
    facts = run.result(case)["worker"]["run"]
    kernel = facts.get("lstm_kernel") or {}
    evidence = (
        f"{case}: lstm_path={facts.get('lstm_path')!r}, kernel={kernel.get('kernel')!r}, "
        f"loop={kernel.get('loop')!r}, observed={kernel.get('observed')!r}; "
        f"why: {str(kernel.get('why'))[:200]}"
    )
    if unroll:
        ok = kernel.get("kernel") == "generic" and kernel.get("observed") is True
        return ("PASS" if ok else "FAIL"), evidence
    if not ctx.gpu:
        return "N/A", f"no GPU (the fused kernel is cuDNN's); recorded on CPU: {evidence}"
    ok = (
        kernel.get("kernel") == "fused"
        and facts.get("lstm_path") == "cuDNN"
        and kernel.get("observed") is True
    )
    return ("PASS" if ok else "FAIL"), evidence


def tf32_check(ctx: Context, run: StageRun) -> tuple[str, str]:
    case = case_id("torch", ctx.gpus, False)
    facts = run.result(case)["worker"]["run"]
    flags = {key: facts.get(key) for key in ("tf32_cudnn", "tf32_matmul")}
    evidence = f"{case}: " + ", ".join(f"{k}={v!r}" for k, v in flags.items())
    if not ctx.gpu:
        return "N/A", f"no GPU (recorded on CPU too): {evidence}"
    ok = all(isinstance(value, bool) for value in flags.values())
    return ("PASS" if ok else "FAIL"), evidence


def unseen_check(ctx: Context, run: StageRun) -> tuple[str, str]:
    case = case_id("jax", 1, False)
    failure = ((run.doc or {}).get("failures") or {}).get(case)
    outcomes = [(outcome, message) for name, outcome, message in run.junit if case in name]
    evidence = (
        f"JAX_PLATFORMS=cpu: {run.how()}; junit: {outcomes[0][0] if outcomes else None}; "
        f"failures[{case}]: {str(failure)[:300]!r}"
    )
    if run.timed_out:
        raise Unavailable("N/A" if run.clipped else "FAIL", evidence)
    ok = bool(failure) and "jax sees 0" in failure and outcomes and outcomes[0][0] == "failed"
    return ("PASS" if ok else "FAIL"), evidence


def xdist_blocks_check(ctx: Context, run: StageRun, expected: list[str]) -> tuple[str, str]:
    names = [name for name, _, _ in run.junit]
    per_case = {case: sum(case in name for name in names) for case in expected}
    outcomes = sorted({(outcome, message[:120]) for _, outcome, message in run.junit})
    doc = run.doc or {}
    evidence = (
        f"-n 2, {ctx.gpu_count} GPU(s): {run.how()}; times each case was reported: {per_case}; "
        f"outcomes: {outcomes}; results file: {len(doc.get('results') or {})} result(s), "
        f"failures {list(doc.get('failures') or {})}; lock files left: {run.locks_left}"
    )
    if run.timed_out:
        raise Unavailable("N/A" if run.clipped else "FAIL", evidence)
    once = all(count == 1 for count in per_case.values()) and len(names) == len(expected)
    if not ctx.gpu:
        return "N/A", f"no GPU (each case skipped as this machine has none): {evidence}"
    if ctx.gpu_count // 2 == 0:  # one GPU, two workers: neither owns it (devices.slot_for)
        ok = once and all(
            outcome == "skipped" and "owns GPUs []" in message for _, outcome, message in run.junit
        )
    else:
        ok = once and all(outcome == "passed" for _, outcome, _ in run.junit)
    ok = ok and not run.locks_left and not doc.get("failures")
    return ("PASS" if ok else "FAIL"), evidence


def xdist_lock_check(ctx: Context, run: StageRun, expected_id: str) -> tuple[str, str]:
    case = case_id("torch", ctx.gpus, False)
    result = run.result(case)
    seen = run.watcher.locks_seen if run.watcher else set()
    outcomes = [outcome for name, outcome, _ in run.junit if case in name]
    visible = result["worker"]["run"].get("cuda_visible_devices")
    evidence = (
        f"-n 1: {case} reported {outcomes}; cuda_visible_devices={visible!r}; "
        f"lock files seen while it ran: {sorted(seen)}; left after: {run.locks_left}"
    )
    if not ctx.gpu:
        return "N/A", f"no GPU (a worker owning no GPU takes no lock): {evidence}"
    ok = outcomes == ["passed"] and visible == expected_id and seen and not run.locks_left
    return ("PASS" if ok else "FAIL"), evidence


def aa_verdict_check(ctx: Context, run: StageRun, case: str) -> tuple[str, str]:
    found = run.verdict(case)
    time_metric = found["metrics"].get("step_time") or {}
    evidence = (
        f"{case}, {len(found['workers']['reference'])}+{len(found['workers']['candidate'])} "
        f"workers: verdict {found.get('verdict')!r}; step_time {time_metric.get('outcome')!r}, "
        f"change {time_metric.get('change')}, resolution {time_metric.get('resolution')}; "
        f"reason: {str(found.get('reason'))[:300]}"
    )
    ok = found.get("verdict") in ("pass", "inconclusive")
    return ("PASS" if ok else "FAIL"), evidence


def turn_loads_check(ctx: Context, run: StageRun, case: str) -> tuple[str, str]:
    found = run.verdict(case)
    loads = found.get("turn_loads") or {}
    turns = found.get("workers") or {}
    parts, ok = [], True
    for side in ("reference", "candidate"):
        per_worker = loads.get(side) or []
        flat = [value for worker in per_worker for value in worker]
        taken = [len(worker) for worker in turns.get(side) or []]
        measured = [len(worker) for worker in per_worker]
        ok = ok and bool(flat) and all(0.0 <= v <= 1.0 for v in flat)
        if flat:
            parts.append(
                f"{side}: turns per worker {taken}, loads measured {measured}, median "
                f"{median(flat):.3f}, max {max(flat):.3f}, above 10%: {sum(v > 0.1 for v in flat)}"
            )
        else:
            parts.append(f"{side}: no turn loads (turns per worker {taken})")
    test = (found["metrics"].get("step_time") or {}).get("test", "")
    evidence = "; ".join(parts) + f"; step_time test: {test}"
    return ("PASS" if ok else "FAIL"), evidence


def reference_memory_check(ctx: Context, run: StageRun, case: str) -> tuple[str, str]:
    found = run.verdict(case)
    memory = found["metrics"].get("gpu_peak_memory")
    source = run.result(case)["worker"].get("gpu_framework_peak_source")
    evidence = (
        f"{case}: metrics.gpu_peak_memory={json.dumps(memory)[:300]}; candidate's framework "
        f"peak source {source!r} (the reference's NVML peak is used only where a backend has "
        "no framework figure: MXNet; the results file does not keep it)"
    )
    if not ctx.gpu:
        return "N/A", f"no GPU: {evidence}"
    ok = bool(memory) and memory.get("baseline") is not None
    ok = ok and memory.get("outcome") != "no-baseline"
    return ("PASS" if ok else "FAIL"), evidence


def exit_wait_check(ctx: Context, run: StageRun, case: str) -> tuple[str, str]:
    result, found = run.result(case), run.verdict(case)
    late = result["worker"].get("late_exit")
    parts = []
    for side in ("reference", "candidate"):
        ratios = []
        for turns in found["workers"][side]:
            if len(turns) > 2:
                ratios.append(turns[-1] / median(turns[:-1]))
        all_turns = [t for turns in found["workers"][side] for t in turns]
        parts.append(
            f"{side}: median turn {median(all_turns):.2f} ms/step; each worker's last turn / its "
            "median (all last turns but the first finisher's follow another's result and exit): "
            + ", ".join(f"{r:.2f}" for r in ratios)
        )
    evidence = f"{case}: late_exit={late!r}; " + "; ".join(parts)
    return ("FAIL" if late else "PASS"), evidence


def doubled_workers_check(ctx: Context, run: StageRun, case: str, per_side: int) -> tuple[str, str]:
    result, found = run.result(case), run.verdict(case)
    memory = result["worker"].get("gpu_memory") or {}
    used = memory.get("nvml_device_used_peak_bytes")
    watched = run.watcher.used_peak_mib if run.watcher else None
    alive = run.watcher.most_alive if run.watcher else None
    evidence = (
        f"{case}, {per_side} per side: {len(found['workers']['reference'])}+"
        f"{len(found['workers']['candidate'])} workers finished, {alive} alive at once; "
        f"verdict {found.get('verdict')!r}; NVML device used peak "
        f"{_mib(used)}, nvidia-smi's {watched} MiB of {ctx.gpu_memory_mib} MiB; "
        f"candidate's per-process peak {_mib(memory.get('nvml_process_peak_bytes'))}; "
        f"{run.how()}"
    )
    ok = len(found["workers"]["reference"]) == len(found["workers"]["candidate"]) == per_side
    if not ctx.gpu:
        return "N/A", f"no GPU (dry run with {per_side} per side): {evidence}"
    return ("PASS" if ok else "FAIL"), evidence


def _mib(value: Optional[float]) -> str:
    return "None" if value is None else f"{value / MIB:.0f} MiB"


def _distinct(values: Iterable[object]) -> list[str]:
    """The distinct values as text, sorted: a check's evidence over every worker."""
    return sorted({str(value) for value in values})


def _over_workers(
    ctx: Context, judged: bool, ok: bool, evidence: str, on_cpu: str
) -> tuple[str, str]:
    """A check over every GPU worker: PASS or FAIL, or N/A on the CPU (`on_cpu`: what CPU workers
    get) or with no GPU worker to judge (the stages' own checks say why)."""
    if not ctx.gpu:
        return "N/A", f"no GPU ({on_cpu}): {evidence}"
    if not judged:
        return "N/A", f"no GPU worker to judge: {evidence}"
    return ("PASS" if ok else "FAIL"), evidence


def device_order_check(ctx: Context) -> tuple[str, str]:
    wanted = os.environ.get("CUDA_DEVICE_ORDER", "PCI_BUS_ID")  # the plugin only sets a default
    seen = ctx.workers_seen()
    orders = _distinct(env.get("CUDA_DEVICE_ORDER") for env in seen.values())
    results = ctx.gpu_results()
    gpus_seen = _distinct(result["worker"].get("gpus_seen") for _, _, result in results)
    peaks = _distinct(
        _mib((result["worker"].get("gpu_memory") or {}).get("nvml_process_peak_bytes"))
        for _, _, result in results
    )
    evidence = (
        f"{len(seen)} worker(s) read in /proc: CUDA_DEVICE_ORDER {orders}; "
        f"{len(results)} GPU result(s): gpus_seen {gpus_seen}; NVML per-process peaks {peaks}"
    )
    ok = orders == [wanted] and gpus_seen == ["1"]
    on_cpu = "CPU workers get no CUDA_DEVICE_ORDER"
    return _over_workers(ctx, bool(seen and results), ok, evidence, on_cpu)


def visible_devices_check(ctx: Context) -> tuple[str, str]:
    outer = os.environ.get("CUDA_VISIBLE_DEVICES")
    expected = outer.split(",")[0].strip() if outer else "0"
    seen = ctx.workers_seen()
    in_env = _distinct(env.get("CUDA_VISIBLE_DEVICES") for env in seen.values())
    recorded = _distinct(
        result["worker"]["run"].get("cuda_visible_devices") for _, _, result in ctx.gpu_results()
    )
    evidence = (
        f"expected {expected!r} (CUDA_VISIBLE_DEVICES here: {outer!r}); results' "
        f"run.cuda_visible_devices {recorded}; {len(seen)} worker(s)' environments {in_env}"
    )
    ok = recorded == [expected] and in_env == [expected]
    return _over_workers(ctx, bool(seen and recorded), ok, evidence, "CPU workers get ''")


def own_workers_check(ctx: Context) -> tuple[str, str]:
    ours = set(ctx.workers_seen())
    listed = set().union(*(run.watcher.nvml_pids for run in ctx.stages if run.watcher))
    listed -= ctx.foreign_pids
    namespace = bool(listed) and not (listed & ours)
    per_case, ok = [], True
    for stage, case, result in ctx.gpu_results():
        memory = result["worker"].get("gpu_memory") or {}
        others = set(memory.get("nvml_other_processes") or [])
        peak, reason = memory.get("nvml_process_peak_bytes"), memory.get("nvml_reason") or ""
        ok = ok and not (others - ctx.foreign_pids) and (peak is not None or bool(reason))
        if namespace:  # NVML's pids are another namespace's: the reason must say so
            ok = ok and "PID namespace" in reason
        elif listed & ours:  # NVML lists our workers: it must have found the measured one
            ok = ok and peak is not None
        per_case.append(
            f"{stage}/{case}: peak {_mib(peak)}, other processes {sorted(others)}"
            + (f", reason {reason[:90]!r}" if reason else "")
        )
    shared = [
        f"{run.name}/{case}"
        for run in ctx.stages
        for case, found in ((run.doc or {}).get("verdicts") or {}).items()
        if SHARED_GPU in json.dumps(found)
    ]
    evidence = (
        f"nvidia-smi listed pids {sorted(listed)[:8]} (before any stage: "
        f"{sorted(ctx.foreign_pids)}), our workers' pids here {len(ours)} "
        f"(in common: {len(listed & ours)}; PID namespace: {namespace}); verdicts saying "
        f"'{SHARED_GPU}': {shared}; " + "; ".join(per_case)
    )
    if not ctx.gpu:
        return "N/A", f"no GPU: {evidence[:400]}"
    if not per_case:  # the stages' own checks say why
        return "N/A", f"no GPU result to judge: {evidence}"
    return ("PASS" if ok and not shared else "FAIL"), evidence


# ----------------------------------------------------------------------------------------------
# The stages, cheapest and most important first.


@dataclass(frozen=True)
class Stage:
    name: str
    checks: tuple[str, ...]
    min_s: float  # not started with less of the budget left
    cap_s: float  # its pytest's own limit
    go: Callable[[Context, Stage], None]
    gpu_only: str = ""  # why it is not run without a GPU
    needs_xdist: bool = False


LSTM_TORCH = ("lstm path torch no-unroll fused", "lstm path torch unroll generic")


def fresh_torch(ctx: Context, stage: Stage) -> None:
    extra = ["--rnnbench-backends=torch", "--rnnbench-unroll=both", "--rnnbench-repeats=1"]
    run = run_pytest(ctx, stage.name, extra + [f"--rnnbench-gpus={ctx.gpus}"], stage.cap_s)
    ctx.check(LSTM_TORCH[0], lambda: lstm_check(ctx, run, "torch", False))
    ctx.check(LSTM_TORCH[1], lambda: lstm_check(ctx, run, "torch", True))
    ctx.check("tf32 flags torch", lambda: tf32_check(ctx, run))


def gpu_unseen(ctx: Context, stage: Stage) -> None:
    extra = ["--rnnbench-backends=jax", "--rnnbench-unroll=false", "--rnnbench-repeats=1"]
    run = run_pytest(
        ctx, stage.name, extra + ["--rnnbench-gpus=1"], stage.cap_s, {"JAX_PLATFORMS": "cpu"}
    )
    ctx.check(stage.checks[0], lambda: unseen_check(ctx, run))


def xdist_two(ctx: Context, stage: Stage) -> None:
    extra = ["-n", "2", "--rnnbench-backends=jax,torch", "--rnnbench-unroll=both"]
    run = run_pytest(ctx, stage.name, extra + ["--rnnbench-gpus=1"], stage.cap_s)
    expected = [case_id(b, 1, u) for b in ("jax", "torch") for u in (False, True)]
    ctx.check(stage.checks[0], lambda: xdist_blocks_check(ctx, run, expected))


def xdist_one(ctx: Context, stage: Stage) -> None:
    extra = ["-n", "1", "--rnnbench-backends=torch", "--rnnbench-unroll=false"]
    extra += ["--rnnbench-repeats=1", f"--rnnbench-gpus={ctx.gpus}"]
    run = run_pytest(ctx, stage.name, extra, stage.cap_s)
    outer = os.environ.get("CUDA_VISIBLE_DEVICES")
    expected = outer.split(",")[0].strip() if outer else "0"
    ctx.check(stage.checks[0], lambda: xdist_lock_check(ctx, run, expected))


def live_aa(ctx: Context, stage: Stage) -> None:
    per_side = 3 if ctx.gpu else 2
    extra = ["--rnnbench-backends=torch", "--rnnbench-unroll=false", f"--rnnbench-gpus={ctx.gpus}"]
    extra += [f"--rnnbench-repeats={2 if ctx.gpu else 1}", f"--rnnbench-against={ctx.python}"]
    extra += [f"--rnnbench-against-workers={per_side}"]
    run = run_pytest(ctx, stage.name, extra, stage.cap_s)
    case = case_id("torch", ctx.gpus, False)
    aa, loads, memory, exit_wait = stage.checks
    ctx.check(aa, lambda: aa_verdict_check(ctx, run, case))
    ctx.check(loads, lambda: turn_loads_check(ctx, run, case))
    ctx.check(memory, lambda: reference_memory_check(ctx, run, case))
    ctx.check(exit_wait, lambda: exit_wait_check(ctx, run, case))


def fresh_jax(ctx: Context, stage: Stage) -> None:
    unroll = stage.name.endswith("unroll")
    extra = ["--rnnbench-backends=jax", f"--rnnbench-unroll={str(unroll).lower()}"]
    extra += ["--rnnbench-repeats=1", f"--rnnbench-gpus={ctx.gpus}"]
    run = run_pytest(ctx, stage.name, extra, stage.cap_s)
    ctx.check(stage.checks[0], lambda: lstm_check(ctx, run, "jax", unroll))


def live_doubled(ctx: Context, stage: Stage) -> None:
    per_side = 12 if ctx.gpu else 2
    extra = ["--rnnbench-backends=torch", "--rnnbench-unroll=false", f"--rnnbench-gpus={ctx.gpus}"]
    extra += ["--rnnbench-repeats=1", f"--rnnbench-against={ctx.python}"]
    extra += [f"--rnnbench-against-workers={per_side}"]
    run = run_pytest(ctx, stage.name, extra, stage.cap_s)
    case = case_id("torch", ctx.gpus, False)
    ctx.check(stage.checks[0], lambda: doubled_workers_check(ctx, run, case, per_side))


STAGES = (
    Stage("fresh-torch", (*LSTM_TORCH, "tf32 flags torch"), 40, 120, fresh_torch),
    Stage(
        "gpu-unseen",
        ("gpu unseen fails the case",),
        20,
        60,
        gpu_unseen,
        gpu_only="a GPU case is skipped at collection where NVML shows no GPU: no worker starts",
    ),
    Stage("xdist-n2", ("xdist -n 2 gpu blocks",), 20, 60, xdist_two, needs_xdist=True),
    Stage(
        "live-aa",
        (
            "live A/A verdict",
            "live turn loads",
            "live reference gpu memory",
            "live exit wait",
        ),
        45,
        120,
        live_aa,
    ),
    Stage("fresh-jax", ("lstm path jax no-unroll fused",), 40, 90, fresh_jax),
    Stage("xdist-n1", ("xdist -n 1 gpu lock",), 30, 90, xdist_one, needs_xdist=True),
    Stage("fresh-jax-unroll", ("lstm path jax unroll generic",), 45, 120, fresh_jax),
    Stage("live-12", ("live 12 workers per side fit",), 60, 180, live_doubled),
)
FINAL_CHECKS = (
    ("device order PCI_BUS_ID", device_order_check),
    ("cuda visible devices", visible_devices_check),
    ("nvml own workers not neighbours", own_workers_check),
)


# ----------------------------------------------------------------------------------------------
# Setup and main.


def find_gpus() -> tuple[int, Optional[int]]:
    """(GPU count, first GPU's memory in MiB) from nvidia-smi; (0, None) without one."""
    if shutil.which("nvidia-smi") is None:
        return 0, None
    rows = _smi("--query-gpu=memory.total")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:  # the plugin counts only these (nvidia-smi lists every GPU)
        rows = rows[: len([entry for entry in visible.split(",") if entry.strip()])]
    return len(rows), (int(float(rows[0][0])) if rows else None)


def prepare_env(work: Path, python: str) -> tuple[dict[str, str], list[str]]:
    """The stages' environment: the wheels of .whl/ installed into the work folder and first on
    PYTHONPATH, then src/ (the plugin, not pip-installed on the GPU machine). Returns it and
    what setup did."""
    env = dict(os.environ)
    paths, said = [], []
    wheels = sorted(glob.glob(str(ROOT / ".whl" / "*.whl")))
    if wheels:
        site = work / "site"
        done = subprocess.run(
            [python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target"]
            + [str(site), *wheels],
            capture_output=True,
            text=True,
        )
        said.append(
            f"installed {len(wheels)} wheel(s) of .whl/ into {site}"
            if done.returncode == 0
            else f"pip install of .whl/ failed: {done.stderr.strip()[-300:]}"
        )
        paths.append(str(site))
    paths.append(str(ROOT / "src"))
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["KERAS_HOME"] = str(work / "keras-home")  # Keras writes its keras.json there
    env.pop("PYTEST_ADDOPTS", None)
    return env, said


def modules_missing(python: str, env: Mapping[str, str], names: Iterable[str]) -> list[str]:
    """Which of `names` `python` cannot find (find_spec: nothing is imported)."""
    code = (
        "import importlib.util as u, sys\n"
        "print(' '.join(n for n in sys.argv[1:] if u.find_spec(n) is None))"
    )
    done = subprocess.run(
        [python, "-c", code, *names], env=dict(env), capture_output=True, text=True, timeout=60
    )
    return done.stdout.split() if done.returncode == 0 else [f"(probe failed: {done.stderr})"]


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="output folder (default: $OUT, else a new one)")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a new temporary one)")
    parser.add_argument(
        "--budget-s",
        type=float,
        default=DEFAULT_BUDGET_S,
        help="seconds from the start after which no stage starts or runs on: its checks say "
        "N/A (budget). Default: %(default)g",
    )
    parser.add_argument("--cpu-dry-run", action="store_true", help="the CPU run, even on a GPU")
    parser.add_argument("--python", default=sys.executable, help="runs pytest and the workers")
    parser.add_argument("--samples", type=int, help="per epoch (default: 4096; 512 on CPU)")
    parser.add_argument(
        "--stages", help=f"comma-separated, of: {', '.join(stage.name for stage in STAGES)}"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    out = args.out or Path(os.environ.get("OUT") or tempfile.mkdtemp(prefix="gpu_verify-out-"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_verify.txt").write_text("")
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu_verify-"))
    work.mkdir(parents=True, exist_ok=True)
    count, memory = (0, None) if args.cpu_dry_run else find_gpus()
    python = os.path.abspath(args.python)
    env, said = prepare_env(work, python)
    ctx = Context(args, out, work, count > 0, count, memory, python, env, "", started)
    mode = f"{count} GPU(s), {memory} MiB" if ctx.gpu else "CPU dry run (no GPU)"
    ctx.progress(f"gpu_verify: {mode}; budget {args.budget_s:.0f} s; out {out}; work {work}")
    if ctx.gpu:
        for row in _smi("--query-gpu=name,driver_version,memory.total,uuid"):
            ctx.say("  " + ", ".join(row))
        ctx.foreign_pids = {int(r[0]) for r in _smi("--query-compute-apps=pid") if r[0].isdigit()}
    for line in said:
        ctx.say("  " + line)
    needed = ["pytest", "scipy", "keras", "absl", "namex", "optree", "jax", "torch"]
    needed += ["pynvml"] if ctx.gpu else []  # without it the plugin sees no GPU
    missing = modules_missing(python, env, needed)
    xdist_missing = modules_missing(python, env, ["xdist", "execnet"])
    ctx.xdist = f"not importable: {', '.join(xdist_missing)}" if xdist_missing else ""
    ctx.say(f"  {python}: missing {missing or 'nothing'}; pytest-xdist {ctx.xdist or 'ok'}")
    wanted = set(args.stages.split(",")) if args.stages else {stage.name for stage in STAGES}
    for stage in STAGES:
        left = ctx.deadline - time.monotonic()
        if stage.name not in wanted:
            ctx.not_run(stage.checks, "not selected (--stages)")
        elif missing:
            ctx.not_run(stage.checks, f"setup: {python} lacks {', '.join(missing)}")
        elif stage.gpu_only and not ctx.gpu:
            ctx.not_run(stage.checks, f"no GPU: {stage.gpu_only}")
        elif stage.needs_xdist and ctx.xdist:
            ctx.not_run(stage.checks, f"pytest-xdist {ctx.xdist} (put its wheels in .whl/)")
        elif left < stage.min_s:
            ctx.not_run(
                stage.checks, f"(budget) {left:.0f} s left, the stage needs {stage.min_s:.0f}"
            )
        else:
            stage.go(ctx, stage)
    for name, judge in FINAL_CHECKS:
        ctx.check(name, lambda judge=judge: judge(ctx))
    return finish(ctx)


def finish(ctx: Context) -> int:
    counts = {
        status: sum(s == status for s, _, _ in ctx.checks) for status in ("PASS", "FAIL", "N/A")
    }
    elapsed = time.monotonic() - ctx.started
    ctx.say("")
    ctx.say("== checks ==")
    for status, name, evidence in ctx.checks:
        ctx.say(f"{status} {name}: {evidence[:240]}")
    ctx.say(
        f"gpu_verify: {counts['PASS']} PASS, {counts['FAIL']} FAIL, {counts['N/A']} N/A "
        f"in {elapsed:.0f} s ({'GPU' if ctx.gpu else 'CPU dry run'})"
    )
    summary = {
        "gpu": ctx.gpu,
        "gpus": ctx.gpu_count,
        "seconds": round(elapsed, 1),
        "checks": [{"status": s, "check": n, "evidence": e} for s, n, e in ctx.checks],
        "stages": [
            {
                "stage": run.name,
                "rc": run.rc,
                "seconds": round(run.seconds, 1),
                "limit_s": round(run.limit_s),
                "command": run.command,
                "workers": len(run.watcher.workers) if run.watcher else 0,
                "most_alive": run.watcher.most_alive if run.watcher else 0,
                "gpu_used_peak_mib": run.watcher.used_peak_mib if run.watcher else None,
            }
            for run in ctx.stages
        ],
    }
    (ctx.out / "gpu_verify.json").write_text(json.dumps(summary, indent=1) + "\n")
    if counts["FAIL"]:
        return 1
    return 0 if counts["PASS"] else 2  # nothing checked (setup): no pass to report


if __name__ == "__main__":
    sys.exit(main())
