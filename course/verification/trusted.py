"""Verification outside the student's process: the kernel only exports data, a trusted process checks it.

Before each check cell of a verified exercise the grader adds an *export cell* that saves the student objects the
check reads (names used by the check cell that no locked cell defines): a Keras model as ``.keras``, a NumPy array
as ``.npy``, anything else as JSON. After the run, a fresh Python process that runs **no student code** rebuilds
the instructor's context by running the exercise's locked cells (imports, data), loads the exported objects (Keras
models with ``safe_mode=True``: built-in layers only, no Lambda or custom code), then runs the instructor's check
cell with the grader's own ``toolkit.checks``. A check earns points only when this trusted run passes; the check
cell that ran in the kernel only gives the student their instant feedback.

The trusted process is a persistent worker (``python -m course.verification.trusted --serve``, shared by a few
grading threads, replaced when it dies or after ``max_jobs``): it imports TensorFlow and runs each exercise's locked
cells once, then reads one request line ``{"solution": ..., "export": ..., "plan": ...}``, answers a receipt ``{}``
and then one JSON line {check id: [passed, message, fraction]} (``fraction``: the share of the check's points its
cell awarded here, ``toolkit.checks.award``; ``"export": null`` only warms the worker up:
``WorkerPool.prewarm`` starts them as a
grading run begins). Where an exercise measures accuracy, the locked cells run with a data loader whose test split is
drawn, from a secret seed, among the real test images the notebook's own call does not return (``held_out_loaders``).

It runs no student code, but what it loads is hostile: it reads only the files the check's export cell writes
(``expected_files``; anything else is ignored and reported as a review flag), never lets an exported name replace
one the locked cells define, checks each file's header or zip directory before loading it
(course/verification/export_limits.py), and runs sandboxed (bubblewrap, no network, read-only views of its code,
the data, the solution and the job's copied files, one writable scratch folder) with an address-space and
file-size limit and a CPU budget per submission (:class:`VerifierLimits`). A submission past its budget fails its
verified checks only; no other submission waits more than ``WorkerPool.grace`` seconds for it.

Which checks are verified, and how, is the exercise's verification plan (course/verification/plan.py): every check,
unless the exercise declares it kernel-only. Checks of the student's own classes are probed
(course/verification/class_probes.py); a model of the student's own class is exported as its weights, which the
trusted process loads into the reference solution's class of that name; a tensor is exported as its place in a
model's graph; the exercise's verify cells rebuild, from the exported models, what the student would otherwise
report (an evaluation's scores) or an object whose identity an export loses (a shared layer).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from course.authoring.notebook_format import Exercise, course_meta, load_exercise
from course.grading.files import copy_regular_files
from course.sandbox import bwrap, cpu_time, disk_quota
from course.sandbox.environment import as_user, kernel_env, private_lib
from course.sandbox.limits import Limits, user_ids
from course.verification import class_probes, export_limits
from course.verification.check_names import exported_names, python_code
from course.verification.plan import VerificationPlan, make_plan


def verified_checks(exercise: Exercise, plan: VerificationPlan | None = None) -> list[str]:
    """The ids of ``exercise``'s checks whose points come from the trusted process: every check but those its
    plan (course/verification/plan.py) leaves to the kernel. Without a plan, every check not declared
    ``kernel_only`` in the solution notebook."""
    if plan is not None:
        return plan.verified
    return [c.id for c in exercise.checks if not c.kernel_only]


PLACEHOLDER = "@COURSE_EXPORT_DIR@"  # replaced by course.sandbox.run with the work folder
MAX_EXPORT = 50 * 2**20

EXPORT_CELL = """import json as _course_json, os as _course_os, shutil as _course_shutil
_course_dir = _course_os.path.join({dir!r}, {check!r})
_course_shutil.rmtree(_course_dir, ignore_errors=True)
_course_os.makedirs(_course_dir)
def _course_plain(value):  # NumPy numbers (np.prod(shape) is an np.int64) and arrays inside plain values
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(type(value).__name__)
def _course_own(value):  # a model or layer of a class defined in the notebook: the student's own
    return type(value).__module__ == "__main__"
def _course_json_of(value):
    try:
        return _course_json.loads(_course_json.dumps(value, default=_course_plain))
    except Exception:
        return None
_course_names = {names!r}
for _course_name in _course_names:
    _course_value = globals().get(_course_name)
    _course_path = _course_os.path.join(_course_dir, _course_name)
    try:
        if type(_course_value).__name__ == "KerasTensor":  # a tensor: where in which model it comes from
            _course_found = []
            import toolkit as _course_toolkit
            for _course_model in [globals().get(n) for n in _course_names]:
                if not (hasattr(_course_model, "layers") and hasattr(_course_model, "save")):
                    continue
                for _course_layer in _course_model.layers:
                    try:
                        _course_n = len(_course_toolkit.calls(_course_layer, _course_model))
                    except Exception:
                        continue
                    for _course_i in range(_course_n):
                        _course_out = _course_toolkit.output_at(_course_layer, _course_i, _course_model)
                        _course_outs = _course_out if isinstance(_course_out, list) else [_course_out]
                        for _course_j, _course_t in enumerate(_course_outs):
                            if _course_t is _course_value:
                                _course_found.append([_course_model.name, _course_layer.name, _course_i, _course_j])
            with open(_course_os.path.join(_course_dir, "__where__" + _course_name + ".json"), "w") as _course_f:
                _course_json.dump(_course_found[:1], _course_f)
        elif hasattr(_course_value, "weights") and hasattr(_course_value, "get_config") and _course_own(_course_value):
            import numpy as _course_np  # the student's own class: its weights by path, and how to rebuild it
            _course_np.savez(_course_os.path.join(_course_dir, "__weights__" + _course_name + ".npz"), **{{
                str(_course_w.path): _course_np.asarray(_course_w) for _course_w in _course_value.weights
            }})
            try:
                _course_build = _course_value.get_build_config()
            except Exception:
                _course_build = None
            try:
                _course_config = _course_json_of(_course_value.get_config())
            except Exception:
                _course_config = None
            with open(_course_os.path.join(_course_dir, "__class__" + _course_name + ".json"), "w") as _course_f:
                _course_json.dump({{
                    "class": type(_course_value).__name__, "config": _course_config,
                    "build": _course_json_of(_course_build), "name": getattr(_course_value, "name", None),
                }}, _course_f)
        elif hasattr(_course_value, "layers") and hasattr(_course_value, "save"):
            _course_value.save(_course_path + ".keras")
        elif type(_course_value).__module__ == "numpy" and getattr(_course_value, "ndim", 0) > 0:
            import numpy as _course_np
            _course_np.save(_course_path + ".npy", _course_value)
        elif _course_value is not None:
            _course_text = _course_json.dumps(_course_value, default=_course_plain)
            with open(_course_path + ".json", "w") as _course_f:
                _course_f.write(_course_text)
    except Exception:
        pass
"""


def expected_files(exercise: Exercise, check_id: str, check_source: str) -> dict[str, tuple[str, ...]]:
    """The files the trusted worker loads for a check, by the name they define: the suffixes each may have, in the
    order tried. Every other file of the check's export folder is ignored (and reported)."""
    files: dict[str, tuple[str, ...]] = {}
    for name in exported_names(exercise, check_id, check_source):
        files[name] = (".keras", ".npy", ".json")
        files[f"__weights__{name}"] = (".npz",)  # a model of the student's own class
        files[f"__class__{name}"] = (".json",)
        files[f"__where__{name}"] = (".json",)  # a tensor: its place in a model
    return files


def export_cell(exercise: Exercise, check_id: str, check_source: str) -> Any:
    """The cell the grader adds before a verified check cell: it saves the objects the check reads."""
    names = exported_names(exercise, check_id, check_source)
    source = EXPORT_CELL.format(dir=PLACEHOLDER, check=check_id, names=names)
    return nbformat.v4.new_code_cell(source, metadata={"grader": {"export": check_id}})


@dataclass(frozen=True)
class VerifierLimits:
    """How a trusted worker runs. It runs no student code, but it reads hostile files, so it is sandboxed like a
    kernel (bubblewrap: no network, read-only views, a scratch folder of its own; ``user`` if given) with hard
    rlimits (address space, file size) and a CPU budget per submission, measured from /proc and enforced from
    outside: past ``job_cpu_s`` CPU seconds (or the job's wall-clock limit) the worker is killed and replaced, and
    only that submission's verified checks fail."""

    sandbox: bool = True
    user: str | None = None
    memory_mb: int = 6144
    threads: int = 1
    job_cpu_s: float = 120.0
    file_mb: int = 1024  # the largest file the worker may write (Keras unpacks a model's assets into its scratch)

    @classmethod
    def of(cls, limits: Limits) -> VerifierLimits:
        """The worker's limits for a grading run with kernel ``limits``: a submission's verification may use twice
        a cell's time in CPU seconds (at least a minute)."""
        cpu = max(60.0, 2 * limits.cell_timeout)
        threads = max(limits.threads, os.cpu_count() or 1)  # all cores, as before: it runs between kernels
        return cls(limits.sandbox, limits.user, limits.memory_mb, threads, cpu)


class Verification(dict[str, tuple[bool, str]]):
    """Check id -> (passed, message) from the trusted worker, plus ``flags`` for the reviewer (files of the export
    folder that were ignored), ``problem``: one sentence for the student when the verification itself was
    stopped (too slow, too much memory), and ``fractions``: check id -> the share of its points a passed check's
    cell awarded in the trusted process (``toolkit.checks.award``; absent: all of them). The message of a check
    that earned part of its points is the award's reason."""

    def __init__(
        self, results: dict[str, tuple[bool, str]] | None = None, flags: list[str] | None = None,
        problem: str | None = None, fractions: dict[str, float] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(results or {})
        self.flags = list(flags or [])
        self.problem = problem
        self.fractions = dict(fractions or {})

    def fraction(self, check: str) -> float:
        """The share of ``check``'s points verified here: 0 when it failed, else what its cell awarded."""
        return self.fractions.get(check, 1.0) if self.get(check, (False, ""))[0] else 0.0


def _failed(exercise: Exercise, message: str, plan: VerificationPlan | None = None, **kwargs: Any) -> Verification:
    """Every verified check failed with ``message``."""
    return Verification({c: (False, message) for c in verified_checks(exercise, plan)}, **kwargs)


def verify(
    exercise: Exercise, export: Path, timeout: float = 300.0, probes: tuple[Path, int] | None = None,
    limits: Limits | None = None, plan: VerificationPlan | None = None, lang: str = "en",
) -> Verification:  # fmt: skip
    """Check what the kernel exported (``export``: ``<check id>/<name>.keras|.npy|.json|...``) in a trusted worker;
    check id -> (passed, message).

    ``plan``: how each check is verified (course/verification/plan.py; without one, every check not declared
    kernel-only is run again on its exported objects). ``probes``: the folder holding the answers of the student's
    classes to the probes (course/verification/class_probes.py) and the seed they were run with; the worker runs the
    reference with the same seed and compares. ``limits``: the grading run's kernel limits (the worker's follow from
    them, :meth:`VerifierLimits.of`); ``timeout``: the wall-clock seconds this submission's verification may take.
    ``lang``: the submission's language, which the checks' messages are written in (``toolkit.i18n``).
    Raises RuntimeError when the trusted process itself fails (a grader error, retried).
    """
    setup = VerifierLimits.of(limits) if limits is not None else None
    return POOL.verify_folder(exercise, export, timeout, probes, setup, plan, lang)


GRADER_ERROR = "__grader_error__"  # the key of a worker's reply when the reference itself failed
REVIEW = "__review__"  # the key of a worker's reply holding the review flags
STARTUP_S = 300.0  # wall-clock seconds a worker may take to import TensorFlow and run an exercise's locked cells
MAX_PROBE_ANSWERS = 20 * 2**20


class ReferenceFailure(RuntimeError):
    """The instructor's reference failed in the trusted worker: a grader error, and the worker is fine."""


class _Stale(RuntimeError):
    """The worker had died before the job reached it: another worker takes the job."""


class _Stopped(RuntimeError):
    """The worker was stopped, or died, while it checked one submission: that submission's verification fails."""


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system, all threads) the processes ``pids`` used so far (course/sandbox/cpu_time.py)."""
    return cpu_time.cpu_seconds(pids)


def _data_folders() -> list[Path]:
    """The data folder and the data cache, in full: the worker draws its held-out test images from them (a kernel
    sees less, course/sandbox/run.py)."""
    data = [Path(os.environ[k]).expanduser() for k in ("KERAS_COURSE_DATA",) if os.environ.get(k)]
    cache = Path(os.environ.get("KERAS_COURSE_CACHE") or Path("~/.cache/keras-course").expanduser())
    return [*data, *([cache] if cache.exists() else [])]


def _share(folder: Path) -> None:
    """Make ``folder``'s tree readable by the worker's user (folders 755, files 644), whatever the umask."""
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


class _Worker:
    """One ``python -m course.verification.trusted --serve`` process in its own sandbox and private folder (``root``):

    ``lib/`` the toolkit and the ``course`` package's modules (read-only; no solutions), ``jobs/`` the solution
    notebooks and each job's copied files (read-only inside), ``scratch/`` its HOME and TMPDIR (the only folder it
    may write), ``log.txt`` its stderr. It imports TensorFlow once and builds each exercise's context once.
    """

    def __init__(self, setup: VerifierLimits, max_jobs: int) -> None:
        self.setup = setup
        self.jobs = 0
        self.ready: set[str] = set()  # solutions whose locked cells ran in it
        self.pending: list[str] = []  # warm-up requests whose replies were not read yet
        self.busy_since: float | None = None  # when its current submission's job started (None: idle or warming)
        self._buffer = b""
        self.root = Path(tempfile.mkdtemp(prefix="course-trusted-"))
        try:
            self.proc = self._start(max_jobs)
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    def _start(self, max_jobs: int) -> subprocess.Popen[bytes]:
        lib, jobs, scratch, runtime = (self.root / n for n in ("lib", "jobs", "scratch", "runtime"))
        private_lib(lib)
        package = Path(__file__).resolve().parents[1]  # the code and its data: the solutions travel one by one
        shutil.copytree(package, lib / "course", ignore=shutil.ignore_patterns("solutions", "__pycache__", "*.pyc"))
        for folder in (jobs, scratch, runtime):
            folder.mkdir()
        _share(self.root)
        os.chmod(scratch, 0o700)
        os.chmod(runtime, 0o700)
        limits = Limits(threads=self.setup.threads, memory_mb=self.setup.memory_mb)
        env = {**kernel_env(scratch, runtime, limits), "PYTHONPATH": str(lib), "CUDA_VISIBLE_DEVICES": ""}
        cpu = int(STARTUP_S + (max_jobs + 1) * self.setup.job_cpu_s)  # a backstop: each job is watched below
        argv = [sys.executable, "-m", "course.verification.trusted", "--serve",
                "--memory-mb", str(self.setup.memory_mb),
                "--cpu-s", str(cpu), "--file-mb", str(self.setup.file_mb)]  # fmt: skip
        prefix: list[str] = []
        if self.setup.user:
            uid, gid = user_ids(self.setup.user)
            for folder in (scratch, runtime):
                os.chown(folder, uid, gid)
            prefix = as_user(uid, gid)
        if self.setup.sandbox:
            prefix += bwrap.command(self.root, scratch, runtime, [lib, *_data_folders(), jobs])
        self.log = open(self.root / "log.txt", "ab")  # noqa: SIM115  (open as long as the worker runs)
        return subprocess.Popen(
            [*prefix, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, env=env,
            cwd=scratch, start_new_session=True,
        )  # fmt: skip

    def warm(self, solution: Path) -> None:
        """Ask the worker to run ``solution``'s locked cells now (its reply is read before its next job)."""
        self._send({"solution": self._given(solution), "export": None})
        self.pending.append(str(solution))

    def _given(self, solution: Path) -> str:
        """The solution notebook's path inside the sandbox (a copy in ``jobs/solutions/<digest>/``)."""
        data = Path(solution).read_bytes()
        folder = self.root / "jobs" / "solutions" / hashlib.sha256(data).hexdigest()[:16]
        if not folder.is_dir():
            folder.mkdir(parents=True)
            (folder / Path(solution).name).write_bytes(data)
            _share(self.root / "jobs" / "solutions")
        return str(folder / Path(solution).name)

    def _send(self, request: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        if not self.alive():
            raise _Stale("the trusted verifier is not running")
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except OSError as err:
            self.close()
            raise _Stale(f"the trusted verifier is not running: {err}") from None

    def _line(self, wall_s: float, cpu_s: float | None, ended: type[RuntimeError] = _Stopped) -> dict[str, Any]:
        """The next line; _Stopped past ``wall_s`` seconds or ``cpu_s`` CPU seconds (the worker is killed), or
        ``ended`` when the worker ends without one."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        start = time.monotonic()
        used_before = _cpu_s([self.proc.pid, *disk_quota.descendants(self.proc.pid)]) if cpu_s is not None else 0.0
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], 0.25)
            chunk = os.read(fd, 1 << 16) if ready else None
            if chunk == b"":
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(5)  # the sandbox ends just after the worker in it
                why, outside = self._ended(), self.setup.sandbox and (self.proc.returncode or 0) < 0
                self.close()
                # the sandbox killed by a signal: that came from outside it (nothing in a job can), not the job's fault
                raise (_Stale if outside else ended)(f"the trusted verifier ended without a result ({why})")
            self._buffer += chunk or b""
            if time.monotonic() - start > wall_s:
                self.close()
                raise _Stopped(f"its verification ran for more than {wall_s:g} seconds and was stopped")
            used = _cpu_s([self.proc.pid, *disk_quota.descendants(self.proc.pid)]) if cpu_s is not None else 0.0
            used -= used_before
            if cpu_s is not None and used > cpu_s:
                self.close()
                raise _Stopped(f"its verification used more than {cpu_s:g} CPU seconds and was stopped")
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            reply: dict[str, Any] = json.loads(line)
        except ValueError:
            self.close()
            raise _Stopped("the trusted verifier answered something that is not a result") from None
        return reply

    def _ended(self) -> str:
        """Why the worker ended, from its exit status and the last line it wrote to stderr."""
        code = self.proc.poll()
        status = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        try:
            last = (self.root / "log.txt").read_bytes()[-2000:].decode(errors="replace").strip().splitlines()
        except OSError:
            last = []
        return status + (f"; {last[-1][:200]}" if last else "")

    def _warm_up(self, solution: Path) -> None:
        """Read pending warm-up replies and make sure ``solution``'s context is built: the grader's own cost, not a
        submission's (RuntimeError when it fails: a grader error)."""
        try:
            if str(solution) not in self.ready and str(solution) not in self.pending:
                self.warm(solution)
            while self.pending:
                self._line(STARTUP_S, None)  # its receipt
                reply = self._line(STARTUP_S, None)
                done = self.pending.pop(0)
                if GRADER_ERROR in reply:
                    raise RuntimeError(f"the trusted verifier could not start: {reply[GRADER_ERROR][1]}")
                self.ready.add(done)
        except _Stopped as err:
            raise RuntimeError(f"the trusted verifier could not start: {err}") from None

    def run(
        self, exercise: Exercise, folder: Path, wall_s: float, probes: tuple[Path, int] | None = None,
        plan: VerificationPlan | None = None, lang: str = "en",
    ) -> Verification:  # fmt: skip
        """Check the export folder ``folder`` (and the probe answers) of one submission, as ``plan`` says."""
        plan = plan or make_plan(exercise, None)
        self._warm_up(exercise.path)
        self.jobs += 1
        job = self.root / "jobs" / str(self.jobs)
        try:
            (job / "export").mkdir(parents=True)
            skipped: list[str] = []
            try:
                copy_regular_files(folder, job / "export", MAX_EXPORT, skipped=skipped)
            except ValueError as err:
                return _failed(exercise, str(err), plan)
            request: dict[str, Any] = {"solution": self._given(exercise.path), "export": str(job / "export"),
                                       "plan": plan.to_request(), "lang": lang}  # fmt: skip
            if probes is not None:
                (job / "probes").mkdir()
                with contextlib.suppress(ValueError):  # answers past the limit are left out: those checks fail
                    copy_regular_files(probes[0], job / "probes", MAX_PROBE_ANSWERS)
                request["probes"] = {"dir": str(job / "probes"), "seed": probes[1]}
            _share(job)
            os.truncate(self.root / "log.txt", 0)  # the log tells about this job only
            self._send(request)
            self.busy_since = time.monotonic()
            try:  # a worker that ends before its receipt never read the job (it died idle): _Stale, tried again
                self._line(wall_s, self.setup.job_cpu_s, ended=_Stale)
                reply = self._line(wall_s, self.setup.job_cpu_s)
            except _Stopped as err:
                return _failed(exercise, f"not verified: {err}", plan, problem=_stopped(err))
            finally:
                self.busy_since = None
        finally:
            shutil.rmtree(job, ignore_errors=True)
        if GRADER_ERROR in reply:
            raise ReferenceFailure(f"the trusted verifier failed: {reply[GRADER_ERROR][1]}")
        flags = [str(f) for f in reply.pop(REVIEW, [])]
        if skipped:
            flags.insert(0, f"export folder entries that are not files, ignored: {_listed(skipped)}")
        fractions = {k: _fraction(v) for k, v in reply.items() if len(v) > 2}
        return Verification({k: (bool(v[0]), str(v[1])) for k, v in reply.items()}, flags, fractions=fractions)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # the sandbox and everything in it
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.log):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        shutil.rmtree(self.root, ignore_errors=True)


