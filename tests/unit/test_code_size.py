"""Every module of the package stays small enough for one person to hold in their head.

No module over MAX_MODULE_LINES lines, no function (or method) over MAX_FUNCTION_LINES lines,
the worker's modules included. A module that grows past these is split by responsibility.
"""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import PACKAGE

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """(name, lines) of every function or method in `source` longer than `limit` lines."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            lines = (node.end_lineno or node.lineno) - first + 1
            if lines > limit:
                found.append((node.name, lines))
    return found


def test_the_finder_sees_a_long_function() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    assert long_functions(f"def f():\n{body}\n") == [("f", MAX_FUNCTION_LINES + 1)]
    assert long_functions("def g():\n    return 1\n") == []


def test_no_module_is_over_the_limit() -> None:
    assert len(modules()) > 40  # the whole package was seen
    too_long = {
        str(path.relative_to(PACKAGE)): n
        for path in modules()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert too_long == {}


def test_no_function_is_over_the_limit() -> None:
    too_long = {
        str(path.relative_to(PACKAGE)): found
        for path in modules()
        if (found := long_functions(path.read_text()))
    }
    assert too_long == {}
