"""A fork server for grading kernels: TensorFlow is imported once per grading slot, not once per submission.

The grader (course/sandbox/forkserver.py) starts one server per grading slot inside the slot's sandbox (bubblewrap, as
in
course/sandbox/bwrap.py). The server imports the preload (the toolkit, Keras and so TensorFlow) and ipykernel, makes
itself
non-dumpable (a process of the sandbox cannot read its memory, its file descriptors or trace it), and waits. For each
submission, nbval's kernelspec runs this file *outside* the sandbox as a client (``--connect``); the client hands
the server the connection details, the kernel's environment and its own stdout/stderr, and the server forks a
kernel: a child with the same imports, nothing of any earlier submission, its limits set (address space, CPU
seconds, tasks) and the audit hook installed (kernel_audit.py) before it starts ipykernel.

One kernel at a time per server. When it ends, the grader asks the server to reset: every other process in the
sandbox is killed (they are in its PID namespace: ``kill(-1)``), ``/tmp``, ``/run``, ``/dev/shm`` and System V IPC
objects are removed, the user's keyrings are emptied (each kernel also gets a session keyring of its own), and the
grader empties the slot's work and runtime folders (:func:`remove_tree`: any depth, links never followed), so the
next submission finds the sandbox as the first one did; everything else in the sandbox is read-only
(course/sandbox/bwrap.py). The server accepts connections only from outside its PID namespace (a peer inside
the sandbox has a PID there), and the listening socket's path is not in the sandbox at all.

Copied next to kernel_launcher.py and kernel_audit.py into the slot's ``lib`` folder; it imports nothing from
``course``.

Usage: python kernel_zygote.py --serve LISTEN_FD [--preload MODULE[,MODULE...]]           (inside the sandbox)
       python kernel_zygote.py --connect SOCKET [--memory-mb N] [--cpu-s N] [--nproc N] [--file-mb N] [--audit LOG]
       -f CONNECTION_FILE                                                                  (the kernelspec's argv)
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import platform
import resource
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

PR_SET_DUMPABLE = 4
SCRUBBED = ("/tmp", "/run", "/dev/shm")
REQUEST_BYTES = 1 << 20


def _prctl(option: int, value: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _send(stream: Any, message: dict[str, Any]) -> None:
    stream.write(json.dumps(message).encode() + b"\n")
    stream.flush()


def _peer_pid(conn: socket.socket) -> int:
    """The peer's PID as this PID namespace sees it: 0 for a process outside the sandbox."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[0])


def _read_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    conn.settimeout(30)
    data, fds, _, _ = socket.recv_fds(conn, REQUEST_BYTES, 4)
    while not data.endswith(b"\n") and len(data) < REQUEST_BYTES:
        more = conn.recv(REQUEST_BYTES)
        if not more:
            break
        data += more
    conn.settimeout(None)
    return json.loads(data), list(fds)


def _others() -> list[int]:
    """Every process of this PID namespace but its init (1) and this server."""
    me = os.getpid()
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]


def _kill_others() -> int:
    """Kill every process of the sandbox but init and this server; return how many there were."""
    seen: set[int] = set()
    for _ in range(100):
        alive = _others()
        if not alive:
            break
        seen.update(alive)
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        time.sleep(0.02)
    return len(seen)


def empty(folder: str) -> bool:
    """Remove everything in ``folder``, giving back permissions a kernel took away first; True when it is empty.
    The grader empties a slot's work and runtime folders with it (course/sandbox/forkserver.py)."""
    if not os.path.isdir(folder) or os.path.islink(folder):
        return not os.path.lexists(folder) or os.path.islink(folder)
    with contextlib.suppress(OSError):
        os.chmod(folder, 0o700)
    for entry in os.listdir(folder):
        _remove(os.path.join(folder, entry))
    return not os.listdir(folder)


