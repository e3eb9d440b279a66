"""Is a backend installed in an interpreter? Asked once per backend and interpreter, without
importing any framework (find_spec and package metadata only, in a short subprocess).

Which Keras a worker gets is the `keras` package that its `import keras` finds: an installed one,
or a source tree first on PYTHONPATH (the gate's sides, a nightly job's checkout), which has no
package metadata. So the kind of Keras is told by the files of the package found (the fork has
keras/backend/mxnet_backend.py, Keras 3 a package keras/src/backend: trees.backends_of), and
the metadata only names versions."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Optional

from ..backends import INSTALL_HINTS, KERAS_MXNET_BACKENDS
from .protocol import with_keras_tree
from .trees import backends_of

# `python -c` puts the current directory ('') first on sys.path, where a worker (run as `python
# path/to/worker`) gets its own directory instead: a `keras/` in the directory pytest runs from
# would be found here and not there. So the probe drops it first (`-P` would, from Python 3.11
# on only; a Keras-MXNet interpreter may be 3.10). Under -P or PYTHONSAFEPATH nothing was put
# there, and a '' that PYTHONPATH put there the worker gets too: it stays.
_PROBE = r"""
import importlib.metadata as md, importlib.util as iu, json, os, sys
if not getattr(sys.flags, "safe_path", False) and sys.path[:1] == [""]:
    del sys.path[0]
def version(dist):
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None
module = sys.argv[1]
keras = iu.find_spec("keras")
print(json.dumps({
    "python": sys.version.split()[0],
    "keras": version("keras"),
    "keras_mxnet": version("keras-mxnet"),
    "keras_dir": os.path.dirname(keras.origin) if keras and keras.origin else None,
    "module": iu.find_spec(module) is not None,
}))
"""


def probe_backend(
    backend: str, python: str, timeout_s: float = 60.0, tree: Optional[Path] = None
) -> Optional[str]:
    """None when `python` can run `backend` workers; otherwise the reason, with how to fix it.
    `tree`: a Keras source tree the workers import keras from (put first on PYTHONPATH)."""
    env = with_keras_tree(os.environ, tree) if tree is not None else None
    try:
        completed = subprocess.run(
            [python, "-c", _PROBE, backend],
            capture_output=True,
            timeout=timeout_s,
            text=True,
            env=env,
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
    return _problem(backend, python, found)


def _problem(backend: str, python: str, found: dict[str, Any]) -> Optional[str]:
    """What the probe's answer `found` says about running `backend` in `python`."""
    hint = INSTALL_HINTS[backend]
    keras_dir = found.get("keras_dir")
    served = backends_of(Path(keras_dir).parent) if keras_dir else ()
    if backend == "mxnet":
        if not found["module"] or not keras_dir:
            return f"Keras-MXNet is not installed in {python}; {hint}"
        if backend not in served:
            return f"mxnet needs Keras-MXNet but {python} has {_keras_found(found, served)}; {hint}"
        return None
    if not found["module"]:
        return f"{backend} is not installed in {python}; {hint}"
    if backend not in served:
        return f"{backend} needs Keras 3 but {python} has {_keras_found(found, served)}; " + (
            "pip install 'keras>=3'"
        )
    return None


def _keras_found(found: dict[str, Any], served: tuple[str, ...]) -> str:
    """The Keras an interpreter finds, in words: "Keras-MXNet 2.2.4.3", "Keras 2.15.0", "no
    Keras", or the package's folder when it is a source tree without a version."""
    if not found.get("keras_dir"):
        return "no Keras"
    if served == KERAS_MXNET_BACKENDS:
        return f"Keras-MXNet {found.get('keras_mxnet') or 'at ' + found['keras_dir']}"
    return f"Keras {found.get('keras') or 'at ' + found['keras_dir']}"
