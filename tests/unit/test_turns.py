"""Live A/B turn-taking (run/turns.py): the turn order, and real worker processes taking turns
through the product's runner.

The workers run tests/fakes/fake_worker.py in its `turns` mode: it sleeps a few ms per step and
logs who ran when.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helpers import wait_gone
from pytest_rnnbench.run import turns
from pytest_rnnbench.run.protocol import PROTOCOL_VERSION
from pytest_rnnbench.run.turns import (
    MIN_TURNS,
    LiveFailed,
    WorkerSpec,
    run_live,
    turn_order,
    turn_steps_for,
)
from pytest_rnnbench.verdicts import samples


def request(repeats: int = 2, **extra) -> dict:
    case = {
        "id": "fake-case",
        "backend": "tensorflow",
        "gpus": 0,
        "batch_size": 1,
        "unroll": True,
        "dataset": "synthetic",
    }
    return {
        "protocol": PROTOCOL_VERSION,
        "case": case,
        "data": {"samples": 8},
        "repeats": repeats,
        "seed": 1,
        **extra,
    }


def specs(
    tmp_path: Path, python: Path, side: str, count: int, sent: dict, env: dict
) -> list[WorkerSpec]:
    return [WorkerSpec(str(python), sent, env, tmp_path / f"{side}{i}.log") for i in range(count)]


def read_turnlog(path: Path) -> list[tuple[int, float, float]]:
    rows = [line.split() for line in path.read_text().splitlines()]
    return sorted((int(pid), float(start), float(end)) for pid, start, end in rows)


def test_a_worker_that_sent_its_result_has_exited_before_anyone_trains_again(
    tmp_path: Path, fake_python: Path
) -> None:
    """Its exit (memory freed; on a GPU, its CUDA context) must not share the next turn."""
    log, exits = tmp_path / "turns.log", tmp_path / "exits.log"
    env = dict(
        os.environ, FAKE_MODE="turns", FAKE_TURNLOG=str(log), FAKE_EXITLOG=str(exits),
        FAKE_EXIT_DELAY_S="0.3",
    )  # fmt: skip
    run_live(
        specs(tmp_path, fake_python, "reference", 1, request(), env),
        specs(tmp_path, fake_python, "candidate", 1, request(), env),
        timeout_s=60,
        turn_steps=2,
    )
    steps = read_turnlog(log)
    exited = {
        int(pid): float(at) for pid, at in (line.split() for line in exits.read_text().splitlines())
    }
    first_out = min(exited, key=exited.get)  # the worker that finished first
    its_last_end = max(end for pid, _, end in steps if pid == first_out)
    after = [start for pid, start, _ in steps if pid != first_out and start > its_last_end]
    assert after, "the other worker had no steps left"
    assert min(after) >= exited[first_out], "a turn ran while a finished worker was exiting"


def test_turn_order_alternates_sides_and_mirrors_each_round() -> None:
    assert turn_order(1) == [0, 1, 1, 0]
    assert turn_order(2) == [0, 2, 1, 3, 3, 1, 2, 0]


@pytest.mark.parametrize("per_side", [1, 2])
def test_workers_take_turns_one_at_a_time_in_order(
    tmp_path: Path, fake_python: Path, per_side: int
) -> None:
    log = tmp_path / "turns.log"
    env = dict(os.environ, FAKE_MODE="turns", FAKE_TURNLOG=str(log))
    started: dict[int, tuple[str, int]] = {}

    def heard(side: str, index: int, message: dict) -> None:
        if message["type"] == "started":
            started[message["pid"]] = (side, index)

    reference, candidate = run_live(
        specs(tmp_path, fake_python, "reference", per_side, request(), env),
        specs(tmp_path, fake_python, "candidate", per_side, request(inject_slowdown=2.0), env),
        timeout_s=60,
        turn_steps=2,
        on_message=heard,
    )

    assert len(reference) == len(candidate) == per_side
    # 2 epochs x 8 steps in turns of 2: 8 turns each, all but the last granted by the runner.
    assert [run.result["turns_taken"] for run in reference + candidate] == [8] * (2 * per_side)
    steps = read_turnlog(log)
    ordered = sorted(steps, key=lambda row: row[1])
    for (pid_a, _, end_a), (pid_b, start_b, _) in zip(ordered, ordered[1:]):  # noqa: B007
        assert end_a <= start_b, "two workers trained at the same time"
    # Consecutive steps of one worker form a turn; the turns follow turn_order, cycle after cycle.
    turns = [ordered[0][0]]
    for pid, _, _ in ordered[1:]:
        if pid != turns[-1]:
            turns.append(pid)
    worker_of = {
        pid: (0 if side == "reference" else per_side) + index
        for pid, (side, index) in started.items()
    }
    cycle = turn_order(per_side)
    expected = [cycle[i % len(cycle)] for i in range(16 * per_side)]
    # A worker granted two turns in a row (A B B A) shows as one run of steps: merge those too.
    merged_expected = [w for i, w in enumerate(expected) if i == 0 or w != expected[i - 1]]
    assert [worker_of[pid] for pid in turns] == merged_expected[: len(turns)]
    # The paired samples line up turn by turn, and the injected 2x shows in every pair.
    ref = samples.live_time_samples([run.result for run in reference])
    cand = samples.live_time_samples([run.result for run in candidate])
    assert len(ref) == len(cand) == 8
    assert sum(cand) > 1.3 * sum(ref)


def test_first_alone_warms_one_worker_per_side_before_the_others_start(
    tmp_path: Path, fake_python: Path
) -> None:
    """What the first worker of each side compiled into a shared cache spares the others: they
    start only once both first workers wait for their first turn; the turns then go as usual."""
    env = dict(os.environ, FAKE_MODE="turns", FAKE_TURNLOG=str(tmp_path / "turns.log"))
    heard_in_order: list[tuple[str, int, str]] = []

    def heard(side: str, index: int, message: dict) -> None:
        if message["type"] in ("started", "turn"):
            heard_in_order.append((side, index, message["type"]))

    reference, candidate = run_live(
        specs(tmp_path, fake_python, "reference", 3, request(), env),
        specs(tmp_path, fake_python, "candidate", 3, request(), env),
        timeout_s=60,
        turn_steps=2,
        on_message=heard,
        first_alone=True,
    )

    later_start = min(
        i for i, (_, index, kind) in enumerate(heard_in_order) if kind == "started" and index > 0
    )
    before = heard_in_order[:later_start]
    assert sorted(before) == [
        ("candidate", 0, "started"),
        ("candidate", 0, "turn"),
        ("reference", 0, "started"),
        ("reference", 0, "turn"),
    ]
    assert [run.result["turns_taken"] for run in reference + candidate] == [8] * 6


@pytest.mark.parametrize("first_alone", [False, True])
@pytest.mark.parametrize("side", ["reference", "candidate"])
def test_a_failing_worker_stops_the_others_and_names_its_side(
    tmp_path: Path, fake_python: Path, side: str, first_alone: bool
) -> None:
    log = tmp_path / "turns.log"
    good = dict(os.environ, FAKE_MODE="turns", FAKE_TURNLOG=str(log))
    bad = dict(good, FAKE_MODE="raise")
    pids: list[int] = []
    indexes: set[int] = set()

    def heard(_side: str, index: int, message: dict) -> None:
        if message["type"] == "started":
            pids.append(message["pid"])
            indexes.add(index)

    with pytest.raises(LiveFailed) as failed:
        run_live(
            specs(
                tmp_path,
                fake_python,
                "reference",
                2,
                request(),
                bad if side == "reference" else good,
            ),
            specs(
                tmp_path,
                fake_python,
                "candidate",
                2,
                request(),
                bad if side == "candidate" else good,
            ),
            timeout_s=60,
            turn_steps=2,
            on_message=heard,
            first_alone=first_alone,
        )
    assert failed.value.side == side
    assert str(failed.value).startswith(f"{side} worker: worker failed: RuntimeError: fake failure")
    assert wait_gone(pids) == []  # the healthy ones are gone too
    if first_alone:  # a first worker failed in its warm-up: the others never started
        assert indexes == {0}


@pytest.mark.parametrize("side", ["reference", "candidate"])
def test_a_worker_killed_in_the_middle_of_its_turn_fails_the_case_naming_its_side_as_asked(
    tmp_path: Path, fake_python: Path, side: str
) -> None:
    good = dict(os.environ, FAKE_MODE="turns", FAKE_TURNLOG=str(tmp_path / "turns.log"))
    dying = dict(good, FAKE_DIE_AT_TURN="3")
    with pytest.raises(LiveFailed) as failed:
        run_live(
            specs(
                tmp_path,
                fake_python,
                "reference",
                2,
                request(),
                dying if side == "reference" else good,
            ),
            specs(
                tmp_path,
                fake_python,
                "candidate",
                2,
                request(),
                dying if side == "candidate" else good,
            ),
            timeout_s=60,
            turn_steps=2,
            side_names=("base", "head"),  # the gate's: its comment speaks of base and head
        )
    named = "base" if side == "reference" else "head"
    assert failed.value.side == named
    assert str(failed.value).startswith(f"{named} worker: worker was killed by SIGKILL")


@pytest.mark.slow  # waits out a 3 s timeout
def test_a_hung_worker_times_out_is_blamed_and_leaves_nothing_behind(
    tmp_path: Path, fake_python: Path
) -> None:
    fine = dict(os.environ, FAKE_MODE="turns", FAKE_TURNLOG=str(tmp_path / "turns.log"))
    pidfile = tmp_path / "hung.json"
    hang = dict(os.environ, FAKE_MODE="hang", FAKE_PIDFILE=str(pidfile))
    pids: list[int] = []

    def heard(_side: str, _index: int, message: dict) -> None:
        if message["type"] == "started":
            pids.append(message["pid"])

    with pytest.raises(LiveFailed, match="timed out after 3 s") as failed:
        run_live(
            specs(tmp_path, fake_python, "reference", 1, request(), fine),
            specs(tmp_path, fake_python, "candidate", 1, request(), hang),
            timeout_s=3,
            turn_steps=2,
            on_message=heard,
        )
    assert failed.value.side == "candidate"  # the one that never finished its turn
    hung, child = json.loads(pidfile.read_text())
    # The workers and what the hung one started are all gone (SIGKILL takes effect a moment
    # after it is sent: on a loaded machine, not always before the next line).
    assert wait_gone(pids + [hung, child]) == []


@pytest.mark.slow  # two workers of 1.6 s each
def test_the_limit_is_each_workers_own_not_the_comparisons(
    tmp_path: Path, fake_python: Path
) -> None:
    # 16 steps of 0.1 s a worker: each well within 2.5 s, both together over it.
    env = dict(os.environ, FAKE_MODE="turns", FAKE_TURNLOG=str(tmp_path / "turns.log"))
    slow = request(inject_slowdown=10.0)
    reference, candidate = run_live(
        specs(tmp_path, fake_python, "reference", 1, slow, env),
        specs(tmp_path, fake_python, "candidate", 1, slow, env),
        timeout_s=2.5,
        turn_steps=2,
    )
    assert reference[0].result and candidate[0].result


def test_turn_steps_shrink_so_the_paired_test_gets_enough_pairs() -> None:
    assert turn_steps_for(steps_per_epoch=391, repeats=3, wanted=8) == 8
    assert turn_steps_for(steps_per_epoch=16, repeats=2, wanted=8) == 2
    assert turn_steps_for(steps_per_epoch=4, repeats=1, wanted=8) == 1
    assert (16 * 2) // turn_steps_for(16, 2, 8) >= MIN_TURNS


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="turn loads are read from /proc")
def test_each_turn_records_how_much_of_the_machine_other_processes_took(
    tmp_path: Path, fake_python: Path
) -> None:
    env = dict(os.environ, FAKE_MODE="turns", FAKE_TURNLOG=str(tmp_path / "turns.log"))
    # The candidate's steps start a child that burns CPU: another process, in its turns only.
    loaded = dict(env, FAKE_NEIGHBOUR_CPU_S="0.05")
    reference, candidate = run_live(
        specs(tmp_path, fake_python, "reference", 2, request(), env),
        specs(tmp_path, fake_python, "candidate", 2, request(), loaded),
        timeout_s=120,
        turn_steps=2,
    )
    for run in reference + candidate:
        # 8 turns each; the worker that finishes last runs its final turns without them.
        assert 1 <= len(run.turn_loads) <= 8
        assert all(0.0 <= share <= 1.0 for share in run.turn_loads)
    quiet = [share for run in reference for share in run.turn_loads]
    busy = [share for run in candidate for share in run.turn_loads]
    if sum(quiet) / len(quiet) > 0.5:
        # Then the busy side's share saturates too: nothing to tell apart on this machine now.
        pytest.skip(f"the machine is busy: others took {sum(quiet) / len(quiet):.0%} of it")
    # One CPU of the machine busy for most of each candidate step; the workers' own time and the
    # controller's are not counted as others.
    cpus = os.cpu_count() or 1
    assert sum(busy) / len(busy) - sum(quiet) / len(quiet) > 0.3 / cpus


def test_a_worker_slow_to_exit_is_said_to_have_overlapped_the_next_turn(
    tmp_path: Path, fake_python: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The turns go on after the exit wait, and the worker's run says why its exit may have
    shared a turn; the last worker to finish has no next turn to share."""
    monkeypatch.setattr(turns, "EXIT_GRACE_S", 0.2)
    env = dict(
        os.environ, FAKE_MODE="turns", FAKE_TURNLOG=str(tmp_path / "turns.log"),
        FAKE_EXITLOG=str(tmp_path / "exits.log"), FAKE_EXIT_DELAY_S="1.0",
    )  # fmt: skip
    runs = run_live(
        specs(tmp_path, fake_python, "reference", 1, request(), env),
        specs(tmp_path, fake_python, "candidate", 1, request(), env),
        timeout_s=60,
        turn_steps=2,
    )
    said = [run.late_exit for side in runs for run in side]
    assert sorted(said, key=str) == [
        None,
        "worker did not exit within 0.2 s after sending its result: its exit overlapped the "
        "next turn",
    ]
