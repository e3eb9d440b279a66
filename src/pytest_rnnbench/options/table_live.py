"""The option table's rows for judging live: a reference interpreter (--rnnbench-against) or a
reference Keras tree (--rnnbench-base, the pull-request gate), measured in the same session."""

from __future__ import annotations

from ..settings import LIVE_PER_SIDE, LIVE_TURN_STEPS
from . import defaults
from .option import Option
from .parsers import against, output_file, over_workers, positive_int, text, workers_per_side

LIVE_OPTIONS: tuple[Option, ...] = (
    Option(
        "rnnbench_against",
        ("--rnnbench-against",),
        "live A/B: also run every case in this reference interpreter (PATH, or BACKEND=PATH "
        "per backend; repeatable), e.g. the main branch's environment, taking turns with "
        "this one a few steps at a time, and judge this run against it instead of a stored "
        "baseline. Default: off.",
        metavar="[BACKEND=]PATH",
        action="append",
        parse=against,
        field="against",
        default={},
        takes="base",
    ),
    Option(
        "rnnbench_against_workers",
        ("--rnnbench-against-workers",),
        f"live A/B: workers per side (identical processes differ a little in speed; several "
        f"average that out): N for every backend, and/or BACKEND=N (3,torch=6). Default: "
        f"{LIVE_PER_SIDE}; the pr matrix (the gate's): torch 6.",
        metavar="N[,BACKEND=N]",
        parse=workers_per_side,
        field="against_workers",
        default_from=defaults.against_workers,
        over_default=over_workers,
    ),
    Option(
        "rnnbench_turn_steps",
        ("--rnnbench-turn-steps",),
        f"live A/B: the most training steps per turn (fewer when the epochs are too short "
        f"for 16 turns). Default: {LIVE_TURN_STEPS}.",
        metavar="N",
        parse=positive_int,
        field="turn_steps",
        default=LIVE_TURN_STEPS,
    ),
    Option(
        "rnnbench_base",
        ("--rnnbench-base",),
        "pull-request gate: judge the Keras source tree of this checkout (the head) against "
        "REF, a branch (its merge-base with HEAD), commit or tag of this repository (never a "
        "directory of that name: see --rnnbench-base-dir). Both sides run the same interpreter "
        "(this one, or the backend's --rnnbench-python) and frameworks, taking turns as with "
        "--rnnbench-against; only `keras` differs. "
        "Default: off.",
        metavar="REF",
        parse=text,
        field="base",
    ),
    Option(
        "rnnbench_base_dir",
        ("--rnnbench-base-dir",),
        "pull-request gate: the base is this directory holding a keras package, instead of a "
        "git ref.",
        metavar="DIR",
        parse=text,
        field="base_dir",
    ),
    Option(
        "rnnbench_head",
        ("--rnnbench-head",),
        "pull-request gate: the head tree, a directory whose top holds the keras package. "
        "Default: the git working tree of the current directory.",
        metavar="DIR",
        parse=text,
        field="head",
    ),
    Option(
        "rnnbench_comment",
        ("--rnnbench-comment",),
        "write the verdicts as a pull-request comment (markdown, with a hidden marker that "
        "lets a workflow update one comment instead of adding one per push) to this file.",
        metavar="PATH.md",
        parse=output_file,
        field="comment_path",
        takes="base",
    ),
)
