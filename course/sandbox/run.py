"""Run one rebuilt notebook under nbval in a subprocess, in a fresh private folder, and read back signed results.

Layout of the private folder (``mkdtemp``, one per submission, removed afterwards):

    plugin/_course_nbval_plugin.py   pytest plugin (on pytest's PYTHONPATH, which it removes before the kernel starts)
    lib/toolkit/, lib/kernel_launcher.py, lib/kernel_audit.py   what the kernel may import (no ``course``)
    jupyter/kernels/course-grader/   the kernelspec nbval is told to use
    runtime/                         Jupyter connection files
    work/submission.ipynb            the kernel's working folder and HOME; the notebook is deleted once collected
    work/.course-audit.jsonl         what the kernel did at run time, for the review flags
    (course/kernel_side/kernel_audit.py)
    results.jsonl, log.txt           written by pytest, read by the grader
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from course.grading.files import copy_regular_files
from course.kernel_side import kernel_audit, nbval_plugin
from course.kernel_side.kernel_zygote import remove_tree
from course.sandbox import bwrap, cpu_time, disk_quota, forkserver, pids
from course.sandbox import records as boundary
from course.sandbox.environment import PASS_ENV, as_user, kernel_env, private_lib, readonly_views
from course.sandbox.limits import Limits, user_ids

OVERLOAD_FACTOR = 2.0  # a one-minute load average over this many times the cores: overloaded
STARVED_SHARE = 0.5  # a kernel that got less than this share of the CPU time it was ready to use: overloaded
EXPORT_PLACEHOLDER = "@COURSE_EXPORT_DIR@"  # course.verification.trusted.PLACEHOLDER
KERNEL_NAME = "course-grader"
MAX_EXPORT = 50 * 2**20  # bytes of exported objects kept for the trusted verification


@dataclass
class RunOutcome:
    """What came back from one run: verified records only, plus timings and the end of pytest's log."""

    records: list[dict[str, Any]] = field(default_factory=list)
    rejected_lines: int = 0
    timed_out: bool = False
    kernel_ready_s: float | None = None
    wall_s: float = 0.0
    returncode: int | None = None
    log_tail: str = ""
    work_dir: Path | None = None
    process_limit: str = "none"  # "cgroup pids.max=N", "RLIMIT_NPROC=N" or "none"
    processes_refused: int = 0  # forks or threads the process limit refused (cgroup only)
    processes_peak: int | None = None
    processes_killed: int = 0  # processes still alive when the run ended, killed by the grader
    runtime_flags: list[str] = field(default_factory=list)  # what the audit log saw (kernel_side/kernel_audit.py)
    slot_root: str | None = None  # the fork server's slot the kernel ran in (course/sandbox/forkserver.py), if any
    disk_used_mb: int | None = None  # set when the run was stopped for writing more than its disk quota
    export_skipped: list[str] = field(default_factory=list)  # entries of export/ that are not regular files
    export_problem: str | None = None  # why export/ was not kept (too large)
    cpu_s: float = 0.0  # CPU seconds the kernel and every process it started used (course/sandbox/cpu_time.py)
    cell_cpu_s: dict[int, float] = field(default_factory=dict)  # cell index -> CPU seconds that cell used
    stopped_by: str | None = None  # with timed_out: "cpu" (notebook CPU limit) or "wall" (its wall-clock backstop)
    load_peak: float = 0.0  # the machine's highest one-minute load average seen during the run
    cores: int = 1  # CPU cores the grader may use
    cpu_share: float | None = None  # of the CPU time the kernel was ready to use, the share it got

    @property
    def finished(self) -> bool:
        return any(r["kind"] == "finished" for r in self.records)

    def overload(self) -> str | None:
        """How the machine was overloaded during this run (a load average over twice the number of cores: more than
        the grader's own kernels, one per core; or a kernel that got well under the CPU time it was ready to use), or
        None."""
        busy = self.load_peak > OVERLOAD_FACTOR * self.cores
        starved = self.cpu_share is not None and self.cpu_share < STARVED_SHARE
        if not (busy or starved):
            return None
        share = f"; the kernel got {self.cpu_share:.0%} of the CPU time it asked for" if self.cpu_share else ""
        return f"load {self.load_peak:.1f} on {self.cores} cores{share}"

    def cells(self) -> list[dict[str, Any]]:
        """The cell records; a cell that ran has ``cpu_s``, the CPU seconds it used (measured by the grader)."""
        return [r for r in self.records if r["kind"] == "cell"]


