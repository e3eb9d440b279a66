"""What a report renders: one `Row` per case measured on one machine, and a `Report` of the rows
of several results files, with the names and the order every renderer shows them in.

No pytest import, no framework import: plain objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from ..backends import BACKENDS, LABELS, rank
from ..matrix import DATASETS, Case

DATASET_NAMES = {"synthetic": "Synthetic", "nietzsche": "Nietzsche", "wikitext2": "WikiText2"}


@dataclass(frozen=True)
class Verdict:
    """A case's comparison with its baseline, as far as the results file says."""

    verdict: str  # pass / regression / improvement / inconclusive / no-baseline
    change: Optional[float] = None  # relative change of the time metric: +0.05 is 5 % slower
    baseline_step_ms: Optional[float] = None  # the time metric's baseline median, ms per step
    now_step_ms: Optional[float] = None
    reason: str = ""
    # The time metric's own outcome (the case's `verdict` is the worst of all its metrics, memory
    # and loss included); None where the file gives only a word.
    time_outcome: Optional[str] = None

    @property
    def time_verdict(self) -> str:
        """What the step time alone says: its own outcome, else the case's word."""
        return self.time_outcome or self.verdict


@dataclass(frozen=True)
class Row:
    """One case on one machine: measured (status "passed") or failed (status "failed")."""

    instance: str
    case_id: str
    backend: str
    gpus: int
    batch_size: int
    unroll: bool
    dataset: str
    status: str = "passed"
    failure: str = ""
    epoch_seconds: Optional[float] = None
    epoch_seconds_all: tuple[float, ...] = ()
    step_ms_median: Optional[float] = None
    steps_per_epoch: Optional[int] = None
    samples: Optional[int] = None
    samples_capped: bool = False
    samples_per_second: Optional[float] = None
    warmup_seconds: Optional[float] = None
    final_loss: Optional[float] = None
    gpu_memory_bytes: Optional[int] = None
    versions: Mapping[str, Any] = field(default_factory=dict)
    verdict: Optional[Verdict] = None
    source: str = ""  # the file the row came from

    @property
    def gpu_memory_mib(self) -> Optional[float]:
        return None if self.gpu_memory_bytes is None else self.gpu_memory_bytes / 2**20

    @property
    def case(self) -> Case:
        """The matrix case the row measured."""
        return Case(self.backend, self.gpus, self.batch_size, self.unroll, self.dataset)


@dataclass
class Report:
    """Everything a report shows: rows plus each machine's description, keyed by instance name."""

    rows: list[Row] = field(default_factory=list)
    machines: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # e.g. duplicate cases dropped while merging

    @property
    def datasets(self) -> list[str]:
        return _ordered({row.dataset for row in self.rows}, DATASETS)

    @property
    def backends(self) -> list[str]:
        return _ordered({row.backend for row in self.rows}, BACKENDS)

    @property
    def has_verdicts(self) -> bool:
        return any(row.verdict is not None for row in self.rows)

    def for_dataset(self, dataset: str) -> list[Row]:
        return [row for row in self.rows if row.dataset == dataset]


def _ordered(values: Iterable[str], known: Sequence[str]) -> list[str]:
    """Known names in their canonical order, then any others alphabetically."""
    values = set(values)
    return [name for name in known if name in values] + sorted(values - set(known))


def backend_name(backend: str) -> str:
    """ "tensorflow" -> "TensorFlow"; an unknown backend keeps its own name."""
    return LABELS.get(backend, backend)


def dataset_name(dataset: str) -> str:
    """ "wikitext2" -> "WikiText2" (the seed's spelling); an unknown dataset keeps its name."""
    return DATASET_NAMES.get(dataset, dataset)


def sort_key(row: Row) -> tuple[Any, ...]:
    """Dataset, batch, unroll (on first, as the seed), GPUs, machine, backend."""
    dataset = DATASETS.index(row.dataset) if row.dataset in DATASETS else len(DATASETS)
    backend = rank(row.backend)
    return (
        dataset,
        row.dataset,
        row.batch_size,
        not row.unroll,
        row.gpus,
        row.instance,
        backend,
        row.backend,
    )
