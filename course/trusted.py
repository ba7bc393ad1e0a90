"""Verification outside the student's process: the kernel only exports data, a trusted process checks it.

Before each check cell of a verified exercise the grader adds an *export cell* that saves the student objects the
check reads (names used by the check cell that no locked cell defines): a Keras model as ``.keras``, a NumPy array
as ``.npy``, anything else as JSON. After the run, a fresh Python process that runs **no student code** rebuilds
the instructor's context by running the exercise's locked cells (imports, data), loads the exported objects (Keras
models with ``safe_mode=True``: built-in layers only, no Lambda or custom code), then runs the instructor's check
cell with the grader's own ``toolkit.checks``. A check earns points only when this trusted run passes; the check
cell that ran in the kernel only gives the student their instant feedback.

The trusted process is a persistent worker (``python -m course.trusted --serve``, one per grading thread, replaced
when it dies or after ``max_jobs``): it imports TensorFlow and runs each exercise's locked cells once, then reads
one request line ``{"solution": ..., "export": ...}`` and answers one JSON line {check id: [passed, message]}
(``"export": null`` only warms the worker up: ``WorkerPool.prewarm`` starts them as a grading run begins).
Where an exercise measures accuracy, the locked cells run with a data loader whose test split is drawn, from a
secret seed, among the real test images the notebook's own call does not return (``held_out_loaders``).

Every check of an exercise in ``VERIFIED`` is verified this way, except any an instructor lists in ``KERNEL_TRUSTED``
with the reason (none now): their points would come from the in-kernel check. Checks of the student's own classes
are probed (course/class_probes.py); a trained model of the student's own class (``LAYER_WEIGHTS``) is exported as
its layers' weights, which the trusted process loads into the reference solution's class; a tensor whose identity
is checked (``IDENTITY``) is exported as its place in the model's graph. ``PRELUDE`` holds
instructor code the trusted process runs before a check cell to rebuild, from the exported models, a value the
student would otherwise report (ex03's evaluation scores) or an object whose identity export loses (ex04's shared
layers).
"""

from __future__ import annotations

import ast
import atexit
import builtins
import json
import os
import secrets
import select
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import nbformat

from course import class_probes
from course.files import copy_regular_files
from course.notebook_format import Exercise, course_meta, load_exercise

# The course's exercises: their checks are verified here (an instructor's own new exercise is not, until listed).
VERIFIED = {"ex01_sequential", "ex02_functional", "ex03_multi_io", "ex04_shared_layers", "ex05_subclassing",
            "ex06_resnet_cifar10"}  # fmt: skip
