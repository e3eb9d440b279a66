"""Gate calibration: how often does the verdict cry wolf, and how often does it catch a slowdown?

Trains one small but real case (default: TensorFlow, synthetic, batch 32, unroll, CPU) in fresh
worker processes started exactly as `pytest --rnnbench` starts them (same worker script, same
environment, same sample extraction, same verdict rule), with a known slowdown injected into
every training step (the worker's `inject_slowdown`, as `--rnnbench-inject-slowdown` sets it).
Arms: A (no change), B10 (+10%), B25 (+25%). Three modes:

  --mode live (default)  the plugin's --rnnbench-against: for every verdict, fresh reference and
      candidate workers (--per-side of each, default as the plugin's) take turns of a few steps
      (run/turns.run_live, the same turn length rule as the plugin); the candidate side carries the
      arm's slowdown; each verdict is judged under the plugin's rule (worker processes as the
      unit, at the false-alarm rate divided among --cases) and, for comparison, 0.1's (turn
      means as paired samples). Arms are rotated A, B10, B25, and
      nothing is shared between verdicts, so they are independent trials. The raw results are
      saved after every verdict (--save), and --load pools several saved live runs.

  --mode alternated  one worker process per round alternates unchanged and slowed
      epochs, A B B A per verdict (the worker's `inject_slowdown_schedule`): baseline = epochs 1
      and 4, now = epochs 2 and 3. Every verdict has its own four epochs (nothing is reused or
      resampled); processes are independent, groups within a process are consecutive. This is
      the design's live same-session comparison, and what a noisy machine needs.

  --mode cross  baseline and now come from different worker processes, which is how the plugin
      gates against a stored baseline today. Run A1 is recorded through baseline.save and read
      back; verdicts are formed for every ordered pair of distinct runs, so pair verdicts share
      runs and are NOT independent trials (the script says how many runs stand behind them and
      prints the strictly disjoint pairs too).

Both print the regression counts (false alarms for A/A, detections for A/B), the other outcomes,
and the distribution of the measured time change.

    .venv/bin/python benchmarks/gate_calibration.py --samples 1024 --repeats 2 --verdicts 32 \
        --save live.json                                    # ~60 min on 2 cores
    .venv/bin/python benchmarks/gate_calibration.py --mode alternated --samples 2048
    .venv/bin/python benchmarks/gate_calibration.py --mode cross --runs 10
    .venv/bin/python benchmarks/gate_calibration.py --processes 2 --groups 2 --samples 256  # smoke
    .venv/bin/python benchmarks/gate_calibration.py --load runs.json --tolerance 0.1  # re-analyse
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bounds import bound_text, upper_bound  # noqa: E402  (benchmarks/bounds.py, beside this script)
from pytest_rnnbench.machine import cpu_count, cpu_model  # noqa: E402
from pytest_rnnbench.matrix import Case  # noqa: E402
from pytest_rnnbench.options.parsers import thread_pools  # noqa: E402
from pytest_rnnbench.run import datasets  # noqa: E402
from pytest_rnnbench.run.process import run_worker  # noqa: E402
from pytest_rnnbench.run.protocol import (  # noqa: E402
    build_request,
    shared_compilations,
    with_keras_tree,
    worker_env,
)
from pytest_rnnbench.run.turns import (  # noqa: E402
    WorkerSpec,
    run_live,
    turn_steps_for,  # noqa: E402
)
from pytest_rnnbench.settings import DEFAULT_FALSE_ALARM_RATE as FALSE_ALARM_RATE  # noqa: E402
from pytest_rnnbench.settings import (  # noqa: E402
    DEFAULT_THREAD_POOLS,
    LIVE_PER_SIDE,
    LIVE_TURN_STEPS,
    default_cache_dir,  # noqa: E402
)
from pytest_rnnbench.verdicts import baseline, verdict  # noqa: E402
from pytest_rnnbench.verdicts.records import format_resolution  # noqa: E402
from pytest_rnnbench.verdicts.samples import (  # noqa: E402
    live_time_samples,
    metric_samples,
    turn_means,
)
from pytest_rnnbench.verdicts.time_verdict import time_verdict  # noqa: E402
from pytest_rnnbench.verdicts.worker_level import (  # noqa: E402
    compare_workers,
    drift_removed,
)

ARMS = {"A": 1.0, "B10": 1.10, "B25": 1.25}


def base_env(args: argparse.Namespace) -> dict[str, str]:
    """This process's environment, plus --cpu-threads N in every framework thread pool."""
    env = dict(os.environ)
    if args.cpu_threads == "all":
        return env
    count = str(int(args.cpu_threads))
    for name in (
        "TF_NUM_INTRAOP_THREADS",
        "TF_NUM_INTEROP_THREADS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MXNET_CPU_WORKER_NTHREADS",
    ):
        env[name] = count
    xla = f"intra_op_parallelism_threads={count}"
    if count == "1":
        xla = "--xla_cpu_multi_thread_eigen=false " + xla
    env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {xla}".strip()
    return env


