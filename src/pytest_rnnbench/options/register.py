"""Declares every row of the option table to pytest: its flags, and its ini key."""

from __future__ import annotations

from typing import Any

import pytest

from .table import OPTIONS

__all__ = ["add_options"]

# pytest 9's native TOML configuration ([tool.pytest]) refuses `rnnbench = true` or
# `rnnbench_repeats = 2` for a "string" key; from pytest 9.2 a key may take a union of types (ini
# files still give text: the first member), and resolve.py reads the value as text. `--help`
# shows the union: a switch takes true/false, the others a number where one fits.
TYPED = pytest.version_tuple >= (9, 2)
FLAG_INI_TYPE: Any = str | bool if TYPED else "string"
SCALAR_INI_TYPE: Any = str | int | float if TYPED else "string"


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
        # Every key is text to our parsers, so a bad value names the key and file (pytest's own
        # "bool" type says only "invalid truth value"); a TOML scalar is read as text too.
        if option.action == "append":
            parser.addini(option.ini, option.help, type="linelist", default=[])
        else:
            scalar = FLAG_INI_TYPE if option.action == "store_true" else SCALAR_INI_TYPE
            parser.addini(option.ini, option.help, type=scalar, default=None)
