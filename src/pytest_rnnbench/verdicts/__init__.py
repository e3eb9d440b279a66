"""Verdicts: stored baselines or a live reference, judged by pure statistics (verdict.py).

The warning classes are exported here so that `filterwarnings` can name them briefly, e.g.
`default::pytest_rnnbench.verdicts.RnnbenchInconclusiveWarning`.
"""

from .protocol import RnnbenchBaselineWarning, RnnbenchInconclusiveWarning

__all__ = ["RnnbenchBaselineWarning", "RnnbenchInconclusiveWarning"]
