"""The results file's name and version (documented in docs/formats.md), shared by its writer and
its reader, and the one error a reader raises."""

from __future__ import annotations

from typing import Any

RESULTS_SCHEMA = "pytest-rnnbench/results"
RESULTS_VERSION = 1


class ResultsError(ValueError):
    """A results file that cannot be read; the message names the file and what is wrong."""


def check(document: Any, where: str) -> None:
    """ResultsError unless `document` is a results document this version reads."""
    if not isinstance(document, dict) or document.get("schema") != RESULTS_SCHEMA:
        raise ResultsError(
            f'{where}: not a pytest-rnnbench results file (expected "schema": "{RESULTS_SCHEMA}")'
        )
    version = document.get("version")
    if version != RESULTS_VERSION:
        raise ResultsError(
            f"{where}: results format version {version!r} is not supported "
            f"(this pytest-rnnbench reads version {RESULTS_VERSION})"
        )
    for key in ("machine", "results"):
        if not isinstance(document.get(key), dict):
            raise ResultsError(f"{where}: missing or malformed {key!r} section")
