"""Live progress of the running case: which case, which phase, steps done and elapsed time.

The worker reports phases ("importing tensorflow", "loading data", "building model", "compiling
(warm-up)", "epoch 1 of 3") and, during an epoch, step progress about once a second. Two ways to
show them, both through pytest's terminal reporter and with capturing suspended (a case runs
inside the test call, where pytest captures output):

- on a terminal: one status line below pytest's own line, rewritten in place and refreshed every
  second (so the clock moves during a long compile), then erased, with the cursor put back at the
  end of pytest's line, so pytest's dots and PASSED words land where they would have.
- elsewhere (CI logs, pipes): a plain line per phase change, and during a long epoch a progress
  line at most every PLAIN_PROGRESS_S seconds; never a carriage return.

Worker messages arrive on the runner's reader thread; a lock keeps the two threads (reader and
refresher) from interleaving their writes. The pytest process is otherwise idle while a case
runs (it waits for the worker), so nothing else writes to the terminal meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Any, Callable, Optional

PLAIN_PROGRESS_S = 30.0
REFRESH_S = 1.0


def format_status(
    case_id: str,
    phase: str,
    elapsed_s: float,
    step: Optional[int] = None,
    steps: Optional[int] = None,
) -> str:
    """ "rnnbench tensorflow-gpu0-b128-unroll-synthetic | epoch 1 of 1 | step 12/40 | 31 s"."""
    parts = [f"rnnbench {case_id}", phase]
    if step is not None and steps:
        parts.append(f"step {step}/{steps} ({100 * step // steps}%)")
    parts.append(f"{elapsed_s:.0f} s")
    return " | ".join(parts)


class _Writer:
    """Where the lines go: pytest's terminal reporter, with capture suspended around writes."""

    def __init__(self, terminal: Any, capture: Any) -> None:
        self.terminal = terminal
        self.capture = capture

    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        if self.capture is None:
            yield
        else:
            with self.capture.global_and_fixture_disabled():
                yield


