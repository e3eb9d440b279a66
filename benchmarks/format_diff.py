"""The keys that differ between the files of two small real runs (results, pytest-benchmark and
baseline files), timings, paths and dates aside: how a release changed what it writes.

Each directory holds what `pytest --pyargs pytest_rnnbench.suite --rnnbench ... --rnnbench-json=
save.json --rnnbench-benchmark-json=save-bench.json --rnnbench-save-baseline` and a second, judged
run (`check.json`, `check-bench.json`) wrote, with the baselines under baselines/:

    python benchmarks/format_diff.py OLD_DIR NEW_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

FILES = ("save.json", "check.json", "save-bench.json", "check-bench.json")


def differences(old: Any, new: Any, path: str = "") -> list[str]:
    """ "+ /a/b" for a key only in `new`, "- ..." only in `old`, "~ ..." for another kind of value;
    lists are compared by their first item."""
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new)):
            if key not in old:
                found.append(f"+ {path}/{key}")
            elif key not in new:
                found.append(f"- {path}/{key}")
            else:
                found += differences(old[key], new[key], f"{path}/{key}")
        return found
    if isinstance(old, list) and isinstance(new, list):
        return differences(old[0], new[0], path + "[]") if old and new else []
    numbers = {"int", "float", "NoneType"}
    kinds = {type(old).__name__, type(new).__name__}
    if type(old) is not type(new) and not kinds <= numbers:
        return [f"~ {path}: {type(old).__name__} -> {type(new).__name__}"]
    return []


def main(old_dir: Path, new_dir: Path) -> int:
    pairs = [(name, old_dir / name, new_dir / name) for name in FILES]
    (old_baseline,) = (old_dir / "baselines").glob("*.json")
    (new_baseline,) = (new_dir / "baselines").glob("*.json")
    pairs.append(("baseline file", old_baseline, new_baseline))
    for name, old, new in pairs:
        found = differences(json.loads(old.read_text()), json.loads(new.read_text()))
        print(f"{name}: {len(found)} difference(s)")
        for line in found:
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
