"""`python -m pytest_rnnbench gate|compare|report|history ...` (see cli/); the console script
`rnnbench` runs the same commands.

Prefer `rnnbench` (or `python -P -m pytest_rnnbench`) in a checkout that someone else controls:
`python -m` puts the current directory first on sys.path, so a directory named `pytest_rnnbench`
there would be imported instead of this package.
"""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m pytest_rnnbench"))
