"""Start the grading kernel: optionally drop to an unprivileged user, block ``course``, preload the toolkit.

The sandbox copies this file next to a private copy of ``toolkit`` and names it in the kernelspec, so it runs as a
script (its folder, holding only ``toolkit``, is first on ``sys.path``) and imports nothing from ``course``.

Usage: python kernel_launcher.py --handover UID:GID -- COMMAND... -f CONNECTION_FILE   (root, before the sandbox)
       python kernel_launcher.py [--drop UID:GID] [--memory-mb N] [--cpu-s N] [--nproc N] [--file-mb N]
       [--preload MODULE[,MODULE...]] [--audit LOG]
       -f CONNECTION_FILE
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import resource
import shutil
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask Linux to kill this process when nbval's process dies (no effect elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _take(args: list[str], flag: str) -> str | None:
    if flag in args:
        i = args.index(flag)
        value = args[i + 1]
        del args[i : i + 2]
        return value
    return None


def _drop_privileges(uid: int, gid: int, args: list[str]) -> None:
    """Copy the root-only connection file for ``uid``, then become ``uid`` for good."""
    i = args.index("-f") + 1
    own_copy = os.path.join(os.getcwd(), ".kernel-connection.json")
    shutil.copyfile(args[i], own_copy)
    os.chown(own_copy, uid, gid)
    os.chmod(own_copy, 0o600)
    args[i] = own_copy
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise SystemExit("could not drop root privileges; refusing to run student code as root")


def _limit(memory_mb: str | None, cpu_s: str | None, nproc: str | None = None, file_mb: str | None = None) -> None:
    """Hard limits, so student code cannot raise them: address space (MemoryError past it), CPU seconds, the size
    of any file it writes (OSError EFBIG past it: Python ignores SIGXFSZ) and (without a cgroup, course/sandbox/pids.py)
    the tasks the user may run."""
    if nproc:
        resource.setrlimit(resource.RLIMIT_NPROC, (int(nproc), int(nproc)))
    if memory_mb:
        size = int(memory_mb) * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    if cpu_s:
        resource.setrlimit(resource.RLIMIT_CPU, (int(cpu_s), int(cpu_s) + 5))
    if file_mb:
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(file_mb) * 2**20, int(file_mb) * 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _handover(owner: str, command: list[str]) -> None:
    """As root, outside the sandbox: give ``owner`` (UID:GID) its own copy of the root-only connection file, then
    run ``command`` (setpriv + bwrap + this launcher again) with it."""
    uid, gid = (int(x) for x in owner.split(":"))
    i = command.index("-f") + 1
    own_copy = command[i] + ".user"
    shutil.copyfile(command[i], own_copy)
    os.chown(own_copy, uid, gid)
    os.chmod(own_copy, 0o600)
    command[i] = own_copy
    os.execvp(command[0], command)


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--handover"]:
        _handover(args[1], args[3:])  # --handover UID:GID -- COMMAND...
    drop = _take(args, "--drop")
    preload = _take(args, "--preload")
    audit = _take(args, "--audit")
    _limit(_take(args, "--memory-mb"), _take(args, "--cpu-s"), _take(args, "--nproc"), _take(args, "--file-mb"))
    if drop:
        uid, gid = (int(x) for x in drop.split(":"))
        _drop_privileges(uid, gid, args)
    _die_with_parent()
    # A speed bump, not a wall (GUIDE.md section 6): the grader's own package is not for student code.
    sys.modules["course"] = None  # type: ignore[assignment]
    for module in (preload or "").split(","):
        if module:  # imported before the kernel reports ready: slow imports count against start-up, not a cell
            importlib.import_module(module)
    # In the sandbox's PID namespace the kernel's parent is bwrap's init, which ipykernel's parent poller would take
    # for "my parent died"; PR_SET_PDEATHSIG and bwrap --die-with-parent already end the kernel with its parent.
    os.environ.pop("JPY_PARENT_PID", None)
    if audit:  # from here on, what the kernel does is logged for the review flags (kernel_audit.py, next to this)
        import kernel_audit

        kernel_audit.install(Path(audit))
    from ipykernel.kernelapp import launch_new_instance

    sys.argv = [sys.argv[0], *args]
    launch_new_instance()


if __name__ == "__main__":
    main()
