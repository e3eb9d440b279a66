"""Verdicts: a case judged against stored baselines or a live reference.

    judge.py          the one judge (comparable? -> the rule -> trustworthy timings?), used by
                      stored.py, live.py and the offline `compare` command
    verdict.py        the rule, per metric (records.py: what a verdict holds; statistics.py: the
                      significance tests; distrust.py: when timings cannot be trusted)
    protocol.py       the Judge interface of a pytest run, tolerances, verdict -> test outcome
    stored.py         BaselineJudge: this machine profile's baseline file (baseline.py: the store;
                      baseline_schema.py: the file format; profile.py: the machine profile)
    live.py           LiveJudge: reference workers measured in the same session, turn by turn
    samples.py        from a worker's result to the samples compared

The warning classes are exported here so that `filterwarnings` can name them briefly, e.g.
`default::pytest_rnnbench.verdicts.RnnbenchInconclusiveWarning`.
"""

from .protocol import RnnbenchBaselineWarning, RnnbenchInconclusiveWarning

__all__ = ["RnnbenchBaselineWarning", "RnnbenchInconclusiveWarning"]