SOCKET_PATH_MAX = 107  # bytes in a Unix socket's path on Linux
SOCKET_SUFFIX = "/course-slot-xxxxxxxx/runtime/kernel-65535"  # the longest socket path the grader makes


def preflight(limits: Limits) -> None:
    """Make sure the sandbox works and ``limits.user`` can start the kernel's Python; raise a fix-it message if not."""
    scratch = tempfile.gettempdir()
    if len(os.fsencode(scratch + SOCKET_SUFFIX)) > SOCKET_PATH_MAX:
        raise ValueError(
            f"the temporary folder {scratch} is too long a path ({len(scratch)} characters) for the kernels' sockets, "
            f"which must fit in {SOCKET_PATH_MAX} bytes; set TMPDIR to a shorter folder, e.g. TMPDIR=/tmp"
        )
    if limits.sandbox:
        bwrap.probe()
    if not limits.user:
        return
    uid, gid = user_ids(limits.user)
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import ipykernel, numpy"],
            user=uid, group=gid, extra_groups=[], cwd="/", env={"PATH": os.environ.get("PATH", "")},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        failed, last = probe.returncode != 0, (probe.stderr.strip().splitlines() or ["no message"])[-1]
    except OSError as err:
        failed, last = True, str(err)
    if failed:
        raise ValueError(
            f"user {limits.user!r} cannot start {sys.executable} and import ipykernel ({last}). Make the Python "
            "installation and the course's virtual environment readable by that user, or run the grader in a "
            "container (course/GUIDE.md, section 6)."
        )


def _user_tasks(uid: int) -> int:
    """Tasks (processes and threads) that ``uid`` runs now: RLIMIT_NPROC counts them all, per user."""
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                count += int(fields["Threads"])
    return count


def _process_limit(limits: Limits, group: pids.PidsGroup | None) -> tuple[str, int | None]:
    """How the kernel's tasks are limited (for RunOutcome) and the RLIMIT_NPROC it sets when there is no cgroup."""
    if group is not None:
        return f"cgroup pids.max={group.max_tasks}", None
    if os.geteuid() != 0 or limits.user:  # RLIMIT_NPROC counts every task of the user, and never binds root
        uid = user_ids(limits.user)[0] if limits.user else os.geteuid()
        nproc = _user_tasks(uid) + limits.max_processes
        return f"RLIMIT_NPROC={nproc}", nproc
    return "none", None


def _launcher_argv(
    root: Path, limits: Limits, group: pids.PidsGroup | None, nproc: int | None, cpu_s: int
) -> list[str]:
    """The kernelspec's command line for a kernel in a sandbox of its own (or none): kernel_launcher.py."""
    lib, work, runtime = root / "lib", root / "work", root / "runtime"
    argv = [sys.executable, str(lib / "kernel_launcher.py")]
    prefix: list[str] = []
    if limits.user:
        uid, gid = user_ids(limits.user)
        os.chown(work, uid, gid)
        os.chmod(root, 0o711)
        if limits.sandbox:  # become the user first, then let bwrap build the sandbox as that user
            os.chown(runtime, uid, gid)
            # jupyter_client writes the connection file as root, mode 0600: the launcher hands a copy to the
            # user (still root, outside the sandbox), then becomes the user and starts bwrap
            prefix = [sys.executable, str(lib / "kernel_launcher.py"), "--handover", f"{uid}:{gid}", "--"]
            prefix += as_user(uid, gid)
        else:
            argv += ["--drop", f"{uid}:{gid}"]
    if limits.sandbox:
        prefix += bwrap.command(root, work, runtime, readonly_views(lib, limits), tmp_mb=limits.tmp_mb)
    argv = [*prefix, *argv, "--memory-mb", str(limits.kernel_memory_mb), "--cpu-s", str(cpu_s)]
    argv += ["--file-mb", str(limits.disk_mb)]
    if group is not None:  # the kernel joins its cgroup first, so everything it starts counts (course/sandbox/pids.py)
        argv = [*group.join_prefix(), *argv]
    if nproc is not None:
        argv += ["--nproc", str(nproc)]
    if limits.preload:
        argv += ["--preload", limits.preload]
    return [*argv, "--audit", str(work / kernel_audit.LOG_NAME)]


