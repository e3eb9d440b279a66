"""A stand-in for the product's worker that cannot run any case here.

It runs the real worker's main (the worker directory is the runner's first argument) with a
`train` that raises the worker's own `Unsupported`, as the real worker does for a case it cannot
run on this machine (e.g. more GPUs than it sees). It has no modes: a test hands it to
run_worker through a wrapper script and expects WorkerUnsupported
(`test_the_real_worker_reports_unsupported_cases_as_such`, tests/unit/test_process.py).
"""

import os
import sys

# The real worker is a directory (the runner passes its path as the first argument) whose modules
# import one another as top-level names: it goes first on sys.path, as running it puts it.
sys.path.insert(0, sys.argv[1])
import rnnbench_worker_protocol as protocol  # noqa: E402


def train(request, channel, control_fd=None):
    raise protocol.Unsupported("the case needs 4 GPU(s) but tensorflow sees 0")


os._exit(protocol.main(sys.argv, train))
