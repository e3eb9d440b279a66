"""The worker's side of the protocol: messages to the controller, the request, turns, main.

Protocol (version 1): the request is one JSON document on stdin. Replies are JSON lines on the file
descriptor given by --result-fd, never stdout (frameworks print there). Each line is an object with
"v": 1 and a "type": "started", "phase", "progress", "turn", "result" or "error". Exactly one
"result" or "error" ends a run. With "turn_steps" in the request (live A/B), the worker also reads
one byte from the pipe given by --control-fd before each turn (see Turns).

(Named rnnbench_worker_protocol, not protocol: this directory is first on sys.path, and a plain
name would shadow any installed module of that name.)
"""

import json
import os
import select
import signal
import sys
import threading
import traceback

PROTOCOL_VERSION = 1
PROGRESS_INTERVAL_S = 1.0


class Channel(object):
    """Writes protocol messages to the result pipe."""

    def __init__(self, fd):
        self._out = os.fdopen(fd, "w", buffering=1, encoding="utf-8")

    def send(self, type_, **payload):
        payload.update({"v": PROTOCOL_VERSION, "type": type_})
        self._out.write(json.dumps(payload, allow_nan=True) + "\n")
        self._out.flush()


class Unsupported(Exception):
    """This case cannot run with this backend; the controller turns it into a skip."""


class Turns(object):
    """Live A/B: the workers of a comparison take turns, a few training steps at a time.

    Before each turn (at every epoch's start, and after every `steps` steps) the worker says it
    waits (a "turn" message) and blocks until the controller writes one byte to the control pipe;
    the other workers' turns run meanwhile. Neighbouring turns see the same machine, so its drift
    and its neighbours cancel out of the comparison. End of file on the pipe (no one left to take
    turns with) means: run on without turns.
    """

    def __init__(self, channel, control_fd, steps):
        self._channel = channel
        self._control = os.fdopen(control_fd, "rb", buffering=0)
        self.steps = steps
        self.taken = 0
        self.free = False

    def wait(self):
        """Say we wait, then block until the controller grants the next turn."""
        if self.free:
            return
        self._channel.send("turn", turn=self.taken)
        self.taken += 1
        if not self._control.read(1):
            self.free = True


def stop_with_controller(result_fd):
    """Kill this worker, and all it started, once its controller is gone.

    A controller killed outright (SIGKILL: the out-of-memory killer, `kill -9`, a CI runner's
    last resort) cannot stop its workers, and one left training would hold its CPUs and GPU and
    slow whatever is measured next on the machine. The controller holds the only read end of the
    result pipe; when it dies, the kernel closes it and poll() on the write end reports an error
    (POLLERR on Linux; a POLLHUP is taken as the same). A thread blocked in poll() costs nothing
    while it waits, and this holds through wrapper interpreters that do not exec, where the
    worker's parent is not the controller.
    """
    if not hasattr(select, "poll"):
        return

    def watch():
        poller = select.poll()
        poller.register(result_fd, 0)  # errors and hang-ups are reported unasked
        while True:
            for _, events in poller.poll():
                if events & select.POLLNVAL:
                    return  # the pipe was closed here: nothing left to watch
                if events & (select.POLLERR | select.POLLHUP):
                    _kill_own_group()

    thread = threading.Thread(target=watch, name="rnnbench-controller-watch")
    thread.daemon = True
    thread.start()


def _kill_own_group():
    # The controller starts each worker in a session of its own, whose one process group holds
    # the worker, what it started and any wrapper interpreter above it (a script that does not
    # exec leads the session).
    if os.getpgrp() == os.getsid(0):
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


def _read_request():
    request = json.load(sys.stdin)
    if request.get("protocol") != PROTOCOL_VERSION:
        raise ValueError(
            "controller speaks protocol %r, worker speaks %d"
            % (request.get("protocol"), PROTOCOL_VERSION)
        )
    return request


def main(argv, train):
    """Run one case: read the request, `train(request, channel, control_fd)`, reply.

    `train` is a parameter so that the stand-in workers of the test suite run this very framing
    (the "started" message, the error reporting) around a training of their own. Returns the exit
    code: 0 after a result, 3 after an unsupported case, 2 after any other error.
    """
    result_fd = int(argv[argv.index("--result-fd") + 1])
    channel = Channel(result_fd)
    stop_with_controller(result_fd)
    channel.send("started", pid=os.getpid(), python=sys.executable)
    try:
        request = _read_request()
        control_fd = int(argv[argv.index("--control-fd") + 1]) if "--control-fd" in argv else None
        result = train(request, channel, control_fd)
    except Unsupported as exc:
        channel.send("error", kind="unsupported", message=str(exc))
        return 3
    except BaseException as exc:  # report everything, including MemoryError and SystemExit
        channel.send(
            "error",
            kind="exception",
            message="%s: %s" % (type(exc).__name__, exc),
            traceback=traceback.format_exc(),
        )
        return 2
    channel.send("result", result=result)
    return 0


def exit_now(code):
    """Exit with `code` without interpreter teardown: some frameworks hang or crash in their
    atexit handlers, and the reply has been sent already."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
