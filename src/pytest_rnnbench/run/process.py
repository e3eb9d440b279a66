"""Controller side of a worker: spawn the backend's interpreter, send the case, collect the reply.

The reply arrives as JSON lines on a dedicated pipe (the worker's stdout and stderr go to a log
file, whose tail explains failures). A worker that crashes, is killed, or runs past its timeout
fails only its own case; its whole process group is killed so nothing outlives the case. One that
sent its result but does not exit within EXIT_GRACE_S is killed too, its result kept. A memory
guard kills a worker whose resident memory passes --rnnbench-max-rss.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Optional

from .protocol import MESSAGE_TYPES, PROTOCOL_VERSION, WORKER_SCRIPT

TAIL_LINES = 30
# How long a worker that has sent its last word (a result or an error) may take to exit: the
# worker exits at once, skipping teardown; one that hangs there (a framework's thread that never
# ends) is killed, and a result it sent is kept (Worker.finish()).
EXIT_GRACE_S = 30.0
# How often run_worker looks whether a worker that said nothing more has exited (seconds).
EXIT_POLL_S = 0.1
FINAL_TYPES = ("result", "error")  # the messages that end a worker's run


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

    result: Optional[dict[str, Any]] = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    returncode: Optional[int] = None
    # Live A/B only: per turn, the share of the machine's CPU other processes took (turn_load.py).
    turn_loads: list[float] = field(default_factory=list)
    # Set when the worker sent its result but did not exit within its grace and finish() killed
    # it: what happened, in words, for the caller to show (the result is kept: see finish()).
    late_exit: Optional[str] = None


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


def _open_log(log_path: Path) -> BinaryIO:
    """The worker's log file, opened for its output; WorkerError naming it when it cannot be
    (else the failure would read as the interpreter's, or escape as a bare OSError)."""
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        return open(log_path, "wb")
    except OSError as exc:
        why = exc.strerror or str(exc)
        if exc.filename is not None and str(exc.filename) != str(log_path):
            why += f": {exc.filename}"  # its folder (a file in the way, no permission)
        raise WorkerError(
            f"could not create the worker's log file {log_path}: {why}; "
            "the worker was not started (its folder must be writable, with room on its disk)"
        ) from None


class Worker:
    """One spawned worker process: its reply reader, its memory guard, and how its run ended."""

    def __init__(
        self,
        python: str,
        env: Mapping[str, str],
        log_path: Path,
        on_message: Optional[Callable[[dict[str, Any]], None]],
        max_rss_bytes: Optional[int],
        takes_turns: bool = False,
    ) -> None:
        self.run = WorkerRun()
        self.log_path = log_path
        self.max_rss_bytes = max_rss_bytes
        self._on_message = on_message
        self._protocol_errors: list[str] = []
        self._control = None
        self._said_all = threading.Event()  # its last word arrived, or its reply pipe closed
        # Reaped, and its process group killed after: never to be signalled again (kill_group).
        self._group_gone = False
        log = _open_log(log_path)  # before the pipes: its failure leaves nothing to close
        read_fd, write_fd = os.pipe()
        child_fds = [write_fd]
        control_args: list[str] = []
        if takes_turns:
            control_read, control_write = os.pipe()
            child_fds.append(control_read)
            control_args = ["--control-fd", str(control_read)]
        try:
            with log:
                self.proc = subprocess.Popen(
                    # `python DIRECTORY` runs the worker directory's __main__.py.
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
        self._reader = threading.Thread(
            target=self._read_replies, args=(read_fd,), name="rnnbench-worker-reader", daemon=True
        )
        self._reader.start()
        self._guard = _MemoryGuard(self, max_rss_bytes) if max_rss_bytes else None

    def _read_replies(self, read_fd: int) -> None:
        with os.fdopen(read_fd, "r", encoding="utf-8", errors="replace") as replies:
            for line in replies:
                # Nothing a line holds may end this thread: its pipe's read end would close, and
                # the worker, seeing that, would kill itself as if its controller had died.
                try:
                    message = json.loads(line)
                except (ValueError, RecursionError):
                    self._protocol_errors.append(f"unreadable reply {line[:200]!r}")
                    continue
                if (
                    not isinstance(message, dict)
                    or message.get("v") != PROTOCOL_VERSION
                    or not isinstance(message.get("type"), str)
                    or message["type"] not in MESSAGE_TYPES
                ):
                    self._protocol_errors.append(f"unknown reply {line[:200]!r}")
                    continue
                self.run.messages.append(message)
                if message["type"] in FINAL_TYPES:
                    self._said_all.set()
                if self._on_message is not None:
                    self._on_message(message)
        self._said_all.set()
        if self._on_message is not None:
            self._on_message({"type": CLOSED})

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

    def kill_group(self) -> None:
        """Kill the worker and anything it started (it leads its own session). Never once it has
        been reaped and its group killed after: the group's id is the worker's process id, which
        the system may have given to another process since."""
        if self._group_gone:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._group_gone = self.proc.returncode is not None

    def exited(self, timeout_s: float = 0.0) -> bool:
        """Whether the worker has exited (waiting up to `timeout_s`); once it has, anything it left
        running in its group is killed at once, while the group's id is still its own."""
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        self.kill_group()
        return True

    def kill(self) -> None:
        self.kill_group()
        self.proc.wait()
        self._group_gone = True  # everything in it had its SIGKILL before the reap
        self.release()

    def settle(self, timeout_s: float) -> bool:
        """Wait until the worker has sent its last word or closed its reply pipe, or has exited
        (a process it started may hold the pipe open); False when none of it came in time."""
        deadline = time.monotonic() + timeout_s
        while not self.exited():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._said_all.wait(min(left, EXIT_POLL_S)):
                return True
        return True

    def timed_out(self, timeout_s: float) -> WorkerError:
        self.kill()
        self._reader.join(timeout=5)
        return WorkerError(
            f"worker timed out after {timeout_s:g} s and was killed", _tail(self.log_path)
        )

    def finish(self, grace_s: Optional[float] = None) -> WorkerRun:
        """The run's result once the process has exited; WorkerError or WorkerUnsupported if not.

        A worker that sent its result gets `grace_s` (default EXIT_GRACE_S) to exit before it is
        killed.
        """
        grace_s = EXIT_GRACE_S if grace_s is None else grace_s
        self.release()
        killed_late = False  # our own SIGKILL, not the out-of-memory killer's
        try:
            self.run.returncode = self.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.kill_group()
            self.run.returncode = self.proc.wait()
            killed_late = True
        self.kill_group()  # anything the worker left running in its group
        self._reader.join(timeout=5)
        log_path = self.log_path
        if self._guard is not None:
            self._guard.stop()
            if self._guard.exceeded is not None:
                raise WorkerError(
                    f"worker exceeded the memory cap --rnnbench-max-rss="
                    f"{_mib(self.max_rss_bytes)} MiB (resident {_mib(self._guard.exceeded)} MiB) "
                    "and was killed",
                    _tail(log_path),
                )
        if self._protocol_errors:
            raise WorkerError(
                "worker broke the protocol: " + "; ".join(self._protocol_errors[:3]),
                _tail(log_path),
            )
        finals = [m for m in self.run.messages if m["type"] in FINAL_TYPES]
        if finals and finals[-1]["type"] == "error":
            error = finals[-1]
            if error.get("kind") == "unsupported":
                raise WorkerUnsupported(error.get("message", ""))
            detail = error.get("traceback") or ""
            tail = "\n".join(detail.strip().splitlines()[-TAIL_LINES:]) or _tail(log_path)
            raise WorkerError(f"worker failed: {error.get('message')}", tail)
        late = f"did not exit within {grace_s:g} s"
        if killed_late and finals:
            # The result is kept: it arrived whole, and every number in it was measured before
            # the worker sent it. Only its exit hung (freeing memory, a framework's thread that
            # never ends), which the caller can show from `late_exit`.
            self.run.late_exit = f"worker {late} after sending its result and was killed"
        elif killed_late:
            raise WorkerError(f"worker sent no result and {late}; it was killed", _tail(log_path))
        elif self.run.returncode != 0:
            raise WorkerError(_describe_exit(self.run.returncode), _tail(log_path))
        if not finals:
            raise WorkerError("worker exited without sending a result", _tail(log_path))
        self.run.result = finals[-1]["result"]
        return self.run


CLOSED = "closed"  # not a worker message: its reply pipe reached its end (it exited)


def run_worker(
    python: str,
    request: Mapping[str, Any],
    env: Mapping[str, str],
    timeout_s: float,
    log_path: Path,
    on_message: Optional[Callable[[dict[str, Any]], None]] = None,
    max_rss_bytes: Optional[int] = None,
) -> WorkerRun:
    """Run one case in a fresh worker process and return its result, or raise WorkerError.

    `timeout_s` is the time the worker has for its result (or error); then it has EXIT_GRACE_S
    to exit, as live A/B's workers have, or it is killed and its result kept, saying so in
    `late_exit`. `max_rss_bytes` caps the worker's resident memory: past it the worker is killed
    and the case fails saying so (a guard for shared machines, checked several times a second).
    """

    def forward(message: dict[str, Any]) -> None:
        if on_message is not None and message["type"] != CLOSED:
            try:
                on_message(message)
            except Exception:  # a progress display's problem (a closed terminal) must not
                pass  # end the reply reader, which would break the worker's pipe and its case

    worker = Worker(python, env, log_path, forward, max_rss_bytes)
    try:
        worker.send(request)
        # For its last word, not its exit: one whose exit hangs after its result would be
        # timed out (hours later, at the default timeout) and its whole result dropped.
        if worker.settle(timeout_s):
            return worker.finish()
    except BaseException:  # KeyboardInterrupt included: never leave a worker behind
        worker.kill()
        raise
    raise worker.timed_out(timeout_s)


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

    def __init__(self, worker: Worker, cap_bytes: int) -> None:
        self.worker = worker
        self.cap = cap_bytes
        self.exceeded: Optional[int] = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="rnnbench-rss-guard", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set() and not self.worker.exited():
            resident = _resident_bytes(self.worker.proc.pid)
            if resident is not None and resident > self.cap:
                self.exceeded = resident
                self.worker.kill_group()
                return
            self._stop.wait(self.INTERVAL_S)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
