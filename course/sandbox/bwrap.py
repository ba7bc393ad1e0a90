"""The kernel's sandbox: a bubblewrap (``bwrap``) command line, built from what the kernel needs and nothing else.

Each kernel runs in its own user, PID, network, IPC, UTS and cgroup namespaces (``--unshare-all``): no network at
all (not even the grader's loopback), its own process tree (it cannot see or signal the grader, nbval or
classmates' kernels), and when it ends every process it started ends with it (``--die-with-parent``, and the PID
namespace dies with its first process). The file system it sees is read-only, root included: binds of the system
(``/usr``, a few files of ``/etc``), the Python installation and virtual environment, the private copy of the
toolkit and the exercise's data view (course/sandbox/data_view.py). Writable are two folders of its own private grading
folder, its work folder and the runtime folder holding its Jupyter sockets, and the memory-backed ``/tmp``,
``/run`` and ``/dev/shm`` of fixed sizes. The solutions, other submissions, ``--out`` and the project's source are
not there, and the ``course`` package's folder is shown empty wherever it lies (a wheel puts it in site-packages).
Memory, CPU time and file size are capped by rlimits set in ``kernel_launcher.py`` before any student code runs.

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


def scratch_sizes(tmp_mb: int) -> dict[str, int]:
    """The sandbox's memory-backed scratch folders and their sizes in bytes: ``/tmp`` gets ``tmp_mb``, ``/dev/shm``
    half of it and ``/run`` 16 MB. Their sum counts against the kernel's memory limit (course/sandbox/run.py)."""
    return {"/tmp": tmp_mb * 2**20, "/dev/shm": tmp_mb * 2**19, "/run": 16 * 2**20}


def hidden_folders() -> list[Path]:
    """Folders no sandbox may see even when they lie inside a folder it shows (a wheel installs the ``course``
    package, with the solution notebooks and their hidden checks, into the virtual environment's site-packages)."""
    return [Path(os.path.realpath(Path(__file__).parents[1]))]  # the course package


def command(
    root: Path,
    work: Path,
    runtime: Path,
    readonly: list[Path],
    *,
    uid: int | None = None,
    tmp_mb: int = 256,
    hide: list[Path] | None = None,
) -> list[str]:
    """The bwrap prefix for a kernel whose private grading folder is ``root``.

    ``readonly``: extra folders to show read-only (the toolkit copy, the data folder, the data cache).
    ``uid``: the user the kernel appears as inside the sandbox (default: the caller's, or 65534 for root).
    ``tmp_mb``: the size of ``/tmp`` (see :func:`scratch_sizes`). ``hide``: folders shown as empty and read-only
    wherever they are (default :func:`hidden_folders`).
    Everything but ``work``, ``runtime`` and the scratch folders is read-only: the root itself, ``/etc`` and
    ``/dev`` included, so nothing a kernel writes outside those outlives it (the scratch folders are restored by
    the fork server between submissions, course/kernel_side/kernel_zygote.py).
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
    args += ["--proc", "/proc", "--dev", "/dev"]
    for folder, size in scratch_sizes(tmp_mb).items():
        args += ["--size", str(size), "--tmpfs", folder]
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
    for hidden in hidden_folders() if hide is None else hide:
        if _covered(hidden, [Path("/usr"), *binds]):  # an empty, read-only folder in its place
            args += ["--size", "4096", "--tmpfs", str(hidden), "--remount-ro", str(hidden)]
    args += ["--remount-ro", "/dev", "--remount-ro", "/"]
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