def _remove(path: str) -> None:
    """Remove a file, link or folder; a folder with a mount point in it (a bind of the sandbox) stays."""
    if os.path.isdir(path) and not os.path.islink(path):
        remove_tree(path)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def remove_tree(path: str) -> bool:
    """Remove the folder ``path`` and everything in it, however deep (a chain of 1,500 folders, names longer than
    PATH_MAX in total, folders whose permissions were taken away); links are removed, never followed, and a
    folder holding a mount point (a bind of the sandbox) is kept with what leads to it. True when ``path`` is gone.

    Iterative and relative to open folders (``openat``/``unlinkat``): neither Python's recursion limit nor the
    length of a path stops it, and it holds one folder open at a time.
    """
    try:
        top = os.open(path, _DIR_FLAGS)
    except OSError:
        with contextlib.suppress(OSError):
            os.chmod(path, 0o700)
        try:
            top = os.open(path, _DIR_FLAGS)
        except OSError:
            return not os.path.lexists(path)
    device = os.fstat(top).st_dev
    skipped: set[tuple[int, int]] = set()  # folders it could not enter or remove: (device, inode)
    names: list[str] = []  # the folders from ``path`` down to the one open now
    kept = 0  # how many of those hold something that must stay (a mount point)
    current = top
    while True:
        child = _next_folder(current, device, skipped)
        if child is not None:
            with contextlib.suppress(OSError):
                os.chmod(child, 0o700, dir_fd=current)
            try:
                opened = os.open(child, _DIR_FLAGS, dir_fd=current)
            except OSError:
                kept = max(kept, len(names) + 1)
                _skip(current, child, skipped)
                continue
            os.close(current)
            current = opened
            names.append(child)
            continue
        if not names:  # back at the top: everything under it is gone (or kept)
            os.close(current)
            break
        parent = os.open("..", _DIR_FLAGS, dir_fd=current)
        os.close(current)
        current = parent
        name = names.pop()
        try:
            os.rmdir(name, dir_fd=current)
        except OSError:
            kept = max(kept, len(names) + 1)
            _skip(current, name, skipped)
    if kept:
        return False
    with contextlib.suppress(OSError):
        os.rmdir(path)
    return not os.path.lexists(path)


def _skip(parent: int, name: str, skipped: set[tuple[int, int]]) -> None:
    with contextlib.suppress(OSError):
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
        skipped.add((info.st_dev, info.st_ino))


def _next_folder(fd: int, device: int, skipped: set[tuple[int, int]]) -> str | None:
    """Unlink every non-folder in the open folder ``fd``; return the name of a sub-folder still to empty, if any
    (mount points, on another device, and folders already given up on are left alone)."""
    found = None
    with os.scandir(fd) as entries:
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode):
                if found is None and info.st_dev == device and (info.st_dev, info.st_ino) not in skipped:
                    found = entry.name
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.name, dir_fd=fd)
    return found


Entry = tuple[str, Any]


def snapshot(folder: str) -> dict[str, Entry]:
    """What ``folder`` holds: folders with their modes, links with their targets, files, and mount points (the
    sandbox's binds, not looked into). Taken when the server starts, before any kernel ran; compared after each
    reset (iterative: a folder chain a kernel left cannot exhaust the recursion limit)."""
    found: dict[str, Entry] = {}
    if not os.path.isdir(folder):
        return found
    found[folder] = ("dir", stat.S_IMODE(os.lstat(folder).st_mode))
    pending = [folder]
    while pending:
        dirpath = pending.pop()
        try:
            names = os.listdir(dirpath)
        except OSError:
            continue
        for name in names:
            path = os.path.join(dirpath, name)
            with contextlib.suppress(OSError):
                mode = os.lstat(path).st_mode
                if stat.S_ISLNK(mode):
                    found[path] = ("link", os.readlink(path))
                elif os.path.ismount(path):
                    found[path] = ("mount", None)
                elif stat.S_ISDIR(mode):
                    found[path] = ("dir", stat.S_IMODE(mode))
                    pending.append(path)
                else:
                    found[path] = ("file", None)
    return found


def restore(folder: str, pristine: dict[str, Entry]) -> bool:
    """Make ``folder`` hold again exactly what ``pristine`` (its snapshot) says: remove what a kernel added, put
    back folders and links it removed or changed. True when that worked (else the slot is closed)."""
    _clear(folder, pristine)
    for path, (kind, value) in sorted(pristine.items()):  # a folder comes before what is in it
        with contextlib.suppress(OSError):
            if kind == "dir":
                if os.path.islink(path) or not os.path.isdir(path):
                    _remove(path)
                    os.mkdir(path)
                os.chmod(path, value)
            elif kind == "link" and (not os.path.islink(path) or os.readlink(path) != value):
                _remove(path)
                os.symlink(value, path)
    return snapshot(folder) == pristine


def _clear(folder: str, pristine: dict[str, Entry]) -> None:
    """Remove from ``folder`` what ``pristine`` does not hold (only its own folders are looked into, so this
    goes as deep as the snapshot, never deeper)."""
    pending = [folder]
    while pending:
        current = pending.pop()
        if pristine.get(current, ("",))[0] != "dir" or os.path.islink(current) or not os.path.isdir(current):
            continue
        with contextlib.suppress(OSError):
            os.chmod(current, 0o700)  # restore() gives it its own mode back
        with contextlib.suppress(OSError):
            for entry in os.listdir(current):
                path = os.path.join(current, entry)
                kind = pristine.get(path, ("new",))[0]
                if kind == "dir" and not os.path.islink(path) and os.path.isdir(path):
                    pending.append(path)
                elif kind == "new":
                    _remove(path)


