"""Controller side of a worker: spawn the backend's interpreter, send the case, collect the reply.

The reply arrives as JSON lines on a dedicated pipe (the worker's stdout and stderr go to a log
file, whose tail explains failures). A worker that crashes, is killed, or runs past its timeout
fails only its own case; its whole process group is killed so nothing outlives the case.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
PROTOCOL_VERSION = 1
MESSAGE_TYPES = frozenset({"started", "phase", "progress", "turn", "result", "error"})
TAIL_LINES = 30


class WorkerError(Exception):
    """The worker failed: `cause` says how, `tail` is the end of its output."""

    def __init__(self, cause: str, tail: str = "") -> None:
        super().__init__(cause)
        self.cause = cause
        self.tail = tail

    def __str__(self) -> str:
        if not self.tail:
            return self.cause
        return f"{self.cause}\n--- last lines of the worker's output ---\n{self.tail}"


class WorkerUnsupported(Exception):
    """The worker says this case cannot run with its backend (becomes a skip)."""


@dataclass
class WorkerRun:
    """What one worker run produced."""

    result: Optional[dict] = None
    messages: list[dict] = field(default_factory=list)
    returncode: Optional[int] = None


def _tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(worker log {path} unreadable: {exc})"
    # Said outright, so an empty section is never mistaken for lost output.
    return "\n".join(text.splitlines()[-lines:]) or "(the worker wrote no output)"


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = " (the kernel's out-of-memory killer sends SIGKILL)" if name == "SIGKILL" else ""
        return f"worker was killed by {name}{hint}"
    return f"worker exited with code {returncode}"


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the worker and anything it started (it leads its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _Worker:
    """One spawned worker process: its reply reader, its memory guard, and how its run ended."""

    def __init__(self, python: str, env: Mapping[str, str], log_path: Path,
                 on_message: Optional[Callable[[dict], None]], max_rss_bytes: Optional[int],
                 takes_turns: bool = False) -> None:
        self.run = WorkerRun()
        self.log_path = log_path
        self.max_rss_bytes = max_rss_bytes
        self._on_message = on_message
        self._protocol_errors: list[str] = []
        self._control = None
        read_fd, write_fd = os.pipe()
        child_fds = [write_fd]
        control_args: list[str] = []
        if takes_turns:
            control_read, control_write = os.pipe()
            child_fds.append(control_read)
            control_args = ["--control-fd", str(control_read)]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    [python, str(WORKER_SCRIPT), "--result-fd", str(write_fd), *control_args],
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=tuple(child_fds),
                    env=dict(env),
                    start_new_session=True,  # Ctrl-C reaches us, not the worker; killpg reaches all
                )
        except OSError as exc:
            os.close(read_fd)
            if takes_turns:
                os.close(control_write)
            raise WorkerError(f"could not start interpreter {python!r}: {exc}") from None
        finally:
            for fd in child_fds:
                os.close(fd)
        if takes_turns:
            self._control = os.fdopen(control_write, "wb", buffering=0)
        self._reader = threading.Thread(target=self._read_replies, args=(read_fd,),
                                        name="rnnbench-worker-reader", daemon=True)
        self._reader.start()
        self._guard = _MemoryGuard(self.proc, max_rss_bytes) if max_rss_bytes else None

    def _read_replies(self, read_fd: int) -> None:
        with os.fdopen(read_fd, "r", encoding="utf-8", errors="replace") as replies:
            for line in replies:
                try:
                    message = json.loads(line)
                except ValueError:
                    self._protocol_errors.append(f"unreadable reply {line[:200]!r}")
                    continue
                if (not isinstance(message, dict) or message.get("v") != PROTOCOL_VERSION
                        or message.get("type") not in MESSAGE_TYPES):
                    self._protocol_errors.append(f"unknown reply {line[:200]!r}")
                    continue
                self.run.messages.append(message)
                if self._on_message is not None:
                    self._on_message(message)
        if self._on_message is not None:
            self._on_message({"type": _CLOSED})

    def send(self, request: Mapping[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(dict(request)).encode("utf-8"))
            self.proc.stdin.close()
        except BrokenPipeError:
            pass  # the worker died at once; its exit code tells why

    def grant_turn(self) -> None:
        try:
            self._control.write(b"g")  # type: ignore[union-attr]
        except (BrokenPipeError, ValueError):
            pass  # it died or was released: its exit tells the rest

    def release(self) -> None:
        """No more turns: end of file on the control pipe lets the worker run on freely."""
        if self._control is not None and not self._control.closed:
            try:
                self._control.close()
            except BrokenPipeError:
                pass

    def kill(self) -> None:
        _kill_group(self.proc)
        self.proc.wait()
        self.release()

    def timed_out(self, timeout_s: float) -> WorkerError:
        self.kill()
        self._reader.join(timeout=5)
        return WorkerError(f"worker timed out after {timeout_s:g} s and was killed",
                           _tail(self.log_path))

    def finish(self, grace_s: float = 30.0) -> WorkerRun:
        """The run's result once the process has exited; WorkerError or WorkerUnsupported if not.

        A worker that sent its result gets `grace_s` to exit before it is killed.
        """
        self.release()
        try:
            self.run.returncode = self.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            _kill_group(self.proc)
            self.run.returncode = self.proc.wait()
        _kill_group(self.proc)  # reap anything the worker left running in its group
        self._reader.join(timeout=5)
        log_path = self.log_path
        if self._guard is not None:
            self._guard.stop()
            if self._guard.exceeded is not None:
                raise WorkerError(
                    f"worker exceeded the memory cap --rnnbench-max-rss="
                    f"{_mib(self.max_rss_bytes)} MiB (resident {_mib(self._guard.exceeded)} MiB) "
                    "and was killed", _tail(log_path))
        if self._protocol_errors:
            raise WorkerError("worker broke the protocol: " + "; ".join(self._protocol_errors[:3]),
                              _tail(log_path))
        finals = [m for m in self.run.messages if m["type"] in ("result", "error")]
        if finals and finals[-1]["type"] == "error":
            error = finals[-1]
            if error.get("kind") == "unsupported":
                raise WorkerUnsupported(error.get("message", ""))
            detail = error.get("traceback") or ""
            tail = "\n".join(detail.strip().splitlines()[-TAIL_LINES:]) or _tail(log_path)
            raise WorkerError(f"worker failed: {error.get('message')}", tail)
        if self.run.returncode != 0:
            raise WorkerError(_describe_exit(self.run.returncode), _tail(log_path))
        if not finals:
            raise WorkerError("worker exited without sending a result", _tail(log_path))
        self.run.result = finals[-1]["result"]
        return self.run


_CLOSED = "closed"  # internal: a worker's reply pipe reached its end (it exited)


def run_worker(
    python: str,
    request: Mapping[str, Any],
    env: Mapping[str, str],
    timeout_s: float,
    log_path: Path,
    on_message: Optional[Callable[[dict], None]] = None,
    max_rss_bytes: Optional[int] = None,
) -> WorkerRun:
    """Run one case in a fresh worker process and return its result, or raise WorkerError.

    `max_rss_bytes` caps the worker's resident memory: past it the worker is killed and the case
    fails saying so (a guard for shared machines, checked several times a second).
    """

    def forward(message: dict) -> None:
        if on_message is not None and message["type"] != _CLOSED:
            on_message(message)

    worker = _Worker(python, env, log_path, forward, max_rss_bytes)
    try:
        worker.send(request)
        worker.proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise worker.timed_out(timeout_s) from None
    except BaseException:  # KeyboardInterrupt included: never leave a worker behind
        worker.kill()
        raise
    return worker.finish()


@dataclass(frozen=True)
class WorkerSpec:
    """What one worker of a live A/B comparison runs: interpreter, request, environment, log."""

    python: str
    request: Mapping[str, Any]
    env: Mapping[str, str]
    log_path: Path


SIDES = ("reference", "candidate")


class LiveFailed(WorkerError):
    """A worker of a live A/B comparison failed; `side` says which ("reference" or "candidate")."""

    def __init__(self, side: str, error: WorkerError) -> None:
        super().__init__(f"{side} worker: {error.cause}", error.tail)
        self.side = side


def turn_order(per_side: int) -> list[int]:
    """Indexes of the 2 x per_side workers (reference first) in the order of one cycle of turns.

    A1 B1 A2 B2 ... then the same backwards, so the i-th turns of all workers run moments apart,
    and which side goes first flips every round: a drift of the machine's speed favours neither.
    """
    forward = [i + side * per_side for i in range(per_side) for side in (0, 1)]
    return forward + forward[::-1]


def run_live(reference: list[WorkerSpec], candidate: list[WorkerSpec], timeout_s: float,
             turn_steps: int, on_message: Optional[Callable[[str, int, dict], None]] = None,
             max_rss_bytes: Optional[int] = None) -> tuple[list[WorkerRun], list[WorkerRun]]:
    """Live A/B: run the same case in several workers at once, taking turns of `turn_steps` steps.

    All workers import and warm up side by side (untimed); then only one trains at a time, in
    the order of `turn_order`, so the i-th turns of every worker ran moments apart on the same
    machine. Several workers per side average out how fast a process happens to be (memory
    layout and thread placement make identical processes differ by a few percent). When all but
    one are done, the last runs on without turns. If any worker fails, all are killed and
    LiveFailed names the side (WorkerUnsupported passes through: the case cannot run).
    `on_message(side, index within the side, message)` hears every worker's messages.
    """
    if len(reference) != len(candidate) or not reference:
        raise ValueError("a live comparison needs as many reference as candidate workers (>= 1)")
    specs = list(reference) + list(candidate)
    per_side = len(reference)
    side_of = [SIDES[index // per_side] for index in range(len(specs))]
    events: "queue.Queue[tuple[int, dict]]" = queue.Queue()
    workers: list[_Worker] = []

    def listener(index: int) -> Callable[[dict], None]:
        def heard(message: dict) -> None:
            events.put((index, message))  # first: the turns must go on whatever the display does
            if on_message is not None and message["type"] != _CLOSED:
                try:
                    on_message(side_of[index], index % per_side, message)
                except Exception:  # a progress display's problem must not stall a comparison
                    pass
        return heard

    try:
        for index, spec in enumerate(specs):
            request = dict(spec.request, turn_steps=turn_steps)
            try:
                worker = _Worker(spec.python, spec.env, spec.log_path, listener(index),
                                 max_rss_bytes, takes_turns=True)
            except WorkerError as exc:
                raise LiveFailed(side_of[index], exc) from None
            workers.append(worker)
            worker.send(request)
        failed = _take_turns(workers, events, turn_order(per_side),
                             time.monotonic() + timeout_s, timeout_s, side_of)
    except BaseException:  # KeyboardInterrupt included: never leave a worker behind
        for worker in workers:
            worker.kill()
        raise
    runs: dict[int, WorkerRun] = {}
    # The worker that failed first: the others were killed because of it.
    indexes = list(range(len(workers)))
    if failed is not None:
        indexes.remove(failed)
        indexes.insert(0, failed)
    try:
        for index in indexes:
            try:
                runs[index] = workers[index].finish()
            except WorkerUnsupported as exc:
                raise WorkerUnsupported(f"{side_of[index]} worker: {exc}") from None
            except WorkerError as exc:
                raise LiveFailed(side_of[index], exc) from None
    finally:  # one side's failure (or Ctrl-C) must not leave the others unreaped
        for index in indexes:
            if index not in runs:
                workers[index].kill()
    return ([runs[i] for i in range(per_side)],
            [runs[i] for i in range(per_side, 2 * per_side)])


def _take_turns(workers: list[_Worker], events: "queue.Queue[tuple[int, dict]]",
                order: list[int], deadline: float, timeout_s: float,
                side_of: list[str]) -> Optional[int]:
    """Grant turns until every worker is done; a failed worker stops the others at once.

    Returns the index of the worker that failed, if one did.
    """
    count = len(workers)
    paused = [False] * count
    done = [False] * count
    exited_at: dict[int, float] = {}
    cycle = itertools.cycle(order)
    while not all(done):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            # Blame the worker that holds the turn (or never got to its first one).
            running = [i for i in range(count) if not done[i] and not paused[i]]
            index = running[0] if running else done.index(False)
            raise LiveFailed(side_of[index], workers[index].timed_out(timeout_s))
        try:
            index, message = events.get(timeout=min(remaining, 1.0))
        except queue.Empty:
            exited = _exited_silently(workers, done, exited_at)
            if exited is None:
                continue
            index, message = exited, {"type": _CLOSED}
        kind = message["type"]
        if kind == "turn":
            paused[index] = True
        elif kind in ("result", "error", _CLOSED) and not done[index]:
            done[index] = True
            if kind != "result":  # it failed: the comparison is lost, stop the others
                for other in workers:
                    other.kill()
                return index
        else:
            continue
        left = [i for i in range(count) if not done[i]]
        if len(left) == 1:
            workers[left[0]].release()  # nobody to take turns with
            continue
        # A turn starts only while nobody trains: the next worker in order that is still on.
        if left and all(paused[i] for i in left):
            chosen = next(cycle)
            while done[chosen]:
                chosen = next(cycle)
            paused[chosen] = False
            workers[chosen].grant_turn()
    return None


# How long a worker's reply pipe may stay open after its process exited (a grandchild that
# inherited it, a reader thread that died) before the runner stops waiting for it.
EXIT_GRACE_S = 5.0


def _exited_silently(workers: list[_Worker], done: list[bool],
                     exited_at: dict[int, float]) -> Optional[int]:
    """A worker whose process has been gone for EXIT_GRACE_S without its pipe closing, or None."""
    now = time.monotonic()
    for index, worker in enumerate(workers):
        if done[index] or worker.proc.poll() is None:
            continue
        first_seen = exited_at.setdefault(index, now)
        if now - first_seen >= EXIT_GRACE_S:
            return index
    return None


def _mib(value: Optional[int]) -> str:
    return f"{(value or 0) / 2**20:,.0f}"


def _resident_bytes(pid: int) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class _MemoryGuard:
    """Polls the worker's resident memory and kills its process group past the cap."""

    INTERVAL_S = 0.1

    def __init__(self, proc: subprocess.Popen, cap_bytes: int) -> None:
        self.proc = proc
        self.cap = cap_bytes
        self.exceeded: Optional[int] = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="rnnbench-rss-guard", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set() and self.proc.poll() is None:
            resident = _resident_bytes(self.proc.pid)
            if resident is not None and resident > self.cap:
                self.exceeded = resident
                _kill_group(self.proc)
                return
            self._stop.wait(self.INTERVAL_S)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# ------------------------------------------------------------------------------------------------
