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
# synthetic and Nietzsche data capped at PR_SAMPLES samples per epoch, with PR_WORKERS live
# workers per side for the backends named there (the others: settings.LIVE_PER_SIDE). Torch's CPU
# processes differ more than the others' (its own LSTM loop, not a fused cell): at 3 per side its
# cases resolved about 19%, at 6 about 6.5%, and a 12-case gate on 2 cores took 12 minutes
# instead of 8.4 (docs/calibration.md has the measured figures).
PR_SAMPLES = 4096
PR_WORKERS = (("torch", 6),)
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
        "against_workers": PR_WORKERS,
    },
}


# How a case id is spelt, for messages; Case.id builds it and Case.from_id parses it.
CASE_ID_FORM = "BACKEND-gpuN-bSIZE-unroll|nounroll-DATASET"
# A backend or dataset name: part of case ids (split on "-") and of file names (charts), so plain.
_PLAIN_NAME = re.compile(r"[a-z0-9_]+")


def is_plain_name(text: object) -> bool:
    """Whether `text` may name a backend or dataset: lowercase letters, digits and _ only."""
    return isinstance(text, str) and _PLAIN_NAME.fullmatch(text) is not None


def _is_count(text: str) -> bool:
    return text.isascii() and text.isdigit()


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

    @classmethod
    def from_id(cls, text: str) -> Case:
        """The case whose `id` is `text`: the one parser of case ids, the inverse of `id`.

        ValueError (naming the text and the expected form) for anything `id` cannot have made,
        so that a case parsed from a results file always spells its id back the same way.
        """
        parts = text.split("-")
        if len(parts) == 5:
            backend, gpus, batch, unroll, dataset = parts
            if (
                is_plain_name(backend)
                and is_plain_name(dataset)
                and gpus.startswith("gpu")
                and _is_count(gpus[3:])
                and batch.startswith("b")
                and _is_count(batch[1:])
                and unroll in ("unroll", "nounroll")
            ):
                case = cls(backend, int(gpus[3:]), int(batch[1:]), unroll == "unroll", dataset)
                if case.id == text:  # no "gpu01": one spelling per case
                    return case
        raise ValueError(f"case id {text!r} is not of the form {CASE_ID_FORM}")

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
