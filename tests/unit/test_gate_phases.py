"""benchmarks/gate_phases.py: a gate output's progress lines into each case's start and total."""

from __future__ import annotations

from helpers import benchmark_script

OUTPUT = """\
rnnbench: case 1 of 2: jax-gpu0-b128-unroll-synthetic: importing jax [0 s]
rnnbench: case 1 of 2: jax-gpu0-b128-unroll-synthetic: compiling (warm-up) [16 s]
rnnbench: case 1 of 2: jax-gpu0-b128-unroll-synthetic: epoch 1 of 3 (32 steps) [65 s]
rnnbench: case 1 of 2: jax-gpu0-b128-unroll-synthetic: epoch 2 of 3 (32 steps) [75 s; about 6 min]
rnnbench: case 1 of 2: jax-gpu0-b128-unroll-synthetic: worker finished [94 s; about 1 min left]
rnnbench: case 2 of 2: torch-gpu0-b128-unroll-synthetic: importing torch [0 s; about 1 min left]
rnnbench: case 2 of 2: torch-gpu0-b128-unroll-synthetic: epoch 1 of 3 (32 steps) [28 s]
"""


def test_each_finished_case_gives_its_start_and_its_total() -> None:
    phases = benchmark_script("gate_phases").phases
    # The torch case never finished (an interrupted gate): left out, not guessed.
    assert phases(OUTPUT) == {"jax-gpu0-b128-unroll-synthetic": (65, 94)}
