"""How one submission may run: :class:`Limits` (time in CPU seconds, memory, processes, disk, the data view) and
the unprivileged user it may run as."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

from course.sandbox import bwrap
from course.sandbox.data_view import DataView


@dataclass(frozen=True)
class Limits:
    """How one submission runs: time limits in CPU seconds (wall-clock backstops ``wall_factor`` times longer),
    optional unprivileged user, TensorFlow threads."""

    cell_timeout: float = 60.0  # CPU seconds one cell may use (the kernel and every process it starts)
    timeout: float = 600.0  # CPU seconds the whole notebook may use
    # A cell (a notebook) is also stopped after wall_factor times its CPU limit in wall-clock seconds, whatever it
    # used: a cell that sleeps or waits uses no CPU. 5: a machine 3x oversubscribed still finishes in time.
    wall_factor: float = 5.0
    user: str | None = None
    threads: int = 1
    preload: str | None = "toolkit,keras"  # comma-separated; keras (and TensorFlow) loads before the first cell
    keep_work: bool = False
    sandbox: bool = True  # bubblewrap around every kernel; False only with --unsafe-no-sandbox
    memory_mb: int = 6144  # address-space limit of the kernel (TensorFlow alone reserves about 2.5 GB)
    max_processes: int = 512  # processes and threads of one kernel at once (a TensorFlow kernel uses about 30)
    fork_server: bool = True  # sandboxed kernels are forked from a server that imported TensorFlow once per slot
    tmp_mb: int = 256  # the sandbox's /tmp (plus half of it for /dev/shm and 16 MB for /run), counted in memory_mb
    disk_mb: int = 1024  # what a submission may write into its work folder (and the largest file it may write)
    # What kernels see of the data (course/sandbox/data_view.py): the test images the exercise's cells load, no data
    # folder,
    # no data cache. None: the data folder and the data cache themselves (grade_jobs always sets one).
    data_view: DataView | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.memory_mb, int) or self.memory_mb < 1024:
            raise ValueError(f"memory_mb must be at least 1024 (got {self.memory_mb!r}), e.g. --memory-mb 6144")
        if not isinstance(self.max_processes, int) or self.max_processes < 128:
            raise ValueError(
                f"max_processes must be at least 128 (got {self.max_processes!r}): TensorFlow alone starts dozens of "
                "threads; e.g. --max-processes 512"
            )
        if not isinstance(self.tmp_mb, int) or not 16 <= self.tmp_mb <= self.memory_mb // 4:
            raise ValueError(
                f"tmp_mb must be between 16 and a quarter of memory_mb ({self.memory_mb // 4}) (got {self.tmp_mb!r}), "
                "e.g. --tmp-mb 256"
            )
        if not isinstance(self.disk_mb, int) or self.disk_mb < 64:
            raise ValueError(f"disk_mb must be at least 64 (got {self.disk_mb!r}), e.g. --disk-mb 1024")
        for name in ("cell_timeout", "timeout"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"{name} must be a positive number of CPU seconds (got {value!r}), e.g. 60")
        if not isinstance(self.wall_factor, int | float) or self.wall_factor < 1:
            raise ValueError(
                f"wall_factor must be at least 1 (got {self.wall_factor!r}): the wall-clock backstop may not cut a "
                "cell before its CPU limit; e.g. --wall-factor 5"
            )
        if self.data_view is not None and not isinstance(self.data_view, DataView):
            raise ValueError(
                f"data_view must be a course.sandbox.data_view.DataView or None (got {type(self.data_view).__name__}); "
                "make one with course.sandbox.data_view.for_exercise(exercise)"
            )
        if self.user is not None:
            user_ids(self.user)

    @property
    def cell_cpu_s(self) -> float:
        """CPU seconds one cell may use before it is stopped."""
        return float(self.cell_timeout)

    @property
    def cell_wall_s(self) -> float:
        """Wall-clock seconds after which a cell is stopped whatever it used (nbval's own cell timeout)."""
        return float(self.cell_timeout) * self.wall_factor

    @property
    def notebook_cpu_s(self) -> float:
        return float(self.timeout)

    @property
    def notebook_wall_s(self) -> float:
        return float(self.timeout) * self.wall_factor

    @property
    def kernel_memory_mb(self) -> int:
        """The kernel's address-space limit: ``memory_mb`` less what its memory-backed scratch folders may hold, so
        that a submission writing to ``/tmp`` uses its own memory, not the machine's (course/sandbox/bwrap.py)."""
        return self.memory_mb - sum(bwrap.scratch_sizes(self.tmp_mb).values()) // 2**20


def user_ids(user: str) -> tuple[int, int]:
    if os.geteuid() != 0:
        raise ValueError(f"--user {user} needs the grader to run as root (it starts kernels as root, then drops).")
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ValueError(f"no such user {user!r}; create it, e.g. `useradd --system {user}`") from None
    if entry.pw_uid == 0:
        raise ValueError(f"--user {user} is root; name an unprivileged user")
    return entry.pw_uid, entry.pw_gid
