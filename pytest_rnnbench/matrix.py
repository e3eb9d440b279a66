"""The benchmark matrix: frozen cases and their stable ids.

A case is one point of backend x GPU count x batch size x unroll x dataset. Its id keys baselines
and results, so it must never change for the same case. No pytest import here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterable, Mapping

BACKENDS = ("tensorflow", "jax", "torch", "mxnet")
DATASETS = ("synthetic", "nietzsche", "wikitext2")

# What `--rnnbench-matrix` presets mean when the finer options are not given.
# "seed" is the published Keras-MXNet RNN benchmark: batch 32 and 128, unroll on and off, all data.
# "default" keeps a plain `pytest --rnnbench` to minutes on a CPU: WikiText-2 (1.5 M samples,
# hours per epoch on a small CPU) is opt-in through --rnnbench-datasets or the seed matrix.
PRESETS: Mapping[str, Mapping[str, tuple]] = {
    "default": {
        "batch_sizes": (128,),
        "unrolls": (True,),
        "datasets": ("synthetic", "nietzsche"),
    },
    "seed": {
        "batch_sizes": (32, 128),
        "unrolls": (True, False),
        "datasets": DATASETS,
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

    def to_dict(self) -> dict:
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
