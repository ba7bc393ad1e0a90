"""What a graded kernel sees of the data sets: a view holding only the test images its exercise's own cells load.

The trusted worker (course/verification/trusted.py, ``held_out_loaders``) measures accuracy on real test images the
notebook
never loads. A kernel that could read the data folder or the data cache could read those too. So the kernels of a
grading run, and the class probe runner, see neither: ``course.sandbox.run.Limits.data_view`` makes the sandbox show a
*data view* instead (toolkit/data/view.py): for each data set the exercise's cells load, its arrays in the course's
full order with the whole training split and every test label, but only the test images those calls return; every
other test image is zeros. Same limit and seed, same rows: the exercise's own calls return what they always did.

:func:`for_exercise` reads the ``load_mnist(...)``/``load_cifar10(...)`` calls of the exercise's locked and check
cells into a :class:`DataView`, a small value (it travels to Dask workers with the limits). A call whose arguments
are not literals cannot be read: that data set is shown whole, with a :class:`DataViewWarning` naming the cell.
:func:`folder` writes a view from the grader's own data once per process, into a private temporary folder that is
removed when the process ends.
"""

from __future__ import annotations

import ast
import atexit
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from course.authoring.notebook_format import Exercise, course_meta
from toolkit.data import loaders, subsets
from toolkit.data import view as data_view

LOADERS = {"load_mnist": "mnist", "load_cifar10": "cifar10"}
NOTE = (
    "Written by the grader (course/sandbox/data_view.py) for the notebooks it grades: every test image that the "
    "exercise's "
    "own cells do not load is zeros. To learn with the data, point KERAS_COURSE_DATA at the course's data folder."
)


class DataViewWarning(UserWarning):
    """A cell of an exercise loads data in a way the grader cannot read: that data set is shown whole."""


@dataclass(frozen=True)
class Load:
    """One call of an exercise's cell: ``load_<dataset>(limit=limit, seed=seed)``."""

    dataset: str  # "mnist" or "cifar10"
    limit: int | tuple[int, int] | None
    seed: int


@dataclass(frozen=True)
class DataView:
    """What graded kernels see: the test images ``loads`` return; data sets in ``whole`` entirely (an exercise's call
    with arguments the grader cannot read); nothing of any other data set."""

    loads: tuple[Load, ...] = ()
    whole: tuple[str, ...] = ()

    @property
    def datasets(self) -> tuple[str, ...]:
        return tuple(sorted({load.dataset for load in self.loads} | set(self.whole)))


def for_exercise(exercise: Exercise) -> DataView:
    """The view of ``exercise``: the data its locked and check cells load; warns for calls it cannot read."""
    loads: list[Load] = []
    whole: set[str] = set()
    for i, cell in enumerate(exercise.notebook.cells):
        meta = course_meta(cell) if cell.get("cell_type") == "code" else {}
        ident = meta.get("locked") or meta.get("check")
        if not ident:
            continue  # the student's cells: what they load is what the view holds
        where = f"{exercise.path.name}, cell {i} ({'locked' if meta.get('locked') else 'check'} {ident!r})"
        for found in _calls(cell.source, where):
            if isinstance(found, Load):
                loads.append(found)
            else:
                whole.add(found)
    return DataView(tuple(dict.fromkeys(loads)), tuple(sorted(whole)))


def _calls(source: str, where: str) -> Iterator[Load | str]:
    """Each loader call of one cell as a Load, or the data set's name where the grader cannot tell the rows."""
    python = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(python)
    except SyntaxError:
        for name, named in LOADERS.items():
            if name in source:
                yield _shown_whole(named, where, "cannot be parsed as Python")
        return
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and (dataset := _loader(node.func)):
            yield _load(node, dataset, where)
        elif isinstance(node, ast.Name | ast.Attribute) and id(node) not in called and (dataset := _loader(node)):
            yield _shown_whole(dataset, where, f"uses `{ast.unparse(node)}` other than by calling it")
        elif isinstance(node, ast.alias) and node.name in LOADERS and node.asname:
            yield _shown_whole(LOADERS[node.name], where, f"imports {node.name} as {node.asname}")


