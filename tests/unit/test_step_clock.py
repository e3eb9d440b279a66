"""The step clock's timing logic (run/worker/rnnbench_worker_clock.py), on a scripted clock: what
each step's time holds. Keras calls these hooks around every step; no framework is needed here."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_rnnbench.run.protocol import WORKER_SCRIPT


class _Channel:
    def send(self, *args: Any, **fields: Any) -> None:
        pass


@pytest.fixture
def clock_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(WORKER_SCRIPT))
    import rnnbench_worker_clock

    now = [100.0]
    monkeypatch.setattr(rnnbench_worker_clock, "clock", lambda: now[0])
    rnnbench_worker_clock.now = now  # type: ignore[attr-defined]  # the test moves it
    return rnnbench_worker_clock


def test_fit_setup_before_the_first_step_is_no_steps_time(clock_module: Any) -> None:
    """TensorFlow's fit converts the whole dataset to a tensor before its first step: that
    setup (here 0.5 s) made step 0 several times the others; it is kept apart now."""
    now = clock_module.now
    timing = clock_module.StepTiming()
    timing.start_timing(_Channel(), 1.0, None, lambda model: None)
    timing.begin("epoch 1 of 1", 3)
    now[0] += 0.5  # fit's setup
    for step in range(3):
        timing.on_batch_begin(step)
        now[0] += 0.02  # the step
        timing.on_batch_end(step)
        now[0] += 0.001  # between steps (the next batch): part of the next step, as before
    assert timing.setup_seconds == pytest.approx(0.5)
    assert timing.durations == pytest.approx([0.02, 0.021, 0.021])
    assert timing.first_step_start == pytest.approx(100.5)
    # The next epoch starts afresh.
    timing.begin("epoch 2 of 2", 1)
    assert timing.first_step_start is None and timing.setup_seconds == 0.0


class _Turns:
    """Live A/B turns of `steps` steps; a wait for the next turn takes `wait_s` on the clock."""

    def __init__(self, clock_module: Any, steps: int, wait_s: float) -> None:
        self.steps, self.waits, self._now, self._wait_s = steps, 0, clock_module.now, wait_s

    def wait(self) -> None:
        self.waits += 1
        self._now[0] += self._wait_s


def test_a_turn_ends_with_a_sync_that_its_last_step_includes_and_a_wait_that_no_step_does(
    clock_module: Any,
) -> None:
    now = clock_module.now
    synced: list[int] = []

    def sync(model: Any) -> None:  # the device finishing the turn's queued work
        synced.append(len(timing.durations) + 1)
        now[0] += 0.005

    turns = _Turns(clock_module, steps=2, wait_s=1.0)
    timing = clock_module.StepTiming()
    timing.model = None
    timing.start_timing(_Channel(), 1.0, turns, sync)
    timing.begin("epoch 1 of 1", 5)
    for step in range(5):
        timing.on_batch_begin(step)
        now[0] += 0.02
        timing.on_batch_end(step)
    # Turns of 2 steps and the epoch's last step: synced after steps 2, 4 and 5; no wait after
    # the last (the next epoch waits for a turn of its own); the waits are in no step's time.
    assert synced == [2, 4, 5] and turns.waits == 2
    assert timing.durations == pytest.approx([0.02, 0.025, 0.02, 0.025, 0.025])


def test_an_injected_slowdown_stretches_each_step_and_is_counted(
    monkeypatch: pytest.MonkeyPatch, clock_module: Any
) -> None:
    ticks = [0.0]

    def ticking() -> float:  # the stall busy-waits on the clock: let it move
        ticks[0] += 0.0001
        return ticks[0]

    monkeypatch.setattr(clock_module, "clock", ticking)
    timing = clock_module.StepTiming()
    timing.start_timing(_Channel(), 1.5, None, lambda model: None)
    timing.begin("epoch 1 of 1", 3)
    for step in range(3):
        timing.on_batch_begin(step)
        ticks[0] += 0.02
        timing.on_batch_end(step)
    assert timing.durations == pytest.approx([0.03] * 3, abs=0.0005)
    assert timing.injected == pytest.approx(0.03, abs=0.0015)


def test_steps_stamped_from_several_callback_threads_at_once_never_go_negative() -> None:
    """Keras 3 runs async callbacks on a pool of threads; a real clock, 8 threads at once."""
    import sys
    import threading

    sys.path.insert(0, str(WORKER_SCRIPT))
    try:
        import rnnbench_worker_clock as real
    finally:
        sys.path.remove(str(WORKER_SCRIPT))
    timing = real.StepTiming()
    timing.start_timing(_Channel(), 1.0, None, lambda model: None)
    timing.begin("epoch 1 of 1", 10**9)
    timing.on_batch_begin(0)

    def stamp() -> None:
        for _ in range(2000):
            timing.on_batch_end(0)

    threads = [threading.Thread(target=stamp) for _ in range(8)]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert len(timing.durations) == 16000 and min(timing.durations) >= 0
