"""A stand-in for the product's worker: the real worker with only `train` replaced.

It runs the real worker's main (the worker directory is the runner's first argument), so the
protocol framing, the "started" message and the error reporting are the product's own. A test
hands it to the runner through a wrapper interpreter (`helpers.make_fake_interpreter`, the
`fake_python` fixture) and selects the behaviour per case:

- the case's batch size picks the mode (MODES below), so one session can hold every kind of
  failure: 1 ok, 2 SIGKILL, 3 exit code 7, 4 raise, 5 garbage on the protocol channel, 6 hang,
  7 an unknown message type, 8 exit silently;
- FAKE_MODE overrides the batch size's mode for every case (also "turns": live A/B turn-taking;
  "malformed": replies that once broke the controller's reader, then a result a second later);
- FAKE_PIDFILE: where "hang" writes its own pid and its child's;
- FAKE_TURNLOG: where "turns" logs "pid start end" for every step; FAKE_DIE_AT_TURN kills the
  worker (SIGKILL) in the middle of that turn; FAKE_NEIGHBOUR_CPU_S: in every step, a child
  process burns that many CPU seconds (another process's load, during this worker's turns only);
  FAKE_EXIT_DELAY_S: after sending its result the worker takes that long to exit, then logs
  "pid time" to FAKE_EXITLOG.
"""

import json
import os
import signal
import subprocess
import sys
import time

# The real worker is a directory (the runner passes its path as the first argument) whose modules
# import one another as top-level names: it goes first on sys.path, as running it puts it.
sys.path.insert(0, sys.argv[1])
import rnnbench_worker_protocol as protocol  # noqa: E402

MODES = {
    1: "ok",
    2: "sigkill",
    3: "exit",
    4: "raise",
    5: "garbage",
    6: "hang",
    7: "unknown-type",
    8: "silent",
}


# A child that keeps one CPU busy for argv[1] seconds of its own CPU time.
BURN = (
    "import sys, time\n"
    "end = time.process_time() + float(sys.argv[1])\n"
    "while time.process_time() < end: pass"
)


def fake_turns(request, channel, control_fd):
    """Live A/B turns as the real worker takes them, with a short sleep for each step; every
    step is logged as "pid start end" to FAKE_TURNLOG so a test can see who ran when."""
    turns = protocol.Turns(channel, control_fd, request["turn_steps"])
    factor = request.get("inject_slowdown", 1.0)
    epochs = []
    for _ in range(request["repeats"]):
        steps = []
        for step in range(8):
            if step % turns.steps == 0:
                turns.wait()
                if turns.taken == int(os.environ.get("FAKE_DIE_AT_TURN", "0")):
                    os.kill(os.getpid(), signal.SIGKILL)  # in the middle of its turn
            start = time.perf_counter()
            time.sleep(0.01 * factor)
            if os.environ.get("FAKE_NEIGHBOUR_CPU_S"):
                subprocess.check_call(
                    [sys.executable, "-c", BURN, os.environ["FAKE_NEIGHBOUR_CPU_S"]]
                )
            end = time.perf_counter()
            steps.append(end - start)
            with open(os.environ["FAKE_TURNLOG"], "a") as log:
                log.write(f"{os.getpid()} {start:.6f} {end:.6f}\n")
        epochs.append({"seconds": sum(steps), "step_seconds": steps, "loss": 1.5})
    return {
        "case": request["case"],
        "samples": request["data"]["samples"],
        "epochs": epochs,
        "final_loss": 1.5,
        "host_peak_rss_bytes": 1 << 20,
        "turn_steps": turns.steps,
        "turns_taken": turns.taken,
        "versions": {"keras": "fake"},
    }


def fake_train(request, channel, control_fd=None):
    case = request["case"]
    mode = os.environ.get("FAKE_MODE") or MODES[case["batch_size"]]
    sys.stderr.write(f"fake worker output: case {case['id']} mode {mode}\n")
    sys.stderr.flush()
    if mode == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "exit":
        os._exit(7)
    if mode == "raise":
        raise RuntimeError(f"fake failure in {case['id']}")
    if mode == "garbage":
        channel._out.write("this is not json\n")
        channel._out.flush()
    if mode == "malformed":
        channel._out.write('{"v": 1, "type": []}\n' + "[" * 100000 + "\n")
        channel._out.flush()
        time.sleep(1)  # time for the worker to see its reply pipe close, were the reader gone
    if mode == "unknown-type":
        channel.send("surprise", detail=1)
    if mode == "silent":
        os._exit(0)
    if mode == "turns":
        return fake_turns(request, channel, control_fd)
    if mode == "hang":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        with open(os.environ["FAKE_PIDFILE"], "w") as out:
            json.dump([os.getpid(), child.pid], out)
        time.sleep(300)
    samples = request["data"]["samples"]
    return {
        "case": case,
        "samples": samples,
        "samples_cap": request["data"].get("cap"),
        "epochs": [{"seconds": 0.5, "step_seconds": [0.1, 0.2, 0.2], "loss": 1.5}],
        "warmup_seconds": 0.25,
        "final_loss": 1.5,
        "host_peak_rss_bytes": 1 << 20,
        "gpu_framework_peak_bytes": None,
        "versions": {"keras": "fake"},
    }


status = protocol.main(sys.argv, fake_train)
if os.environ.get("FAKE_EXIT_DELAY_S"):  # a slow end after the result (memory being freed)
    time.sleep(float(os.environ["FAKE_EXIT_DELAY_S"]))
    with open(os.environ["FAKE_EXITLOG"], "a") as log:
        log.write(f"{os.getpid()} {time.perf_counter():.6f}\n")
os._exit(status)