def _loader(node: ast.AST) -> str | None:
    """The data set a loader expression (``load_mnist``, ``datasets.load_mnist``, ...) names, else None."""
    if isinstance(node, ast.Name):
        return LOADERS.get(node.id)
    if isinstance(node, ast.Attribute):
        return LOADERS.get(node.attr)
    return None


def _load(call: ast.Call, dataset: str, where: str) -> Load | str:
    """The call as a Load when its arguments are literals; else the data set, shown whole (with a warning)."""
    loader = f"load_{dataset}"
    text = f"`{ast.unparse(call)}`"
    plain = all(not isinstance(a, ast.Starred) for a in call.args) and all(k.arg for k in call.keywords)
    given = dict(zip(("limit", "seed"), call.args)) | {str(k.arg): k.value for k in call.keywords}
    if not plain or len(call.args) > 2 or not set(given) <= {"limit", "seed"}:
        return _shown_whole(dataset, where, f"calls {text} with arguments other than limit and seed")
    try:
        limit = ast.literal_eval(given["limit"]) if "limit" in given else None
        seed = ast.literal_eval(given["seed"]) if "seed" in given else 0
    except ValueError:
        return _shown_whole(dataset, where, f"calls {text} with arguments that are not literals")
    limit = tuple(limit) if isinstance(limit, list) else limit
    try:
        subsets.parse_limit(loader, limit, loaders.FILES[dataset].sizes)
        subsets.check_seed(loader, seed)
    except ValueError as err:
        raise ValueError(f"{where}: {text} cannot run: {err}") from None
    return Load(dataset, limit, int(seed))


def _shown_whole(dataset: str, where: str, why: str) -> str:
    loader = f"load_{dataset}"
    warnings.warn(
        f"{where} {why}, so the grader cannot tell which {dataset} test images it loads: the notebooks graded for "
        f"this exercise see the whole {dataset} test split, the images the grader tests on included. Call "
        f"{loader} with literal arguments, e.g. `datasets.{loader}(limit=(2000, 500), seed=0)`.",
        DataViewWarning,
        stacklevel=2,  # the message names the cell; where in the grader it was found does not matter
    )
    return dataset


_BUILT: dict[tuple[Any, ...], Path] = {}
_LOCK = threading.Lock()


def folder(view: DataView) -> Path:
    """The folder of ``view`` in this process, written on first use from the grader's own data (``KERAS_COURSE_DATA``
    and the data cache, as this process sees them)."""
    key = (view, os.environ.get(loaders.DATA_ENV), os.environ.get(loaders.CACHE_ENV))
    with _LOCK:
        path = _BUILT.get(key)
        if path is None or not data_view.is_view(path):  # removed behind our back (a /tmp cleaner): write it again
            path = _BUILT[key] = _write(view)
    return path


def _write(view: DataView) -> Path:
    target = Path(tempfile.mkdtemp(prefix="course-data-view-"))
    try:
        os.chmod(target, 0o755)  # a kernel run as --user reads it; it holds nothing that kernel may not see
        data_view.write(target, {name: _contents(view, name) for name in view.datasets}, NOTE)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


def _contents(view: DataView, dataset: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``dataset``'s full arrays and the mask of test images the view keeps: those its loads return."""
    arrays = loaders.full_arrays(dataset)
    kept = np.full(len(arrays["y_test"]), dataset in view.whole)
    for load in view.loads:
        if load.dataset == dataset:
            rows = loaders.subset_rows(dataset, load.limit, load.seed, arrays["y_train"], arrays["y_test"])
            kept[slice(None) if rows is None else rows[1]] = True
    return arrays, kept


@atexit.register
def _remove_all() -> None:
    with _LOCK:
        built = list(_BUILT.values())
        _BUILT.clear()
    for path in built:
        shutil.rmtree(path, ignore_errors=True)