def _prepare(
    root: Path, nb: Any, limits: Limits, group: pids.PidsGroup | None = None, slot: forkserver.Slot | None = None
) -> tuple[Path, dict[str, str], str]:
    """Lay out the private folder; return the notebook path and the environment for pytest and the kernel.

    With a fork server's ``slot`` the kernel's work and runtime folders are the slot's, and the kernelspec runs
    the server's client (course/kernel_side/kernel_zygote.py) instead of a sandbox of its own.
    """
    (root / "plugin").mkdir()
    shutil.copyfile(nbval_plugin.__file__, root / "plugin" / "_course_nbval_plugin.py")
    cpu_s = int(limits.timeout * 2) + 60
    if slot is not None:
        work, runtime = slot.work, slot.runtime
        process_limit, nproc = _process_limit(limits, slot.group)
        argv = slot.client_argv(work / kernel_audit.LOG_NAME, cpu_s, nproc)
    else:
        private_lib(root / "lib", "kernel_launcher.py", "kernel_audit.py")
        work, runtime = root / "work", root / "runtime"
        work.mkdir()
        runtime.mkdir(mode=0o700)
        process_limit, nproc = _process_limit(limits, group)
        argv = _launcher_argv(root, limits, group, nproc, cpu_s)
    spec_dir = root / "jupyter" / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [*argv, "-f", "{connection_file}"],
        "display_name": "course grader",
        "language": "python",
        "interrupt_mode": "message",  # a signal to bwrap would not reach the kernel inside it
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    (root / "pytest.ini").write_text("[pytest]\n")
    path = work / "submission.ipynb"
    for cell in nb.cells:  # export cells (course/verification/trusted.py) write into the kernel's own work folder
        if cell.get("metadata", {}).get("grader", {}).get("export"):
            cell.source = cell.source.replace(EXPORT_PLACEHOLDER, str(work / "export"))
    nbformat.write(nb, str(path))
    if limits.user:
        os.chown(path, *user_ids(limits.user))
    env = kernel_env(work, runtime, limits, root)
    if nb.metadata.get("lang"):
        env["KERAS_COURSE_LANG"] = nb.metadata["lang"]  # checked by rebuild(): one of toolkit.i18n.LANGUAGES
    return path, env, process_limit


WATCH_SECONDS = 0.5  # how often the CPU seconds and the disk a run uses are measured
STOP_GRACE_S = 15.0  # a cell still running this long after it was told to stop (it ignores interrupts): killed


