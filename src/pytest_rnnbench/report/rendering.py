"""What every output's renderer is given (report/outputs.py calls them): the rows to show, the
one run's results document when there is one, and where every requested output goes (the
markdown report links to the charts' folder)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..results.rows import Report


@dataclass(frozen=True)
class Rendering:
    """The input of one publishing: every renderer reads what it needs from it."""

    report: Report
    # One run's results document: what the pull-request comment renders (None when the report
    # merges several files, or a caller has no document at hand).
    document: Optional[Mapping[str, Any]] = None
    paths: Mapping[str, Path] = field(default_factory=dict)  # output name -> where it goes
    title: Optional[str] = None  # the markdown report's title; None: its own default
    written: str = ""  # when the results were written (the pytest-benchmark export's datetime)

    def relative(self, name: str, start: Path) -> Optional[str]:
        """Where output `name` goes, relative to folder `start` (None when not requested): how
        one output links to another."""
        target = self.paths.get(name)
        if target is None:
            return None
        return Path(os.path.relpath(target, start)).as_posix()