def measure(args: argparse.Namespace) -> dict:
    case = Case(args.backend, 0, args.batch, True, "synthetic")
    spec = datasets.worker_spec("synthetic", None, default_cache_dir(), args.samples)
    env = worker_env(args.backend, [], thread_pools=args.thread_pools, base=base_env(args))
    runs: dict[str, list[dict]] = {arm: [] for arm in ARMS}
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.runs + 1):
            for arm, factor in ARMS.items():
                if arm != "A" and round_ == args.runs:
                    continue  # one extra A run: A1 is the baseline, the others are compared
                request = build_request(case.to_dict(), spec, args.repeats, factor)
                t0 = time.monotonic()
                run = run_worker(sys.executable, request, env, 1800, Path(tmp) / "worker.log")
                runs[arm].append(run.result)
                step = statistics.median(metric_samples(run.result)["step_time"])
                print(
                    f"  round {round_ + 1} {arm:>3}: {time.monotonic() - t0:5.1f} s wall, "
                    f"median step {step:.2f} ms",
                    flush=True,
                )
    return {
        "case": case.to_dict(),
        "samples": args.samples,
        "repeats": args.repeats,
        "machine": {"cpu": cpu_model(), "cpus": cpu_count()},
        "wall_seconds": time.monotonic() - started,
        "runs": runs,
    }


# Alternated: one worker process per round trains GROUPS x 3 x 4 timed epochs. Each group of four
# epochs is one verdict, ordered A B B A (so a linear drift within the group hits both sides
# alike): A/A groups are 1,1,1,1; A/B groups are 1,f,f,1. Baseline = epochs 1 and 4, now = 2, 3.
GROUP_PATTERNS = {
    "A": (1.0, 1.0, 1.0, 1.0),
    "B10": (1.0, 1.10, 1.10, 1.0),
    "B25": (1.0, 1.25, 1.25, 1.0),
}


def measure_alternated(args: argparse.Namespace) -> dict:
    case = Case(args.backend, 0, args.batch, True, "synthetic")
    spec = datasets.worker_spec("synthetic", None, default_cache_dir(), args.samples)
    env = worker_env(args.backend, [], thread_pools=args.thread_pools, base=base_env(args))
    processes = []
    started = time.monotonic()
    arms = list(GROUP_PATTERNS)
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.processes):
            order = []  # rotate the arms so none always follows another
            for group in range(args.groups):
                shift = (group + index) % len(arms)
                order.extend(arms[shift:] + arms[:shift])
            schedule = [f for arm in order for f in GROUP_PATTERNS[arm]]
            request = dict(
                build_request(case.to_dict(), spec, len(schedule)),
                inject_slowdown_schedule=schedule,
            )
            t0 = time.monotonic()
            run = run_worker(sys.executable, request, env, 3600, Path(tmp) / "worker.log")
            processes.append({"order": order, "result": run.result})
            print(
                f"  process {index + 1}/{args.processes}: {len(schedule)} epochs, "
                f"{time.monotonic() - t0:5.1f} s wall",
                flush=True,
            )
    return {
        "mode": "alternated",
        "case": case.to_dict(),
        "samples": args.samples,
        "machine": {"cpu": cpu_model(), "cpus": cpu_count()},
        "wall_seconds": time.monotonic() - started,
        "processes": processes,
    }


