"""Options resolved once into the frozen Settings: a loop over the option table.

Precedence: command line > environment > ini > matrix preset > built-in default. Every value goes
through its row's parser whatever its source, and a bad one raises `pytest.UsageError` naming the
option, where the value came from, the value, and what is accepted, before any test is collected;
then the conflicts (conflicts.py) are checked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ..invocation import pytest_program
from ..matrix import PRESETS
from ..settings import Settings
from .command_line import first_on_command_line, rerun_selection, typed, typed_args
from .conflicts import check, refuse_typed_live_only, yield_to_typed
from .option import Context, Option
from .parsers import CHECK_MACHINE
from .table import BY_DEST, OPTIONS

__all__ = ["resolve"]

# A value as found: (the raw value, where it came from, the directory relative paths start from).
Found = tuple[Any, str, Path]


class _Sources:
    """Looks an option up on the command line, then the environment, then the ini file."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.ini_file = str(config.inipath) if config.inipath else "the ini file"
        overrides = getattr(config.option, "override_ini", None) or []
        self.overridden = {entry.split("=", 1)[0].strip() for entry in overrides}

    def every(self, option: Option) -> list[Found]:
        """Each source that sets `option`, lowest precedence first. `-o KEY=VALUE` is typed on
        the command line: it ranks with the options there, not with the ini file it overrides;
        the options' own spelling, from `addopts` or PYTEST_ADDOPTS, is named so."""
        found = []
        ini_value = _as_text(self.config.getini(option.ini))
        overridden = option.ini in self.overridden
        where = f"-o {option.ini}" if overridden else f"ini option {option.ini} in {self.ini_file}"
        if isinstance(ini_value, list) and not option.merges:
            # A TOML list, which pytest passes through for a text key: every parser takes text.
            text = ",".join(str(item) for item in ini_value)
            raise pytest.UsageError(f"{where}: a list where text is expected: write {text!r}")
        typed_dir = self.config.invocation_params.dir
        if ini_value not in (None, [], "") and not overridden:
            found.append((ini_value, where, self.config.rootpath))
        if option.env and os.environ.get(option.env, "").strip():
            found.append((os.environ[option.env], f"environment variable {option.env}", Path.cwd()))
        if ini_value not in (None, [], "") and overridden:
            found.append((ini_value, where, typed_dir))
        value = self.config.getoption(option.dest)
        if value not in (None, []):
            spelled = f"command-line option {option.flag}"
            if not typed(self.config, option.dest):
                spelled += " (from addopts or PYTEST_ADDOPTS)"
            found.append((value, spelled, typed_dir))
        return found

    def origins(self) -> dict[str, str]:
        """Settings field -> where its value was set (each source of a merged option), for the
        conflicts' messages."""
        found = {}
        for option in OPTIONS:
            every = self.every(option)
            if every and option.key is None:
                wheres = every if option.merges else every[-1:]
                found.update(dict.fromkeys(option.fields, " and ".join(w for _, w, _ in wheres)))
        return found


def _as_text(ini_value: Any) -> Any:
    """A native TOML scalar ([tool.pytest]'s `true`, `2`, `0.1`) as the text an ini file gives,
    which every parser takes; text and lists as they are."""
    if isinstance(ini_value, bool):
        return "true" if ini_value else "false"
    if isinstance(ini_value, (int, float)):
        return str(ini_value)
    return ini_value


def resolve(config: pytest.Config, available_gpus: int) -> Settings:
    """Build the frozen Settings for this run or raise pytest.UsageError naming the bad value.

    A run that does not benchmark (a project's unit tests) still has every value's form checked
    (a typo in the ini file is said at once) but not this machine (an output's folder, matplotlib)
    nor the options' conflicts: they concern a benchmark run only."""
    sources = _Sources(config)
    benchmarking = bool(_parse(BY_DEST["rnnbench"], sources, available_gpus))
    benchmarking = benchmarking or first_on_command_line(config) is not None
    token = CHECK_MACHINE.set(benchmarking)
    try:
        # `--rnnbench-gpus=all` counts simulated devices as the machine's own (the default
        # count stays the machine's: simulating is asked for case by case).
        simulated = _parse(BY_DEST["rnnbench_simulate_devices"], sources, available_gpus)
        devices = max(available_gpus, simulated or 0)
        parsed = {option.dest: _parse(option, sources, devices) for option in OPTIONS}
    finally:
        CHECK_MACHINE.reset(token)
    context = Context(available_gpus, PRESETS[parsed["rnnbench_matrix"] or "default"])
    values: dict[str, Any] = {}
    for option in OPTIONS:
        _fill(values, option, parsed[option.dest], context)
    # `pytest --rnnbench-save-baseline` alone must not quietly run the unit tests and record
    # nothing: an option of ours typed on the command line means "benchmark". (Ini keys and
    # environment variables configure runs; they never turn benchmarking on by themselves.)
    implied_by = None if values["enabled"] else first_on_command_line(config)
    values["enabled"] = values["enabled"] or implied_by is not None
    values["implied_by"] = implied_by
    yield_to_typed(values, config)
    values["available_gpus"] = available_gpus
    values["rerun_args"], values["keyword"] = rerun_selection(typed_args(config))
    values["program"] = tuple(pytest_program(cwd=str(config.invocation_params.dir)))
    settings = Settings(**values)
    if settings.enabled:
        check(settings, sources.origins())
        refuse_typed_live_only(settings, config)
    return settings


def _parse(option: Option, sources: _Sources, available_gpus: int) -> Any:
    """The option's parsed value, or None when no source sets it. Appended options merge every
    source's entries per key: `--rnnbench-python jax=...` on the command line must not drop the
    ini file's `mxnet=...`; but an entry for every backend (a bare PATH, key "*") replaces the
    lower sources' entries, as their per-backend entries would otherwise still win. An option
    laid over its default (`over_default`) is laid over the lower sources first, the same way."""
    found = sources.every(option)
    if not (option.merges or option.over_default is not None):
        # A value a higher source replaces is never parsed: it cannot stop the run.
        return _parse_one(option, found[-1], available_gpus) if found else None
    parsed = [_parse_one(option, source, available_gpus) for source in found]
    if option.merges:
        merged: dict[str, Any] = {}
        for entries in parsed:
            if "*" in entries:
                merged.clear()
            merged.update(entries)
        return merged
    over = option.over_default
    if not parsed or over is None:
        return None
    value = parsed[0]
    for higher in parsed[1:]:
        value = over(higher, value)
    return value


def _parse_one(option: Option, found: Found, available_gpus: int) -> Any:
    raw, where, base = found
    extra = {None: (), "base": (base,), "available_gpus": (available_gpus,)}[option.takes]
    try:
        return option.parse(raw, *extra)
    except ValueError as exc:
        raise usage_error(where, raw, exc) from None


def _fill(values: dict[str, Any], option: Option, value: Any, context: Context) -> None:
    """Put the option's value, or its default, into the Settings fields it fills."""
    if option.key is not None:
        mapping = values.setdefault(option.fields[0], {})
        if value is not None:
            mapping[option.key] = value
        return
    if value is None:
        value = option.default_for(context)
    elif option.over_default is not None:
        value = option.over_default(value, option.default_for(context))
    if len(option.fields) == 1:
        values[option.fields[0]] = value
    else:
        values.update(zip(option.fields, value))


def usage_error(where: str, raw: Any, exc: ValueError) -> pytest.UsageError:
    """The error that stops the run: where the value came from, the value, what is accepted."""
    shown = ",".join(raw) if isinstance(raw, list) else raw
    return pytest.UsageError(f"{where}: invalid value {shown!r}: {exc}")
