"""Live progress (session/display.py): a rewritten status line on a terminal, plain lines (no
carriage return) in logs, with where the run is and its time left (estimate.py)."""

from __future__ import annotations

import contextlib

from pytest_rnnbench.matrix import Case
from pytest_rnnbench.session.display import CaseProgress, ProgressDisplay, _Writer, format_status

CASE = "tensorflow-gpu0-b128-unroll-synthetic"


MESSAGES = [
    {"type": "started", "pid": 1},
    {"type": "phase", "phase": "importing tensorflow"},
    {"type": "phase", "phase": "loading data"},
    {"type": "phase", "phase": "building model"},
    {"type": "phase", "phase": "compiling (warm-up)"},
    {"type": "phase", "phase": "epoch 1 of 1", "steps": 40},
    {"type": "progress", "phase": "epoch 1 of 1", "step": 10, "steps": 40, "elapsed_s": 1.0},
    {"type": "progress", "phase": "epoch 1 of 1", "step": 20, "steps": 40, "elapsed_s": 2.0},
]


class FakeWriter:
    """Stands in for pytest's TerminalWriter: only what CaseProgress reads."""

    def __init__(self, current_line: str = "") -> None:
        self.width_of_current_line = len(current_line)


class FakeTerminal:
    """Records what reaches pytest's terminal reporter."""

    def __init__(self, current_line: str = "", width: int = 100) -> None:
        self.lines: list[str] = []
        self.raw: list[str] = []
        self._tw = FakeWriter(current_line)
        self._screen_width = width

    def write_line(self, line: str) -> None:
        self.lines.append(line)

    def write_raw(self, text: str, flush: bool = False) -> None:
        self.raw.append(text)

    def write_fspath_result(self, nodeid: str, res: str) -> None:
        self.lines.append(f"<prefix of {nodeid}>{res}")


class FakeCapture:
    def __init__(self) -> None:
        self.suspended = 0

    @contextlib.contextmanager
    def global_and_fixture_disabled(self):
        self.suspended += 1
        yield


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run(tty: bool, current_line: str = "", width: int = 100):
    terminal, capture, clock = FakeTerminal(current_line, width), FakeCapture(), Clock()
    with CaseProgress(CASE, _Writer(terminal, capture), tty, clock=clock) as progress:
        for message in MESSAGES:
            clock.now += 5
            progress.on_message(message)
    return terminal, capture


def test_status_line_format():
    assert (
        format_status(CASE, "epoch 1 of 2", 31.4, 12, 40)
        == f"rnnbench {CASE} | epoch 1 of 2 | step 12/40 (30%) | 31 s"
    )
    assert format_status(CASE, "loading data", 2.0) == f"rnnbench {CASE} | loading data | 2 s"


def test_plain_mode_prints_a_line_per_phase_and_no_carriage_return():
    terminal, capture = run(tty=False)
    assert terminal.raw == []
    assert terminal.lines == [
        f"rnnbench: {CASE}: starting worker [0 s]",
        f"rnnbench: {CASE}: importing tensorflow [10 s]",
        f"rnnbench: {CASE}: loading data [15 s]",
        f"rnnbench: {CASE}: building model [20 s]",
        f"rnnbench: {CASE}: compiling (warm-up) [25 s]",
        f"rnnbench: {CASE}: epoch 1 of 1 (40 steps) [30 s]",
        f"rnnbench: {CASE}: worker finished [40 s]",
    ]
    assert not any("\r" in line for line in terminal.lines)
    assert capture.suspended == len(terminal.lines)  # every write escapes pytest's capture


def test_plain_mode_reports_a_long_epoch_now_and_then():
    terminal, capture, clock = FakeTerminal(), FakeCapture(), Clock()
    with CaseProgress(CASE, _Writer(terminal, capture), False, clock=clock) as progress:
        progress.on_message({"type": "phase", "phase": "epoch 1 of 1", "steps": 600})
        for step in range(1, 121):
            clock.now += 1
            progress.on_message(
                {
                    "type": "progress",
                    "phase": "epoch 1 of 1",
                    "step": step,
                    "steps": 600,
                    "elapsed_s": float(step),
                }
            )
    progress_lines = [line for line in terminal.lines if "step " in line]
    assert len(progress_lines) == 4  # every 30 s over two minutes, not every second
    assert progress_lines[0] == f"rnnbench: {CASE}: epoch 1 of 1 | step 30/600 (5%) [30 s]"


def test_tty_mode_rewrites_one_status_line_and_restores_pytests_line():
    pytest_line = "suite/test_seed_lstm.py .."
    terminal, capture = run(tty=True, current_line=pytest_line)
    assert terminal.lines == []  # nothing through write_line: pytest's layout stays intact
    first, *updates, last = terminal.raw
    assert first.startswith("\n") and CASE in first
    assert all(u.startswith("\r") and u.endswith("\x1b[K") for u in updates)
    assert updates[-1] == f"\r{format_status(CASE, 'epoch 1 of 1', 40.0, 20, 40)}\x1b[K"
    # erase the status line, go up to pytest's line, to the column where it ended
    assert last == f"\r\x1b[K\x1b[1A\x1b[{len(pytest_line) + 1}G"
    assert capture.suspended == len(terminal.raw)


def test_tty_status_line_is_cut_to_the_terminal_width():
    """On a 40-column screen every status line (about 70 characters and more) is cut to 39 and
    ends in "..." to show it was; the close sequence is not a status line."""
    terminal, capture = run(tty=True, width=40)
    shown = [text.strip("\r\n").replace("\x1b[K", "") for text in terminal.raw[:-1]]
    assert len(shown) > 1  # the opened line and its redraws
    assert shown == [f"rnnbench {CASE}"[:36] + "..."] * len(shown)
    assert len(shown[0]) < 40


def test_plain_mode_puts_pytests_file_prefix_back_for_the_tests_letter():
    terminal, capture, clock = FakeTerminal(), FakeCapture(), Clock()
    with CaseProgress(
        CASE,
        _Writer(terminal, capture),
        False,
        clock=clock,
        nodeid="suite/test_seed_lstm.py::test_lstm_training[x]",
    ):
        pass
    assert terminal.lines[-2:] == [
        f"rnnbench: {CASE}: worker finished [0 s]",
        "<prefix of suite/test_seed_lstm.py::test_lstm_training[x]>",
    ]


# -- where the run is, and the time left ------------------------------------------------------


class FakeItem:
    """What ProgressDisplay reads of a collected pytest item."""

    def __init__(
        self, nodeid: str, skip: bool = False, backend: str = "", dataset: str = "synthetic"
    ) -> None:
        self.nodeid = nodeid
        self._skip = skip
        if backend:  # a benchmark case, as pytest_generate_tests parametrizes it
            case = Case(backend, 0, 128, True, dataset)
            self.callspec = type("CallSpec", (), {"params": {"rnnbench_case": case}})()

    def get_closest_marker(self, name: str):
        return object() if name == "skip" and self._skip else None


class FakePluginManager:
    def __init__(self, terminal, capture) -> None:
        self.plugins = {"terminalreporter": terminal, "capturemanager": capture}

    def get_plugin(self, name: str):
        return self.plugins.get(name)


class FakeConfig:
    def __init__(self, terminal, capture, verbosity: int = 0, xdist_worker: bool = False):
        self.pluginmanager = FakePluginManager(terminal, capture)
        self._verbosity = verbosity
        if xdist_worker:
            self.workerinput = {"workerid": "gw0"}

    def get_verbosity(self) -> int:
        return self._verbosity


def node(case: str) -> str:
    return f"suite/test_seed_lstm.py::test_lstm_training[{case}]"


def case_script(epochs: int = 3, steps: int = 40, epoch_s: float = 60.0, setup_s: float = 40.0):
    """(seconds since the previous message, message): a case as its worker reports it, with
    `setup_s` of importing, loading, building and compiling, then `epochs` timed epochs of
    `epoch_s` each, a progress message every quarter epoch."""
    script = [
        (0.0, {"type": "started", "pid": 1}),
        (0.0, {"type": "phase", "phase": "importing tensorflow"}),
        (setup_s / 2, {"type": "phase", "phase": "loading data"}),
        (setup_s / 8, {"type": "phase", "phase": "building model"}),
        (setup_s / 8, {"type": "phase", "phase": "compiling (warm-up)"}),
    ]
    wait = setup_s / 4
    for epoch in range(1, epochs + 1):
        label = f"epoch {epoch} of {epochs}"
        script.append((wait, {"type": "phase", "phase": label, "steps": steps}))
        for quarter in range(1, 5):
            step = steps * quarter // 4
            script.append(
                (
                    epoch_s / 4,
                    {
                        "type": "progress",
                        "phase": label,
                        "step": step,
                        "steps": steps,
                        "elapsed_s": epoch_s * quarter / 4,
                    },
                )
            )
        wait = 0.0
    return script


def play(shown, clock: Clock, script) -> None:
    with shown:
        for wait, message in script:
            clock.now += wait
            shown.on_message(message)


def display(tty: bool = False, verbosity: int = 1, xdist_worker: bool = False):
    terminal, capture, clock = FakeTerminal(), FakeCapture(), Clock()
    config = FakeConfig(terminal, capture, verbosity, xdist_worker)
    shown = ProgressDisplay(config, clock=clock)
    shown.tty = tty  # FakeTerminal is no real terminal: choose the mode here
    return shown, terminal, clock


def test_status_line_leads_with_where_the_run_is():
    assert (
        format_status(CASE, "epoch 2 of 3", 31.4, 12, 40, number=3, total=8, eta="about 6 min left")
        == f"rnnbench case 3 of 8 (about 6 min left) | {CASE} | epoch 2 of 3 | step 12/40 (30%)"
        " | 31 s"
    )
    assert format_status(CASE, "loading data", 2.0, number=3) == (
        f"rnnbench case 3 | {CASE} | loading data | 2 s"
    )


def test_cases_are_numbered_among_those_that_will_run():
    shown, terminal, clock = display()
    shown.start_run(
        [
            FakeItem(node("a")),
            FakeItem(node("b"), skip=True),  # skipped at collection: never runs, never counted
            FakeItem(node("c")),
            FakeItem(node("d")),
        ]
    )
    # "a" skipped when it started (a backend missing): no case() for it, but its number is used.
    with shown.case("c", node("c")):
        pass
    with shown.case("d", node("d")):
        pass
    starts = [line for line in terminal.lines if "starting worker" in line]
    assert starts == [
        "rnnbench: case 2 of 3: c: starting worker [0 s]",
        "rnnbench: case 3 of 3: d: starting worker [0 s]",
    ]


def test_registered_as_a_plugin_it_learns_the_cases_at_collection_finish():
    import pytest

    shown, terminal, clock = display()
    manager = pytest.PytestPluginManager()
    manager.register(shown, "rnnbench-progress")  # pytest accepts its hook as a real hook

    class Session:
        items = [FakeItem(node("a")), FakeItem(node("b"))]

    manager.hook.pytest_collection_finish(session=Session())
    with shown.case("b", node("b")):
        pass
    assert terminal.lines[0] == "rnnbench: case 2 of 2: b: starting worker [0 s]"


def test_without_a_known_total_cases_are_shown_numbered_as_they_start():
    shown, terminal, clock = display()  # start_run never called
    with shown.case("a", node("a")):
        pass
    assert terminal.lines[0] == "rnnbench: case 1: a: starting worker [0 s]"


def test_an_xdist_worker_numbers_its_own_cases_without_the_total():
    shown, terminal, clock = display(xdist_worker=True)
    shown.start_run([FakeItem(node("a")), FakeItem(node("b"))])  # all collected, some run here
    assert shown.run.total is None
    assert shown.run.begin_case(node("b")) == (1, None)
    assert not shown.enabled  # and nothing is shown: a worker's output reaches no one


def test_plain_lines_carry_the_estimate_once_an_epoch_is_measured():
    shown, terminal, clock = display()
    shown.start_run([FakeItem(node("a")), FakeItem(node("b"))])
    play(shown.case("a", node("a")), clock, case_script())
    first = list(terminal.lines)
    play(shown.case("b", node("b")), clock, case_script())
    second = terminal.lines[len(first) :]
    assert first == [
        "rnnbench: case 1 of 2: a: starting worker [0 s]",
        "rnnbench: case 1 of 2: a: importing tensorflow [0 s]",
        "rnnbench: case 1 of 2: a: loading data [20 s]",
        "rnnbench: case 1 of 2: a: building model [25 s]",
        "rnnbench: case 1 of 2: a: compiling (warm-up) [30 s]",
        "rnnbench: case 1 of 2: a: epoch 1 of 3 (40 steps) [40 s]",
        "rnnbench: case 1 of 2: a: epoch 1 of 3 | step 20/40 (50%) [70 s]",
        "rnnbench: case 1 of 2: a: epoch 1 of 3 | step 40/40 (100%) [100 s]",
        # epoch 1 took 60 s: this case has 2 epochs (120 s) left and will take 220 s in all,
        # so does case 2: 340 s
        "rnnbench: case 1 of 2: a: epoch 2 of 3 (40 steps) [100 s; about 6 min left]",
        "rnnbench: case 1 of 2: a: epoch 2 of 3 | step 20/40 (50%) [130 s; about 5 min left]",
        "rnnbench: case 1 of 2: a: epoch 2 of 3 | step 40/40 (100%) [160 s; about 5 min left]",
        "rnnbench: case 1 of 2: a: epoch 3 of 3 (40 steps) [160 s; about 5 min left]",
        "rnnbench: case 1 of 2: a: epoch 3 of 3 | step 20/40 (50%) [190 s; about 4 min left]",
        "rnnbench: case 1 of 2: a: epoch 3 of 3 | step 40/40 (100%) [220 s; about 4 min left]",
        "rnnbench: case 1 of 2: a: worker finished [220 s; about 4 min left]",
    ]
    # Case 2 starts with an estimate (case 1 took 220 s), then follows its own epochs; after the
    # last case nothing is left to estimate.
    assert second[0] == "rnnbench: case 2 of 2: b: starting worker [0 s; about 4 min left]"
    assert second[-2:] == [
        "rnnbench: case 2 of 2: b: epoch 3 of 3 | step 40/40 (100%) [220 s]",
        "rnnbench: case 2 of 2: b: worker finished [220 s]",
    ]
    assert "rnnbench: case 2 of 2: b: epoch 3 of 3 | step 20/40 (50%) [190 s; about 30 s left]" in (
        second
    )


def test_no_estimate_before_the_first_epoch_is_measured():
    shown, terminal, clock = display()
    shown.start_run([FakeItem(node("a")), FakeItem(node("b"))])
    # One timed epoch: it is never followed by another, so this case never measures one...
    play(shown.case("a", node("a")), clock, case_script(epochs=1))
    assert not any("left" in line for line in terminal.lines[:-1])
    # ...but once it finished, the next case is estimated from it.
    assert (
        terminal.lines[-1]
        == "rnnbench: case 1 of 2: a: worker finished [100 s; about 1 min 40 s left]"
    )


def test_a_failed_case_is_no_measure_of_the_others():
    shown, terminal, clock = display()
    shown.start_run([FakeItem(node("a")), FakeItem(node("b"))])
    try:
        with shown.case("a", node("a")) as progress:
            clock.now += 3
            progress.on_message({"type": "phase", "phase": "importing tensorflow"})
            raise RuntimeError("worker died")
    except RuntimeError:
        pass
    assert terminal.lines[-1] == "rnnbench: case 1 of 2: a: worker stopped [3 s]"
    assert shown.run.finished == []
    with shown.case("b", node("b")):
        pass
    assert terminal.lines[-2] == "rnnbench: case 2 of 2: b: starting worker [0 s]"


def test_tty_status_line_carries_the_case_number_and_the_estimate():
    shown, terminal, clock = display(tty=True)
    shown.start_run([FakeItem(node("a")), FakeItem(node("b"))])
    play(shown.case("a", node("a")), clock, case_script()[:12])  # into epoch 2
    first, *updates, last = terminal.raw
    assert first == "\nrnnbench case 1 of 2 | a | starting worker | 0 s"
    assert not any("left" in update for update in updates[:-2])
    assert updates[-2:] == [
        "\rrnnbench case 1 of 2 (about 6 min left) | a | epoch 2 of 3 | 100 s\x1b[K",
        # 325 s left: the finish (440 s after the start) has not moved, the clock has
        "\rrnnbench case 1 of 2 (about 5 min left) | a | epoch 2 of 3 | step 10/40 (25%)"
        " | 115 s\x1b[K",
    ]


def test_remaining_cases_of_a_measured_backend_count_as_long_as_its_finished_ones():
    """The default order runs every backend on synthetic data, then on Nietzsche: by then each
    backend's own duration is known, and a slow backend's case is not taken for an average one."""
    shown, _, clock = display()
    backends = ["tensorflow", "mxnet", "tensorflow", "mxnet"]
    items = [FakeItem(node(f"c{i}"), backend=b) for i, b in enumerate(backends)]
    shown.start_run(items)
    for i, seconds in ((0, 100.0), (1, 400.0)):  # tensorflow 100 s, mxnet 400 s
        with shown.case(f"c{i}", node(f"c{i}")):
            clock.now += seconds
    run = shown.run
    run._shown_end = None
    # Case 3 (tensorflow) has 50 s left; case 4 is mxnet's: 400 s, not the mean 250 s.
    assert run.estimate(clock.now, 3, 4, 50.0, 50.0) == 450.0
    # A backend not measured yet counts as the mean finished case.
    run.kinds[node("c3")] = "jax"
    run._shown_end = None
    assert run.estimate(clock.now, 3, 4, 50.0, 50.0) == 300.0


def test_cases_of_a_backend_that_was_skipped_are_not_waited_for():
    """A missing backend skips all of its cases: once one is skipped, the others ahead count
    nothing (the reviewer's case: 105 s left during the last real case, when 5 s remained)."""
    shown, _, clock = display()
    backends = ["tensorflow", "mxnet", "tensorflow", "mxnet"]
    items = [FakeItem(node(f"c{i}"), backend=b) for i, b in enumerate(backends)]
    shown.start_run(items)
    with shown.case("c0", node("c0")):
        clock.now += 100
    shown.skipped(node("c1"))  # mxnet is not installed
    run = shown.run
    run._shown_end = None
    assert run.estimate(clock.now, 3, 4, 95.0, 5.0) == 5.0


def test_a_dataset_skipped_for_every_backend_still_leaves_their_other_datasets_waited_for():
    """WikiText-2 offline skips its cases of every backend first; their Nietzsche cases still
    take their time (the reviewer's case: "about 1 min left" with 3 cases to go)."""
    shown, _, clock = display()
    order = [("tensorflow", "wikitext2"), ("jax", "wikitext2"), ("tensorflow", "nietzsche")]
    order += [("jax", "nietzsche")]
    items = [FakeItem(node(f"c{i}"), backend=b, dataset=d) for i, (b, d) in enumerate(order)]
    shown.start_run(items)
    shown.skipped(node("c0"))
    shown.skipped(node("c1"))
    with shown.case("c2", node("c2")):
        clock.now += 100
    run = shown.run
    run._shown_end = None
    # Case 3 (jax nietzsche, the last) is still to come: the mean finished case, 100 s.
    assert run.estimate(clock.now, 3, 4, 100.0, 0.0, ended=True) == 100.0
