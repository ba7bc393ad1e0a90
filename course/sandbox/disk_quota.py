"""How much disk one submission uses: the grader's side of the per-submission disk quota (``--disk-mb``).

A kernel may write only into its work and runtime folders and the sandbox's memory-backed scratch folders
(``/tmp``, ``/run``, ``/dev/shm``, sized by course/sandbox/bwrap.py). The scratch folders have a fixed size; what lands
on
the grader's disk is measured here while the notebook runs (course/sandbox/run.py polls :func:`used_bytes`), and the run
is stopped once it passes the quota, before it can fill the disk classmates are graded on. Every file counts at
least one 4 KB block, so a million empty files count like 4 GB; files a process still holds open after deleting
them count too. No single file can pass the quota at all: the kernel's RLIMIT_FSIZE is the quota
(course/kernel_side/kernel_launcher.py).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

BLOCK = 4096  # the least a file or folder counts for


def used_bytes(folders: Iterable[Path], pids: Iterable[int] = (), stop_at: int | None = None) -> int:
    """Bytes used under ``folders`` (allocated blocks, at least :data:`BLOCK` per entry; links not followed, one
    file system per folder) plus deleted files the processes ``pids`` still hold open there. Stops counting once
    past ``stop_at``, so a folder of a million files costs no more than the quota's worth."""
    total = 0
    devices = set()
    for folder in dict.fromkeys(folders):  # the same folder twice counts once
        with contextlib.suppress(OSError):
            devices.add(os.lstat(folder).st_dev)
        total += _walk(str(folder), None if stop_at is None else stop_at - total)
        if stop_at is not None and total > stop_at:
            return total
    return total + _open_deleted(pids, devices)


def _walk(top: str, budget: int | None) -> int:
    """Bytes under ``top``, iteratively (a folder chain of any depth), not crossing into other file systems."""
    total = 0
    try:
        device = os.lstat(top).st_dev
    except OSError:
        return 0
    pending = [top]
    while pending:
        folder = pending.pop()
        try:
            entries = os.scandir(folder)
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                total += max(info.st_blocks * 512, BLOCK)
                if stat.S_ISDIR(info.st_mode) and info.st_dev == device:
                    pending.append(entry.path)
                if budget is not None and total > budget:
                    return total
    return total


def _open_deleted(pids: Iterable[int], devices: set[int]) -> int:
    """Blocks of files that ``pids`` hold open after deleting them, on the watched file systems."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    info = os.stat(f"/proc/{pid}/fd/{fd}")
                    key = (info.st_dev, info.st_ino)
                    if stat.S_ISREG(info.st_mode) and info.st_nlink == 0 and info.st_dev in devices and key not in seen:
                        seen.add(key)
                        total += info.st_blocks * 512
    return total


def descendants(pid: int) -> list[int]:
    """``pid``'s child processes, their children, and so on (from /proc; a process that ended meanwhile is left
    out)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                text = Path(f"/proc/{entry}/stat").read_text()
                parent = int(text[text.rindex(")") + 2 :].split()[1])
                children.setdefault(parent, []).append(int(entry))
    found, pending = [], [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found