# Checks whose points still come from the student's kernel, per exercise, with why they cannot be checked outside.
KERNEL_TRUSTED: dict[str, dict[str, str]] = {}
# Checks of a trained model whose class is the student's own: its layers' weights are exported by layer name, and the
# trusted process loads them into the reference solution's class (whose architecture q1_mlp's probes compare).
LAYER_WEIGHTS: dict[tuple[str, str], list[str]] = {("ex05_subclassing", "q5_train"): ["regular"]}
# Checks of a tensor's identity: the kernel exports where in the model the tensor comes from (layer, call, output),
# and the trusted process takes that tensor from the exported model's own graph.
IDENTITY: dict[tuple[str, str], dict[str, str]] = {("ex04_shared_layers", "q2_nodes"): {"right_embedding": "siamese"}}
_EX04_NODES = """checks.check_true(
    len(__where__right_embedding) == 1,
    "right_embedding is the output of a layer call inside 'siamese'",
    hint="take it from the model's graph with toolkit.output_at(layer, node_index, siamese)",
)
_layer, _call, _output = __where__right_embedding[0]
right_embedding = toolkit.output_at(siamese.get_layer(str(_layer)), int(_call), siamese)
right_embedding = right_embedding[int(_output)] if isinstance(right_embedding, list) else right_embedding
"""
_EX05_TRAINED = """_weights = __weights__regular
checks.check_equal("class of 'regular'", __class__regular, "MLP", hint="train the MLP you wrote, not another model")
regular = MLP(dropout=True, name="regular")
regular(x_test[:1])
for _layer in regular.layers:
    _mine = [_weights.get(f"{_layer.name}/{i}") for i in range(len(_layer.weights))]
    checks.check_equal(
        f"weight shapes of the layer {_layer.name!r} of your trained 'regular'",
        [None if w is None else tuple(w.shape) for w in _mine],
        [tuple(w.shape) for w in _layer.weights],
        hint="keep the MLP's layers and their names (flatten, hidden, dropout, probs) when you train it",
    )
    _layer.set_weights(_mine)
"""
_EX03_SCORES = """test_targets = {"digit": y_test, "large": (y_test >= 5).astype("float32")}
scores = tuned.evaluate(test_inputs, test_targets, verbose=0, return_dict=True)
"""
_EX04_CONV = "conv = next(layer for layer in two_sizes.layers if isinstance(layer, keras.layers.Conv2D))\n"
# Instructor code run before a check cell in the trusted process (its names are exported like the check's own).
PRELUDE: dict[tuple[str, str], str] = {
    ("ex03_multi_io", "q5_metrics"): _EX03_SCORES,  # measured here, on held-out digits, not reported by the student
    ("ex03_multi_io", "q5_scores"): _EX03_SCORES,
    ("ex04_shared_layers", "q1_siamese"): 'encoder = siamese.get_layer("encoder")\n',  # the one inside, shared
    ("ex04_shared_layers", "q4_two_sizes"): _EX04_CONV,
    ("ex04_shared_layers", "q4_two_sizes_outputs"): _EX04_CONV,
    ("ex04_shared_layers", "q2_nodes"): _EX04_NODES,  # the tensor the student named, from the exported graph
    ("ex05_subclassing", "q5_train"): _EX05_TRAINED,  # the student's trained weights in the reference's MLP
}


def verified_checks(exercise: Exercise) -> list[str]:
    """The ids of ``exercise``'s checks whose points come from the trusted process (VERIFIED exercises' checks, all
    but KERNEL_TRUSTED's); none for an exercise outside VERIFIED."""
    if exercise.name not in VERIFIED:
        return []
    kept = KERNEL_TRUSTED.get(exercise.name, {})
    return [c.id for c in exercise.checks if c.id not in kept]


PLACEHOLDER = "@COURSE_EXPORT_DIR@"  # replaced by course.sandbox with the work folder
MAX_EXPORT = 50 * 2**20

EXPORT_CELL = """import json as _course_json, os as _course_os, shutil as _course_shutil
_course_dir = _course_os.path.join({dir!r}, {check!r})
_course_shutil.rmtree(_course_dir, ignore_errors=True)
_course_os.makedirs(_course_dir)
for _course_name in {names!r}:
    _course_value = globals().get(_course_name)
    try:
        if hasattr(_course_value, "layers") and hasattr(_course_value, "save"):
            _course_value.save(_course_os.path.join(_course_dir, _course_name + ".keras"))
        elif type(_course_value).__module__ == "numpy" and hasattr(_course_value, "shape"):
            import numpy as _course_np
            _course_np.save(_course_os.path.join(_course_dir, _course_name + ".npy"), _course_value)
        elif _course_value is not None:
            with open(_course_os.path.join(_course_dir, _course_name + ".json"), "w") as _course_f:
                _course_json.dump(_course_value, _course_f)
    except Exception:
        pass
for _course_name in {weights!r}:  # a trained model of the student's own class: its weights, layer by layer
    _course_value = globals().get(_course_name)
    try:
        import numpy as _course_np
        _course_np.savez(_course_os.path.join(_course_dir, "__weights__" + _course_name + ".npz"), **{{
            f"{{_course_layer.name}}/{{_course_i}}": _course_np.asarray(_course_w)
            for _course_layer in _course_value.layers for _course_i, _course_w in enumerate(_course_layer.get_weights())
        }})
        with open(_course_os.path.join(_course_dir, "__class__" + _course_name + ".json"), "w") as _course_f:
            _course_json.dump(type(_course_value).__name__, _course_f)
    except Exception:
        pass
for _course_name, _course_model in {where!r}.items():  # where in the model a tensor comes from: [layer, call, output]
    _course_found = []
    try:
        import toolkit as _course_toolkit
        _course_value, _course_model = globals().get(_course_name), globals().get(_course_model)
        for _course_layer in _course_model.layers:
            try:
                _course_n = len(_course_toolkit.calls(_course_layer, _course_model))
            except Exception:
                continue
            for _course_i in range(_course_n):
                _course_out = _course_toolkit.output_at(_course_layer, _course_i, _course_model)
                for _course_j, _course_t in enumerate(_course_out if isinstance(_course_out, list) else [_course_out]):
                    if _course_t is _course_value:
                        _course_found.append([_course_layer.name, _course_i, _course_j])
    except Exception:
        pass
    with open(_course_os.path.join(_course_dir, "__where__" + _course_name + ".json"), "w") as _course_f:
        _course_json.dump(_course_found[:1], _course_f)
"""