class _Tail:
    """The signed records the plugin appended since the last read (complete lines only; forged ones skipped)."""

    def __init__(self, path: Path, secret: str) -> None:
        self.path, self.secret, self.offset = path, secret, 0

    def new(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        records = []
        for line in complete.decode("utf-8", errors="replace").splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                record = json.loads(line)["record"]
                if secrets.compare_digest(nbval_plugin.sign(self.secret, record), line):
                    records.append(record)
        return records


@dataclass
class _Watch:
    """Which cell runs now (the plugin's ``start`` records) and what each cell used, from the meter's samples."""

    meter: cpu_time.Meter
    starts: dict[int, float] = field(default_factory=dict)  # cell index -> when it started
    ends: dict[int, float] = field(default_factory=dict)
    current: int | None = None
    stop_sent: float | None = None  # when the grader asked the plugin to stop the current cell

    def read(self, records: list[dict[str, Any]]) -> None:
        for r in records:
            if r["kind"] == "start" and isinstance(r.get("index"), int) and isinstance(r.get("t"), int | float):
                self.current, self.stop_sent = r["index"], None
                self.starts[r["index"]] = float(r["t"])
            elif r["kind"] == "cell" and r.get("when") == "call" and isinstance(r.get("t"), int | float):
                self.ends[r.get("index")] = float(r["t"])  # type: ignore[index]
                if r.get("index") == self.current:
                    self.current = None

    def running_cpu_s(self) -> float:
        return self.meter.between(self.starts[self.current], None) if self.current is not None else 0.0

    def per_cell(self) -> dict[int, float]:
        return {i: round(self.meter.between(t, self.ends.get(i)), 3) for i, t in self.starts.items()}


def _wait(
    proc: subprocess.Popen[bytes],
    limits: Limits,
    outcome: RunOutcome,
    watched: list[Path],
    slot: forkserver.Slot | None,
    tail: _Tail,
    watch: _Watch,
) -> int:
    """Wait for nbval's run to end, measuring the CPU seconds of the kernel's processes every half second: tell the
    plugin to stop a cell past ``limits.cell_cpu_s`` (and kill a kernel that ignores it); stop the run past
    ``limits.notebook_cpu_s``, past its wall-clock backstop, or once the submission has written more than
    ``limits.disk_mb`` to the grader's disk (course/sandbox/disk_quota.py), and say which in ``outcome``."""
    deadline = time.monotonic() + limits.notebook_wall_s
    quota = limits.disk_mb * 2**20
    while True:
        try:
            return proc.wait(timeout=max(0.0, min(WATCH_SECONDS, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        pids = slot.processes() if slot is not None else disk_quota.descendants(proc.pid)
        watch.meter.sample(now, pids)
        watch.read(tail.new())
        outcome.load_peak = max(outcome.load_peak, cpu_time.load())
        if watch.meter.used > limits.notebook_cpu_s or now >= deadline:
            outcome.timed_out, outcome.stopped_by = True, "cpu" if now < deadline else "wall"
            break
        if watch.current is not None and watch.stop_sent is None and watch.running_cpu_s() > limits.cell_cpu_s:
            watch.stop_sent = now
            with contextlib.suppress(OSError):  # nbval may have ended meanwhile
                assert proc.stdin is not None
                proc.stdin.write((json.dumps({"stop": watch.current}) + "\n").encode())
                proc.stdin.flush()
        elif watch.stop_sent is not None and now - watch.stop_sent > STOP_GRACE_S:
            for pid in pids:  # it ignored the interrupt and nbval's stop (it prints without end): the kernel goes
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            watch.stop_sent = now
        used = disk_quota.used_bytes(watched, pids, stop_at=quota)
        if used > quota:
            outcome.disk_used_mb = used // 2**20
            break
    os.killpg(proc.pid, signal.SIGKILL)
    if slot is not None:  # the kernel is in the slot's sandbox, not in nbval's process group
        slot.kill_leftovers()
    return proc.wait()


def _kill_kernel(records: list[dict[str, Any]], root: Path) -> None:
    """Kill the kernel's process group if it outlived nbval (it runs in its own session)."""
    for r in records:
        pid = r.get("pid") if r["kind"] == "kernel" else None
        if not pid:
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if str(root).encode() in cmdline:  # still our kernel, not a recycled pid
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)


def _read_results(path: Path, secret: str) -> tuple[list[dict[str, Any]], int]:
    """The records of ``path`` signed with ``secret`` and of the types course/sandbox/records.py lists, and how many
    lines were not (forged, damaged or malformed)."""
    records: list[dict[str, Any]] = []
    rejected = 0
    if not path.exists():
        return records, rejected
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            envelope = json.loads(line)
            record = envelope["record"]
            ok = secrets.compare_digest(nbval_plugin.sign(secret, record), line) and boundary.valid(record)
        except (ValueError, KeyError, TypeError):
            ok = False
        if ok:
            records.append(record)
        else:
            rejected += 1
    return records, rejected


def _tail(path: Path, size: int = 4000) -> str:
    if not path.exists():
        return ""
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - size))
        return f.read().decode("utf-8", errors="replace")


def run_notebook(nb: Any, limits: Limits, keep_export: Path | None = None) -> RunOutcome:
    """Execute ``nb`` (the rebuilt notebook) under nbval with ``limits``; never raises for student behaviour.

    ``keep_export``: a folder that receives, once every process of the run has ended, the regular files the kernel
    wrote into ``export/`` of its work folder (no links, at most MAX_EXPORT bytes: ``outcome.export_problem`` says
    why when they did not fit; entries that are not files are listed in ``outcome.export_skipped``). With the sandbox
    on and ``limits.fork_server``, the kernel is forked from a slot's server (course/sandbox/forkserver.py); a slot
    that fails is a grader error (RuntimeError), retried by the caller.
    """
    root = Path(tempfile.mkdtemp(prefix="course-grade-"))
    outcome = RunOutcome()
    slot = forkserver.SLOTS.take(limits) if limits.sandbox and limits.fork_server else None
    group = None if slot is not None else pids.PidsGroup.create(limits.max_processes)
    refused_before = slot.refused_tasks() if slot is not None else 0
    work = slot.work if slot is not None else root / "work"
    outcome.slot_root = str(slot.root) if slot is not None else None
    ended = False
    try:
        path, env, outcome.process_limit = _prepare(root, nb, limits, group, slot)
        secret = secrets.token_hex(32)
        results = root / "results.jsonl"
        results.touch(mode=0o600)
        cmd = [
            sys.executable, "-m", "pytest", "-p", "_course_nbval_plugin", "-p", "nbval.plugin",
            "-p", "no:cacheprovider",
            "--nbval-lax", "--nbval-kernel-name", KERNEL_NAME, f"--nbval-cell-timeout={limits.cell_wall_s:g}",
            "--nbval-kernel-startup-timeout=180", "-c", str(root / "pytest.ini"), "--rootdir", str(path.parent),
            "-q", "-s", "--tb=no", "-p", "no:warnings", str(path),
        ]  # fmt: skip
        reaper = slot.reaper() if slot is not None else None  # the slot's init: it reaps the kernel's orphans
        start = time.monotonic()
        with open(root / "log.txt", "wb") as log:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, cwd=path.parent, env=env,
                start_new_session=True,
            )  # fmt: skip
            assert proc.stdin is not None
            ipc = str((slot.runtime if slot is not None else root / "runtime") / "kernel") if limits.sandbox else None
            control = {"secret": secret, "results": str(results), "ipc": ipc}
            proc.stdin.write((json.dumps(control) + "\n").encode())
            proc.stdin.flush()  # stays open: the grader's stop requests follow (nbval_plugin.py)
            watched = [root, work, slot.runtime] if slot is not None else [root]
            watch = _Watch(cpu_time.Meter(extra=(reaper,) if reaper else ()))
            watch.meter.sample(start, [])
            try:
                outcome.returncode = _wait(proc, limits, outcome, watched, slot, _Tail(results, secret), watch)
            finally:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
        outcome.wall_s = time.monotonic() - start
        outcome.records, outcome.rejected_lines = _read_results(results, secret)
        watch.meter.sample(time.monotonic(), [])  # the slot's init has reaped the kernel by now, or soon
        watch.read(outcome.records)  # the cells that ended after the last sample
        outcome.cpu_s, outcome.cell_cpu_s = round(watch.meter.used, 3), watch.per_cell()
        outcome.cores, outcome.cpu_share = cpu_time.cores(), watch.meter.share
        for r in outcome.cells():
            if r["when"] == "call" and r.get("index") in outcome.cell_cpu_s:
                r["cpu_s"] = outcome.cell_cpu_s[r["index"]]
        _kill_kernel(outcome.records, slot.root if slot is not None else root)
        if slot is not None:  # every process of the submission ends before its files are read
            outcome.processes_killed, ended = slot.kill_leftovers(), True
            outcome.processes_refused = slot.refused_tasks() - refused_before
        if group is not None:
            outcome.processes_refused, outcome.processes_peak = group.refused(), group.peak()
            outcome.processes_killed = group.close()
            group = None
        ready = [r["ready_s"] for r in outcome.records if r["kind"] == "kernel"]
        outcome.kernel_ready_s = ready[0] if ready else None
        outcome.log_tail = _tail(root / "log.txt")
        logged = kernel_audit.read_log(work)
        if logged is None and ready:
            logged = ["its run-time log (course/kernel_side/kernel_audit.py) was removed by the notebook (tampering?)"]
        outcome.runtime_flags = logged or []
        if keep_export is not None:
            keep_export.mkdir(parents=True, exist_ok=True)
            try:
                copy_regular_files(work / "export", keep_export, MAX_EXPORT, skipped=outcome.export_skipped)
            except ValueError as err:  # more than MAX_EXPORT bytes: the verified checks fail, with this sentence
                outcome.export_problem = str(err)
    finally:
        if group is not None:
            group.close()
        if slot is not None:
            _give_back(slot, limits.keep_work, root, ended)
        if limits.keep_work:
            outcome.work_dir = root
        else:
            remove_tree(str(root))
    return outcome


