"""Live progress of the run on pytest's terminal: which case of how many, its phase, steps,
elapsed time, and the time left (from estimate.py).

The worker reports phases ("importing tensorflow", "loading data", "building model", "compiling
(warm-up)", "epoch 1 of 3") and, during an epoch, step progress about once a second. Two ways to
show them, both through pytest's terminal reporter and with capturing suspended (a case runs
inside the test call, where pytest captures output):

- on a terminal: one status line below pytest's own line, rewritten in place and refreshed every
  second (so the clock moves during a long compile), then erased, with the cursor put back at the
  end of pytest's line, so pytest's dots and PASSED words land where they would have.
- elsewhere (CI logs, pipes): a plain line per phase change, and during a long epoch a progress
  line at most every PLAIN_PROGRESS_S seconds; never a carriage return.

Where the run is ("case 3 of 8") comes from the collected items (`ProgressDisplay.start_run`, or
the display registered as a plugin, whose pytest_collection_finish calls it): the cases that will
run are the items without a skip mark, numbered in run order, so a case skipped while it starts
(a backend or dataset missing) still uses up its number. Under pytest-xdist a worker process runs
an unknown subset, so cases are numbered as they start there, without a total.

Worker messages arrive on the runner's reader thread; a lock keeps the two threads (reader and
refresher) from interleaving their writes, and another guards the run's shared estimate. The
pytest process is otherwise idle while a case runs (it waits for the worker), so nothing else
writes to the terminal meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Optional, Union

from .estimate import CaseEstimate, RunEstimate, format_eta

PLAIN_PROGRESS_S = 30.0
REFRESH_S = 1.0


def format_position(number: Optional[int], total: Optional[int]) -> str:
    """ "case 3 of 8", or "case 3" when the total is unknown; "" without a number."""
    if number is None:
        return ""
    return f"case {number}" + (f" of {total}" if total else "")


def format_status(
    case_id: str,
    phase: str,
    elapsed_s: float,
    step: Optional[int] = None,
    steps: Optional[int] = None,
    *,
    number: Optional[int] = None,
    total: Optional[int] = None,
    eta: Optional[str] = None,
) -> str:
    """ "rnnbench case 3 of 8 (about 6 min left) | tensorflow-gpu0-b128-unroll-synthetic |
    epoch 1 of 3 | step 12/40 (30%) | 31 s": the run's part first, so a narrow terminal cuts
    the case's details, not where the run is."""
    head = " ".join(filter(None, ["rnnbench", format_position(number, total)]))
    if eta:
        head += f" ({eta})"
    parts = [head, case_id, phase] if number is not None else [f"{head} {case_id}", phase]
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
    """Shows one case's progress; `on_message` is the runner's callback.

    With `run` (the ProgressDisplay's RunEstimate, guarded by `run_lock`) it also says which case
    of how many this is and, once an epoch has been measured, about how long the run has left.
    """

    def __init__(
        self,
        case_id: str,
        writer: _Writer,
        tty: bool,
        clock: Callable[[], float] = time.monotonic,
        nodeid: Optional[str] = None,
        run: Optional[RunEstimate] = None,
        position: Optional[str] = None,
        run_lock: Optional[threading.Lock] = None,
    ) -> None:
        self.case_id = case_id
        # In plain mode without -v, pytest's file prefix is written again after our lines, so
        # the test's letter (".", "s", "F") lands after it instead of alone on a line.
        self.nodeid = nodeid
        self.writer = writer
        self.tty = tty
        self.clock = clock
        self.run = run
        self.position = position  # this case's nodeid in the run's order
        self._run_lock = run_lock or threading.Lock()
        self.number: Optional[int] = None
        self.total: Optional[int] = None
        if run is not None:
            with self._run_lock:
                self.number, self.total = run.begin_case(position)
        self.started = clock()
        self.phase = "starting worker"
        self.step: Optional[int] = None
        self.steps: Optional[int] = None
        self.estimate = CaseEstimate(self.started)
        self._ended = False
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
        with self._lock:
            self._ended = True
        if self.run is not None and exc_info[0] is None:
            with self._run_lock:
                self.run.end_case(self._elapsed(), self.position)
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
            now = self.clock()
            with self._lock:
                self.phase = str(message.get("phase", ""))
                self.step = None
                self.steps = message.get("steps")
                self.estimate.phase(now, self.phase)
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

    def fresh_workers(self, count: int) -> None:
        """The case runs `count` fresh workers, one after another (its estimate waits for all)."""
        with self._lock:
            self.estimate.workers = count

    def _eta(self, now: float) -> Optional[str]:
        """ "about 6 min left" (lock held), or None: no run, or no epoch measured yet."""
        if self.run is None or self.number is None:
            return None
        case_left = self.estimate.left(now, self.step, self.steps)
        with self._run_lock:
            left = self.run.estimate(
                now, self.number, self.total, now - self.started, case_left, ended=self._ended
            )
        return None if left is None else format_eta(left, whole_run=self.total is not None)

    # -- drawing ---------------------------------------------------------------------------------

    def _elapsed(self) -> float:
        return self.clock() - self.started

    def _status(self) -> str:
        with self._lock:
            now = self.clock()
            text = format_status(
                self.case_id,
                self.phase,
                now - self.started,
                self.step,
                self.steps,
                number=self.number,
                total=self.total,
                eta=self._eta(now),
            )
        width = getattr(self.writer.terminal, "_screen_width", None) or 80
        return text if len(text) < width else text[: width - 4] + "..."

    def _plain(self, what: str) -> None:
        now = self._last_plain = self.clock()
        with self._lock, self.writer.suspended():
            where = format_position(self.number, self.total)
            eta = self._eta(now)
            self.writer.terminal.write_line(
                f"rnnbench: {where + ': ' if where else ''}{self.case_id}: {what} "
                f"[{now - self.started:.0f} s{'; ' + eta if eta else ''}]"
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
    """Makes a CaseProgress per case; does nothing when there is no terminal reporter to use.

    Registered as a plugin (config.pluginmanager.register(display, "rnnbench-progress")) it
    learns the cases to run from pytest_collection_finish; or call start_run(items) yourself.
    """

    def __init__(self, config: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.terminal = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        self.writer = _Writer(self.terminal, capture) if self.terminal is not None else None
        self.tty = self.terminal is not None and is_tty(self.terminal)
        self.clock = clock
        self.xdist_worker = hasattr(config, "workerinput")
        # Quiet runs (-q) get the terminal line but no log lines; xdist workers' output goes
        # nowhere a person reads.
        self.enabled = (
            self.terminal is not None
            and not self.xdist_worker
            and (self.tty or config.get_verbosity() >= 0)
        )
        self.reprefix = not self.tty and config.get_verbosity() == 0
        self.run = RunEstimate()
        self._run_lock = threading.Lock()  # the reader, refresher and pytest's threads share it

    def start_run(self, items: Iterable[Any]) -> None:
        """The collected items, in run order (pytest's session.items after collection): those
        without a skip mark are the cases numbered "case k of n". An xdist worker runs a subset
        it cannot know in advance: there cases are numbered as they start, with no total."""
        if self.xdist_worker:
            return
        running = [item for item in items if item.get_closest_marker("skip") is None]
        with self._run_lock:
            self.run.start((item.nodeid for item in running), _kinds(running))

    def skipped(self, nodeid: str) -> None:
        """A case skipped without running (pytest's report): not waited for in the estimate."""
        with self._run_lock:
            self.run.skip(nodeid)

    def pytest_collection_finish(self, session: Any) -> None:
        """pytest hook, when the display is registered as a plugin."""
        self.start_run(session.items)

    def case(self, case_id: str, nodeid: Optional[str] = None) -> CaseShown:
        """The display of one case (silent when progress is off): a context manager whose
        `on_message` hears the worker."""
        if not self.enabled or self.writer is None:
            return Silent()
        return CaseProgress(
            case_id,
            self.writer,
            self.tty,
            clock=self.clock,
            nodeid=nodeid if self.reprefix else None,
            run=self.run,
            position=nodeid,
            run_lock=self._run_lock,
        )


def _kinds(items: Iterable[Any]) -> dict[str, str]:
    """nodeid -> the backend and dataset of the benchmark case it runs (items of other tests:
    none): what makes cases alike in cost, and what a skip is often about (a backend or a
    dataset that is not there)."""
    found = {}
    for item in items:
        case = getattr(getattr(item, "callspec", None), "params", {}).get("rnnbench_case")
        backend, dataset = getattr(case, "backend", None), getattr(case, "dataset", None)
        if isinstance(backend, str) and isinstance(dataset, str):
            found[item.nodeid] = f"{backend} {dataset}"
    return found


class Silent:
    """The display of a case when progress is off: hears messages, shows nothing."""

    def on_message(self, message: dict[str, Any]) -> None:
        pass

    def fresh_workers(self, count: int) -> None:
        pass

    def __enter__(self) -> Silent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


# What ProgressDisplay.case returns: the runner's handle on one case's display.
CaseShown = Union[CaseProgress, Silent]