# Is the backend installed in that interpreter? Asked once per backend and interpreter, without
# importing any framework (find_spec and package metadata only).

_PROBE = r"""
import importlib.metadata as md, importlib.util as iu, json, sys
def version(dist):
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None
module = sys.argv[1]
print(json.dumps({
    "python": sys.version.split()[0],
    "keras": version("keras"),
    "keras_mxnet": version("keras-mxnet"),
    "module": iu.find_spec(module) is not None,
}))
"""

INSTALL_HINTS = {
    "tensorflow": "install it with `pip install 'pytest-rnnbench[tensorflow]'` (or tensorflow-cpu)",
    "jax": "install it with `pip install 'pytest-rnnbench[jax]'`",
    "torch": "install it with `pip install 'pytest-rnnbench[torch]'` (on CPU machines first "
             "`pip install torch --index-url https://download.pytorch.org/whl/cpu`)",
    "mxnet": "Keras-MXNet needs its own environment: `make .venv-mxnet` (keras-mxnet==2.2.4.3, "
             "mxnet==1.9.1, numpy<1.24), then `--rnnbench-python mxnet=.venv-mxnet/bin/python`",
}


def probe_backend(backend: str, python: str, timeout_s: float = 60.0) -> Optional[str]:
    """None when `python` can run `backend` workers; otherwise the reason, with how to fix it."""
    try:
        completed = subprocess.run(
            [python, "-c", _PROBE, backend], capture_output=True, timeout=timeout_s, text=True
        )
    except FileNotFoundError:
        return f"interpreter {python!r} for the {backend} backend does not exist"
    except PermissionError:
        return f"interpreter {python!r} for the {backend} backend is not executable"
    except OSError as exc:
        return f"interpreter {python!r} for the {backend} backend cannot run: {exc}"
    except subprocess.TimeoutExpired:
        return f"interpreter {python!r} did not answer within {timeout_s:g} s"
    try:
        found = json.loads(completed.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        err = (completed.stderr or completed.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"{python!r} is not a working Python interpreter ({err[0]})"
    hint = INSTALL_HINTS[backend]
    if backend == "mxnet":
        if not found["keras_mxnet"] or not found["module"]:
            return f"Keras-MXNet is not installed in {python}; {hint}"
        return None
    if not found["module"]:
        return f"{backend} is not installed in {python}; {hint}"
    if not found["keras"] or found["keras_mxnet"] or int(found["keras"].split(".")[0]) < 3:
        return (f"{backend} needs Keras 3 but {python} has "
                f"{'Keras-MXNet ' + found['keras_mxnet'] if found['keras_mxnet'] else 'Keras ' + str(found['keras'])}; "
                "pip install 'keras>=3'")
    return None


def default_python() -> str:
    return sys.executable
