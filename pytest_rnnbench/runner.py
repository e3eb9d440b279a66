"""Controller side of a worker: spawn the backend's interpreter, send the case, collect the reply.

The reply arrives as JSON lines on a dedicated pipe (the worker's stdout and stderr go to a log
file, whose tail explains failures). A worker that crashes, is killed, or runs past its timeout
fails only its own case; its whole process group is killed so nothing outlives the case.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
PROTOCOL_VERSION = 1
MESSAGE_TYPES = frozenset({"started", "phase", "progress", "result", "error"})
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
    run = WorkerRun()
    read_fd, write_fd = os.pipe()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [python, str(WORKER_SCRIPT), "--result-fd", str(write_fd)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd,),
                env=dict(env),
                start_new_session=True,  # Ctrl-C reaches us, not the worker; killpg reaches all
            )
    except OSError as exc:
        os.close(read_fd)
        os.close(write_fd)
        raise WorkerError(f"could not start interpreter {python!r}: {exc}") from None
    os.close(write_fd)

    protocol_errors: list[str] = []

    def read_replies() -> None:
        with os.fdopen(read_fd, "r", encoding="utf-8", errors="replace") as replies:
            for line in replies:
                try:
                    message = json.loads(line)
                except ValueError:
                    protocol_errors.append(f"unreadable reply {line[:200]!r}")
                    continue
                if (not isinstance(message, dict) or message.get("v") != PROTOCOL_VERSION
                        or message.get("type") not in MESSAGE_TYPES):
                    protocol_errors.append(f"unknown reply {line[:200]!r}")
                    continue
                run.messages.append(message)
                if on_message is not None:
                    on_message(message)

    reader = threading.Thread(target=read_replies, name="rnnbench-worker-reader", daemon=True)
    reader.start()
    guard = _MemoryGuard(proc, max_rss_bytes) if max_rss_bytes else None
    try:
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(dict(request)).encode("utf-8"))
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the worker died at once; its exit code tells why
        run.returncode = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.wait()
        reader.join(timeout=5)
        raise WorkerError(f"worker timed out after {timeout_s:g} s and was killed",
                          _tail(log_path)) from None
    except BaseException:  # KeyboardInterrupt included: never leave a worker behind
        _kill_group(proc)
        proc.wait()
        raise
    finally:
        _kill_group(proc)  # reap anything the worker left running in its group
    reader.join(timeout=5)
    if guard is not None:
        guard.stop()
        if guard.exceeded is not None:
            raise WorkerError(
                f"worker exceeded the memory cap --rnnbench-max-rss={_mib(max_rss_bytes)} MiB "
                f"(resident {_mib(guard.exceeded)} MiB) and was killed", _tail(log_path))

    if protocol_errors:
        raise WorkerError("worker broke the protocol: " + "; ".join(protocol_errors[:3]),
                          _tail(log_path))
    finals = [m for m in run.messages if m["type"] in ("result", "error")]
    if finals and finals[-1]["type"] == "error":
        error = finals[-1]
        if error.get("kind") == "unsupported":
            raise WorkerUnsupported(error.get("message", ""))
        detail = error.get("traceback") or ""
        tail = "\n".join(detail.strip().splitlines()[-TAIL_LINES:]) or _tail(log_path)
        raise WorkerError(f"worker failed: {error.get('message')}", tail)
    if run.returncode != 0:
        raise WorkerError(_describe_exit(run.returncode), _tail(log_path))
    if not finals:
        raise WorkerError("worker exited without sending a result", _tail(log_path))
    run.result = finals[-1]["result"]
    return run


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
