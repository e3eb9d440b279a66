"""Measurements around the timed epochs: device sync, CPU use (ours and others'), host memory.

(Named rnnbench_worker_*: this directory is first on sys.path, see __main__.py.)
"""

import os
import resource
import sys


class DeviceSync(object):
    """Waits for all queued device work; the clock never reads before it returns.

    Counts its calls and names its method, so the result shows the synchronization happened.
    """

    def __init__(self, backend):
        self.calls = 0
        self._wait, self.method = backend.device_wait()

    def __call__(self, model=None):
        self._wait(model)
        self.calls += 1


def cpu_snapshot():
    """(this process's CPU seconds, the machine's busy CPU seconds, its steal seconds).

    The machine-wide figures come from /proc/stat (Linux); elsewhere they are None.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    own = usage.ru_utime + usage.ru_stime
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return own, None, None
    tick = float(os.sysconf("SC_CLK_TCK"))
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return own, (user + nice + system + irq + softirq) / tick, steal / tick


def cpu_usage(before, after, wall_seconds):
    """How much of the machine's CPU others took while an epoch ran.

    On a shared machine other processes (and, in a VM, the hypervisor's steal) stretch the wall
    clock without any change in the code; the verdict distrusts timings taken while they did.
    """
    cpus = os.cpu_count() or 1
    own = after[0] - before[0]
    if before[1] is None or after[1] is None or wall_seconds <= 0:
        return {
            "own_seconds": own,
            "others_seconds": None,
            "steal_seconds": None,
            "cpus": cpus,
            "others_share": None,
        }
    others = max(0.0, (after[1] - before[1]) - own)
    steal = max(0.0, after[2] - before[2])
    return {
        "own_seconds": own,
        "others_seconds": others,
        "steal_seconds": steal,
        "cpus": cpus,
        "others_share": (others + steal) / (wall_seconds * cpus),
    }


def host_peak_rss_bytes():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024
