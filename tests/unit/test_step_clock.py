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
