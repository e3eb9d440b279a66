"""Defaults that depend on the run: the machine's GPUs and the matrix preset in force."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from ..settings import LIVE_PER_SIDE, default_cache_dir
from .option import Context

__all__ = ["against_workers", "cache_dir", "from_preset", "gpu_counts", "samples"]


def gpu_counts(context: Context) -> tuple[int, ...]:
    """One GPU on a machine with GPUs, none elsewhere."""
    return (1,) if context.available_gpus else (0,)


def from_preset(field: str) -> Callable[[Context], Any]:
    """The preset's value of `field` (batch sizes, unrolls, datasets)."""
    return lambda context: context.preset[field]


def cache_dir(context: Context) -> Path:
    """$XDG_CACHE_HOME/pytest-rnnbench, read when the run starts."""
    return default_cache_dir()


def samples(context: Context) -> tuple[Optional[int], Optional[str]]:
    """The samples cap and why (Settings.samples, samples_from) when no option sets one."""
    # A preset may cap the samples too (the "pr" preset; the default one without a GPU, so that a
    # first run on a laptop takes minutes, not hours); --rnnbench-samples wins.
    if "samples" in context.preset:
        return context.preset["samples"][0], "preset"
    if "samples_without_gpu" in context.preset and not context.available_gpus:
        return context.preset["samples_without_gpu"][0], "no-gpu"
    return None, None


def against_workers(context: Context) -> dict[str, int]:
    """Live A/B workers per side: LIVE_PER_SIDE, but the preset's own for the backends it names."""
    return {"*": LIVE_PER_SIDE, **dict(context.preset.get("against_workers", ()))}
