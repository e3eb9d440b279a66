"""Where cases run: GPU sets for pytest-xdist workers, and shards of the matrix across machines.

No pytest import: plain functions of the environment and the case list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Slot:
    """This process's share of the machine's GPUs."""

    gpu_indices: tuple[int, ...]
    worker: Optional[str] = None  # the pytest-xdist worker id (gw0...), None without xdist
    workers: int = 1

    def describe(self) -> str:
        if self.worker is None:
            return f"GPUs {list(self.gpu_indices)}"
        return (f"pytest-xdist worker {self.worker} of {self.workers} owns GPUs "
                f"{list(self.gpu_indices)}")


def xdist_worker(env: Mapping[str, str]) -> tuple[Optional[str], int, int]:
    """(worker id, its index, worker count) under pytest-xdist; (None, 0, 1) otherwise."""
    worker = env.get("PYTEST_XDIST_WORKER")
    if not worker:
        return None, 0, 1
    match = re.fullmatch(r"gw(\d+)", worker)
    count = int(env.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    return worker, (int(match.group(1)) if match else 0), max(count, 1)


def slot_for(env: Mapping[str, str], total_gpus: int) -> Slot:
    """Disjoint, contiguous GPU blocks: with N xdist workers each owns total // N GPUs.

    Contiguous blocks keep a multi-GPU case on neighbouring devices (usually the best-connected
    ones); disjoint blocks mean two parallel cases never share a GPU.
    """
    worker, index, count = xdist_worker(env)
    per_worker = total_gpus // count
    first = index * per_worker
    return Slot(tuple(range(first, first + per_worker)), worker, count)


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