def _give_back(slot: forkserver.Slot, keep_work: bool, root: Path, ended: bool) -> None:
    """Empty the slot for the next submission (a copy of its work folder stays in ``root`` with keep_work)."""
    if keep_work:
        with contextlib.suppress(OSError, RecursionError):  # a folder chain too deep to copy is left out
            shutil.copytree(slot.work, root / "work", symlinks=True)
    if not ended and slot.alive():
        slot.kill_leftovers()  # the run stopped early (an exception): its processes go first
    try:
        slot.reset()
    except forkserver.SlotFailure:
        forkserver.SLOTS.discard(slot)
    else:
        forkserver.SLOTS.give(slot)


def run_probes(definitions: list[str], probes: dict[str, str], seed: int, limits: Limits, target: Path) -> str | None:
    """Run a student's ``definitions`` and the instructor's ``probes`` in a fresh process, sandboxed like a kernel
    (course/kernel_side/probe_runner.py); copy its answers into ``target/<check id>/``. Returns None, or what went
    wrong."""
    root = Path(tempfile.mkdtemp(prefix="course-probe-"))
    group = pids.PidsGroup.create(limits.max_processes)
    try:
        lib = root / "lib"
        private_lib(lib, "probe_runner.py", "kernel_launcher.py")  # the runner takes its limits from the launcher
        work, runtime = root / "work", root / "runtime"
        work.mkdir()
        runtime.mkdir(mode=0o700)
        seconds = limits.cell_timeout * (len(probes) + 2)  # a TensorFlow start, then each probe
        argv = [sys.executable, str(lib / "probe_runner.py"), "--memory-mb", str(limits.kernel_memory_mb),
                "--cpu-s", str(int(seconds * 2)), "--file-mb", str(limits.disk_mb)]  # fmt: skip
        prefix: list[str] = []
        if limits.user:
            uid, gid = user_ids(limits.user)
            os.chown(work, uid, gid)
            os.chmod(root, 0o711)
            prefix = as_user(uid, gid)
        if limits.sandbox:
            prefix += bwrap.command(root, work, runtime, readonly_views(lib, limits), tmp_mb=limits.tmp_mb)
        if group is not None:
            prefix = [*group.join_prefix(), *prefix]
        threads = str(limits.threads)
        env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
        env.update(
            HOME=str(work), TMPDIR=str(work), MPLCONFIGDIR=str(work / ".matplotlib"), PYTHONDONTWRITEBYTECODE="1",
            PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow", TF_NUM_INTRAOP_THREADS=threads,
            TF_NUM_INTEROP_THREADS=threads, OMP_NUM_THREADS=threads, CUDA_VISIBLE_DEVICES="",
        )  # fmt: skip
        request = {"definitions": definitions, "probes": probes, "seed": seed, "out": str(work / "answers")}
        proc = subprocess.Popen(
            [*prefix, *argv], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=work,
            env=env, start_new_session=True,
        )  # fmt: skip
        try:
            _, err = proc.communicate((json.dumps(request) + "\n").encode(), timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return f"your classes ran for more than {seconds:g} seconds on the grader's probe inputs and were stopped"
        if group is not None:
            group.close()
            group = None
        with contextlib.suppress(ValueError):  # answers past 20 MB are left out: those checks fail
            copy_regular_files(work / "answers", target, 20 * 2**20)
        if proc.returncode != 0:
            last = (err.decode(errors="replace").strip().splitlines() or ["no message"])[-1]
            return f"the process running your classes on the grader's probe inputs failed ({last[:200]})"
        return None
    finally:
        if group is not None:
            group.close()
        remove_tree(str(root))
