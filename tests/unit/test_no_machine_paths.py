"""No committed file carries an absolute path of the machine it was made on.

A path such as a temporary directory, a home directory or the checkout's own location means
nothing on another machine, and it tells readers where one developer kept their files. Committed
data and results files use placeholders (`<checkout>/...`, `<tmp>/...`) or relative paths;
`benchmarks/rewrite_machine_paths.py` rewrites recorded files that way. `.ci/` and the Makefile
are exempt: they describe this project's own machines on purpose.

The sample strings below are built by concatenation so that this file does not match itself.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXEMPT_PREFIXES = (".ci/",)
EXEMPT_FILES = ("Makefile",)

_S = "/"
# A path starts at the beginning of a text or after a character that cannot continue a path
# (so a path inside another path, a relative one, one under `~` or a placeholder such as `<tmp>`,
# and URLs, are not absolute paths).
_START = r"(?<![\w.~<>/}\)-])"
_MACHINE_ROOTS = [
    _S + "tmp" + _S,  # temporary directories
    _S + "var" + _S + "folders" + _S,  # macOS temporary directories
    _S + "root" + _S,  # root's home
    _S + "home" + _S + r"[^/\s]+" + _S,  # a user's home
    _S + "Users" + _S + r"[^/\s]+" + _S,  # a macOS user's home
    _S + "work" + _S,  # where this project's machines keep their checkouts
]


def machine_path_pattern(checkout: Path | None = None) -> re.Pattern[str]:
    """The pattern of an absolute machine path; `checkout` adds that directory's own location."""
    roots = list(_MACHINE_ROOTS)
    if checkout is not None and str(checkout) not in ("", _S):
        roots.append(re.escape(str(checkout)) + r"(?![\w.-])")
    return re.compile(_START + "(?:" + "|".join(roots) + ")")


def machine_paths(text: str, checkout: Path | None = None) -> list[str]:
    """The machine paths in `text`, each with the rest of its line for the message."""
    found = []
    for match in machine_path_pattern(checkout).finditer(text):
        line_end = text.find("\n", match.start())
        found.append(text[match.start() : line_end if line_end >= 0 else len(text)][:120])
    return found


def committed_files(repo: Path) -> list[str]:
    """The files git tracks in `repo` (relative paths), less the exempt ones."""
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z"], capture_output=True, check=True
    ).stdout.decode()
    return [
        name
        for name in listed.split("\0")
        if name and not name.startswith(EXEMPT_PREFIXES) and name not in EXEMPT_FILES
    ]


def offending_files(repo: Path) -> dict[str, list[str]]:
    """Committed text files of `repo` that carry a machine path, with what was found."""
    offending = {}
    for name in committed_files(repo):
        path = repo / name
        if not path.is_file():  # deleted in the working tree, not yet committed
            continue
        data = path.read_bytes()
        if b"\0" in data:  # images and other binary files
            continue
        found = machine_paths(data.decode("utf-8", errors="replace"), repo.resolve())
        if found:
            offending[name] = found
    return offending


@pytest.mark.parametrize(
    "text",
    [
        "rootdir: " + _S + "tmp" + _S + "pytest-of-root/x",
        '"executable": "' + _S + "work" + _S + 'main/.venv/bin/python"',
        "cd " + _S + "home" + _S + "alice" + _S + "keras && make",
        "HOME=" + _S + "root" + _S + ".cache",
        "(" + _S + "var" + _S + "folders" + _S + "xy/T/abc)",
        _S + "Users" + _S + "bob" + _S + "src",
    ],
)
def test_the_matcher_finds_machine_paths(text: str) -> None:
    assert machine_paths(text), text


@pytest.mark.parametrize(
    "text",
    [
        "/path/to/" + "tmp" + _S + "rnnbench-base-1",
        "~" + _S + "work" + _S + "keras",
        "./" + "tmp" + _S + "x",
        "<tmp>" + _S + "work" + _S + "bl-bench",
        "<checkout>/.venv/bin/python",
        "https://example.org" + _S + "home" + _S + "alice" + _S + "x",
        "$(mktemp -d)" + _S + "trees",
        "/proc/stat and /dev/null and /usr/bin/env",
        _S + "tmp without a slash after it is no directory",
    ],
)
def test_the_matcher_leaves_other_paths_alone(text: str) -> None:
    assert machine_paths(text) == []


def test_the_matcher_finds_the_checkouts_own_location(tmp_path: Path) -> None:
    checkout = Path(_S + "srv" + _S + "ci" + _S + "pytest-rnnbench")
    assert machine_paths(f"cd {checkout}/src", checkout)
    assert machine_paths(f"cd {checkout}", checkout)
    assert machine_paths(f"cd {checkout}-other/src", checkout) == []


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_a_committed_file_with_a_machine_path_is_found_and_exempt_files_are_not(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    _git(repo, "init", "-q")
    temporary = _S + "tmp" + _S + "run-1/results.json"
    (repo / "results.json").write_text('{"path": "' + temporary + '"}\n')
    (repo / "own.md").write_text(f"built in {repo.resolve()}/build\n")
    (repo / "clean.md").write_text("see <tmp>/run-1/results.json\n")
    (repo / ".ci" / "run").write_text("cd " + temporary + "\n")
    (repo / "Makefile").write_text("DATA := " + temporary + "\n")
    (repo / "image.png").write_bytes(b"\x89PNG\0" + temporary.encode())
    (repo / "untracked.md").write_text(temporary + "\n")
    _git(repo, "add", "results.json", "own.md", "clean.md", ".ci/run", "Makefile", "image.png")

    assert sorted(offending_files(repo)) == ["own.md", "results.json"]


def test_no_committed_file_carries_a_machine_path() -> None:
    if not (ROOT / ".git").exists():  # an unpacked source archive: nothing is committed here
        pytest.skip("not a git checkout: no committed files to check")
    offending = offending_files(ROOT)
    assert not offending, "absolute paths of a machine in committed files:\n" + "\n".join(
        f"  {name}: {found[0]!r}" + (f" (and {len(found) - 1} more)" if found[1:] else "")
        for name, found in sorted(offending.items())
    )
