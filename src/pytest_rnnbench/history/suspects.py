"""What changed between two runs of a case: the suspects of a change point.

Everything a results file records about what ran, compared between the last run before a change
point and the first run after it: the commit the run started in (a range that `git log` takes),
the pull-request gate's Keras tree, the Keras, framework and numpy versions of the case, where its
worker imported keras from, the worker's Python, the GPU driver and CUDA, and the timed epochs per
run. When none of it changed, that is said too: the change then came from something the files do
not record (the machine's load, its firmware, the data).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from .runs import Point

NOTHING_RECORDED = (
    "nothing that the results files record changed between these runs (the machine's load or "
    "something unrecorded)"
)


def short(commit: Optional[str]) -> str:
    return (commit or "")[:7]


def _moved(what: str, before: Any, after: Any) -> Optional[str]:
    if before == after:
        return None
    return f"{what} {before if before is not None else 'not recorded'} -> " + (
        f"{after}" if after is not None else "not recorded"
    )


def _commits(before: Point, after: Point) -> list[str]:
    old, new = before.run.commit, after.run.commit
    lines = []
    if old != new:
        if old and new:
            subject = f' (latest: "{after.run.subject}")' if after.run.subject else ""
            lines.append(f"commits {short(old)}..{short(new)}{subject}")
        else:
            lines.append(_moved("commit", short(old) or None, short(new) or None) or "")
    for point in (before, after):
        if point.run.dirty:
            lines.append(
                f"{point.run.source} ran with uncommitted changes to {short(point.run.commit)}"
            )
    tree_old, tree_new = before.run.tree_commit, after.run.tree_commit
    if tree_old != tree_new:
        if tree_old and tree_new:
            lines.append(f"Keras tree commits {short(tree_old)}..{short(tree_new)}")
        else:
            lines.append(
                _moved("Keras tree commit", short(tree_old) or None, short(tree_new) or None) or ""
            )
    return lines


def _versions(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    lines = []
    # Keras first, then the others alphabetically: the order a maintainer looks in.
    for key in sorted(set(before) | set(after), key=lambda k: (k != "keras", k)):
        line = _moved(key, before.get(key), after.get(key))
        if line:
            lines.append(line)
    return lines


def suspects(before: Point, after: Point) -> list[str]:
    """One line per thing that differs between the two runs, or one line saying none does."""
    lines = _commits(before, after)
    lines += _versions(before.row.versions, after.row.versions)
    for what, old, new in (
        ("keras imported from", before.keras_file, after.keras_file),
        ("worker Python", before.python, after.python),
        ("NVIDIA driver", before.run.driver, after.run.driver),
        ("CUDA", before.run.cuda, after.run.cuda),
        ("timed epochs per run", before.run.repeats, after.run.repeats),
        *((what, before.setup.get(what), after.setup.get(what)) for what in after.setup),
    ):
        line = _moved(what, old, new)
        if line:
            lines.append(line)
    return lines or [NOTHING_RECORDED]
