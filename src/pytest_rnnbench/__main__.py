"""`python -m pytest_rnnbench gate|compare|report ...` (see cli/)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
