"""How this package spells a command: the argv of a child `python -m MODULE` that the checkout
being measured cannot hijack, and the program a printed hint starts with so that it runs as printed.

A leaf module (the standard library only), so that every layer may use it.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path
from typing import Optional

# Python 3.10 has no -P: this program drops the current directory ('' heads sys.path under -c)
# before anything else is imported, then runs the module as -m would. site and .pth files were
# processed before '' was added, as under -P.
_SAFE_PATH_BOOTSTRAP = (
    "import sys\n"
    "if sys.path[:1] == ['']:\n"
    "    del sys.path[0]\n"
    "import runpy\n"
    "runpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n"
)


def python_module(
    module: str,
    python: Optional[str] = None,
    version: Optional[tuple[int, int]] = None,
) -> list[str]:
    """The argv of `python -m module` without the current directory on sys.path.

    `python -m` puts the current directory first on sys.path: in a pull request's checkout a file
    `pytest.py` or a directory `pytest_rnnbench/` would replace the code that judges it. Python
    3.11 and later have `-P` for that; 3.10 gets an equivalent -c program. `python` and `version`
    default to this interpreter's own.
    """
    python = python or sys.executable
    major_minor = version or (sys.version_info[0], sys.version_info[1])
    if major_minor >= (3, 11):
        return [python, "-P", "-m", module]
    # sys.argv[0] is '-c' until run_module sets it to the module's file, as -m does.
    return [python, "-c", _SAFE_PATH_BOOTSTRAP.format(module=module)]


def pytest_program(
    python: Optional[str] = None,
    scripts: Optional[str] = None,
    search_path: Optional[str] = None,
    cwd: Optional[str] = None,
) -> list[str]:
    """The words a printed pytest command starts with: `pytest` when `pytest` on PATH is this
    interpreter's own, else this interpreter's `python -m pytest`, the interpreter's path relative
    to `cwd` when it lies below it (`.venv/bin/python -m pytest`).

    A hint saying `pytest ...` in a shell where the venv is not active gives "command not found",
    or runs another installation's pytest without this plugin. `python` (default: this one; a
    venv's python is kept as given, not resolved, so the venv stays selected), `scripts` (its
    scripts directory), `search_path` (PATH) and `cwd` default to this process's own.
    """
    python = python or sys.executable
    own = Path(scripts or sysconfig.get_path("scripts")) / "pytest"
    found = shutil.which("pytest", path=search_path)
    if found is not None and own.exists() and os.path.samefile(found, own):
        return ["pytest"]
    here = os.path.abspath(cwd or os.getcwd())
    shown = os.path.abspath(python)
    if os.path.commonpath([here, shown]) == here:
        shown = os.path.relpath(shown, here)
        # A word without a slash would be looked up on PATH instead.
        shown = shown if os.sep in shown else os.path.join(".", shown)
    return [shown, "-m", "pytest"]
