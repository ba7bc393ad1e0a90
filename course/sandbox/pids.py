"""The sandbox's process-count limit: a cgroup ``pids`` controller group per kernel, or RLIMIT_NPROC without one.

bubblewrap gives each kernel its own PID namespace but no limit on how many processes (and threads: Linux counts
tasks) it may start, so a fork bomb would take the whole grading machine. When the grader runs as root and the
``pids`` controller is mounted (cgroup v1 ``/sys/fs/cgroup/pids`` or a cgroup v2 hierarchy listing ``pids``), each
kernel starts inside its own group with ``pids.max`` set: the kernel joins it before bubblewrap starts, so
everything the student's code starts is counted, and ``pids.events`` tells afterwards how many forks were refused.
The group also lists every process of the run, so the grader kills them all when the run ends.

Without such a group (a non-root grader), the kernel launcher sets RLIMIT_NPROC instead. Linux counts that limit
per user, and does not apply it to root at all, so it is a weaker fence; course/GUIDE.md section 6 says so.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _controller_dir() -> Path | None:
    """Where a child group with a ``pids.max`` can be made, or None."""
    if os.geteuid() != 0:
        return None
    v1 = CGROUP_ROOT / "pids"
    if (v1 / "cgroup.procs").exists():
        return v1
    controllers = CGROUP_ROOT / "cgroup.controllers"
    if controllers.exists() and "pids" in controllers.read_text().split():
        return CGROUP_ROOT
    return None


class PidsGroup:
    """One kernel's cgroup: made with :meth:`create`, joined through :meth:`join_prefix`, ended by :meth:`close`."""

    def __init__(self, path: Path, max_tasks: int) -> None:
        self.path = path
        self.max_tasks = max_tasks

    @classmethod
    def create(cls, max_tasks: int) -> PidsGroup | None:
        """A new group limited to ``max_tasks`` tasks, or None where this machine cannot make one."""
        parent = _controller_dir()
        if parent is None:
            return None
        path = parent / f"course-grade-{secrets.token_hex(6)}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(max_tasks))
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
            return None
        return cls(path, max_tasks)

    def join_prefix(self) -> list[str]:
        """A command prefix that moves itself into the group, then execs the rest of the command line."""
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.path / "cgroup.procs")]

    def refused(self) -> int:
        """How many forks (or new threads) the limit refused so far."""
        with contextlib.suppress(OSError, ValueError):
            for line in (self.path / "pids.events").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "max":
                    return int(value)
        return 0

    def current(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int((self.path / "pids.current").read_text())
        return None

    def allow_more(self, tasks: int) -> None:
        """Set ``pids.max`` to the tasks in the group now plus ``tasks`` (a fork server's own, plus a kernel's)."""
        now = self.current()
        if now is not None:
            self.max_tasks = now + tasks
            with contextlib.suppress(OSError):
                (self.path / "pids.max").write_text(str(self.max_tasks))

    def peak(self) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int((self.path / "pids.peak").read_text())
        return None

    def close(self) -> int:
        """Kill every process still in the group, remove the group; return how many had to be killed."""
        killed: set[int] = set()
        for _ in range(50):
            try:
                pids = [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
            except OSError:
                return len(killed)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    killed.add(pid)
            time.sleep(0.05)
        with contextlib.suppress(OSError):
            self.path.rmdir()
        return len(killed)