KEYCTL = {"x86_64": 250, "aarch64": 219, "i686": 288}  # the keyctl system call's number
KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_CLEAR, KEYCTL_GET_PERSISTENT = 1, 7, 22
KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING = -3, -4, -5


def _keyctl(*args: int) -> int:
    """The keyctl(2) system call (Python has no wrapper); -1 where it is unknown or refused."""
    number = KEYCTL.get(platform.machine())
    if number is None:
        return -1
    with contextlib.suppress(OSError, AttributeError):
        return int(ctypes.CDLL(None, use_errno=True).syscall(number, *(ctypes.c_long(a) for a in args)))
    return -1


def new_session_keyring() -> None:
    """Give this process a new, empty session keyring (a kernel must not share the server's)."""
    _keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0)


def clear_keyrings() -> None:
    """Empty the keyrings that outlive a process: the user's, the user's session and the persistent keyring of the
    sandbox's user (the kernel's own session keyring ends with it)."""
    for ring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING):
        _keyctl(KEYCTL_CLEAR, ring)
    persistent = _keyctl(KEYCTL_GET_PERSISTENT, -1, KEY_SPEC_SESSION_KEYRING)
    if persistent > 0:
        _keyctl(KEYCTL_CLEAR, persistent)


def _remove_ipc() -> None:
    """System V shared memory, semaphores and message queues live in the sandbox's IPC namespace, not a process."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(["ipcrm", "--all"], capture_output=True, timeout=10, check=False)


def _child(request: dict[str, Any], fds: list[int], close: list[int]) -> None:
    """Become the kernel for one submission; never returns."""
    code = 1
    try:
        for fd in close:
            with contextlib.suppress(OSError):
                os.close(fd)
        os.setsid()
        new_session_keyring()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for target, fd in zip((1, 2), fds):  # the client's stdout and stderr: pytest's log, as for any kernel
            os.dup2(fd, target)
        for fd in [null, *fds]:
            if fd > 2:
                os.close(fd)
        import kernel_launcher

        # no parent-death signal: the parent that forked it exits at once; when the server ends, the sandbox's
        # PID namespace ends, and every process in it
        _prctl(PR_SET_DUMPABLE, 1)
        limits = request.get("limits", {})
        kernel_launcher._limit(limits.get("memory_mb"), limits.get("cpu_s"), limits.get("nproc"), limits.get("file_mb"))
        resource.setrlimit(resource.RLIMIT_MSGQUEUE, (0, 0))  # POSIX queues would outlive the kernel
        os.environ.clear()
        os.environ.update({k: str(v) for k, v in request["env"].items()})
        os.chdir(os.environ.get("HOME", "/"))
        runtime = Path(os.environ["JUPYTER_RUNTIME_DIR"])
        connection = runtime / f"kernel-{os.getpid()}.json"
        fd = os.open(connection, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(request["connection"], f)
        if limits.get("audit"):
            import kernel_audit

            kernel_audit.install(Path(limits["audit"]))
        from ipykernel.kernelapp import launch_new_instance

        sys.argv = [sys.argv[0], "-f", str(connection)]
        launch_new_instance()
        code = 0
    except SystemExit as end:
        code = end.code if isinstance(end.code, int) else 0
    except BaseException:  # noqa: BLE001  (reported on the client's stderr, then the kernel ends)
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class Server:
    """The loop inside the sandbox: control lines on stdin/stdout, kernel requests on the listening socket."""

    def __init__(self, listener: socket.socket, control_in: Any, control_out: Any) -> None:
        self.pristine = {folder: snapshot(folder) for folder in SCRUBBED}  # before any kernel ran
        self.listener = listener
        self.control_in = control_in
        self.control_out = control_out
        self.child: int | None = None
        self.child_fd: int | None = None  # a pidfd: readable when the kernel has ended
        self.conn: socket.socket | None = None
        self.refused = 0  # connections from inside the sandbox

    def _end_kernel(self) -> None:
        if self.child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child, signal.SIGKILL)
        if self.child_fd is not None:
            select.select([self.child_fd], [], [], 10)  # ended (init reaps it: it is not this server's child)
            os.close(self.child_fd)
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.sendall(b'{"exit": 0}\n')
            self.conn.close()
        self.child = self.child_fd = self.conn = None

    def _accept(self) -> None:
        conn, _ = self.listener.accept()
        try:
            if _peer_pid(conn) != 0:  # a process inside this sandbox: only the grader outside may ask
                self.refused += 1
                conn.close()
                return
            request, fds = _read_request(conn)
        except (OSError, ValueError):
            conn.close()
            return
        if self.child is not None:
            conn.sendall(b'{"error": "a kernel is already running in this slot"}\n')
            conn.close()
            for fd in fds:
                os.close(fd)
            return
        close = [self.listener.fileno(), conn.fileno(), self.control_in.fileno(), self.control_out.fileno()]
        told, tell = os.pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads (none of Python's)
            middle = os.fork()
            if middle == 0:  # forks the kernel and exits: the kernel's parent is the sandbox's init, not this server
                code = 1
                try:
                    kernel = os.fork()
                    if kernel == 0:
                        _child(request, fds, [*close, told, tell])
                    os.write(tell, str(kernel).encode())
                    code = 0
                finally:
                    os._exit(code)
        os.close(tell)
        for fd in fds:
            os.close(fd)
        os.waitpid(middle, 0)
        pid = int(os.read(told, 32) or 0)
        os.close(told)
        self.conn = conn
        if pid:
            self.child = pid
            with contextlib.suppress(ProcessLookupError):
                self.child_fd = os.pidfd_open(pid)
        conn.sendall((json.dumps({"pid": pid}) + "\n").encode())
        if self.child_fd is None:  # it could not start, or has already ended
            self._end_kernel()

    def _control(self, line: bytes) -> bool:
        if not line:
            return False
        request = json.loads(line)
        if request.get("reset"):
            self._end_kernel()
            killed = _kill_others()
            clean = all(restore(folder, self.pristine[folder]) for folder in SCRUBBED)
            _remove_ipc()
            clear_keyrings()
            _send(self.control_out, {"killed": killed, "clean": clean, "refused": self.refused})
            self.refused = 0
        return True

    def run(self) -> None:
        while True:
            watched: list[Any] = [self.control_in, self.listener]
            if self.conn is not None:
                watched.append(self.conn)
            if self.child_fd is not None:
                watched.append(self.child_fd)
            ready, _, _ = select.select(watched, [], [])
            if self.child_fd is not None and self.child_fd in ready:
                self._end_kernel()  # the kernel ended: tell its client, which exits with its code
            elif self.conn is not None and self.conn in ready:
                with contextlib.suppress(OSError):
                    if self.conn.recv(1, socket.MSG_PEEK):
                        self.conn.recv(4096)  # the client sends nothing more; ignore
                        continue
                self._end_kernel()  # the client was stopped (nbval shut the kernel down, or was killed)
            if self.control_in in ready and not self._control(self.control_in.readline()):
                break
            if self.listener in ready:
                self._accept()
        self._end_kernel()
        _kill_others()


def serve(listen_fd: int, preload: str | None) -> None:
    control_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # an import printing to stdout cannot corrupt the control replies
    sys.modules["course"] = None  # type: ignore[assignment]
    for module in [*(preload or "").split(","), "ipykernel.kernelapp"]:
        if module:
            importlib.import_module(module)
    os.environ.pop("JPY_PARENT_PID", None)
    _prctl(PR_SET_DUMPABLE, 0)
    new_session_keyring()  # not the grader's
    clear_keyrings()
    listener = socket.socket(fileno=listen_fd)
    _send(control_out, {"ready": True, "pid": os.getpid()})
    Server(listener, sys.stdin.buffer, control_out).run()


def connect(path: str, args: list[str]) -> None:
    """The kernelspec's side, outside the sandbox: ask the server for a kernel and live as long as it does."""
    import kernel_launcher  # next to this file

    limits = {flag[2:].replace("-", "_"): kernel_launcher._take(args, flag)
              for flag in ("--memory-mb", "--cpu-s", "--nproc", "--file-mb", "--audit")}  # fmt: skip
    connection = json.loads(Path(args[args.index("-f") + 1]).read_text())
    env = {k: v for k, v in os.environ.items() if k != "JPY_PARENT_PID"}
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts are messages (the kernelspec's interrupt_mode)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(path)
    message = json.dumps({"connection": connection, "env": env, "limits": limits}).encode() + b"\n"
    socket.send_fds(conn, [message], [1, 2])
    replies = conn.makefile("rb")
    code = 1
    for line in replies:
        reply = json.loads(line)
        if "error" in reply:
            print(f"kernel fork server: {reply['error']}", file=sys.stderr)
        if "exit" in reply:
            code = int(reply["exit"])
            break
    sys.exit(code if code >= 0 else 128 - code)


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--serve"]:
        preload = args[args.index("--preload") + 1] if "--preload" in args else None
        serve(int(args[1]), preload)
    elif args[:1] == ["--connect"]:
        connect(args[1], args[2:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