def analyse_alternated(data: dict, tolerance: float, alpha: float) -> dict:
    found: dict[str, list] = {arm: [] for arm in GROUP_PATTERNS}
    for process in data["processes"]:
        epochs = process["result"]["epochs"]
        for group, arm in enumerate(process["order"]):
            a, b1, b2, a2 = epochs[4 * group : 4 * group + 4]
            factors = tuple(e.get("inject_slowdown") for e in (a, b1, b2, a2))
            assert factors == GROUP_PATTERNS[arm], (factors, arm)  # the worker ran what we asked
            base = metric_samples({"epochs": [a, a2]})["step_time"]
            now = metric_samples({"epochs": [b1, b2]})["step_time"]
            found_case = verdict.compare_case(
                "case", {"step_time": base}, {"step_time": now}, {"step_time": tolerance}, alpha
            )
            # As the gate does: timings taken while other processes were busy are not judged.
            distrust = verdict.timing_distrust({"epochs": [a, a2]}, {"epochs": [b1, b2]})
            if distrust:
                found_case = verdict.untrusted_timing(found_case, distrust)
            found[arm].append(found_case)
    return found


ARM_NAMES = {"A": "A/A  (no change)", "B10": "A/B  +10% injected", "B25": "A/B  +25% injected"}
TREE_ARM_NAMES = {"A": "A/A  (tree copy)", "B10": "A/B  ~+10% edit", "B25": "A/B  ~+25% edit"}


def show_arms(found: dict, names: Optional[dict] = None) -> None:
    """Per arm: the regression count (false alarms for A/A), the other outcomes, the changes."""
    for arm, verdicts in found.items():
        if not verdicts:
            continue
        hits = sum(v.outcome == verdict.REGRESSION for v in verdicts)
        others = {o: sum(v.outcome == o for v in verdicts) for o in verdict.SEVERITY}
        extra = ", ".join(f"{o} {c}" for o, c in others.items() if c and o != "regression")
        changes = sorted(v.metrics[0].change * 100 for v in verdicts)
        print(
            f"  {(names or ARM_NAMES)[arm]:<20} regression {hits}/{len(verdicts)} "
            f"({bound_text(hits, len(verdicts), detection=ARMS.get(arm, 1.0) > 1.0)})"
            + (f"  ({extra})" if extra else "")
            + f"; change median {statistics.median(changes):+.1f}%, range "
            f"{changes[0]:+.1f}%..{changes[-1]:+.1f}%"
        )


def show_alternated(data: dict, found: dict, tolerance: float, alpha: float) -> None:
    epochs = data["processes"][0]["result"]["epochs"]
    print(
        f"\nALTERNATED: case {data['case']['id']}, {data['samples']} samples "
        f"({len(epochs[0]['step_seconds'])} steps per epoch), machine {data['machine']['cpu']} "
        f"({data['machine']['cpus']} CPUs)"
    )
    print(
        f"{len(data['processes'])} worker processes, each alternating unchanged and slowed "
        f"epochs (A B B A per verdict); measuring took {data['wall_seconds']:.0f} s"
    )
    print(
        f"gate: time tolerance {tolerance:.0%}, alpha {alpha}; time metric only (memory and "
        "loss are measured once per process)"
    )
    show_arms(found)


# Live: every verdict starts its own fresh workers, N for the reference and N for the candidate,
# which take turns of a few steps (the plugin's --rnnbench-against); the candidate side carries
# the arm's injected slowdown. Verdicts are independent trials: nothing is shared between them.
LIVE_ARMS = ("A", "B10", "B25")


def side_of(request: dict, env: dict, tree: Path) -> tuple[dict, dict]:
    """The request and environment of a worker that imports Keras from `tree`."""
    return dict(request, keras_tree=str(tree)), with_keras_tree(env, tree)