def is_tty(terminal: Any) -> bool:
    """Whether the terminal reporter writes to a real terminal (not a pipe or a CI log file)."""
    writer = getattr(terminal, "_tw", None)
    stream = getattr(writer, "_file", None)
    try:
        return bool(stream is not None and stream.isatty()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


class CaseProgress:
    """Shows one case's progress; `on_message` is the runner's callback."""

    def __init__(
        self,
        case_id: str,
        writer: _Writer,
        tty: bool,
        clock: Callable[[], float] = time.monotonic,
        nodeid: Optional[str] = None,
    ) -> None:
        self.case_id = case_id
        # In plain mode without -v, pytest's file prefix is written again after our lines, so
        # the test's letter (".", "s", "F") lands after it instead of alone on a line.
        self.nodeid = nodeid
        self.writer = writer
        self.tty = tty
        self.clock = clock
        self.started = clock()
        self.phase = "starting worker"
        self.step: Optional[int] = None
        self.steps: Optional[int] = None
        self._lock = threading.Lock()  # guards the state above
        self._write_lock = threading.Lock()  # one writer at a time: reader or refresher thread
        self._last_plain = 0.0
        self._shown = False
        self._column = 0
        self._stop = threading.Event()
        self._refresher: Optional[threading.Thread] = None

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> CaseProgress:
        if self.tty:
            self._open_status_line()
            self._refresher = threading.Thread(
                target=self._refresh, daemon=True, name="rnnbench-progress"
            )
            self._refresher.start()
        else:
            self._plain(self.phase)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._refresher is not None:
            self._refresher.join(timeout=5)
        if self.tty:
            self._close_status_line()
        else:
            self._plain("worker finished" if exc_info[0] is None else "worker stopped")
            if self.nodeid is not None:
                with self._lock, self.writer.suspended():
                    self.writer.terminal.write_fspath_result(self.nodeid, "")

    # -- messages from the worker ----------------------------------------------------------------

    def on_message(self, message: dict[str, Any]) -> None:
        if self._stop.is_set():
            return  # a late message after the case ended must not draw over pytest's output
        kind = message.get("type")
        if kind == "phase":
            with self._lock:
                self.phase = str(message.get("phase", ""))
                self.step = None
                self.steps = message.get("steps")
            if self.tty:
                self._draw()
            else:
                self._plain(self.phase + (f" ({self.steps} steps)" if self.steps else ""))
        elif kind == "progress":
            with self._lock:
                self.phase = str(message.get("phase", self.phase))
                self.step = message.get("step")
                self.steps = message.get("steps")
            if self.tty:
                self._draw()
            elif self.clock() - self._last_plain >= PLAIN_PROGRESS_S and self.steps:
                self._plain(
                    f"{self.phase} | step {self.step}/{self.steps} "
                    f"({100 * (self.step or 0) // self.steps}%)"
                )

    # -- drawing ---------------------------------------------------------------------------------

    def _elapsed(self) -> float:
        return self.clock() - self.started

    def _status(self) -> str:
        with self._lock:
            text = format_status(self.case_id, self.phase, self._elapsed(), self.step, self.steps)
        width = getattr(self.writer.terminal, "_screen_width", None) or 80
        return text if len(text) < width else text[: width - 4] + "..."

    def _plain(self, what: str) -> None:
        self._last_plain = self.clock()
        with self._lock, self.writer.suspended():
            self.writer.terminal.write_line(
                f"rnnbench: {self.case_id}: {what} [{self._elapsed():.0f} s]"
            )

    def _raw(self, text: str) -> None:
        # write_raw bypasses the writer's idea of the current line, so pytest's own layout
        # (progress percentages, where the next dot goes) stays as if we had written nothing.
        with self.writer.suspended():
            self.writer.terminal.write_raw(text, flush=True)

    def _open_status_line(self) -> None:
        writer = getattr(self.writer.terminal, "_tw", None)
        self._column = int(getattr(writer, "width_of_current_line", 0) or 0)
        width = getattr(self.writer.terminal, "_screen_width", None) or 80
        self._column %= max(1, width)
        self._raw("\n" + self._status())
        self._shown = True

    def _draw(self) -> None:
        status = self._status()
        with self._write_lock:
            if self._shown:
                self._raw("\r" + status + "\x1b[K")

    def _refresh(self) -> None:
        while not self._stop.wait(REFRESH_S):
            self._draw()

    def _close_status_line(self) -> None:
        with self._write_lock:
            if not self._shown:
                return
            # Erase the status line, go back up to pytest's line and to where it ended.
            back = f"\x1b[{self._column + 1}G" if self._column else "\r"
            self._raw("\r\x1b[K\x1b[1A" + back)
            self._shown = False


class ProgressDisplay:
    """Makes a CaseProgress per case; does nothing when there is no terminal reporter to use."""

    def __init__(self, config: Any) -> None:
        self.terminal = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        self.writer = _Writer(self.terminal, capture) if self.terminal is not None else None
        self.tty = self.terminal is not None and is_tty(self.terminal)
        # Quiet runs (-q) get the terminal line but no log lines; xdist workers' output goes
        # nowhere a person reads.
        self.enabled = (
            self.terminal is not None
            and not hasattr(config, "workerinput")
            and (self.tty or config.get_verbosity() >= 0)
        )
        self.reprefix = not self.tty and config.get_verbosity() == 0

    def case(self, case_id: str, nodeid: Optional[str] = None) -> CaseProgress | _Silent:
        if not self.enabled or self.writer is None:
            return _Silent()
        return CaseProgress(
            case_id, self.writer, self.tty, nodeid=nodeid if self.reprefix else None
        )


class _Silent:
    """The display of a case when progress is off: hears messages, shows nothing."""

    def on_message(self, message: dict[str, Any]) -> None:
        pass

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass
