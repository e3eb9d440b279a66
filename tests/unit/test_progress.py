"""Live progress (report/progress.py): a rewritten status line on a terminal, plain lines (no
carriage return) in logs."""

from __future__ import annotations

import contextlib

from pytest_rnnbench.report.progress import CaseProgress, _Writer, format_status

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

    def __init__(self, current_line: str = "") -> None:
        self.lines: list[str] = []
        self.raw: list[str] = []
        self._tw = FakeWriter(current_line)
        self._screen_width = 100

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


def run(tty: bool, current_line: str = ""):
    terminal, capture, clock = FakeTerminal(current_line), FakeCapture(), Clock()
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
    terminal, capture = run(tty=True)
    assert all(len(text.strip("\r\n").replace("\x1b[K", "")) < 100 for text in terminal.raw[:-1])


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
