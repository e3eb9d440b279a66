"""The names other packages imported from the results module before it was split into
schema.py, rows.py, read.py and write.py; re-exported until their importers ask those modules.

To be deleted once session/lifecycle.py, report/comment.py, cli/compare.py and tests/helpers.py
import from the split modules (the integrator's list).
"""

from __future__ import annotations

from ..machine import instance_name
from .read import build_report, load
from .rows import Report
from .schema import ResultsError
from .write import results_document

__all__ = ["Report", "ResultsError", "build_report", "instance_name", "load", "results_document"]
