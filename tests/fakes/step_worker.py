"""A stand-in for the product's worker whose per-step times the test sets, for the gate tests.

It runs the real worker's main (the worker directory is the runner's first argument), so the
protocol is the product's own; only `train` is replaced, by one that sleeps nowhere and reports
the step times it is told, so every verdict can be produced on purpose on a noisy machine. The
`gate` fixture of tests/acceptance/test_gate_e2e.py hands it to the runner through a wrapper
interpreter; the test selects the behaviour with environment variables:

- FAKE_STEPS_MS ("10,12,..."): the steps of every epoch, in milliseconds; otherwise
  FAKE_STEP_MS (default 10) with FAKE_SPREAD (default 0.01): 16 steps with uniform noise from
  the seed FAKE_SEED (default 0);
- FAKE_LOSS (default 1.5), FAKE_RSS_MB (default 500), FAKE_KERAS (default 3.15.1): the final
  loss, the host peak RSS and the Keras version reported.

The request's inject_slowdown multiplies every step, as the real worker's sleep does.
"""

import os
import random
import sys

# The real worker is a directory (the runner passes its path as the first argument) whose modules
# import one another as top-level names: it goes first on sys.path, as running it puts it.
sys.path.insert(0, sys.argv[1])
import rnnbench_worker_protocol as protocol  # noqa: E402


def fake_train(request, channel, control_fd=None):
    env = os.environ
    factor = float(request.get("inject_slowdown", 1.0))
    rng = random.Random(int(env.get("FAKE_SEED", "0")))
    epochs = []
    for _ in range(request["repeats"]):
        if env.get("FAKE_STEPS_MS"):
            steps = [float(v) / 1000 for v in env["FAKE_STEPS_MS"].split(",")]
        else:
            center, spread = (
                float(env.get("FAKE_STEP_MS", "10")),
                float(env.get("FAKE_SPREAD", "0.01")),
            )
            steps = [center / 1000 * (1 + rng.uniform(-spread, spread)) for _ in range(16)]
        steps = [s * factor for s in steps]
        epochs.append(
            {
                "seconds": sum(steps),
                "step_seconds": steps,
                "loss": float(env.get("FAKE_LOSS", "1.5")),
            }
        )
    return {
        "case": request["case"],
        "samples": request["data"]["samples"],
        "steps_per_epoch": 16,
        "samples_cap": request["data"].get("cap"),
        "repeats": request["repeats"],
        "epochs": epochs,
        "warmup_seconds": 0.1,
        "final_loss": epochs[-1]["loss"],
        "host_peak_rss_bytes": int(float(env.get("FAKE_RSS_MB", "500")) * 2**20),
        "gpu_framework_peak_bytes": None,
        "versions": {"keras": env.get("FAKE_KERAS", "3.15.1")},
        "python": {"version": "3.11.0"},
        "inject_slowdown": factor,
    }


os._exit(protocol.main(sys.argv, fake_train))
