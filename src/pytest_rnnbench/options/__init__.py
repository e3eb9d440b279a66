"""Command-line options, ini keys and environment variables, resolved once into `Settings`.

parsers.py       text -> value, or a ValueError saying what is accepted
option.py        one row of the table: flags, help, parser, Settings field, default
table.py         the rows, in `pytest --help` order (tolerances from the metric registry)
defaults.py      defaults that depend on the machine's GPUs or the matrix preset
register.py      the rows declared to pytest (add_options)
command_line.py  what the user typed, and what a suggested command repeats
conflicts.py     options that cannot go together, as data
resolve.py       the loop: command line > environment > ini > preset > default
"""

from __future__ import annotations

from ..settings import DEFAULT_TIMEOUT_S, Settings, default_cache_dir
from .command_line import rerun_selection
from .parsers import parse_fraction, parse_gpus, parse_size
from .register import add_options
from .resolve import resolve
from .table import OPTIONS

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "OPTIONS",
    "Settings",
    "add_options",
    "default_cache_dir",
    "parse_fraction",
    "parse_gpus",
    "parse_size",
    "rerun_selection",
    "resolve",
]
