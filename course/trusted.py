"""Verification outside the student's process: the kernel only exports data, a trusted process checks it.

Before each check cell of a verified exercise the grader adds an *export cell* that saves the student objects the
check reads (names used by the check cell that no locked cell defines): a Keras model as ``.keras``, a NumPy array
as ``.npy``, anything else as JSON. After the run, a fresh Python process that runs **no student code** rebuilds
the instructor's context by running the exercise's locked cells (imports, data), loads the exported objects (Keras
models with ``safe_mode=True``: built-in layers only, no Lambda or custom code), then runs the instructor's check
cell with the grader's own ``toolkit.checks``. A check earns points only when this trusted run passes; the check
cell that ran in the kernel only gives the student their instant feedback.

Run as ``python -m course.trusted SOLUTION.ipynb EXPORT_DIR``; prints one JSON object {check id: [passed, message]}.
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat

from course.notebook_format import Exercise, course_meta, load_exercise

# Exercises whose objects are all built-in Keras layers or plain values, so they load in safe mode.
VERIFIED = {"ex01_sequential"}
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


def _python(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def student_names(exercise: Exercise, check_source: str) -> list[str]:
    """Names a check cell reads that the exercise's locked cells do not define: the student's objects."""
    known = _locked_names(exercise)
    used = [n.id for n in ast.walk(ast.parse(check_source)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
    return sorted({n for n in used if n not in known})


def export_cell(exercise: Exercise, check_id: str, check_source: str) -> Any:
    source = EXPORT_CELL.format(dir=PLACEHOLDER, check=check_id, names=student_names(exercise, check_source))
    return nbformat.v4.new_code_cell(source, metadata={"grader": {"export": check_id}})


def _copy_regular_files(source: Path, target: Path) -> int:
    """Copy ``source/<check>/<file>`` regular files only (no links followed, nothing deeper); return bytes copied."""
    total = 0
    if source.is_symlink() or not source.is_dir():
        return total
    for check in source.iterdir():
        if check.is_symlink() or not check.is_dir():
            continue
        for path in check.iterdir():
            if path.is_symlink() or not path.is_file():
                continue
            total += path.stat().st_size
            if total > MAX_EXPORT:
                raise ValueError("the exported objects are too large to verify")
            (target / check.name).mkdir(exist_ok=True)
            shutil.copyfile(path, target / check.name / path.name, follow_symlinks=False)
    return total


def verify(exercise: Exercise, work: Path, timeout: float = 300.0) -> dict[str, tuple[bool, str]]:
    """Run the trusted process on what the kernel exported into ``work``; check id -> (passed, message).

    Raises RuntimeError when the trusted process itself fails (a grader error, retried).
    """
    with tempfile.TemporaryDirectory(prefix="course-trusted-") as tmp:
        try:
            _copy_regular_files(work / "export", Path(tmp))
        except ValueError as err:
            return {c.id: (False, str(err)) for c in exercise.checks}
        return _run(exercise, Path(tmp), timeout)


def _run(exercise: Exercise, export_dir: Path, timeout: float) -> dict[str, tuple[bool, str]]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "course.trusted", str(exercise.path), str(export_dir)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=export_dir)
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"the trusted verifier failed: {result.stderr.strip()[-400:]}")
    return {k: (bool(v[0]), str(v[1])) for k, v in json.loads(lines[-1]).items()}


def _load(folder: Path) -> dict[str, Any]:
    import numpy as np
    from tensorflow import keras

    values: dict[str, Any] = {}
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.is_symlink() or not path.is_file():
            continue
        try:
            if path.suffix == ".keras":
                values[path.stem] = keras.models.load_model(path, safe_mode=True, compile=False)
            elif path.suffix == ".npy":
                values[path.stem] = np.load(path, allow_pickle=False)
            elif path.suffix == ".json":
                values[path.stem] = json.loads(path.read_text())
        except Exception:  # noqa: BLE001, S112  (a file that does not load is an object the student did not hand in)
            continue
    return values


def _main(solution: Path, export_dir: Path) -> dict[str, list[Any]]:
    exercise = load_exercise(solution)
    context: dict[str, Any] = {"__name__": "__trusted__"}
    for cell in exercise.notebook.cells:
        if cell.cell_type == "code" and course_meta(cell).get("locked"):
            exec(_python(cell.source), context)  # noqa: S102  (the instructor's own locked cells)
    out: dict[str, list[Any]] = {}
    for check in exercise.checks:
        namespace = {**context, **_load(export_dir / check.id)}
        try:
            exec(check.source, namespace)  # noqa: S102  (the instructor's check cell, on exported data)
        except Exception as err:  # noqa: BLE001  (any failure of a check on the student's data is a failed check)
            message = str(err) if type(err).__name__ in ("CheckFailure", "AssertionError") else ""
            if isinstance(err, NameError):
                message = f"{err}: it was not there (or not a plain value or built-in-layer model) when checked"
            out[check.id] = [False, message or f"{type(err).__name__}: {err}"]
        else:
            out[check.id] = [True, ""]
    return out


if __name__ == "__main__":
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # the checks print their ✓ lines; only the JSON goes out
        result = _main(Path(sys.argv[1]), Path(sys.argv[2]))
    print(json.dumps(result))
