"""What a grading kernel did at run time, for the review flags: a ``sys.addaudithook`` hook installed by the kernel
launcher after the preload and before any cell runs.

It writes one JSON line per kind of event to a log in the kernel's work folder, which the grader reads when the run
ends (``read_log``): files opened, listed or changed outside what the kernel needs, network use, environment
variables with secret-looking names, another audit hook, and, checked before every cell, whether the import
machinery, IPython's input or AST transformers, ``toolkit.checks`` or Keras's ``Model.fit``/``predict``/``evaluate``
were replaced. Like the static flags (course/grading/flags.py) these never change points: the log is written by the
student's own process, so a submission can silence it (a missing log is itself flagged), never forge a grade -
points come from the trusted process (course/verification/trusted.py) and the sandbox is what stops harm.

Copied next to kernel_launcher.py into the sandbox's ``lib`` folder; it imports nothing from ``course``.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

LOG_NAME = ".course-audit.jsonl"
MAX_LINES = 40
SECRET = re.compile(r"SECRET|TOKEN|PASSW|CREDENTIAL|API_?KEY|PRIVATE|ACCESS_KEY|AWS_|GITHUB|SSH_AUTH", re.I)
WRITE_MODES = set("wax+")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
CHANGES = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.symlink", "os.link",
           "shutil.rmtree", "os.truncate", "os.utime"}  # fmt: skip
LISTINGS = {"os.listdir", "os.scandir", "glob.glob"}
LOCAL_HOSTS = {None, "", "localhost", "127.0.0.1", "::1"}
PROC_OWN = re.compile(r"^/proc/(self|thread-self|\d+/task/\d+)(/|$)")


def _roots(paths: list[str | None]) -> tuple[str, ...]:
    out: list[str] = []
    for p in paths:
        if p:
            for form in (os.path.abspath(p), os.path.realpath(p)):
                out.append(form.rstrip("/") + "/")
    return tuple(dict.fromkeys(out))


class Watcher:
    """The audit hook and its log; one per kernel."""

    def __init__(self, log: Path) -> None:
        self.work = str(log.parent)
        self.pid = str(os.getpid())
        self.file = open(log, "a", encoding="utf-8")  # noqa: SIM115  (open for the kernel's whole life)
        self.seen: set[str] = set()
        env = os.environ
        cache = env.get("KERAS_COURSE_CACHE")
        here = str(Path(__file__).resolve().parent)
        self.writable = _roots([self.work, "/dev", cache, env.get("TMPDIR"), env.get("JUPYTER_RUNTIME_DIR")])
        self.readable = self.writable + _roots([
            sys.prefix, sys.base_prefix, sys.exec_prefix, here, env.get("KERAS_COURSE_DATA"), "/usr", "/etc", "/sys",
            "/lib", "/lib64", "/bin", "/sbin", "/opt/conda", *sys.path,
        ])  # fmt: skip
        self.originals = self._snapshot()
        self.shell: dict[str, int] | None = None

    # ------------------------------------------------------------------ recording

    def flag(self, kind: str, text: str) -> None:
        key = f"{kind}: {text}"
        if key in self.seen or len(self.seen) >= MAX_LINES:
            return
        self.seen.add(key)
        self.file.write(json.dumps({"kind": kind, "what": text[:200]}) + "\n")
        self.file.flush()

    def _outside(self, path: Any, roots: tuple[str, ...]) -> str | None:
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str) or not path:
            return None
        full = os.path.abspath(os.path.join(self.work, path)) if not os.path.isabs(path) else os.path.abspath(path)
        if full.startswith("/proc/"):
            own = PROC_OWN.match(full) or full.startswith(f"/proc/{self.pid}/")
            return None if own or full.count("/") == 2 else full
        return None if (full + "/").startswith(roots) else full

    # ------------------------------------------------------------------ integrity of what checks rely on

    def _snapshot(self) -> dict[str, Any]:
        keep: dict[str, Any] = {"builtins.__import__": builtins.__import__}
        keep.update({f"sys.meta_path[{i}]": f for i, f in enumerate(sys.meta_path)})
        checks = sys.modules.get("toolkit.checks")
        if checks is not None:
            keep.update({f"toolkit.checks.{n}": getattr(checks, n) for n in dir(checks) if n.startswith("check")})
        keras = sys.modules.get("keras")
        model = getattr(keras, "Model", None)
        for name in ("fit", "predict", "evaluate", "__call__", "count_params", "summary"):
            if model is not None and hasattr(model, name):
                keep[f"keras.Model.{name}"] = getattr(model, name)
        return keep

    def _integrity(self) -> None:
        now = self._snapshot()
        for name, value in self.originals.items():
            if now.get(name) is not value:
                self.flag("patched", f"{name} was replaced or removed")
        shell = self._shell_counts()
        if shell is not None:
            if self.shell is None:
                self.shell = shell  # the first cell runs before any student cell: IPython's own settings
            for name, count in shell.items():
                if count != self.shell[name]:
                    self.flag("patched", f"IPython's {name} changed ({self.shell[name]} -> {count})")

    @staticmethod
    def _shell_counts() -> dict[str, int] | None:
        ipython = sys.modules.get("IPython")
        get = getattr(ipython, "get_ipython", None)
        shell = get() if get else None
        if shell is None:
            return None
        counts = {}
        for name in ("input_transformers_cleanup", "input_transformers_post", "ast_transformers"):
            counts[name] = len(getattr(shell, name, []) or [])
        callbacks = getattr(getattr(shell, "events", None), "callbacks", {}) or {}
        counts["event hooks"] = sum(len(v) for v in callbacks.values())
        return counts

    # ------------------------------------------------------------------ the hook

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        with contextlib.suppress(Exception):  # an audit hook must never break the student's code
            self._on(event, args)

    def _on(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = (args + (None, None, None))[:3]
            writes = (isinstance(mode, str) and bool(WRITE_MODES & set(mode))) or (
                isinstance(flags, int) and bool(flags & WRITE_FLAGS)
            )
            where = self._outside(path, self.writable if writes else self.readable)
            if where:
                self.flag("files", f"{'wrote' if writes else 'opened'} {where} (outside its work folder)")
        elif event in CHANGES or event in LISTINGS:
            where = self._outside(args[0] if args else None, self.writable if event in CHANGES else self.readable)
            if where:
                self.flag("files", f"{event} on {where} (outside its work folder)")
        elif event == "socket.connect" or event == "socket.bind":
            address = args[1] if len(args) > 1 else None
            host = address[0] if isinstance(address, tuple) and address else address
            if host not in LOCAL_HOSTS:
                self.flag("network", f"{event.split('.')[1]} to {address!r}")
        elif event == "socket.getaddrinfo":
            if args and args[0] not in LOCAL_HOSTS:
                self.flag("network", f"looked up the host {args[0]!r}")
        elif event == "urllib.Request":
            self.flag("network", f"requested {str(args[0])[:120]}")
        elif event == "sys.addaudithook":
            self.flag("patched", "added its own audit hook")
        elif event == "ctypes.dlopen" and args and args[0]:  # (dlsym on Python's own handle is IPython's)
            self.flag("native", f"loaded the native library {str(args[0])[:80]} with ctypes")
        elif event == "exec":
            self._integrity()

    def environ_read(self, key: Any) -> None:
        if isinstance(key, str) and SECRET.search(key):
            self.flag("secrets", f"read the environment variable {key}")


def install(log: Path) -> Watcher:
    """Start watching: an audit hook (it cannot be removed) and a recording ``os.environ``."""
    watcher = Watcher(log)
    base = type(os.environ)

    class _Recording(base):  # type: ignore[misc,valid-type]
        def __getitem__(self, key: Any) -> Any:
            watcher.environ_read(key)
            return super().__getitem__(key)

    os.environ.__class__ = _Recording
    sys.addaudithook(watcher)
    return watcher


def read_log(work: Path) -> list[str] | None:
    """The flags a kernel's log holds, in plain words; None when the log is gone (removed by the notebook)."""
    path = work / LOG_NAME
    if path.is_symlink() or not path.is_file():
        return None
    flags = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f.read(200_000).splitlines()[:MAX_LINES]:
            try:
                row = json.loads(line)
                flags.append(f"{row['what']}".replace("\n", " ")[:200])
            except (ValueError, KeyError, TypeError):
                flags.append("its run-time log holds a damaged line (tampering?)")
    return list(dict.fromkeys(flags))
