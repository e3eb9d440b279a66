"""benchmarks/live_design.py: its variance split and its predicted resolution, on scripted data
whose process spread and turn noise are known, against the plugin's own test."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from helpers import benchmark_script_importing_neighbours
from pytest_rnnbench.verdicts.worker_level import compare_workers

PROCESS_SD = 0.02  # log speed of a worker process about its side's level
TURN_SD = 0.06  # one turn's log time about its worker's level
TURNS = 18
ALPHA = 0.01 / 12


@pytest.fixture(scope="module")
def design():
    with benchmark_script_importing_neighbours("live_design") as script:
        yield script


def side(rng: random.Random, workers: int, turns: int = TURNS) -> list[list[float]]:
    """Per worker, its turn times (ms) around 40 ms, each worker at its own speed."""
    sides = []
    for _ in range(workers):
        offset = rng.gauss(0, PROCESS_SD)
        sides.append([40 * math.exp(offset + rng.gauss(0, TURN_SD)) for _ in range(turns)])
    return sides


def test_the_split_recovers_the_process_spread_and_the_turn_noise(design) -> None:
    rng = random.Random(7)
    pairs = [design.components(side(rng, 3), side(rng, 3)) for _ in range(300)]
    process = statistics.mean(p for p, _ in pairs)
    noise = statistics.mean(n for _, n in pairs)
    assert process == pytest.approx(PROCESS_SD**2, rel=0.2)
    # A summary is its turns' Hodges-Lehmann estimate: 3/pi as efficient as their mean on normal
    # turns.
    assert noise == pytest.approx(TURN_SD**2 / TURNS / (3 / math.pi), rel=0.1)


def test_the_prediction_matches_the_plugins_resolution_for_the_measured_and_a_larger_design(
    design,
) -> None:
    rng = random.Random(11)
    pairs = [design.components(side(rng, 3), side(rng, 3)) for _ in range(200)]
    process = statistics.mean(p for p, _ in pairs)
    noise = statistics.mean(n for _, n in pairs)
    for workers, turns in ((3, TURNS), (5, TURNS * 2 // 3)):
        measured = statistics.median(
            compare_workers(side(rng, workers, turns), side(rng, workers, turns)).resolution(ALPHA)
            for _ in range(400)
        )
        repeats = 3 * turns // TURNS  # the scripted turns stand for 3 epochs at TURNS turns
        expected = design.predicted(process, noise, workers, repeats, 3, ALPHA)
        # The median of a standard error sits a little under its root-mean-square.
        assert measured == pytest.approx(expected, rel=0.15), (workers, turns)
    assert design.predicted(process, noise, 5, 2, 3, ALPHA) < 0.7 * design.predicted(
        process, noise, 3, 3, 3, ALPHA
    )


def test_a_design_is_workers_by_repeats(design) -> None:
    assert design.parse_design("5x2") == (5, 2)
    for bad in ("5", "1x3", "ax2", "5x"):
        with pytest.raises(Exception, match="WORKERSxREPEATS"):
            design.parse_design(bad)


def test_power_is_the_level_without_a_change_and_matches_the_plugins_test(design) -> None:
    process, noise, alpha = 0.02**2, TURN_SD**2 / TURNS, 0.05
    assert design.power(process, noise, 3, 3, 3, alpha, 0.0) == pytest.approx(alpha)
    predicted = design.power(process, noise, 3, 3, 3, alpha, 0.03)
    rng = random.Random(5)
    caught = 0
    for _ in range(600):
        reference = side(rng, 3)
        candidate = [[t * 1.03 for t in worker] for worker in side(rng, 3)]
        caught += compare_workers(reference, candidate).p_greater < alpha
    # The plugin summarises a worker by the Hodges-Lehmann estimate: a little less precise
    # than the mean that the prediction assumes on these normal turns.
    assert caught / 600 == pytest.approx(predicted, abs=0.08)
