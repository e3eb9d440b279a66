"""Is a backend installed in an interpreter? Asked once per backend and interpreter, without
importing any framework (find_spec and package metadata only, in a short subprocess)."""

from __future__ import annotations

import json
import subprocess
from typing import Optional

from ..backends import INSTALL_HINTS

_PROBE = r"""
import importlib.metadata as md, importlib.util as iu, json, sys
def version(dist):
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None
module = sys.argv[1]
print(json.dumps({
    "python": sys.version.split()[0],
    "keras": version("keras"),
    "keras_mxnet": version("keras-mxnet"),
    "module": iu.find_spec(module) is not None,
}))
"""


def probe_backend(backend: str, python: str, timeout_s: float = 60.0) -> Optional[str]:
    """None when `python` can run `backend` workers; otherwise the reason, with how to fix it."""
    try:
        completed = subprocess.run(
            [python, "-c", _PROBE, backend], capture_output=True, timeout=timeout_s, text=True
        )
    except FileNotFoundError:
        return f"interpreter {python!r} for the {backend} backend does not exist"
    except PermissionError:
        return f"interpreter {python!r} for the {backend} backend is not executable"
    except OSError as exc:
        return f"interpreter {python!r} for the {backend} backend cannot run: {exc}"
    except subprocess.TimeoutExpired:
        return f"interpreter {python!r} did not answer within {timeout_s:g} s"
    try:
        found = json.loads(completed.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        err = (completed.stderr or completed.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"{python!r} is not a working Python interpreter ({err[0]})"
    hint = INSTALL_HINTS[backend]
    if backend == "mxnet":
        if not found["keras_mxnet"] or not found["module"]:
            return f"Keras-MXNet is not installed in {python}; {hint}"
        return None
    if not found["module"]:
        return f"{backend} is not installed in {python}; {hint}"
    if not found["keras"] or found["keras_mxnet"] or int(found["keras"].split(".")[0]) < 3:
        if found["keras_mxnet"]:
            has = f"Keras-MXNet {found['keras_mxnet']}"
        else:
            has = f"Keras {found['keras']}"
        return f"{backend} needs Keras 3 but {python} has {has}; pip install 'keras>=3'"
    return None
