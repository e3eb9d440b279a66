"""A stand-in for the product's worker.py that cannot run any case here.

It loads the real worker module (the path the runner passes as its first argument) and replaces
`train` with one that raises the worker's own `Unsupported`, as the real worker does for a case
it cannot run on this machine (e.g. more GPUs than it sees). It has no modes: a test hands it to
run_worker through a wrapper script and expects WorkerUnsupported
(`test_the_real_worker_reports_unsupported_cases_as_such`, tests/unit/test_process.py).
"""

import importlib.util
import os
import sys

spec = importlib.util.spec_from_file_location("w", sys.argv[1])
worker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(worker)


def train(request, channel, control_fd=None):
    raise worker.Unsupported("the case needs 4 GPU(s) but tensorflow sees 0")


worker.train = train
os._exit(worker.main(sys.argv))
