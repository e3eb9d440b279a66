"""Rewrite the absolute paths of the recording machine in committed data and results files.

Results files and command outputs record where things lay on the machine that made them: the
interpreter (`<checkout>/.venv/bin/python`), a temporary checkout (`<tmp>/history-real2/repo`).
Those paths mean nothing elsewhere, so the committed copies carry placeholders instead, and
tests/unit/test_no_machine_paths.py keeps it that way. This script is the rewrite, so that it is
reproducible and not a hand edit: each path prefix (the checkout, the temporary directory, any
`--map OLD=NEW`) is replaced where it starts a path (not inside another path) and is followed by
`/` or by a character that ends a path. Nothing else in
a file changes; a JSON file must read back as the same document with only string values changed.

Usage: name the checkout the files were recorded in (default: the one that holds this script)
and its machine's temporary directory (default: this machine's):

    python benchmarks/rewrite_machine_paths.py --checkout RECORDING_CHECKOUT tests/data/*.json \
        tests/data/history/*/*.json docs/readme-results.json benchmarks/results/*.txt
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def rewrite(text: str, maps: list[tuple[str, str]]) -> str:
    """`text` with each OLD that starts a path replaced by NEW."""
    for old, new in maps:
        pattern = re.compile(r"(?<![\w.~<>/}\)-])" + re.escape(old) + r"(?=/|[^\w.-]|$)")
        text = pattern.sub(lambda _match, new=new: new, text)
    return text


def _strings_only(before: Any, after: Any) -> bool:
    """Whether two JSON documents differ in string values only."""
    if isinstance(before, dict) and isinstance(after, dict):
        return before.keys() == after.keys() and all(
            _strings_only(before[key], after[key]) for key in before
        )
    if isinstance(before, list) and isinstance(after, list):
        return len(before) == len(after) and all(map(_strings_only, before, after))
    if isinstance(before, str) and isinstance(after, str):
        return True
    return repr(before) == repr(after)  # repr: NaN equals NaN


def rewrite_file(path: Path, maps: list[tuple[str, str]]) -> bool:
    """Rewrite one file in place; returns whether it changed."""
    text = path.read_text(encoding="utf-8")
    new = rewrite(text, maps)
    if new == text:
        return False
    if path.suffix == ".json" and not _strings_only(json.loads(text), json.loads(new)):
        raise SystemExit(f"{path}: the rewrite would change more than string values")
    path.write_text(new, encoding="utf-8")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument(
        "--checkout",
        type=Path,
        default=REPO_ROOT,
        help="the checkout the files were recorded in, written <checkout> (default: %(default)s)",
    )
    parser.add_argument(
        "--tmp",
        default=tempfile.gettempdir(),
        help="the temporary directory of the recording, written <tmp> (default: %(default)s)",
    )
    parser.add_argument(
        "--map", action="append", default=[], metavar="OLD=NEW", help="another prefix to replace"
    )
    args = parser.parse_args()
    maps = [(str(args.checkout.resolve()), "<checkout>"), (args.tmp, "<tmp>")]
    maps += [(old, new) for old, _, new in (item.partition("=") for item in args.map)]
    for path in args.files:
        if rewrite_file(path, maps):
            print(f"rewrote {path}")


if __name__ == "__main__":
    main()
