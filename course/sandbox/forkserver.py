"""Grading slots with a kernel fork server (course/kernel_side/kernel_zygote.py): the grader's side.

A :class:`Slot` is one sandbox that lives for many submissions: a private folder (``lib`` with the toolkit copy and
the kernel scripts; ``work`` and ``runtime``, the only writable folders the sandbox shows; ``ctl`` with the
listening socket, which the sandbox does not show), one bubblewrap sandbox holding the fork server, and, as root,
one cgroup ``pids`` group around it (course/sandbox/pids.py). A grading thread takes a slot from :data:`SLOTS`, runs one
submission in it (course/sandbox/run.py) and gives it back, after :meth:`Slot.reset` has ended every process of the
submission and emptied what it could write. A slot that cannot be made clean is closed, never reused.

Isolation is the same as one sandbox per kernel (course/sandbox/bwrap.py): the kernel sees only its own work folder,
runs as
the same unprivileged user in its own namespaces, with the same limits. What changes is that TensorFlow is imported
once per slot instead of once per submission (about 3 CPU seconds each).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from course.kernel_side.kernel_zygote import empty, remove_tree
from course.sandbox import bwrap, pids

if TYPE_CHECKING:
    from course.sandbox.limits import Limits

SCRIPTS = ("kernel_launcher.py", "kernel_audit.py", "kernel_zygote.py")
START_TIMEOUT = 300.0
RESET_TIMEOUT = 60.0
MAX_JOBS = 200  # a slot is replaced after this many submissions (memory the server may have grown)
MAX_IDLE = 4  # idle slots kept at most, over all limits (a grading run uses one set of limits)


FIX = "grade again; if it happens again, run `make doctor` and see course/GUIDE.md, section 6.1"


class SlotFailure(RuntimeError):
    """The fork server did not start or did not answer: a grader error (retried), never the student's fault."""


class Slot:
    """One long-lived sandbox with a fork server in it; see the module's docstring."""

    def __init__(self, limits: Limits) -> None:
        from course.sandbox.environment import as_user, kernel_env, private_lib, readonly_views
        from course.sandbox.limits import user_ids

        self.limits = limits
        self.jobs = 0
        self.root = Path(tempfile.mkdtemp(prefix="course-slot-"))
        self.work, self.runtime = self.root / "work", self.root / "runtime"
        lib = self.root / "lib"
        private_lib(lib, *SCRIPTS)
        self.work.mkdir()
        self.runtime.mkdir(mode=0o700)
        ctl = self.root / "ctl"
        ctl.mkdir(mode=0o700)
        self.socket_path = ctl / "zygote.sock"
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.socket_path))
        self.listener.listen(4)
        prefix: list[str] = []
        self.uid: int | None = None
        if limits.user:
            uid, gid = user_ids(limits.user)
            self.uid = uid
            os.chown(self.work, uid, gid)
            os.chown(self.runtime, uid, gid)
            os.chmod(self.root, 0o711)
            prefix = as_user(uid, gid)
        # the server and every kernel it forks count against one group; a kernel may use max_processes of them
        self.group = pids.PidsGroup.create(limits.max_processes + 8)
        if self.group is not None:
            prefix = [*self.group.join_prefix(), *prefix]
        argv = [sys.executable, str(lib / "kernel_zygote.py"), "--serve", str(self.listener.fileno())]
        if limits.preload:
            argv += ["--preload", limits.preload]
        env = kernel_env(self.work, self.runtime, limits)
        self.stderr = open(self.root / "server.log", "wb")  # noqa: SIM115  (the server's own messages)
        sandbox = bwrap.command(self.root, self.work, self.runtime, readonly_views(lib, limits), tmp_mb=limits.tmp_mb)
        command = [*prefix, *sandbox, *argv]
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, env=env, cwd=self.work,
            pass_fds=(self.listener.fileno(),), start_new_session=True,
        )  # fmt: skip
        self.ready = threading.Event()
        self.clean = True
        self.error: str | None = None

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Block until the server has imported everything (it reports ``ready``); raise SlotFailure if it does not."""
        if self.ready.is_set():
            return
        reply = self._reply(timeout)
        if not reply.get("ready"):
            raise SlotFailure(f"the kernel fork server did not start ({self._log_tail()}); {FIX}")
        if self.group is not None:  # the server's own tasks, plus max_processes for each kernel it forks
            self.group.allow_more(self.limits.max_processes)
        self.ready.set()

    def _reply(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else b""
        if not line.startswith(b"{"):
            self.close()
            what = "did not answer in time" if not ready else "ended"
            raise SlotFailure(f"the kernel fork server {what} ({self._log_tail()}); {FIX}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            text = (self.root / "server.log").read_bytes()[-300:].decode(errors="replace").strip()
            return text.splitlines()[-1] if text else "no message"
        return "no message"

    def client_argv(self, audit: Path, cpu_s: int, nproc: int | None) -> list[str]:
        """The kernelspec's command line: the client half of kernel_zygote.py, run by nbval outside the sandbox."""
        argv = [sys.executable, str(self.root / "lib" / "kernel_zygote.py"), "--connect", str(self.socket_path),
                "--memory-mb", str(self.limits.kernel_memory_mb), "--cpu-s", str(cpu_s),
                "--file-mb", str(self.limits.disk_mb), "--audit", str(audit)]  # fmt: skip
        if nproc is not None:
            argv += ["--nproc", str(nproc)]
        return argv

    def processes(self) -> list[int]:
        """Host PIDs of the processes in the slot's sandbox other than its init and the server (a kernel, and what
        it started); empty between submissions."""
        try:
            init = int(Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()[0])
            namespace = os.readlink(f"/proc/{init}/ns/pid")
            server = int(Path(f"/proc/{init}/task/{init}/children").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) not in (init, server):
                with contextlib.suppress(OSError):
                    if os.readlink(entry / "ns" / "pid") == namespace:
                        found.append(int(entry.name))
        return found

    def reaper(self) -> int | None:
        """Host PID of the sandbox's init, which reaps what a kernel leaves running (and the kernel itself): the CPU
        seconds of those count in its ``cutime`` (course/sandbox/cpu_time.py)."""
        try:
            return int(Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            return None

    def refused_tasks(self) -> int:
        return self.group.refused() if self.group is not None else 0

    def kill_leftovers(self) -> int:
        """End the submission's kernel and every process it left in the sandbox, and clear the sandbox's own
        scratch folders; return how many processes were killed.

        A server that is gone (a submission can kill it) took its whole sandbox with it: bubblewrap's PID namespace
        ends with it. The slot is then closed when given back.
        """
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(b'{"reset": true}\n')
            self.proc.stdin.flush()
            reply = self._reply(RESET_TIMEOUT)
        except (OSError, SlotFailure):
            self.close()
            return 0
        self.clean = bool(reply.get("clean"))
        return int(reply.get("killed", 0))

    def reset(self) -> None:
        """Empty the work and runtime folders for the next submission; raise SlotFailure (and close the slot) when
        the sandbox could not be made as clean as a new one."""
        self.jobs += 1
        if not self.alive():
            raise SlotFailure("the kernel fork server had ended")
        if not (self.clean and empty(str(self.work)) and empty(str(self.runtime))):
            self.close()
            raise SlotFailure("a submission left files the grader could not remove; its slot was closed")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, 9)
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=30)
        if self.group is not None:
            self.group.close()
            self.group = None
        self.listener.close()
        self.stderr.close()
        remove_tree(str(self.root))