def _locked_names(exercise: Exercise) -> set[str]:
    names: set[str] = set(dir(builtins))
    for cell in exercise.notebook.cells:
        if cell.cell_type == "code" and course_meta(cell).get("locked"):
            for node in ast.walk(ast.parse(_python(cell.source))):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
                elif isinstance(node, ast.alias):
                    names.add((node.asname or node.name).split(".")[0])
    return names


def _stored(source: str) -> set[str]:
    """Names ``source`` assigns, defines or loops over."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def _python(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def student_names(exercise: Exercise, check_source: str) -> list[str]:
    """Names a check cell reads that the exercise's locked cells do not define: the student's objects."""
    known = _locked_names(exercise)
    used = [n.id for n in ast.walk(ast.parse(check_source)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
    return sorted({n for n in used if n not in known})


def export_cell(exercise: Exercise, check_id: str, check_source: str) -> Any:
    prelude = PRELUDE.get((exercise.name, check_id), "")
    names = student_names(exercise, prelude + check_source)
    made = _stored(prelude)  # the prelude makes these in the trusted process; "__where__..." and such are exported
    if (exercise.name, check_id) in LAYER_WEIGHTS:  # the weights go instead of the model
        made |= {n for d in class_probes.notebook_definitions(exercise.notebook) for n in _stored(d)}
    names = [n for n in names if n not in made and not n.startswith("_")]
    where = IDENTITY.get((exercise.name, check_id), {})
    weights = LAYER_WEIGHTS.get((exercise.name, check_id), [])
    source = EXPORT_CELL.format(dir=PLACEHOLDER, check=check_id, names=names, weights=weights, where=where)
    return nbformat.v4.new_code_cell(source, metadata={"grader": {"export": check_id}})


def verify(
    exercise: Exercise, work: Path, timeout: float = 300.0, probes: tuple[Path, int] | None = None
) -> dict[str, tuple[bool, str]]:
    """Check what the kernel exported into ``work`` in a trusted worker; check id -> (passed, message).

    ``probes``: the folder holding the answers of the student's classes to the probes (course/class_probes.py) and
    the seed they were run with; the worker runs the reference with the same seed and compares.
    Raises RuntimeError when the trusted process itself fails (a grader error, retried).
    """
    with tempfile.TemporaryDirectory(prefix="course-trusted-") as tmp:
        try:
            copy_regular_files(work / "export", Path(tmp), MAX_EXPORT)
        except ValueError as err:
            return {c: (False, str(err)) for c in verified_checks(exercise)}
        return POOL.verify_folder(exercise, Path(tmp), timeout, probes)


GRADER_ERROR = "__grader_error__"  # the key of a worker's reply when the reference itself failed


class ReferenceFailure(RuntimeError):
    """The instructor's reference failed in the trusted worker: a grader error, and the worker is fine."""


