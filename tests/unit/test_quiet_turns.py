"""Live A/B turns that other processes loaded are left out of a worker's summary
(verdicts/quiet_turns.py, worker_level.compare_workers' `kept`), on scripted turns shaped like the
no-op gates' torch cases beside a CI job: now and then another process takes a core and a turn
runs 3-20 times its quiet time."""

from __future__ import annotations

import math
import random

import pytest

from pytest_rnnbench.verdicts import worker_level
from pytest_rnnbench.verdicts.quiet_turns import compare_quiet_turns, kept_loads, quiet_turns
from pytest_rnnbench.verdicts.worker_level import compare_workers

LIMIT = 0.10
ALPHA = 0.01 / 12  # a 12-case gate's level for each case
TURNS = 18


def test_loaded_turns_are_left_out_and_unmeasured_ones_kept() -> None:
    loads = [[0.0, 0.5, 0.02, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.3]]  # 2nd: last unmeasured
    assert quiet_turns(loads, 6, LIMIT) == [
        [True, False, True, True, True, True],
        [True, True, True, True, False, True],
    ]
    assert kept_loads(loads, quiet_turns(loads, 6, LIMIT)) == [
        [0.0, 0.02, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],
    ]
    assert kept_loads(loads, None) == loads


@pytest.mark.parametrize(
    "loads",
    [
        [[0.0] * 6, [0.1] * 6],  # all within the limit
        [[0.5] * 4 + [0.0] * 2, [0.0] * 6],  # a worker would keep 2 of 6, fewer than 3
        [],  # not measured (not Linux, older results)
    ],
    ids=["quiet", "too few left", "unmeasured"],
)
def test_every_turn_is_judged_when_all_are_quiet_or_a_worker_would_keep_too_few(
    loads: list[list[float]],
) -> None:
    assert quiet_turns(loads, 6, LIMIT) is None


def scripted_gate(
    seed: int, change: float, per_side: int = 6, spikes: float = 0.3
) -> tuple[list[list[float]], list[list[float]], list[list[float]]]:
    """Both sides' turn times (ms) and every worker's turn loads (reference first): processes 2%
    apart, turns 1% noisy, a drift every worker's i-th turn shares, and a share `spikes` of the
    turns run 3-20x slower while another process takes 30-70% of the CPU."""
    rng = random.Random(seed)
    drift = [math.exp(rng.gauss(0, 0.03)) for _ in range(TURNS)]
    sides, loads = [], []
    for factor in (1.0, 1.0 + change):
        side = []
        for _ in range(per_side):
            speed = 60.0 * factor * math.exp(rng.gauss(0, 0.02))
            turns, shares = [], []
            for i in range(TURNS):
                busy = rng.random() < spikes
                turns.append(
                    speed
                    * drift[i]
                    * math.exp(rng.gauss(0, 0.01))
                    * (rng.uniform(3, 20) if busy else 1.0)
                )
                shares.append(rng.uniform(0.3, 0.7) if busy else rng.uniform(0.0, 0.05))
            side.append(turns)
            loads.append(shares)
        sides.append(side)
    return sides[0], sides[1], loads


def judged(seed: int, change: float, quiet_only: bool) -> tuple[float, float]:
    reference, candidate, loads = scripted_gate(seed, change)
    kept = quiet_turns(loads, TURNS, LIMIT) if quiet_only else None
    compared = compare_workers(reference, candidate, kept=kept)
    return compared.change, compared.p_greater


def test_a_real_ten_percent_hidden_by_loaded_turns_is_found_on_the_quiet_ones() -> None:
    caught = {True: 0, False: 0}
    for seed in range(20):
        for quiet_only in (True, False):
            change, p = judged(seed, 0.10, quiet_only)
            caught[quiet_only] += change > 0.05 and p < ALPHA
    assert caught[True] >= 19  # the quiet turns resolve it
    assert caught[False] <= 10  # every turn: the loaded ones swamp it


def test_leaving_loaded_turns_out_keeps_the_false_alarm_rate() -> None:
    """No change, 300 scripted gates: the one-sided p-values on the quiet turns stay uniform, so
    a level of 5% is crossed about 5% of the time (15 expected; 26 is beyond a 99.9% bound)."""
    below = sum(judged(seed, 0.0, True)[1] < 0.05 for seed in range(300))
    assert 5 <= below <= 26


