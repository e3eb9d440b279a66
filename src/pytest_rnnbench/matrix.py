"""The benchmark matrix: frozen cases, their stable ids, presets and shards.

A case is one point of backend x GPU count x batch size x unroll x dataset. Its id keys baselines
and results, so it must never change for the same case. No pytest import here.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

DATASETS = ("synthetic", "nietzsche", "wikitext2")

# What `--rnnbench-matrix` presets mean when the finer options are not given.
# "seed" is the published Keras-MXNet RNN benchmark: batch 32 and 128, unroll on and off, all data.
# "default" keeps a plain `pytest --rnnbench` to minutes on a CPU: WikiText-2 (1.5 M samples,
# hours per epoch on a small CPU) is opt-in through --rnnbench-datasets or the seed matrix.
# "pr" gates a pull request on a small CPU runner: the seed's batch 128 with and without unroll, on
# synthetic and Nietzsche data capped at PR_SAMPLES samples per epoch (docs/pull-requests.md has
# its measured wall time).
PR_SAMPLES = 4096
# The default matrix on a machine without a GPU caps epochs at CPU_SAMPLES samples, so that the
# first `pytest --rnnbench` on a 2-core laptop or CI runner takes about ten minutes for all four
# backends (README, "measured"), not the hours of full epochs; with a GPU it runs full epochs.
CPU_SAMPLES = 16_384
PRESETS: Mapping[str, Mapping[str, tuple[Any, ...]]] = {
    "default": {
        "batch_sizes": (128,),
        "unrolls": (True,),
        "datasets": ("synthetic", "nietzsche"),
        "samples_without_gpu": (CPU_SAMPLES,),
    },
    "seed": {
        "batch_sizes": (32, 128),
        "unrolls": (True, False),
        "datasets": DATASETS,
    },
    "pr": {
        "batch_sizes": (128,),
        "unrolls": (True, False),
        "datasets": ("synthetic", "nietzsche"),
        "samples": (PR_SAMPLES,),
    },
}


@dataclass(frozen=True)
class Case:
    """One benchmark case. `id` is stable and readable: tensorflow-gpu0-b128-unroll-synthetic."""

    backend: str
    gpus: int
    batch_size: int
    unroll: bool
    dataset: str

    @property
    def id(self) -> str:
        unroll = "unroll" if self.unroll else "nounroll"
        return f"{self.backend}-gpu{self.gpus}-b{self.batch_size}-{unroll}-{self.dataset}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "backend": self.backend,
            "gpus": self.gpus,
            "batch_size": self.batch_size,
            "unroll": self.unroll,
            "dataset": self.dataset,
        }


def build_matrix(
    backends: Iterable[str],
    gpu_counts: Iterable[int],
    batch_sizes: Iterable[int],
    unrolls: Iterable[bool],
    datasets: Iterable[str],
) -> list[Case]:
    """Every combination, in a stable order: dataset, batch, unroll, gpus, backend.

    Grouping by dataset first keeps a run's data preparation and its report tables together.
    """
    return [
        Case(backend=backend, gpus=gpus, batch_size=batch, unroll=unroll, dataset=dataset)
        for dataset, batch, unroll, gpus, backend in itertools.product(
            datasets, batch_sizes, unrolls, gpu_counts, backends
        )
    ]


T = TypeVar("T")


def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` with 1 <= K <= N, or ValueError saying what is accepted."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise ValueError("expected K/N, for example 2/4 (the second of four parts)")
    k, n = int(match.group(1)), int(match.group(2))
    if n < 1 or not 1 <= k <= n:
        raise ValueError("expected K/N with 1 <= K <= N")
    return k, n


def shard(items: Sequence[T], k: int, n: int) -> list[T]:
    """The K-th of N parts, dealt round-robin over the matrix order.

    Round-robin spreads every dataset and backend over all parts, so parts take similar time;
    it depends only on the matrix, so every machine of a CI job matrix agrees on the split.
    """
    return [item for position, item in enumerate(items) if position % n == k - 1]
