"""Live A/B turns: reference and candidate workers alive at once, training one at a time.

The controller grants each turn by writing one byte to a worker's control pipe; the worker trains
up to `turn_steps` steps, synchronizes its device and says "turn". The i-th turns of every worker
run moments apart on the same machine, so they pair up for the verdict (gate/live.py).
"""

from __future__ import annotations

import itertools
import queue
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from .process import CLOSED, Worker, WorkerError, WorkerRun, WorkerUnsupported
from .turn_load import TurnLoads

# Fewest turns per worker. A worker's one number is the Hodges-Lehmann estimate over its turns,
# each turn less that turn's mean over every worker (verdicts/worker_level.py): with
# a handful of turns one disturbed turn would move it, so a short epoch gets shorter turns instead.
MIN_TURNS = 16


def turn_steps_for(steps_per_epoch: int, repeats: int, wanted: int) -> int:
    """`wanted` steps per turn, fewer if that would leave a worker under MIN_TURNS turns."""
    return max(1, min(wanted, (steps_per_epoch * repeats) // MIN_TURNS))


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


def run_live(
    reference: list[WorkerSpec],
    candidate: list[WorkerSpec],
    timeout_s: float,
    turn_steps: int,
    on_message: Optional[Callable[[str, int, dict[str, Any]], None]] = None,
    max_rss_bytes: Optional[int] = None,
    first_alone: bool = False,
    side_names: tuple[str, str] = SIDES,
) -> tuple[list[WorkerRun], list[WorkerRun]]:
    """Live A/B: run the same case in several workers at once, taking turns of `turn_steps` steps
    (`timeout_s` is each worker's own: warm-up and turns, not its waits; _Clocks).

    All workers import and warm up side by side (untimed); then only one trains at a time, in
    the order of `turn_order`, so the i-th turns of every worker ran moments apart on the same
    machine. Several workers per side average out how fast a process happens to be (memory
    layout and thread placement make identical processes differ by a few percent). When all but
    one are done, the last runs on without turns. If any worker fails, all are killed and
    LiveFailed names the side (WorkerUnsupported passes through: the case cannot run).
    `on_message(side, index within the side, message)` hears every worker's messages.

    `first_alone`: the first worker of each side warms up before the others start, so that what
    it compiled into a cache shared by the case's workers (JAX's persistent compilation cache)
    spares the others the same compilation. Each run says its turns' `turn_loads`.
    `side_names`: how failures name the sides (the gate's "base" and "head").
    """
    if len(reference) != len(candidate) or not reference:
        raise ValueError("a live comparison needs as many reference as candidate workers (>= 1)")
    specs = list(reference) + list(candidate)
    per_side = len(reference)
    side_of = [SIDES[index // per_side] for index in range(len(specs))]
    named = [side_names[index // per_side] for index in range(len(specs))]  # in failures
    events: queue.Queue[tuple[int, dict[str, Any]]] = queue.Queue()
    workers: dict[int, Worker] = {}
    clocks = _Clocks(timeout_s, len(specs))

    def start(index: int) -> None:
        clocks.run(index)
        heard = _listener(events, on_message, side_of[index], index, per_side)
        workers[index] = _start_worker(specs[index], turn_steps, heard, max_rss_bytes, named[index])

    first = [0, per_side] if first_alone and per_side > 1 else list(range(len(specs)))
    loads = TurnLoads()
    try:
        for index in first:
            start(index)
        later = [index for index in range(len(specs)) if index not in first]
        order = turn_order(per_side)
        failed = _take_turns(
            len(specs), workers, _Later(later, start), events, order, clocks, named, loads
        )
    except BaseException:  # KeyboardInterrupt included: never leave a worker behind
        for worker in workers.values():
            worker.kill()
        raise
    runs = _finish_all(workers, failed, named, loads)
    return ([runs[i] for i in range(per_side)], [runs[i] for i in range(per_side, 2 * per_side)])


class _Clocks:
    """Each worker's own time against the per-worker limit: it runs while the worker warms up,
    trains a turn or runs on alone, and stops while it waits for a turn or is done. The whole
    comparison also ends at `count` limits, which no sum of the workers' own times can pass."""

    def __init__(self, timeout_s: float, count: int) -> None:
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s * count
        self._since: dict[int, float] = {}
        self._used: dict[int, float] = {}

    def run(self, index: int) -> None:
        self._since.setdefault(index, time.monotonic())

    def stop(self, index: int) -> None:
        since = self._since.pop(index, None)
        if since is not None:
            self._used[index] = self._used.get(index, 0.0) + time.monotonic() - since

    def overrun(self) -> Optional[int]:
        """A worker whose own time passed the limit, if one did."""
        now = time.monotonic()
        for index, since in self._since.items():
            if self._used.get(index, 0.0) + now - since > self.timeout_s:
                return index
        return None

    def wait_s(self) -> float:
        """How long the controller may wait for the next message before checking again."""
        return max(0.0, min(1.0, self.deadline - time.monotonic()))


@dataclass
class _Later:
    """Workers still to start, and how: once every started worker waits for its first turn."""

    indexes: list[int]
    start: Callable[[int], None]

    def start_all(self) -> None:
        indexes, self.indexes = self.indexes, []
        for index in indexes:
            self.start(index)


def _listener(
    events: queue.Queue[tuple[int, dict[str, Any]]],
    on_message: Optional[Callable[[str, int, dict[str, Any]], None]],
    side: str,
    index: int,
    per_side: int,
) -> Callable[[dict[str, Any]], None]:
    """What hears worker `index`: the turn-taking loop first, then the caller's `on_message`."""

    def heard(message: dict[str, Any]) -> None:
        events.put((index, message))  # first: the turns must go on whatever the display does
        if on_message is not None and message["type"] != CLOSED:
            try:
                on_message(side, index % per_side, message)
            except Exception:  # a progress display's problem must not stall a comparison
                pass

    return heard


def _start_worker(
    spec: WorkerSpec,
    turn_steps: int,
    heard: Callable[[dict[str, Any]], None],
    max_rss_bytes: Optional[int],
    side: str,
) -> Worker:
    """One worker of a live comparison, started and sent its request (with the turn size)."""
    try:
        worker = Worker(
            spec.python, spec.env, spec.log_path, heard, max_rss_bytes, takes_turns=True
        )
    except WorkerError as exc:
        raise LiveFailed(side, exc) from None
    worker.send(dict(spec.request, turn_steps=turn_steps))
    return worker


def _finish_all(
    workers: dict[int, Worker], failed: Optional[int], side_of: list[str], loads: TurnLoads
) -> dict[int, WorkerRun]:
    """Every worker's run, with its turns' loads; the one that failed first (the others were
    killed because of it)."""
    runs: dict[int, WorkerRun] = {}
    indexes = sorted(workers)
    if failed is not None:
        indexes.remove(failed)
        indexes.insert(0, failed)
    try:
        for index in indexes:
            try:
                runs[index] = workers[index].finish()
                runs[index].turn_loads = loads.shares.get(index, [])
            except WorkerUnsupported as exc:
                raise WorkerUnsupported(f"{side_of[index]} worker: {exc}") from None
            except WorkerError as exc:
                raise LiveFailed(side_of[index], exc) from None
    finally:  # one side's failure (or Ctrl-C) must not leave the others unreaped
        for index in indexes:
            if index not in runs:
                workers[index].kill()
    return runs


def _take_turns(
    count: int,
    workers: dict[int, Worker],
    later: _Later,
    events: queue.Queue[tuple[int, dict[str, Any]]],
    order: list[int],
    clocks: _Clocks,
    side_of: list[str],
    loads: TurnLoads,
) -> Optional[int]:
    """Grant turns until every worker is done; a failed worker stops the others at once.
    `later`'s workers start when every started one waits for its first turn. `loads` measures
    each turn.

    Returns the index of the worker that failed, if one did.
    """
    paused = [False] * count
    done = [False] * count
    exited_at: dict[int, float] = {}
    cycle = itertools.cycle(order)
    while not all(done):
        overrun = clocks.overrun()
        if overrun is not None:
            raise LiveFailed(side_of[overrun], workers[overrun].timed_out(clocks.timeout_s))
        if clocks.wait_s() <= 0:
            raise _past_deadline(workers, done, paused, side_of, clocks.timeout_s)
        try:
            index, message = events.get(timeout=clocks.wait_s())
        except queue.Empty:
            exited = _exited_silently(workers, done, exited_at)
            if exited is None:
                continue
            index, message = exited, {"type": CLOSED}
        loads.heard(index, message)
        kind = message["type"]
        if kind == "turn":
            paused[index] = True
            clocks.stop(index)
        elif kind in ("result", "error", CLOSED) and not done[index]:
            done[index] = True
            clocks.stop(index)
            if kind != "result":  # it failed: the comparison is lost, stop the others
                for other in workers.values():
                    other.kill()
                return index
            if not all(done):  # others train on: its exit must not share their turns
                _let_exit(workers.get(index))
        else:
            continue
        _go_on(workers, later, cycle, done, paused, loads, clocks)
    return None


def _go_on(
    workers: dict[int, Worker],
    later: _Later,
    cycle: Iterator[int],
    done: list[bool],
    paused: list[bool],
    loads: TurnLoads,
    clocks: _Clocks,
) -> None:
    """After a worker paused or finished: start the later workers, release the last one, or
    grant the next turn."""
    left = [i for i in range(len(done)) if not done[i]]
    if left and all(paused[i] for i in left if i in workers) and later.indexes:
        later.start_all()  # the first ones are warm: the others start now
        return
    if len(left) == 1:
        clocks.run(left[0])
        workers[left[0]].release()  # nobody to take turns with
        return
    # A turn starts only while nobody trains: the next worker in order that is still on.
    if left and all(paused[i] for i in left):
        chosen = next(cycle)
        while done[chosen]:
            chosen = next(cycle)
        paused[chosen] = False
        loads.granted(chosen)
        clocks.run(chosen)
        workers[chosen].grant_turn()


def _let_exit(worker: Optional[Worker]) -> None:
    """Wait (up to EXIT_GRACE_S) for a worker that sent its result to exit before the next turn:
    freeing its memory (on a GPU, its CUDA context) would share the machine with that turn."""
    if worker is None:
        return
    if not worker.exited(EXIT_GRACE_S):
        # The turns go on (a hung exit must not stop the case), but the results file says so:
        # finish() replaces this with its kill when the worker has not exited by then either.
        worker.run.late_exit = (
            f"worker did not exit within {EXIT_GRACE_S:g} s after sending its result: "
            "its exit overlapped the next turn"
        )


def _past_deadline(
    workers: dict[int, Worker],
    done: list[bool],
    paused: list[bool],
    side_of: list[str],
    timeout_s: float,
) -> LiveFailed:
    """A comparison past its deadline: blame the worker that holds the turn (or never got to
    its first one)."""
    running = [i for i in workers if not done[i] and not paused[i]]
    index = running[0] if running else next(i for i in workers if not done[i])
    return LiveFailed(side_of[index], workers[index].timed_out(timeout_s))


# How long a worker's reply pipe may stay open after its process exited (a grandchild that
# inherited it, a reader thread that died) before the runner stops waiting for it.
EXIT_GRACE_S = 5.0


def _exited_silently(
    workers: dict[int, Worker], done: list[bool], exited_at: dict[int, float]
) -> Optional[int]:
    """A worker whose process has been gone for EXIT_GRACE_S without its pipe closing, or None."""
    now = time.monotonic()
    for index, worker in workers.items():
        if done[index] or not worker.exited():
            continue
        first_seen = exited_at.setdefault(index, now)
        if now - first_seen >= EXIT_GRACE_S:
            return index
    return None
