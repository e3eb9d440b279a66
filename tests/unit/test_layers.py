"""The package's shape: data flows one way, no import circle, no framework in the pytest process.

The contracts live in pyproject.toml ([tool.importlinter]); these tests run them, and show that
they do catch an upward import, so a contract that silently checks nothing cannot pass here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

from helpers import PACKAGE, REPO

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    return subprocess.run(
        # --no-cache: lint-imports would otherwise write .import_linter_cache/ into `cwd`.
        [str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_layers_and_the_no_framework_contracts_hold() -> None:
    completed = lint_imports(REPO, REPO / "src")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "2 kept, 0 broken" in completed.stdout


def test_an_upward_import_breaks_the_layers_contract(tmp_path: Path) -> None:
    """A copy of the package where run/ (low) imports report/ (high) must fail the check."""
    copy = tmp_path / "src" / "pytest_rnnbench"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    devices = copy / "run" / "devices.py"
    devices.write_text(devices.read_text() + "\nfrom ..report import terminal  # upward\n")
    completed = lint_imports(tmp_path, tmp_path / "src")
    assert completed.returncode != 0
    assert "layers: nothing imports upward BROKEN" in completed.stdout
    assert "pytest_rnnbench.run.devices -> pytest_rnnbench.report.terminal" in completed.stdout


def _import_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), i.e. import circles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(edges[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return cycles


def test_the_cycle_finder_finds_a_circle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _import_cycles(edges) == [["a", "b", "c"]]


def test_no_module_of_the_package_takes_part_in_an_import_circle() -> None:
    # No cache: grimp would otherwise write .grimp_cache/ into the working directory (the tree).
    graph = grimp.build_graph("pytest_rnnbench", cache_dir=None)
    ours = {module for module in graph.modules if module.startswith("pytest_rnnbench")}
    edges = {
        module: {m for m in graph.find_modules_directly_imported_by(module) if m in ours}
        for module in ours
    }
    assert len(ours) > 30  # the whole package was seen, not an empty graph
    assert _import_cycles(edges) == []
