"""The kernel's sandbox: a bubblewrap (``bwrap``) command line, built from what the kernel needs and nothing else.

Each kernel runs in its own user, PID, network, IPC, UTS and cgroup namespaces (``--unshare-all``): no network at
all (not even the grader's loopback), a private ``/tmp``, its own process tree (it cannot see or signal the grader,
nbval or classmates' kernels), and when it ends every process it started ends with it (``--die-with-parent``, and
the PID namespace dies with its first process). The file system it sees is built from read-only binds of the
system (``/usr``, a few files of ``/etc``), the Python installation and virtual environment, the private copy of the
toolkit and the data folder, plus two writable folders of its own private grading folder: its work folder and the
runtime folder holding its Jupyter sockets. The solutions, other submissions, ``--out`` and the project's source
are simply not there. Memory and CPU time are capped by rlimits set in ``kernel_launcher.py`` before any student
code runs.

Kernel and nbval talk over Unix sockets in the runtime folder (``transport="ipc"``), since TCP cannot cross the
network namespace; the sandbox plugin sets that up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ETC_FILES = ("ld.so.cache", "ld.so.conf", "passwd", "group", "nsswitch.conf", "localtime", "hosts", "mime.types")
HOW_TO_INSTALL = (
    "install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`; Fedora: `dnf install bubblewrap`), or grade "
    "without isolation by passing --unsafe-no-sandbox (every row is then marked 'unsandboxed'; see course/GUIDE.md)"
)


class SandboxUnavailable(ValueError):
    """bubblewrap is missing or cannot create namespaces here; the message says how to fix it."""


def bwrap_path() -> str:
    found = shutil.which("bwrap")
    if not found:
        raise SandboxUnavailable(
            f"the grader's sandbox needs the `bwrap` program, which is not installed: {HOW_TO_INSTALL}"
        )
    return found


def _python_roots() -> list[Path]:
    """Folders holding the interpreter and its packages (real paths: the venv's python is often a link)."""
    real = Path(os.path.realpath(sys.executable)).parent.parent
    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), real}
    return sorted(p for p in roots if p.exists())


def _covered(path: Path, roots: list[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def command(
    root: Path,
    work: Path,
    runtime: Path,
    readonly: list[Path],
    *,
    uid: int | None = None,
) -> list[str]:
    """The bwrap prefix for a kernel whose private grading folder is ``root``.

    ``readonly``: extra folders to show read-only (the toolkit copy, the data folder, the data cache).
    ``uid``: the user the kernel appears as inside the sandbox (default: the caller's, or 65534 for root).
    """
    args = [bwrap_path(), "--unshare-all", "--die-with-parent", "--cap-drop", "ALL"]
    args += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib64", "sbin"):
        link = Path("/") / name
        if link.is_symlink():
            args += ["--symlink", os.readlink(link), str(link)]
        elif link.is_dir():
            args += ["--ro-bind", str(link), str(link)]
    for name in ETC_FILES:
        if (Path("/etc") / name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/run"]
    binds: list[Path] = []
    for path in [*_python_roots(), *readonly]:
        real = Path(os.path.realpath(path))
        if real.exists() and not _covered(real, [Path("/usr"), *binds]):
            binds.append(real)
            args += ["--ro-bind", str(real), str(real)]
            if str(path) != str(real) and not _covered(Path(path), [Path("/usr")]):
                args += ["--symlink", str(real), str(path)]
    args += ["--bind", str(work), str(work), "--bind", str(runtime), str(runtime)]
    args += ["--ro-bind", str(root / "lib"), str(root / "lib")]
    if os.geteuid() == 0:
        args += ["--uid", str(65534 if uid is None else uid), "--gid", str(65534 if uid is None else uid)]
    args += ["--hostname", "sandbox", "--chdir", str(work)]
    return args


def probe() -> None:
    """Make sure bwrap can create its namespaces here; raise :class:`SandboxUnavailable` with the fix if not."""
    cmd = [bwrap_path(), "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--dev",
           "/dev", "true"]  # fmt: skip
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        failed, why = result.returncode != 0, result.stderr.strip()[-300:]
    except (OSError, subprocess.TimeoutExpired) as err:
        failed, why = True, str(err)
    if failed:
        raise SandboxUnavailable(
            f"bubblewrap cannot create a sandbox on this machine ({why}). Allow unprivileged user namespaces "
            "(`sysctl kernel.unprivileged_userns_clone=1`; in Docker run with --security-opt seccomp=unconfined), "
            f"run the grader as root, or: {HOW_TO_INSTALL}"
        )