def _fraction(answer: list[Any]) -> float:
    """The share of its points a check's reply awards: a number from 0 to 1, else 0 (a damaged reply earns
    nothing)."""
    value = answer[2]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        return 0.0
    return float(value)


def _stopped(err: Exception) -> str:
    return (
        f"The grader stopped checking your exported objects outside your notebook: {err}. Your verified checks get "
        "no points; make your models smaller or faster (the grader runs them on its own test data)."
    )


def _listed(names: list[str], most: int = 8) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


class WorkerPool:
    """Trusted workers shared by the grading threads, replaced when dead, worn or stopped.

    ``size`` workers are kept (None: as many as verifications ran at once). A check takes well under a second
    against several seconds of a kernel's run, so one worker serves a few grading threads: a thread waits for an
    idle one rather than paying for another TensorFlow start, but never behind a slow submission: when every
    worker has been busy with one submission for more than ``grace`` seconds, the thread starts a worker of its
    own. So no submission waits more than ``grace`` for another one's verification, and a slow one is stopped at
    its own budget (:class:`VerifierLimits`).
    """

    def __init__(self, max_jobs: int = 50, size: int | None = None, grace: float = 5.0) -> None:
        self.max_jobs = max_jobs
        self.size = size
        self.grace = grace
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._lock = threading.Condition()

    def verify_folder(
        self, exercise: Exercise, folder: Path, timeout: float = 300.0, probes: tuple[Path, int] | None = None,
        limits: VerifierLimits | None = None, plan: VerificationPlan | None = None, lang: str = "en",
    ) -> Verification:  # fmt: skip
        """Check an export folder (``<check id>/<name>.keras|.npy|.json``) with the instructor's check cells, and
        the answers of the student's classes to the probes (``probes``: their folder and seed). ``timeout``: the
        wall-clock seconds this submission's job may take once its worker is ready."""
        setup = limits or VerifierLimits()
        for attempt in (1, 2):  # a worker that died between jobs: one fresh try
            worker = self._take(setup)
            try:
                return worker.run(exercise, folder, timeout, probes, plan, lang)
            except _Stale:
                if attempt == 2:
                    raise RuntimeError("the trusted verifier stopped before it could check this submission") from None
            finally:
                self._give(worker)
        raise AssertionError("unreachable")

    def _give(self, worker: _Worker) -> None:
        with self._lock:
            same = [w for w in self._all if w.setup == worker.setup]
            keep = worker.alive() and worker.jobs < self.max_jobs and (self.size is None or len(same) <= self.size)
            if keep:
                self._idle.append(worker)
            elif worker in self._all:
                self._all.remove(worker)
            self._lock.notify_all()
        if not keep:
            worker.close()

    def prewarm(self, exercise: Exercise, threads: int, per_worker: int = 3, limits: Limits | None = None) -> None:
        """Size the pool for ``threads`` grading threads (one worker per ``per_worker`` of them) and start its
        workers now, each importing TensorFlow and running ``exercise``'s locked cells in the background: a grading
        run pays for that while its first kernels start, not after them."""
        setup = VerifierLimits.of(limits) if limits is not None else VerifierLimits()
        with self._lock:
            self.size = max(1, -(-threads // per_worker))
            missing = self.size - sum(w.alive() for w in self._idle if w.setup == setup)
            for _ in range(max(0, missing)):
                worker = _Worker(setup, self.max_jobs)
                worker.warm(exercise.path)
                self._all.append(worker)
                self._idle.append(worker)

    def _take(self, setup: VerifierLimits) -> _Worker:
        """An idle worker with these limits; else a new one when the pool is not full or every worker of it has
        been busy with one submission for more than ``grace`` seconds; else wait (briefly) for one."""
        with self._lock:
            while True:
                for worker in [w for w in self._idle if not w.alive()]:
                    self._idle.remove(worker)
                    self._all.remove(worker)
                    worker.close()
                idle = [w for w in self._idle if w.setup == setup]
                if idle:
                    self._idle.remove(idle[-1])
                    return idle[-1]
                busy = [w for w in self._all if w.setup == setup]
                now = time.monotonic()
                slow = all(w.busy_since is not None and now - w.busy_since > self.grace for w in busy)
                if self.size is None or len(busy) < self.size or slow:
                    worker = _Worker(setup, self.max_jobs)
                    self._all.append(worker)
                    return worker
                self._lock.wait(0.25)

    def pids(self) -> list[int]:
        with self._lock:
            return [w.proc.pid for w in self._all if w.alive()]

    def close(self) -> None:
        with self._lock:
            workers, self._all, self._idle = self._all, [], []
        for worker in workers:
            worker.close()


POOL = WorkerPool()
atexit.register(POOL.close)


class _Loaded:
    """What the worker loaded from one check's export folder: values by name, names refused (with why), and the
    files it ignored."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.refused: dict[str, str] = {}
        self.unexpected: list[str] = []


def _load(
    folder: Path, expected: dict[str, tuple[str, ...]], context: dict[str, Any], custom: dict[str, Any] | None = None
) -> _Loaded:
    """Load the files ``expected`` names (name -> suffixes) from ``folder``, each checked before it is loaded
    (course/verification/export_limits.py); never a name ``context`` (the locked cells) defines; every other file is
    reported.
    ``custom``: the reference solution's classes, which stand in for the student's own layers inside a model."""
    loaded = _Loaded()
    present = {p.name: p for p in folder.iterdir()} if folder.is_dir() and not folder.is_symlink() else {}
    used: set[str] = set()
    for name, suffixes in expected.items():
        found = next((name + s for s in suffixes if name + s in present), None)
        if found is None or name in context:  # an exported name never replaces the exercise's own
            continue
        used.add(found)
        path = present[found]
        if path.is_symlink() or not path.is_file():
            continue
        try:
            export_limits.check_file(path)
            loaded.values[name] = _load_file(path, custom)
        except export_limits.Refused as err:
            loaded.refused[name] = str(err)
        except Exception:  # noqa: BLE001, S112  (a file that does not load is an object the student did not hand in)
            continue
    loaded.unexpected = sorted(set(present) - used)
    return loaded


def _load_file(path: Path, custom: dict[str, Any] | None = None) -> Any:
    """One exported object: a model, an array (a 0-d array as the Python number it holds), a plain value, or the
    arrays of a ``.npz`` by name."""
    import numpy as np

    if path.suffix == ".keras":
        from tensorflow import keras

        return _load_model(keras, path, custom)
    if path.suffix == ".npy":
        array = np.load(path, allow_pickle=False)
        return array.item() if array.ndim == 0 else array  # np.prod(shape) exported by an older export cell
    if path.suffix == ".npz":  # a model of the student's own class: variable path -> array
        with np.load(path, allow_pickle=False) as arrays:
            return {key: arrays[key] for key in arrays.files}
    return json.loads(path.read_text())


def _load_model(keras: Any, path: Path, custom: dict[str, Any] | None = None) -> Any:
    """A model of built-in layers (and of the reference solution's classes, ``custom``, standing in for the
    student's own: their code never runs here), with its compile settings when those are built-in too."""
    classes = {k: v for k, v in (custom or {}).items() if isinstance(v, type)}
    try:
        return keras.models.load_model(path, safe_mode=True, compile=True, custom_objects=classes)
    except Exception:  # noqa: BLE001  (e.g. a custom loss: the architecture can still be checked)
        return keras.models.load_model(path, safe_mode=True, compile=False, custom_objects=classes)


def held_out_loaders(rng: Any) -> dict[str, Any]:
    """``load_mnist``/``load_cifar10`` look-alikes whose test split holds as many real test images as the notebook's
    own call returns, drawn by ``rng`` among the others (the training split is the notebook's)."""
    from toolkit import datasets

    def wrap(original: Any) -> Any:
        def load(limit: Any = None, seed: int = 0) -> Any:
            (x_train, y_train), (x_test, y_test) = original(limit=limit, seed=seed)
            if limit is None:  # the notebook sees the whole test split: nothing is held out
                return (x_train, y_train), (x_test, y_test)
            (_, _), (x_full, y_full) = original()
            seen = {image.tobytes() for image in x_test}
            unseen = [i for i, image in enumerate(x_full) if image.tobytes() not in seen]
            rows = rng.choice(unseen, size=len(x_test), replace=False)
            return (x_train, y_train), (x_full[rows], y_full[rows])

        return load

    return {name: wrap(getattr(datasets, name)) for name in ("load_mnist", "load_cifar10")}


def instructor_context(exercise: Exercise, seed: int | None = None) -> dict[str, Any]:
    """The exercise's locked cells run (imports, data) with held-out test images chosen by ``seed``.

    ``seed`` None draws a secret one: the student cannot know which test images the accuracy is measured on.
    """
    import numpy as np

    from toolkit import datasets

    rng = np.random.default_rng(secrets.randbits(64) if seed is None else seed)
    context: dict[str, Any] = {"__name__": "__trusted__"}
    originals = {name: getattr(datasets, name) for name in ("load_mnist", "load_cifar10")}
    try:
        for name, loader in held_out_loaders(rng).items():
            setattr(datasets, name, loader)
        for cell in exercise.notebook.cells:
            if cell.cell_type == "code" and course_meta(cell).get("locked"):
                exec(python_code(cell.source), context)  # noqa: S102  (the instructor's own locked cells)
    finally:
        for name, loader in originals.items():
            setattr(datasets, name, loader)
    return context


def _check(exercise: Exercise, context: dict[str, Any], export_dir: Path, exported: list[str]) -> dict[str, list[Any]]:
    """Run each check of ``exported`` on the objects its export folder holds, after its ``verify`` cells; check id
    -> [passed, message], plus REVIEW: flags naming the files of the export folder that no check reads (ignored)."""
    out: dict[str, list[Any]] = {}
    ignored: list[str] = []
    for entry in sorted(export_dir.iterdir()) if export_dir.is_dir() else []:
        if entry.name not in exported:  # a folder no check reads
            inside = sorted(p.name for p in entry.iterdir()) if entry.is_dir() and not entry.is_symlink() else []
            ignored += [f"{entry.name}/{n}" for n in inside] or [entry.name]
    classes = class_probes.reference_classes(exercise) if class_probes.solution_classes(exercise) else {}
    for check in exercise.checks:
        if check.id not in exported:  # probed checks: _compare_probes; kernel-only ones: not here
            continue
        loaded = _load(export_dir / check.id, expected_files(exercise, check.id, check.source), context, classes)
        ignored += [f"{check.id}/{n}" for n in loaded.unexpected]
        if loaded.refused:
            out[check.id] = [False, "; ".join(f"your {n!r} was not loaded: {why}" for n, why in loaded.refused.items())]
            continue
        try:
            values = _rebuilt(loaded.values, classes)
        except ValueError as err:
            out[check.id] = [False, str(err)]
            continue
        out[check.id] = _run_check(exercise, check, {**context, **values})
    if ignored:
        out[REVIEW] = [f"unexpected files in the export folder, ignored: {_listed(ignored)}"]
    return out


def _rebuilt(values: dict[str, Any], classes: dict[str, Any]) -> dict[str, Any]:
    """The exported values with the special exports turned back into objects: a model of the student's own class
    (``__class__X`` and ``__weights__X``) becomes the reference solution's class of that name holding the student's
    weights; a tensor (``__where__X``) becomes that tensor of the exported model's graph. ValueError: one sentence
    for the student when that cannot be done."""
    import toolkit

    out = {k: v for k, v in values.items() if not k.startswith(("__weights__", "__class__", "__where__"))}
    for key, about in values.items():
        if not key.startswith("__class__"):
            continue
        name = key[len("__class__") :]
        out[name] = _reference_instance(name, about, values.get(f"__weights__{name}") or {}, classes)
    for key, place in values.items():
        if not key.startswith("__where__"):
            continue
        name = key[len("__where__") :]
        if not (isinstance(place, list) and len(place) == 1 and isinstance(place[0], list) and len(place[0]) == 4):
            raise ValueError(f"{name!r} is not the output of a layer call inside a model this check reads: take it "
                             "from the model's graph (toolkit.output_at(layer, node_index, model))")  # fmt: skip
        model_name, layer, call, index = place[0]
        model = next((v for v in out.values() if getattr(v, "name", None) == model_name and hasattr(v, "layers")), None)
        if model is None:
            raise ValueError(f"{name!r} comes from the model {model_name!r}, which this check does not read")
        tensor = toolkit.output_at(model.get_layer(str(layer)), int(call), model)
        out[name] = tensor[int(index)] if isinstance(tensor, list) else tensor
    return out


def _reference_instance(name: str, about: Any, weights: dict[str, Any], classes: dict[str, Any]) -> Any:
    """The reference solution's class named in ``about`` (the student's object's class, config and build config),
    built and holding ``weights`` (variable path -> array) in place of its own."""
    import numpy as np

    about = about if isinstance(about, dict) else {}
    cls_name = str(about.get("class"))
    cls = classes.get(cls_name)
    if not isinstance(cls, type):
        raise ValueError(f"{name!r} is of your class {cls_name!r}, which the exercise's reference solution does not "
                         "define: use the class the exercise asks for")  # fmt: skip
    config = about.get("config") if isinstance(about.get("config"), dict) else {}
    try:
        obj = cls.from_config(config)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001  (arguments the reference does not take: its defaults, with the same name)
        obj = cls(name=about.get("name")) if isinstance(about.get("name"), str) else cls()
    build = about.get("build") if isinstance(about.get("build"), dict) else None
    shape = build.get("input_shape") if build is not None else None
    try:  # called once, as the student's was: its variables get the same paths
        if isinstance(shape, list) and all(isinstance(d, int) or d is None for d in shape):
            obj(np.zeros([1 if d is None else d for d in shape], "float32"))
        elif build is not None:
            obj.build_from_config(build)
    except Exception:  # noqa: BLE001, S110  (not built: its weights are reported missing below)
        pass

    def tail(path: str) -> str:
        return path.split("/", 1)[1] if "/" in path else path

    given = {tail(k): v for k, v in weights.items()}
    for variable in obj.weights:
        mine = given.get(tail(str(variable.path)))
        if mine is None or tuple(mine.shape) != tuple(variable.shape):
            shown = "missing" if mine is None else f"of shape {tuple(mine.shape)}"
            raise ValueError(
                f"the weights of your trained {name!r} do not fit the {cls_name} the exercise asks for: "
                f"{tail(str(variable.path))!r} should have the shape {tuple(variable.shape)} and is {shown}; keep "
                "the layers, their names and sizes as the exercise describes them"
            )
        variable.assign(mine)
    return obj


def _run_check(exercise: Exercise, check: Any, namespace: dict[str, Any]) -> list[Any]:
    """[passed, message, fraction] of the instructor's verify cells and check cell run in ``namespace``: the
    fraction of its points the check cell awarded here (``toolkit.checks.award``; 1 without an award), with the
    award's reason as the message when it is less than 1."""
    from toolkit import checks

    checks._reset_awards()  # the grader's own module: what a check before this one awarded does not count
    try:
        exec(exercise.verify_source(check.id), namespace)  # noqa: S102  (the instructor's own code)
        exec(check.source, namespace)  # noqa: S102  (the instructor's check cell, on exported data)
    except Exception as err:  # noqa: BLE001  (any failure of a check on the student's data is a failed check)
        message = str(err) if type(err).__name__ in ("CheckFailure", "AssertionError") else ""
        if isinstance(err, NameError):
            message = f"{err}: it was not there (or not a plain value or built-in-layer model) when checked"
        return [False, (message or f"{type(err).__name__}: {err}")[:2000], 0.0]
    fraction, why = checks.awarded()
    return [True, why[:2000] if fraction < 1 else "", fraction]


def _compare_probes(exercise: Exercise, folder: Path, seed: int, sources: dict[str, str]) -> dict[str, list[Any]]:
    """The reference's answers to the probes with ``seed``, compared with the student's in ``folder``."""
    out: dict[str, list[Any]] = {}
    for check, reference in class_probes.reference_answers(exercise, seed, sources).items():
        passed, message = class_probes.compare(reference, folder / check)  # RuntimeError: the reference failed
        out[check] = [passed, message]
    return out


def _limit_self(options: dict[str, str]) -> None:
    """Hard limits on this worker, set before it reads any request: address space (MemoryError past it), CPU
    seconds over its life (a backstop; each job is watched from outside), the size of any file it writes (OSError
    past it: Python ignores SIGXFSZ), no core files."""
    import resource

    if "--memory-mb" in options:
        size = int(options["--memory-mb"]) * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    if "--cpu-s" in options:
        seconds = int(options["--cpu-s"])
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 5))
    if "--file-mb" in options:
        size = int(options["--file-mb"]) * 2**20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _serve(args: list[str]) -> None:
    """Answer one JSON line per request line on stdin; everything the checks print goes to stderr."""
    _limit_self(dict(zip(args[::2], args[1::2])))
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # TensorFlow or a check writing to fd 1 cannot corrupt the replies
    contexts: dict[Path, tuple[Exercise, dict[str, Any]]] = {}
    for line in sys.stdin:
        replies.write("{}\n")  # the receipt, before any file is read: a worker that dies later died of this job
        replies.flush()
        request = json.loads(line)
        with contextlib.redirect_stdout(sys.stderr):
            result = _answer(request, contexts)
        replies.write(json.dumps(result) + "\n")
        replies.flush()


def _answer(request: dict[str, Any], contexts: dict[Path, tuple[Exercise, dict[str, Any]]]) -> dict[str, Any]:
    """The reply to one request: {} for a warm-up, else check id -> [passed, message] (REVIEW: flags)."""
    solution = Path(request["solution"])
    try:
        if solution not in contexts:
            exercise = load_exercise(solution)
            contexts[solution] = (exercise, instructor_context(exercise))
    except Exception as err:  # noqa: BLE001  (the instructor's own cells failed: a grader error, said so)
        return {GRADER_ERROR: [False, f"{type(err).__name__}: {err}"[:500]]}
    if request["export"] is None:  # a warm-up: the context is ready, nothing to check
        return {}
    plan = request.get("plan") or {}
    exercise, context = contexts[solution]
    exported = plan.get("exported", [c.id for c in exercise.checks])
    from toolkit import i18n

    # the checks' messages in the submission's language (a Chinese submission reads Chinese feedback)
    i18n.set_language(request.get("lang") if request.get("lang") in i18n.LANGUAGES else "en")
    result = _check(exercise, context, Path(request["export"]), exported)
    if request.get("probes"):
        try:
            result.update(_compare_probes(exercise, Path(request["probes"]["dir"]), int(request["probes"]["seed"]),
                                          plan.get("probes") or {}))  # fmt: skip
        except Exception as err:  # noqa: BLE001  (the reference failed: a grader error, said so)
            result = {GRADER_ERROR: [False, f"{type(err).__name__}: {err}"[:500]]}
    from tensorflow import keras

    keras.backend.clear_session()  # the loaded models go; the next job starts clean
    return result


if __name__ == "__main__":
    _serve(sys.argv[2:] if sys.argv[1:2] == ["--serve"] else sys.argv[1:])
