"""The step clock: a Keras callback that times every training step, injects slowdowns and takes
live A/B turns.

(Named rnnbench_worker_*: this directory is first on sys.path, see __main__.py.)
"""

import threading
import time

from rnnbench_worker_backend import keras_major
from rnnbench_worker_protocol import PROGRESS_INTERVAL_S

clock = time.perf_counter


def stall(start, seconds):
    """Keep this thread busy for `seconds` after `start`; returns the clock at the end.

    A busy wait rather than a sleep, as extra work in the training loop would be: a sleeping
    thread frees its core (and lets thread pools park), which a real slowdown does not.
    """
    end = start + seconds
    now = clock()
    while now < end:
        now = clock()
    return now


class StepTiming(object):
    """The step clock's logic; make_step_clock mixes it into a keras.callbacks.Callback (a class
    that exists only once Keras is imported).

    It times each step and adds no device sync of its own outside turns. Keras 3 calls it from its
    async callback thread (`async_safe`), after the step's logs are ready, so a timestamp marks
    the step's completion without stalling the dispatch loop; Keras 2 calls it inline. The
    epoch's first step starts at its own begin hook (called inline by both): what `fit` does
    before it (the data iterator, TensorFlow's conversion of the whole dataset to a tensor, the
    callbacks' start) is `setup_seconds`, no step's time; each later step runs from the end of
    the one before.
    `slowdown` > 1 stretches every step by that factor (the gate's power test); it may change
    between epochs (gate calibration alternates factors). With `turns` (live A/B) the clock ends
    a turn every `turns.steps` steps and at the epoch's last step: it waits for the device
    (`sync`), times the step, then blocks until the next turn (except after the last step: the
    next epoch starts on a turn of its own); the wait belongs to no step.
    """

    def start_timing(self, channel, slowdown, turns, sync):
        # Keras 3 may run async callbacks on several pool threads at once: one step's stamp must
        # not fall between another's reading of `last` and its update (a negative step time).
        self._stamping = threading.Lock()
        self._channel = channel
        self._turns = turns
        self._sync = sync
        self._last_progress = 0.0
        self.slowdown = slowdown
        self.durations = []
        self.injected = 0.0  # seconds of injected slowdown in this epoch
        self.last = None
        self.epoch_label = ""
        self.total_steps = 0
        self.setup_seconds = 0.0
        self.first_step_start = None

    def begin(self, label, total_steps):
        """Start timing an epoch of `total_steps` steps, labelled `label` in progress messages."""
        self.durations = []
        self.injected = 0.0
        self.epoch_label = label
        self.total_steps = total_steps
        self.last = clock()
        self.setup_seconds = 0.0
        self.first_step_start = None

    def on_batch_begin(self, batch, logs=None):
        """Keras's hook before each step: the epoch's first step starts here, not at `fit`."""
        if self.first_step_start is None:
            now = clock()
            self.setup_seconds = now - self.last
            self.first_step_start = self.last = now

    def on_batch_end(self, batch, logs=None):
        """Keras's hook after each step: time it, stall it when asked, end a turn when due."""
        with self._stamping:
            self._step_ended()

    def _step_ended(self):
        turns = self._turns
        step = len(self.durations) + 1
        last_step = step >= self.total_steps
        turn_ends = turns is not None and (step % turns.steps == 0 or last_step)
        if turn_ends:  # a turn's time is exact: its device work is done when it ends
            self._sync(self.model)
        now = clock()
        if self.slowdown != 1.0:
            stalled = clock()
            now = stall(now, (now - self.last) * (self.slowdown - 1.0))
            self.injected += now - stalled
        self.durations.append(now - self.last)
        self.last = now
        if now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._last_progress = now
            self._channel.send(
                "progress",
                phase=self.epoch_label,
                step=step,
                steps=self.total_steps,
                elapsed_s=sum(self.durations),
            )
        if turn_ends and not last_step:  # the next epoch's start waits for its own turn
            turns.wait()
            self.last = clock()


def make_step_clock(keras, channel, slowdown, inline=False, turns=None, sync=None):
    """A Keras callback that times each step (see StepTiming).

    `inline` keeps every epoch on the same inline path, so that epochs with alternated slowdowns
    are alike.
    """
    attributes = {
        # An injected slowdown or a turn must stall the training loop itself, so they run inline.
        "async_safe": slowdown == 1.0 and not inline and turns is None,
    }
    if keras_major(keras) >= 3:
        # Keras 3 calls on_train_batch_*, whose defaults forward to on_batch_*.
        attributes["on_train_batch_begin"] = StepTiming.on_batch_begin
        attributes["on_train_batch_end"] = StepTiming.on_batch_end
    step_clock_class = type("StepClock", (StepTiming, keras.callbacks.Callback), attributes)
    step_clock = step_clock_class()
    step_clock.start_timing(channel, slowdown, turns, sync)
    return step_clock