class SlotPool:
    """Idle slots per set of limits that shape the sandbox; a grading thread takes one and gives it back."""

    def __init__(self) -> None:
        self._idle: dict[tuple[Any, ...], list[Slot]] = {}
        self._all: list[Slot] = []
        self._lock = threading.Lock()

    @staticmethod
    def key(limits: Limits) -> tuple[Any, ...]:
        data = tuple(os.environ.get(k) for k in ("KERAS_COURSE_DATA", "KERAS_COURSE_CACHE"))  # bound at start
        # the data view too: a slot's sandbox shows one exercise's view, never to another exercise's kernels
        return (limits.user, limits.preload, limits.memory_mb, limits.max_processes, limits.threads, limits.tmp_mb,
                limits.disk_mb, data, limits.data_view)  # fmt: skip

    def take(self, limits: Limits) -> Slot:
        with self._lock:
            idle = self._idle.setdefault(self.key(limits), [])
            while idle:
                slot = idle.pop()
                if slot.alive():
                    break
                self._forget(slot)
            else:
                slot = self._new(limits)
        try:
            slot.wait_ready()
        except SlotFailure:
            self.discard(slot)
            raise
        return slot

    def _new(self, limits: Limits) -> Slot:
        slot = Slot(limits)
        self._all.append(slot)
        return slot

    def _forget(self, slot: Slot) -> None:
        slot.close()
        if slot in self._all:
            self._all.remove(slot)

    def give(self, slot: Slot) -> None:
        with self._lock:
            if slot.alive() and slot.jobs < MAX_JOBS:
                self._idle.setdefault(self.key(slot.limits), []).append(slot)
                self._trim(self.key(slot.limits))
            else:
                self._forget(slot)

    def _trim(self, keep: tuple[Any, ...]) -> None:
        """Close idle slots of other limits beyond MAX_IDLE (each holds a TensorFlow process, about 0.5 GB)."""
        for key, idle in self._idle.items():
            while idle and key != keep and sum(map(len, self._idle.values())) > MAX_IDLE:
                self._forget(idle.pop(0))

    def discard(self, slot: Slot) -> None:
        with self._lock:
            self._forget(slot)

    def prewarm(self, limits: Limits, count: int) -> None:
        """Start ``count`` slots for ``limits`` now (their servers import TensorFlow while the run gets going)."""
        with self._lock:
            idle = self._idle.setdefault(self.key(limits), [])
            for _ in range(max(0, count - sum(s.alive() for s in idle))):
                idle.append(self._new(limits))

    def slots(self) -> list[Slot]:
        with self._lock:
            return list(self._all)

    def close(self) -> None:
        with self._lock:
            slots, self._all, self._idle = self._all, [], {}
        for slot in slots:
            slot.close()


SLOTS = SlotPool()
atexit.register(SLOTS.close)