class _Worker:
    """One ``python -m course.trusted --serve`` process: imports TensorFlow once, then checks one folder per line."""

    def __init__(self, warm: Path | None = None) -> None:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "course.trusted", "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, env=env, cwd=tempfile.gettempdir(),
        )  # fmt: skip
        self.jobs = 0
        self.pending = 0  # replies to warm-up requests not read yet
        if warm is not None:  # import TensorFlow and run the locked cells now, while the first kernels start
            self._send({"solution": str(Path(warm).resolve()), "export": None})
            self.pending += 1

    def _send(self, request: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except OSError as err:
            raise RuntimeError(f"the trusted verifier is not running: {err}") from None

    def _reply(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("{"):
            self.close()
            raise RuntimeError("the trusted verifier " + ("timed out" if not ready else "ended without a result"))
        reply: dict[str, Any] = json.loads(line)
        return reply

    def run(
        self, solution: Path, export_dir: Path, timeout: float, probes: tuple[Path, int] | None = None
    ) -> dict[str, tuple[bool, str]]:
        self.jobs += 1
        request: dict[str, Any] = {"solution": str(Path(solution).resolve()), "export": str(export_dir)}
        if probes is not None:
            request["probes"] = {"dir": str(probes[0]), "seed": probes[1]}
        self._send(request)
        while self.pending:  # the warm-up's answer comes first
            self._reply(timeout)
            self.pending -= 1
        reply = self._reply(timeout)
        if GRADER_ERROR in reply:
            raise ReferenceFailure(f"the trusted verifier failed: {reply[GRADER_ERROR][1]}")
        return {k: (bool(v[0]), str(v[1])) for k, v in reply.items()}

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait()


class WorkerPool:
    """Trusted workers shared by the grading threads, replaced when dead or worn.

    At most ``size`` run at once (None: one per verification running at once). A check takes well under a second
    against several seconds of a kernel's run, so one worker serves a few grading threads; a thread waits for an
    idle one rather than paying for another TensorFlow start.
    """

    def __init__(self, max_jobs: int = 50, size: int | None = None) -> None:
        self.max_jobs = max_jobs
        self.size = size
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._lock = threading.Condition()

    def verify_folder(
        self, exercise: Exercise, folder: Path, timeout: float = 300.0, probes: tuple[Path, int] | None = None
    ) -> dict[str, tuple[bool, str]]:
        """Check an export folder (``<check id>/<name>.keras|.npy|.json``) with the instructor's check cells, and
        the answers of the student's classes to the probes (``probes``: their folder and seed)."""
        worker = self._take(timeout)
        try:
            try:
                return worker.run(exercise.path, folder, timeout, probes)
            except ReferenceFailure:
                raise
            except RuntimeError:  # a worker that died between jobs: one fresh try, then a grader error
                self._retire(worker)
                worker = self._take(timeout)
                return worker.run(exercise.path, folder, timeout, probes)
        finally:
            if worker.alive() and worker.jobs < self.max_jobs:
                with self._lock:
                    self._idle.append(worker)
                    self._lock.notify()
            else:
                self._retire(worker)

    def _retire(self, worker: _Worker) -> None:
        worker.close()
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
            self._lock.notify()

    def prewarm(self, exercise: Exercise, threads: int, per_worker: int = 3) -> None:
        """Size the pool for ``threads`` grading threads (one worker per ``per_worker`` of them) and start its
        workers now, each importing TensorFlow and running ``exercise``'s locked cells in the background: a grading
        run pays for that while its first kernels start, not after them."""
        if not verified_checks(exercise):
            return
        with self._lock:
            self.size = max(1, -(-threads // per_worker))
            missing = self.size - sum(w.alive() for w in self._idle)
            for _ in range(max(0, missing)):
                worker = _Worker(warm=exercise.path)
                self._all.append(worker)
                self._idle.append(worker)

    def _take(self, timeout: float = 300.0) -> _Worker:
        with self._lock:
            while True:
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive():
                        return worker
                    self._all.remove(worker)
                if self.size is None or len(self._all) < self.size:
                    worker = _Worker()
                    self._all.append(worker)
                    return worker
                if not self._lock.wait(timeout):
                    raise RuntimeError(f"no trusted verifier became free within {timeout:g} s")

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


def _load(folder: Path) -> dict[str, Any]:
    import numpy as np
    from tensorflow import keras

    values: dict[str, Any] = {}
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.is_symlink() or not path.is_file():
            continue
        try:
            if path.suffix == ".keras":
                values[path.stem] = _load_model(keras, path)
            elif path.suffix == ".npy":
                values[path.stem] = np.load(path, allow_pickle=False)
            elif path.suffix == ".json":
                values[path.stem] = json.loads(path.read_text())
            elif path.suffix == ".npz":  # LAYER_WEIGHTS: "<layer name>/<index>" -> array
                with np.load(path, allow_pickle=False) as arrays:
                    values[path.stem] = {key: arrays[key] for key in arrays.files}
        except Exception:  # noqa: BLE001, S112  (a file that does not load is an object the student did not hand in)
            continue
    return values


def _load_model(keras: Any, path: Path) -> Any:
    """A built-in-layer model, with its compile settings (loss, metrics, optimizer) when those are built-in too."""
    try:
        return keras.models.load_model(path, safe_mode=True, compile=True)
    except Exception:  # noqa: BLE001  (e.g. a custom loss: the architecture can still be checked)
        return keras.models.load_model(path, safe_mode=True, compile=False)


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
                exec(_python(cell.source), context)  # noqa: S102  (the instructor's own locked cells)
    finally:
        for name, loader in originals.items():
            setattr(datasets, name, loader)
    return context


def _check(exercise: Exercise, context: dict[str, Any], export_dir: Path) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    verified = verified_checks(exercise)
    probed = class_probes.probes(exercise)
    for check in exercise.checks:
        if check.id not in verified or check.id in probed:  # probed checks: _compare_probes
            continue
        namespace = {**context, **_load(export_dir / check.id)}
        if (exercise.name, check.id) in LAYER_WEIGHTS:  # the reference solution's classes, to load weights into
            namespace = {**context, **_load(export_dir / check.id), **class_probes.reference_classes(exercise)}
        try:
            exec(PRELUDE.get((exercise.name, check.id), ""), namespace)  # noqa: S102  (the instructor's code)
            exec(check.source, namespace)  # noqa: S102  (the instructor's check cell, on exported data)
        except Exception as err:  # noqa: BLE001  (any failure of a check on the student's data is a failed check)
            message = str(err) if type(err).__name__ in ("CheckFailure", "AssertionError") else ""
            if isinstance(err, NameError):
                message = f"{err}: it was not there (or not a plain value or built-in-layer model) when checked"
            out[check.id] = [False, message or f"{type(err).__name__}: {err}"]
        else:
            out[check.id] = [True, ""]
    return out


def _compare_probes(exercise: Exercise, folder: Path, seed: int) -> dict[str, list[Any]]:
    """The reference's answers to the probes with ``seed``, compared with the student's in ``folder``."""
    out: dict[str, list[Any]] = {}
    for check, reference in class_probes.reference_answers(exercise, seed).items():
        passed, message = class_probes.compare(reference, folder / check)  # RuntimeError: the reference failed
        out[check] = [passed, message]
    return out


def _serve() -> None:
    """Answer one JSON line per request line on stdin; everything the checks print goes to stderr."""
    import contextlib

    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # TensorFlow or a check writing to fd 1 cannot corrupt the replies
    contexts: dict[Path, tuple[Exercise, dict[str, Any]]] = {}
    for line in sys.stdin:
        request = json.loads(line)
        solution = Path(request["solution"])
        with contextlib.redirect_stdout(sys.stderr):
            if solution not in contexts:
                exercise = load_exercise(solution)
                contexts[solution] = (exercise, instructor_context(exercise))
            if request["export"] is None:  # a warm-up: the context is ready, nothing to check
                replies.write("{}\n")
                replies.flush()
                continue
            result = _check(*contexts[solution], Path(request["export"]))
            if request.get("probes"):
                try:
                    result.update(_compare_probes(contexts[solution][0], Path(request["probes"]["dir"]),
                                                  int(request["probes"]["seed"])))  # fmt: skip
                except Exception as err:  # noqa: BLE001  (the reference failed: a grader error, said so)
                    result = {GRADER_ERROR: [False, f"{type(err).__name__}: {err}"[:500]]}
            from tensorflow import keras

            keras.backend.clear_session()  # the loaded models go; the next job starts clean
        replies.write(json.dumps(result) + "\n")
        replies.flush()


if __name__ == "__main__":
    _serve()
