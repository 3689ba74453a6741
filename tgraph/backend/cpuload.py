"""How much of this process's cores the other processes of the machine use.

:class:`CpuLoad` reads the kernel's per-CPU counters (Linux ``/proc/stat``, the CPUs of
the process's affinity mask only) and this process's own CPU time (``os.times``: all of
its threads); what the CPUs were busy with beyond this process is the others' load, in
cores. :mod:`tgraph.backend.threads` sizes Numba's thread pool from it: a parallel
kernel split over 2 threads on 2 cores, one of which another process needs, waits at
every barrier for the thread that lost its core (the MLP's steps: 41k samples/s idle,
12k on 2 threads beside one busy loop, 37k on 1 thread).

Time the CPUs spent in *niced* processes (``nice``, priority above 0) is not counted
while this process runs at normal priority: the scheduler gives such a process a small
share of a core that tgraph's thread wants (nice 10: ~10%, nice 19: ~1.5%), so keeping
both threads costs little, where dropping to one halves the throughput. A background
job started with ``nice`` thus leaves tgraph its cores. A niced tgraph counts them.

Where ``/proc/stat`` does not exist (macOS, Windows) the load is unknown (None).
"""

import os
import time

__all__ = ["CpuLoad", "process_cpus"]

# /proc/stat columns after the CPU name: user nice system idle iowait irq softirq steal...
_BUSY_COLUMNS = (0, 1, 2, 5, 6)  # time spent running something (steal and idle left out)
_NICE_COLUMN = 1


def process_cpus():
    """Sorted CPU numbers this process may run on (its affinity mask; all CPUs if the
    platform has no affinity)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


class CpuLoad:
    """Cores used by other processes, measured between two calls of :meth:`others`.

    Args:
        cpus: CPU numbers to watch (default :func:`process_cpus`).
        stat_path: the kernel's counters file (a test passes its own).
        clock: monotonic clock in seconds.
        own_seconds: CPU seconds (user + system) this process has used so far.
        niced: whether this process runs niced (default: its priority now); if not, the
            niced processes' time is not counted.
    """

    def __init__(self, cpus=None, stat_path="/proc/stat", clock=time.monotonic,
                 own_seconds=None, niced=None):
        self.cpus = frozenset(process_cpus() if cpus is None else cpus)
        self.stat_path = stat_path
        self.clock = clock
        self.own_seconds = own_seconds or _own_seconds
        self.niced = _niced() if niced is None else niced
        self._columns = tuple(i for i in _BUSY_COLUMNS if self.niced or i != _NICE_COLUMN)
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last = None  # (clock, busy seconds of the CPUs, own seconds)

    def _busy_seconds(self):
        """Seconds the watched CPUs have been busy since boot, or None if unknown."""
        try:
            with open(self.stat_path, "rb") as f:
                lines = f.read().split(b"\n")
        except OSError:
            return None
        ticks, seen = 0, 0
        for line in lines:
            if not line.startswith(b"cpu") or line[3:4] == b" ":  # the all-CPU line
                continue
            name, *columns = line.split()
            if int(name[3:]) in self.cpus:
                ticks += sum(int(columns[i]) for i in self._columns if i < len(columns))
                seen += 1
        return ticks / self._tick if seen else None

    def others(self):
        """Cores the other processes used on the watched CPUs since the previous call.

        Returns:
            A float >= 0 (cores, e.g. 1.0 for one busy loop), or None at the first call
            and where the counters cannot be read.
        """
        now, busy, own = self.clock(), self._busy_seconds(), self.own_seconds()
        last, self._last = self._last, (now, busy, own)
        if busy is None or last is None or last[1] is None or now <= last[0]:
            return None
        return max(0.0, ((busy - last[1]) - (own - last[2])) / (now - last[0]))

    def elapsed(self):
        """Seconds since the previous call of :meth:`others` (inf before the first)."""
        return float("inf") if self._last is None else self.clock() - self._last[0]


def _niced():
    """Whether this process runs at a nice value above 0 (False where unknown)."""
    try:
        return os.getpriority(os.PRIO_PROCESS, 0) > 0
    except (AttributeError, OSError):
        return False


def _own_seconds():
    times = os.times()
    return times.user + times.system
