"""pytest entry point for pytest-rnnbench (the only pytest11 module).

Thin on purpose: options are defined in options.py, the stateful work lives in session.py and is
imported and registered only when --rnnbench is on. A plain `pytest` run loads this module and the
option table (options.py and the small pure modules it needs), nothing more; nothing here imports
a machine-learning framework.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from .options import add_options, resolve
from .settings import Settings

if TYPE_CHECKING:
    from .matrix import Case
    from .run.summary import Summary
    from .session import RnnbenchSession

SETTINGS_KEY = pytest.StashKey[Settings]()
SESSION_KEY: pytest.StashKey[RnnbenchSession] = pytest.StashKey()
NOT_ENABLED = "benchmark cases run only with --rnnbench"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rnnbench: a pytest-rnnbench benchmark case")
    if _informational(config):
        # --help must show the help even beside a bad RNNBENCH_* value, and a listing starts
        # no session (GPU probe, results file claimed, the gate's base tree extracted).
        return
    # GPU discovery (NVML) only matters when benchmarking; elsewhere 0 is enough to validate.
    # Resolve once to learn whether benchmarking is on from any source (CLI, RNNBENCH, ini),
    # then again with the machine's GPU count, which sets the --rnnbench-gpus default and "all".
    settings = resolve(config, 0)
    if not settings.enabled:
        config.stash[SETTINGS_KEY] = settings
        return
    # An inconclusive verdict passes with a warning: a project's `filterwarnings = error` would
    # turn it into a failure. Later ini lines win; a typed -W (after them) still does.
    for warning in ("RnnbenchInconclusiveWarning", "RnnbenchBaselineWarning"):
        config.addinivalue_line("filterwarnings", f"default::pytest_rnnbench.verdicts.{warning}")
    # Benchmarking: only now load the session and everything it runs (workers, gates, reports).
    from .run.devices import discover_gpus
    from .session import RnnbenchSession

    inventory = discover_gpus()
    settings = resolve(config, inventory.count)
    config.stash[SETTINGS_KEY] = settings
    session = RnnbenchSession(config, settings, inventory)
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, "rnnbench-session")


def _informational(config: pytest.Config) -> bool:
    """A run that only prints what pytest knows (--help, --version, --markers, --fixtures) and
    runs no test. (The marker is registered before the check: --markers lists it.)"""
    flags = ("help", "version", "markers", "showfixtures", "show_fixtures_per_test")
    return any(getattr(config.option, name, False) for name in flags)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "rnnbench_case" not in metafunc.fixturenames:
        return
    session = metafunc.config.stash.get(SESSION_KEY, None)
    if session is None:
        return  # not benchmarking: the fixture skips the single unparametrized test
    if not session.cases:
        # An empty shard: parametrizing with no case would make a fake one ("NOTSET", or a
        # collection error under empty_parameter_set_mark); the session leaves the test out.
        return
    params = []
    for case in session.cases:
        reason = session.skip_reason(case)
        marks = [pytest.mark.rnnbench] + ([pytest.mark.skip(reason=reason)] if reason else [])
        params.append(pytest.param(case, id=case.id, marks=marks))
    metafunc.parametrize("rnnbench_case", params)


@pytest.fixture
def rnnbench_case(request: pytest.FixtureRequest) -> Case:
    """The benchmark case (backend, GPUs, batch size, unroll, dataset) this test runs."""
    if SESSION_KEY not in request.config.stash:
        pytest.skip(NOT_ENABLED)
    case: Case = request.param
    return case


@pytest.fixture
def rnnbench(request: pytest.FixtureRequest, rnnbench_case: Case) -> Callable[[], Summary]:
    """Call it to train the current case for its timed epoch(s) in a worker process.

    Returns the case's Summary (epoch seconds, ms/step, samples/s, final loss, memory...).
    A worker failure fails the test with the worker's output tail; a backend or dataset that is
    not available here skips it with the reason.
    """
    session = request.config.stash[SESSION_KEY]
    calls: list[str] = []  # this test's (a rerun of a failed test sets the fixture up afresh)

    def run() -> Summary:
        if calls:
            from .session.one_measurement import second_call

            pytest.fail(second_call(rnnbench_case.id), pytrace=False)
        calls.append(rnnbench_case.id)
        return session.run_case(rnnbench_case, request.node)

    return run
