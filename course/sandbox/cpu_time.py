"""CPU seconds of a process tree, read from /proc: what a submission's time limits count (course/sandbox/run.py).

Wall-clock time depends on what else the machine is doing; CPU seconds (user + system, every thread) measure the
work itself. :class:`Meter` samples a kernel's processes while a notebook runs and answers "how many CPU seconds
had the submission used at time t" (interpolated between samples, for cells shorter than a sample), and how much
of the CPU time the kernel was ready to use it actually got (the scheduler's run-queue statistics), which tells an
overloaded machine from a slow notebook.

Every process counts what it used itself and what its children used before it waited for them (``cutime``), so a
finished ``subprocess.run`` still counts. A process that outlives its parent counts while it runs, and after it ends
only where the process that reaps it is watched too (the sandbox's init is: see ``extra``).
"""

from __future__ import annotations

import bisect
import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
MIN_DEMAND_S = 2.0  # run-queue shares over less CPU demand than this are noise, not overload


def _times(pid: int) -> tuple[int, int, int, int]:
    """Clock ticks of ``pid``: user and system time (every thread), and those of the children it waited for."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        fields = text[text.rindex(")") + 2 :].split()
        return int(fields[11]), int(fields[12]), int(fields[13]), int(fields[14])
    except (OSError, ValueError, IndexError):  # ended meanwhile
        return 0, 0, 0, 0


def cpu_seconds(pids: Iterable[int]) -> float:
    """CPU seconds (user + system, all threads) the processes ``pids`` used so far themselves."""
    return sum(sum(_times(pid)[:2]) for pid in pids) / TICKS


def tree_cpu_seconds(pids: Iterable[int]) -> float:
    """CPU seconds of the processes ``pids`` plus those of their children they have waited for."""
    return sum(sum(_times(pid)) for pid in pids) / TICKS


def reaped_seconds(pid: int) -> float:
    """CPU seconds of the children ``pid`` has waited for (an init process: every orphan it reaped)."""
    return sum(_times(pid)[2:]) / TICKS


def run_queue(pids: Iterable[int]) -> dict[int, tuple[float, float]]:
    """Thread id -> (seconds on a CPU, seconds runnable but waiting for one) for every thread of ``pids``
    (/proc/<pid>/task/<tid>/schedstat; empty where the kernel keeps no scheduler statistics)."""
    found: dict[int, tuple[float, float]] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(OSError, ValueError, IndexError):
                    ran, waited = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[:2]
                    found[int(tid)] = (int(ran) / 1e9, int(waited) / 1e9)
    return found


@dataclass
class Meter:
    """CPU seconds a set of processes used since the meter started, sampled over time.

    ``sample(t, pids)`` reads the processes (``extra``: pids whose reaped children count from the first sample
    on, such as the sandbox's init); ``used`` never decreases (a process that ended without being reaped by a
    watched one keeps what it was last seen using); ``at(t)`` interpolates between samples.
    """

    extra: tuple[int, ...] = ()
    times: list[float] = field(default_factory=list)
    totals: list[float] = field(default_factory=list)
    ran_s: float = 0.0
    waited_s: float = 0.0
    _base: float | None = None
    _tasks: dict[int, tuple[float, float]] = field(default_factory=dict)

    @property
    def used(self) -> float:
        return self.totals[-1] if self.totals else 0.0

    def sample(self, t: float, pids: Iterable[int]) -> float:
        pids = list(pids)
        reaped = sum(reaped_seconds(p) for p in self.extra)
        if self._base is None:
            self._base = reaped
        total = max(self.used, tree_cpu_seconds(pids) + reaped - self._base)
        for tid, (ran, waited) in run_queue(pids).items():
            before_ran, before_waited = self._tasks.get(tid, (0.0, 0.0))
            self.ran_s += max(0.0, ran - before_ran)
            self.waited_s += max(0.0, waited - before_waited)
            self._tasks[tid] = (ran, waited)
        self.times.append(t)
        self.totals.append(total)
        return total

    def at(self, t: float) -> float:
        """CPU seconds used by time ``t`` (linear between the samples around it)."""
        if not self.times or t <= self.times[0]:
            return self.totals[0] if self.totals else 0.0
        i = bisect.bisect_left(self.times, t)
        if i >= len(self.times):
            return self.used
        t0, t1, c0, c1 = self.times[i - 1], self.times[i], self.totals[i - 1], self.totals[i]
        return c0 + (c1 - c0) * (t - t0) / (t1 - t0) if t1 > t0 else c1

    def between(self, start: float, end: float | None) -> float:
        return max(0.0, (self.used if end is None else self.at(end)) - self.at(start))

    @property
    def share(self) -> float | None:
        """The fraction of the CPU time the processes were ready to use that they got (None: too little demand)."""
        demand = self.ran_s + self.waited_s
        return self.ran_s / demand if demand >= MIN_DEMAND_S else None


def cores() -> int:
    """CPU cores this process may run on."""
    with contextlib.suppress(AttributeError, OSError):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def load() -> float:
    """The machine's one-minute load average."""
    with contextlib.suppress(OSError):
        return os.getloadavg()[0]
    return 0.0