def measure_live(args: argparse.Namespace, save: Optional[Path]) -> dict:
    case = Case(args.backend, 0, args.batch, True, "synthetic")
    spec = datasets.worker_spec("synthetic", None, default_cache_dir(), args.samples)
    env = worker_env(args.backend, [], thread_pools=args.thread_pools, base=base_env(args))
    data = {
        "mode": "live",
        "case": case.to_dict(),
        "samples": args.samples,
        "repeats": args.repeats,
        "per_side": args.per_side,
        "turn_steps": args.turn_steps,
        "thread_pools": args.thread_pools,
        "cpu_threads": args.cpu_threads,
        "machine": {"cpu": cpu_model(), "cpus": cpu_count()},
        "trees": {arm: str(args.trees / name) for arm, name in args.tree_arms.items()}
        if args.trees
        else None,
        "verdicts": [],
    }
    started = time.monotonic()
    request = build_request(case.to_dict(), spec, args.repeats)
    # As the plugin does: shorter turns when the epochs are too short for enough pairs.
    turn_steps = turn_steps_for(-(-spec["samples"] // args.batch), args.repeats, args.turn_steps)
    data["turn_steps"] = turn_steps
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.verdicts * len(args.arms)):
            arm = args.arms[index % len(args.arms)]
            ref_request, ref_env = request, env
            if args.trees:
                # A real code change: the sides import Keras from different trees, nothing else.
                ref_request, ref_env = side_of(request, env, args.trees / "base")
                candidate, cand_env = side_of(request, env, args.trees / args.tree_arms[arm])
            else:
                factor = ARMS[arm]
                candidate = dict(request, inject_slowdown=factor) if factor != 1.0 else request
                cand_env = env
            logs = [Path(tmp) / f"worker{i}.log" for i in range(2 * args.per_side)]
            python = args.python
            t0 = time.monotonic()
            with shared_compilations(args.backend) as shared:  # as the plugin runs a live case
                refs, cands = run_live(
                    [
                        WorkerSpec(
                            python, ref_request, dict(ref_env, **shared.get("reference", {})), log
                        )
                        for log in logs[: args.per_side]
                    ],
                    [
                        WorkerSpec(
                            python, candidate, dict(cand_env, **shared.get("candidate", {})), log
                        )
                        for log in logs[args.per_side :]
                    ],
                    1800,
                    turn_steps,
                    first_alone=bool(shared),
                )
            keep = ("epochs", "turn_steps", "turns_taken", "inject_slowdown", "cpu", "keras_origin")
            data["verdicts"].append(
                {
                    "arm": arm,
                    "load": os.getloadavg()[0],
                    "reference": [{k: r.result.get(k) for k in keep} for r in refs],
                    "candidate": [{k: r.result.get(k) for k in keep} for r in cands],
                }
            )
            found = analyse_live_one(
                data["verdicts"][-1], args.tolerance_value, FALSE_ALARM_RATE / args.cases
            )
            print(
                f"  verdict {index + 1}/{args.verdicts * len(args.arms)} {arm:>3}: "
                f"{found.outcome:<12} change {found.metrics[0].change * 100:+5.1f}%  "
                f"{time.monotonic() - t0:5.1f} s wall",
                flush=True,
            )
            data["wall_seconds"] = time.monotonic() - started
            if save is not None:  # after every verdict: an interrupted run keeps what it measured
                save.write_text(json.dumps(data))
    return data


def worker_turns(measured: dict) -> list[list[list[float]]]:
    """A live verdict's turn means: [reference, candidate], one list per worker."""
    return [[turn_means(r) for r in measured[side]] for side in ("reference", "candidate")]


def analyse_live_one(
    measured: dict, tolerance: float, alpha: float, rule: str = "worker"
) -> verdict.CaseVerdict:
    """One live verdict under `rule`: "worker" (the plugin's: worker processes are the unit,
    verdicts/worker_level.py) or "turn" (0.1's: the turn means as paired samples)."""
    if rule == "turn":
        reference = live_time_samples(measured["reference"])
        candidate = live_time_samples(measured["candidate"])
        return verdict.compare_case(
            "case",
            {"step_time": reference},
            {"step_time": candidate},
            {"step_time": tolerance},
            alpha,
            paired=("step_time",),
        )
    turns = worker_turns(measured)
    comparison = compare_workers(turns[0], turns[1])
    found = time_verdict(
        comparison,
        tolerance,
        alpha,
        baseline_ms=comparison.reference_ms,
        now_ms=comparison.candidate_ms,
        counts=(len(turns[0]), len(turns[1])),
        test="Student's t on per-worker summaries",
        unit="workers",
    )
    return verdict.CaseVerdict("case", found.outcome, (found,))


def show_live(data: dict, tolerance: float, alpha: float, cases: int = 12) -> None:
    """The live verdicts under the plugin's rule (worker processes, the run's level divided among
    `cases`) and, for comparison, 0.1's rule (turns as paired samples, `alpha` per case)."""
    first = data["verdicts"][0]["reference"][0]
    print(
        f"\nLIVE: case {data['case']['id']}, {data['samples']} samples "
        f"({len(first['epochs'][0]['step_seconds'])} steps per epoch, {data['repeats']} epochs), "
        f"{data['per_side']} worker(s) per side taking turns of {data['turn_steps']} steps; "
        f"thread pools {data.get('thread_pools', 'default')}"
        + (
            f", {data['cpu_threads']} thread(s) in every pool"
            if data.get("cpu_threads", "all") != "all"
            else ""
        )
        + f"; machine {data['machine']['cpu']} ({data['machine']['cpus']} CPUs)"
    )
    count = len(data["verdicts"])
    print(
        f"{count} verdicts, each from its own fresh workers; measuring took "
        f"{data['wall_seconds']:.0f} s ({data['wall_seconds'] / count:.1f} s per verdict)"
    )
    if data.get("trees"):
        print("arms are real code changes, not injected slowdowns; the candidate's Keras tree:")
        for arm, tree in data["trees"].items():
            print(f"  {arm:>3}: {tree}")
    names = TREE_ARM_NAMES if data.get("trees") else None
    show_process_spread(data)
    show_null_p_values(data)
    per_case = FALSE_ALARM_RATE / cases
    for rule, level, title in (
        (
            "worker",
            per_case,
            f"the plugin's rule: worker processes as the unit, each case at "
            f"{FALSE_ALARM_RATE:.0%}/{cases} = {per_case:.2g} (a run of {cases} cases holds "
            f"{FALSE_ALARM_RATE:.0%})",
        ),
        ("turn", alpha, f"0.1's rule, for comparison: turn means as paired samples, alpha {alpha}"),
    ):
        found: dict[str, list] = {arm: [] for arm in LIVE_ARMS}
        for measured in data["verdicts"]:
            found[measured["arm"]].append(analyse_live_one(measured, tolerance, level, rule))
        print(f"\n{title}; time tolerance {tolerance:.0%}")
        show_arms(found, names)
        if rule == "worker":
            resolutions = sorted(v.metrics[0].resolution for arm in found.values() for v in arm)
            shown = [
                format_resolution(r)
                for r in (statistics.median(resolutions), resolutions[0], resolutions[-1])
            ]
            print(f"  resolution per verdict: median {shown[0]}, range {shown[1]}..{shown[2]}")
        hits = sum(v.outcome == verdict.REGRESSION for v in found["A"])
        if found["A"]:
            bound = upper_bound(hits, len(found["A"]))
            run_level = 1 - (1 - bound) ** cases
            print(
                f"  a no-op run of {cases} such cases calls any regression with probability at "
                f"most {run_level:.1%} (95% bound, from {hits}/{len(found['A'])} per case)"
            )
    show_trade_off(data, tolerance, per_case)


def show_process_spread(data: dict) -> None:
    """How far identical worker processes of one side differ, after the turns' drift is removed.

    Pooled over every side of every verdict (a side's workers run the same code): the standard
    deviation of the per-worker summaries (log step time), split into what the turns' own noise
    explains (its variance over the turns a worker took) and the rest, the process's own speed.
    This is what decides how small a change a few workers per side can resolve.
    """
    between, within = [], []
    for measured in data["verdicts"]:
        turns = worker_turns(measured)
        for side in drift_removed(turns[0], turns[1]):
            if len(side) < 2:
                continue
            summaries = [sum(worker) / len(worker) for worker in side]
            between.append(statistics.variance(summaries))
            within.append(
                statistics.mean(statistics.variance(worker) / len(worker) for worker in side)
            )
    if not between:
        return
    total, noise = statistics.mean(between), statistics.mean(within)
    own = max(0.0, total - noise)
    print(
        f"spread between a side's worker processes (sd of log per-worker summaries, pooled over "
        f"{len(between)} sides): {total**0.5:.1%}; the turns' noise explains {noise**0.5:.1%}, "
        f"the processes' own speed {own**0.5:.1%}"
    )


def show_null_p_values(data: dict) -> None:
    """Whether the A/A verdicts' p-values are uniform, as a true confidence needs.

    A family-wise 1% puts each case at about 0.1%, a rate no feasible count of A/A verdicts can
    check directly; the p-values can be checked where they are dense: under no change, a share q
    of them falls below q, for every q. A test whose unit is wrong (turns counted as samples)
    shows far too many small p-values here.
    """
    from scipy.stats import kstest

    p_values = []
    for measured in data["verdicts"]:
        if measured["arm"] != "A":
            continue
        turns = worker_turns(measured)
        p_values.append(compare_workers(turns[0], turns[1]).p_greater)
    if len(p_values) < 2:
        return
    count = len(p_values)
    shares = ", ".join(
        f"below {q:g}: {sum(p < q for p in p_values)}/{count} (expected {q * count:.1f})"
        for q in (0.05, 0.2, 0.5)
    )
    print(
        f"A/A one-sided p-values (regression), {count} verdicts: {shares}; "
        f"uniform by Kolmogorov-Smirnov p = {kstest(p_values, 'uniform').pvalue:.2f}"
    )


def show_trade_off(data: dict, tolerance: float, alpha: float) -> None:
    """Cost against power: every verdict judged again on a part of what it measured.

    The first k workers of each side and the first e epochs of each worker are what a run with
    --rnnbench-against-workers=k and --rnnbench-repeats=e would have measured (turns are taken in
    the same order), so one calibration run gives the whole table. Cost is the timed training
    per verdict relative to the full run (imports and warm-ups add a fixed part per worker).
    """
    per_side = data["per_side"]
    repeats = data["repeats"]
    print("\ncost and power: the same verdicts judged on part of their workers and epochs")
    print(
        f"  {'workers/side':>12} {'epochs':>6} {'cost':>5}  "
        + "  ".join(f"{arm:>8}" for arm in LIVE_ARMS)
    )
    for workers in range(1, per_side + 1):
        for epochs in sorted({max(1, repeats // 2), repeats}):
            found: dict[str, list] = {arm: [] for arm in LIVE_ARMS}
            for measured in data["verdicts"]:
                part = {
                    side: [first_epochs(r, epochs) for r in measured[side][:workers]]
                    for side in ("reference", "candidate")
                }
                found[measured["arm"]].append(analyse_live_one(part, tolerance, alpha, "worker"))
            cells = []
            for arm in LIVE_ARMS:
                hits = sum(v.outcome == verdict.REGRESSION for v in found[arm])
                cells.append(f"{hits:>3}/{len(found[arm]):<4}")
            cost = workers * epochs / (per_side * repeats)
            print(f"  {workers:>12} {epochs:>6} {cost:>5.2f}  " + "  ".join(cells))


def first_epochs(result: dict, epochs: int) -> dict:
    trimmed = dict(result)
    trimmed["epochs"] = result["epochs"][:epochs]
    return trimmed


def analyse(data: dict, tolerance: float, alpha: float, epochs: int) -> dict:
    tolerances = {"step_time": tolerance}
    runs = {
        arm: [metric_samples(first_epochs(r, epochs)) for r in results]
        for arm, results in data["runs"].items()
    }
    a = runs["A"]

    # Round-trip the first A run through a real baseline file, as the plugin stores it.
    with tempfile.TemporaryDirectory() as tmp:
        profile = baseline.machine_profile(
            data["machine"]["cpu"], data["machine"]["cpus"], [], None, None, sys.version.split()[0]
        )
        path = baseline.baseline_path(Path(tmp), profile)
        first = first_epochs(data["runs"]["A"][0], epochs)
        baseline.save(
            path, profile, {data["case"]["id"]: baseline.make_entry(data["case"], first, a[0])}
        )
        stored = baseline.entry_samples(baseline.load(path, profile)[data["case"]["id"]])
    assert stored["step_time"] == [float(f"{v:.6g}") for v in a[0]["step_time"]]

    def verdicts(pairs):
        out = []
        for base, now in pairs:
            out.append(verdict.compare_case("case", base, now, tolerances, alpha))
        return out

    def rates(found):
        counts = {o: sum(v.outcome == o for v in found) for o in verdict.SEVERITY}
        return counts, len(found)

    aa_pairs = [(a[i], a[j]) for i, j in itertools.permutations(range(len(a)), 2)]
    disjoint = [(a[i], a[i + 1]) for i in range(0, len(a) - 1, 2)]
    report = {
        "A/A (ordered pairs)": rates(verdicts(aa_pairs)),
        "A/A (disjoint pairs)": rates(verdicts(disjoint)),
    }
    changes = sorted(
        statistics.median(n["step_time"]) / statistics.median(b["step_time"]) - 1
        for b, n in aa_pairs
    )
    for arm in ("B10", "B25"):
        pairs = [(base, now) for base in a for now in runs[arm]]
        report[f"A/{arm} (all pairs)"] = rates(verdicts(pairs))
        report[f"A/{arm} (baseline A1 only)"] = rates(verdicts([(a[0], now) for now in runs[arm]]))
        report[f"{arm} changes"] = sorted(
            statistics.median(n["step_time"]) / statistics.median(b["step_time"]) - 1
            for b, n in pairs
        )
    report["A/A changes"] = changes
    return report


def show(data: dict, report: dict, tolerance: float, alpha: float, epochs: int) -> None:
    runs = {arm: len(r) for arm, r in data["runs"].items()}
    print(
        f"\ncase {data['case']['id']}, {data['samples']} samples, epochs used {epochs} of "
        f"{data['repeats']}, machine {data['machine']['cpu']} ({data['machine']['cpus']} CPUs)"
    )
    print(f"runs (fresh worker processes): {runs}; measuring took {data['wall_seconds']:.0f} s")
    print(f"gate: time tolerance {tolerance:.0%}, alpha {alpha}, other metrics at their defaults")
    for name, value in report.items():
        if name.endswith("changes"):
            pct = [c * 100 for c in value]
            print(
                f"  {name:<28} median {statistics.median(pct):+.1f}%  range {pct[0]:+.1f}% .. "
                f"{pct[-1]:+.1f}%  (n={len(pct)})"
            )
            continue
        counts, total = value
        hits = counts["regression"]
        extra = ", ".join(f"{o} {c}" for o, c in counts.items() if c and o != "regression")
        print(
            f"  {name:<28} regression {hits}/{total} = {hits / total:.1%}"
            + (f"  ({extra})" if extra else "")
        )


def load(paths: list[Path]) -> dict:
    """One saved run, or several live runs of the same setup pooled into one."""
    runs = [json.loads(path.read_text()) for path in paths]
    data = runs[0]
    if len(runs) == 1:
        return data
    same = ("mode", "case", "samples", "repeats", "per_side", "turn_steps")
    for path, other in zip(paths[1:], runs[1:]):
        if data.get("mode") != "live" or any(other.get(k) != data.get(k) for k in same):
            raise SystemExit(f"{path}: only live runs of the same setup can be pooled")
        data["verdicts"] = data["verdicts"] + other["verdicts"]
        data["wall_seconds"] += other["wall_seconds"]
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="tensorflow")
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--runs", type=int, default=10, help="rounds (A gets one extra run)")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help="time tolerance (default: the plugin's default)",
    )
    parser.add_argument("--alpha", type=float, default=verdict.DEFAULT_ALPHA)
    parser.add_argument(
        "--cases",
        type=int,
        default=12,
        help="live: the run's cases (its family; the default Keras 3 gate has 12); each verdict "
        "is judged at the false-alarm rate divided by this",
    )
    parser.add_argument(
        "--mode",
        choices=("cross", "alternated", "live"),
        default="live",
        help="cross: baseline and now from different worker processes (how the "
        "plugin gates today); alternated: both sides in one process, "
        "epochs alternated; live: fresh reference and candidate workers "
        "taking turns for every verdict, as --rnnbench-against (default)",
    )
    parser.add_argument("--verdicts", type=int, default=100, help="live: verdicts per arm")
    parser.add_argument(
        "--arms",
        default=",".join(LIVE_ARMS),
        help="live: the arms to measure, in rotation (default: %(default)s; A alone measures "
        "only how far identical processes differ)",
    )
    parser.add_argument(
        "--per-side", type=int, default=LIVE_PER_SIDE, help="live: workers per side"
    )
    parser.add_argument(
        "--turn-steps",
        type=int,
        default=LIVE_TURN_STEPS,
        help="live: most training steps per turn (fewer when the epochs are too "
        "short for 16 turns, as in the plugin)",
    )
    parser.add_argument(
        "--thread-pools",
        type=thread_pools,
        default=DEFAULT_THREAD_POOLS,
        help="as --rnnbench-thread-pools (default %(default)s)",
    )
    parser.add_argument(
        "--cpu-threads",
        default="all",
        help="an experiment: N threads in every framework pool (TensorFlow's two, OpenMP, "
        "MKL, OpenBLAS, MXNet's engine, XLA's CPU client), or all (default: leave them)",
    )
    parser.add_argument("--processes", type=int, default=10, help="alternated: worker processes")
    parser.add_argument(
        "--groups", type=int, default=10, help="alternated: verdicts per arm per process"
    )
    parser.add_argument(
        "--trees",
        type=Path,
        help="live: real code changes instead of injected slowdowns: a directory made by "
        "benchmarks/keras_trees.py; the reference imports Keras from its base/, the candidate "
        "from the arm's tree (see --tree-arms)",
    )
    parser.add_argument(
        "--tree-arms",
        default="A=base-copy,B10=rnn-work-7,B25=rnn-work-16",
        help="live with --trees: ARM=SUBDIR for the arms A, B10 and B25 (default: %(default)s)",
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the workers' interpreter (e.g. .venv-mxnet/bin/python for --backend mxnet)",
    )
    parser.add_argument("--save", type=Path, help="keep the raw worker results in this file")
    parser.add_argument(
        "--load",
        type=Path,
        nargs="+",
        help="analyse results saved by --save; no runs (several live files: "
        "their verdicts are pooled)",
    )
    args = parser.parse_args()
    tolerance = (
        args.tolerance
        if args.tolerance is not None
        else verdict.METRICS["step_time"].default_tolerance
    )
    args.tolerance_value = tolerance
    args.arms = [arm for arm in args.arms.split(",") if arm]
    if not args.arms or any(arm not in LIVE_ARMS for arm in args.arms):
        parser.error(f"--arms takes a comma-separated subset of {','.join(LIVE_ARMS)}")
    args.tree_arms = dict(item.split("=", 1) for item in args.tree_arms.split(","))
    if args.load:
        data = load(args.load)
    elif args.mode == "live":
        data = measure_live(args, args.save)
    else:
        data = measure_alternated(args) if args.mode == "alternated" else measure(args)
        if args.save:
            args.save.write_text(json.dumps(data))
    if data.get("mode") == "live":
        show_live(data, tolerance, args.alpha, args.cases)
        return 0
    if data.get("mode") == "alternated":
        show_alternated(
            data, analyse_alternated(data, tolerance, args.alpha), tolerance, args.alpha
        )
        return 0
    for epochs in sorted({1, data["repeats"]}):
        show(data, analyse(data, tolerance, args.alpha, epochs), tolerance, args.alpha, epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
