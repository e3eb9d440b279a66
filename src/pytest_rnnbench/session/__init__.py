"""The pytest session of a benchmark run: hooks, the case runner, progress."""

from .lifecycle import RnnbenchSession

__all__ = ["RnnbenchSession"]
