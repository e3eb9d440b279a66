"""Declares every row of the option table to pytest: its flags, and its ini key."""

from __future__ import annotations

from typing import Any, Literal

import pytest

from .table import OPTIONS

__all__ = ["add_options"]


def add_options(parser: pytest.Parser) -> None:
    """Add the rnnbench group's command-line options and ini keys (pytest_addoption)."""
    group = parser.getgroup("rnnbench", "LSTM training benchmarks (pytest-rnnbench)")
    for option in OPTIONS:
        # argparse %-formats help strings; ours are plain text ("5%"), also shown for ini keys.
        kwargs: dict[str, Any] = {
            "dest": option.dest,
            "help": option.help.replace("%", "%%"),
            "action": option.action,
        }
        if option.metavar:
            kwargs["metavar"] = option.metavar
        if option.action == "store_true":
            kwargs["default"] = None
        group.addoption(*option.flags, **kwargs)
        # The flag's ini key is a string parsed by parsers.flag, so a bad value names the key and
        # file (pytest's own "bool" type says only "invalid truth value").
        ini_type: Literal["linelist", "string"] = (
            "linelist" if option.action == "append" else "string"
        )
        parser.addini(
            option.ini, option.help, type=ini_type, default=[] if ini_type == "linelist" else None
        )
