"""benchmarks/stored_steadiness.py: a judged run whose workers differ far more than the stored
sessions' workers did is the one its F test flags."""

from __future__ import annotations

from helpers import benchmark_script


def cycle(session: list[float], judged: list[float]) -> dict:
    return {"session_worker_ms": session, "judged": {"A": judged} if judged else {}}


def test_only_the_run_with_an_unusual_worker_spread_is_flagged() -> None:
    steadiness = benchmark_script("stored_steadiness")
    sessions = [[20.0, 20.2, 19.9], [20.1, 20.3, 20.0], [19.9, 20.0, 20.2], [20.2, 20.0, 20.1]]
    cycles = [cycle(s, []) for s in sessions[:3]]
    cycles.append(cycle(sessions[3], [20.1, 20.2, 20.0]))  # as steady as the stored sessions
    cycles.append(cycle([20.0, 20.1, 20.2], [20.0, 24.0, 22.0]))  # workers 20% apart
    found = steadiness.replay({"cycles": cycles})
    flagged = [number for p, number, *_ in found["A"] if p < 0.001]
    assert [number for _, number, *_ in found["A"]] == [4, 5]
    assert flagged == [5]
    # Recorded sessions are tested too (arm S), against the sessions stored before them.
    assert [number for _, number, *_ in found["S"]] == [4, 5]