def test_with_every_turn_kept_the_fit_is_the_plain_drift_removal() -> None:
    reference, candidate, _ = scripted_gate(7, 0.05, spikes=0.0)
    everyone = [[True] * TURNS for _ in range(12)]
    plain = compare_workers(reference, candidate)
    fitted = compare_workers(reference, candidate, kept=everyone)
    assert fitted.change == pytest.approx(plain.change, rel=1e-9)
    assert fitted.p_greater == pytest.approx(plain.p_greater, rel=1e-9)
    assert fitted.turns_left_out == 0 and plain.turns_left_out == 0


def test_kept_turns_that_do_not_match_the_workers_are_refused() -> None:
    reference, candidate, _ = scripted_gate(1, 0.0, per_side=2)
    with pytest.raises(ValueError, match="do not match"):
        compare_workers(reference, candidate, kept=[[True] * TURNS] * 3)
    with pytest.raises(ValueError, match="at least one kept turn"):
        compare_workers(reference, candidate, kept=[[False] * TURNS] + [[True] * TURNS] * 3)


def test_a_turn_kept_by_one_side_only_does_not_take_its_speed_for_the_drift() -> None:
    """+20%, the machine's speed moving turn by turn; turns 6-11 loaded on every candidate worker,
    12-17 on every reference worker. A turn's drift taken as the mean of the workers that kept it
    would be one side's own speed there, and the change would shrink towards nothing."""
    rng = random.Random(3)
    drift = [1.0 + 0.3 * (i % 4) for i in range(TURNS)]
    reference = [[60.0 * d * rng.uniform(0.99, 1.01) for d in drift] for _ in range(3)]
    candidate = [[72.0 * d * rng.uniform(0.99, 1.01) for d in drift] for _ in range(3)]
    quiet_reference = [i < 12 for i in range(TURNS)]
    quiet_candidate = [i < 6 or i >= 12 for i in range(TURNS)]
    kept = [quiet_reference] * 3 + [quiet_candidate] * 3
    compared = compare_workers(reference, candidate, kept=kept)
    assert compared.change == pytest.approx(0.20, abs=0.01)
    assert compared.turns_left_out == 36


def test_a_head_that_loads_some_of_its_own_turns_is_judged_on_every_turn() -> None:
    """The head's helper processes (whose CPU time reads as other processes') take 20% of the CPU
    in a fifth of its turns, which run 1.5x slower: +10% in all. The sides' mean loads differ by
    4%, within the tolerance; the numbers of turns loaded differ beyond chance, so no turn is left
    out (on its quiet turns alone the head would look as fast as the base)."""
    rng = random.Random(11)
    reference = [[60.0 * rng.uniform(0.99, 1.01) for _ in range(TURNS)] for _ in range(3)]
    candidate, candidate_loads = [], []
    for _ in range(3):
        helped = set(rng.sample(range(TURNS), 4))
        candidate.append([60.0 * (1.5 if i in helped else 1.0) for i in range(TURNS)])
        candidate_loads.append([0.2 if i in helped else 0.0 for i in range(TURNS)])
    loads = ([[0.0] * TURNS] * 3, candidate_loads)
    compared, judged = compare_quiet_turns(reference, candidate, loads, LIMIT, even_within=0.05)
    assert compared.turns_left_out == 0 and judged == ([[0.0] * TURNS] * 3, candidate_loads)
    alone = compare_workers(
        reference, candidate, kept=quiet_turns([*loads[0], *loads[1]], TURNS, LIMIT)
    )
    assert alone.turns_left_out == 12 and abs(alone.change) < 0.01  # what leaving out would hide


def test_a_fit_that_does_not_settle_judges_every_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    reference, candidate, loads = scripted_gate(2, 0.10)
    kept = quiet_turns(loads, TURNS, LIMIT)
    assert kept is not None and compare_workers(reference, candidate, kept=kept).turns_left_out
    monkeypatch.setattr(worker_level, "_FIT_ROUNDS", 1)
    unsettled = compare_workers(reference, candidate, kept=kept)
    assert unsettled.turns_left_out == 0
    assert unsettled.change == compare_workers(reference, candidate).change
