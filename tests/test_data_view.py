"""A graded kernel sees only the data its exercise's locked cells load: the held-out test images are not there.

The trusted worker measures accuracy on real test images the notebook never loads (``held_out_loaders`` in
course/verification/trusted.py). These tests prove a submission cannot read them: its kernel (and the class probe
runner) sees a
grader's data view (course/sandbox/data_view.py) instead of the data folder and the data cache, in which every test
image
that the locked cells' calls do not return is zeros; and the locked calls themselves return what they always did.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course.authoring.notebook_format import find_exercises, load_exercise
from course.grading.batch import Job, grade_jobs
from course.sandbox import data_view
from course.sandbox.data_view import DataView, DataViewWarning, Load
from course.sandbox.limits import Limits
from toolkit.data import loaders
from toolkit.data.errors import ChecksumError, DataNotFoundError
from toolkit.data.view import MANIFEST as VIEW_MANIFEST
from toolkit.data.view import WithheldWarning


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data cache of this module's own: test_datasets.py counts the one CIFAR-10 decode of the session's cache."""
    return tmp_path_factory.mktemp("data-view-cache")


LOCKED_CALL = "datasets.load_mnist(limit=(100, 50), seed=3)"


def _digest(*arrays: np.ndarray) -> str:
    return hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)).hexdigest()


def _image_digests(images: np.ndarray) -> set[str]:
    return {hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest() for image in images}


def _held_out_digests(draws: int = 6) -> set[str]:
    """Digests of the test images the trusted worker would measure the locked call's model on, for a few seeds."""
    from course.verification.trusted import held_out_loaders

    found: set[str] = set()
    for seed in range(draws):
        load = held_out_loaders(np.random.default_rng(seed))["load_mnist"]
        _, (x_held, _) = load(limit=(100, 50), seed=3)
        found |= _image_digests(x_held)
    return found


PROBE = """import hashlib, os
import numpy as np
from toolkit import datasets

HELD_OUT = set({held!r})
REAL = {real!r}
(_, _), (every_test_image, _) = datasets.load_mnist()  # all the kernel can get through the loader
readable = {{hashlib.sha256(np.ascontiguousarray(im).tobytes()).hexdigest() for im in every_test_image}}
reachable = [p for p in REAL if os.path.exists(p)]
for top, dirs, files in os.walk("/"):  # copies of the data files anywhere the kernel can look
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in ("/proc", "/sys", "/dev", "/usr")]
    reachable += [os.path.join(top, f) for f in files
                  if f in ("mnist.npz", "cifar10-jpeg.tar.gz") or (f.startswith("cifar10-") and f.endswith(".npz"))]
leaked = sorted(HELD_OUT & readable)
"""


KERNEL = "it examines what the graded kernel can read, which only the kernel can tell"


def _cell(source: str, **course: object) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    if course:
        cell.metadata["course"] = course
    return cell


def _probe_exercise(folder: Path, probe: str, expected: str) -> Path:
    """An exercise whose locked cell loads 100 + 50 MNIST digits, whose answer cell is ``probe``, and whose checks
    say that nothing was leaked and that the locked call returned ``expected`` (the digest of its arrays)."""
    nb = nbformat.v4.new_notebook(
        cells=[
            _cell("import hashlib\nfrom toolkit import datasets", locked="setup"),
            _cell(f"(x_train, y_train), (x_test, y_test) = {LOCKED_CALL}", locked="data"),
            _cell(f"### BEGIN SOLUTION\n{probe}### END SOLUTION"),
            # what the graded kernel itself can read: these checks must run there, so they say so (GUIDE 2.6)
            _cell(
                "assert not leaked, f'{len(leaked)} held-out test images readable'",
                check="q1_no_leak",
                points=1,
                kernel_only=KERNEL,
            ),
            _cell("assert not reachable, reachable", check="q2_no_data_files", points=1, kernel_only=KERNEL),
            _cell(
                "import numpy as np\n"
                "blob = b''.join(np.ascontiguousarray(a).tobytes() for a in (x_train, y_train, x_test, y_test))\n"
                f"assert hashlib.sha256(blob).hexdigest() == {expected!r}, 'the locked call returned other data'",
                check="q3_same_data",
                points=1,
                kernel_only=KERNEL,
            ),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "ex91_probe.ipynb"
    nbformat.write(nb, str(path))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("fork_server", [True, False], ids=["fork-server", "own-sandbox"])
def test_a_graded_kernel_cannot_read_held_out_test_images(
    data_dir: Path, cache_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fork_server: bool
) -> None:
    from toolkit.data import load_mnist

    monkeypatch.setenv("KERAS_COURSE_DATA", str(data_dir))
    monkeypatch.setenv("KERAS_COURSE_CACHE", str(cache_root))
    held = _held_out_digests()
    assert len(held) > 200  # six draws of 50 among 9,950 images
    expected = _digest(*(a for split in load_mnist(limit=(100, 50), seed=3) for a in split))
    load_mnist()  # the grader's cache now holds the checksum record: it must not be reachable either
    real = [str(data_dir), str(data_dir / "mnist.npz"), str(data_dir / "cifar10-jpeg.tar.gz"), str(cache_root)]
    path = _probe_exercise(tmp_path, PROBE.format(held=sorted(held), real=real), expected)
    limits = Limits(preload="toolkit", cell_timeout=120, timeout=300, threads=1, fork_server=fork_server)
    (result,) = grade_jobs([Job(load_exercise(path), path)], limits, workers=1, progress=False)
    checks = {c.id: (c.passed, c.message) for c in result.checks}
    assert result.status == "graded", result.problems
    assert checks["q1_no_leak"] == (True, ""), checks
    assert checks["q2_no_data_files"] == (True, ""), checks
    assert checks["q3_same_data"] == (True, ""), checks  # the locked cell sees exactly what it saw before


# --- the view itself: what it holds, how the loaders read it -------------------------------------------------------

EXPECTED_VIEWS = {
    "ex01_sequential": DataView((Load("mnist", (2000, 500), 0),)),
    "ex02_functional": DataView(),
    "ex03_multi_io": DataView((Load("mnist", (2000, 500), 0),)),
    "ex04_shared_layers": DataView(),
    "ex05_subclassing": DataView((Load("mnist", (2000, 500), 0),)),
    "ex06_resnet_cifar10": DataView((Load("cifar10", (8000, 2000), 0),)),
}


@pytest.mark.parametrize("solution", find_exercises(), ids=lambda p: p.stem)
def test_each_exercise_view_is_the_data_its_locked_cells_load(solution: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataViewWarning)  # every course exercise spells its loads as literals
        view = data_view.for_exercise(load_exercise(solution))
    assert view == EXPECTED_VIEWS[solution.stem]


@pytest.fixture
def real_data(data_dir: Path, cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The grader's environment: the real data folder and a private cache."""
    monkeypatch.setenv(loaders.DATA_ENV, str(data_dir))
    monkeypatch.setenv(loaders.CACHE_ENV, str(cache_root))
    return data_dir


def _as_kernel(monkeypatch: pytest.MonkeyPatch, view: Path, cache: Path) -> None:
    """What a graded kernel's environment says: the view as the data folder, an empty cache of its own."""
    monkeypatch.setenv(loaders.DATA_ENV, str(view))
    monkeypatch.setenv(loaders.CACHE_ENV, str(cache))


@pytest.mark.parametrize(
    ("name", "limit", "seed"), [("mnist", (2000, 500), 0), ("cifar10", (800, 200), 4)], ids=["mnist", "cifar10"]
)
def test_a_view_returns_the_locked_call_unchanged_and_zeros_every_other_test_image(
    real_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, limit: tuple[int, int], seed: int
) -> None:
    load = getattr(loaders, f"load_{name}")
    locked, everything = load(limit=limit, seed=seed), load()
    folder = data_view.folder(DataView((Load(name, limit, seed),)))
    assert sorted(p.name for p in folder.iterdir()) == sorted([VIEW_MANIFEST, f"{name}-view.npz"])  # no tar, no cache
    _as_kernel(monkeypatch, folder, tmp_path / "kernel-cache")
    with warnings.catch_warnings():
        warnings.simplefilter("error", WithheldWarning)  # the locked call gets nothing withheld
        again = load(limit=limit, seed=seed)
    assert _digest(*again[0], *again[1]) == _digest(*locked[0], *locked[1])
    with pytest.warns(WithheldWarning, match=rf"load_{name}\(limit=None, seed=0\) returned \d+ of its 10000 test"):
        (x_train, y_train), (x_test, y_test) = load()
    (x_train_real, y_train_real), (x_test_real, y_test_real) = everything
    assert _digest(x_train, y_train, y_test) == _digest(x_train_real, y_train_real, y_test_real)
    shown = x_test.reshape(len(x_test), -1).any(axis=1)
    assert shown.sum() == limit[1]  # only the locked call's test images; every other one is zeros
    assert np.array_equal(x_test[shown], x_test_real[shown])
    assert _image_digests(x_test[shown]) == _image_digests(locked[1][0])
    assert not (tmp_path / "kernel-cache").exists()  # the view needs no cache (and writes none)


def test_a_damaged_view_or_a_data_set_it_lacks_is_refused(
    real_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "view"
    shutil.copytree(data_view.folder(DataView((Load("mnist", 20, 0),))), copy)
    _as_kernel(monkeypatch, copy, tmp_path / "cache")
    with pytest.raises(DataNotFoundError, match=r"data view holding mnist: .* do not load cifar10"):
        loaders.load_cifar10(limit=10)
    data = copy / "mnist-view.npz"
    blob = bytearray(data.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    data.write_bytes(bytes(blob))
    with pytest.raises(ChecksumError, match=r"mnist-view.npz of the grader's data view is damaged"):
        loaders.load_mnist(limit=20)
    (copy / VIEW_MANIFEST).write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match=r"not a manifest of a grader's data view"):
        loaders.load_mnist(limit=20)


def _exercise(folder: Path, *locked: str) -> Path:
    cells = [_cell("from toolkit import datasets", locked="setup")]
    cells += [_cell(source, locked=f"data{i}") for i, source in enumerate(locked)]
    cells.append(_cell("assert True", check="q1", points=1))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "ex92_loads.ipynb"
    nbformat.write(nb, str(path))
    return path


def test_a_call_the_grader_cannot_read_shows_its_data_set_whole_with_a_warning(
    real_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _exercise(
        tmp_path,
        "n = 500\n(x_train, y_train), (x_test, y_test) = datasets.load_mnist(limit=(2000, n))",
        "%matplotlib inline\n(c_train, _), (c_test, _) = datasets.load_cifar10([10, 20], seed=1)",
    )
    with pytest.warns(DataViewWarning) as caught:
        view = data_view.for_exercise(load_exercise(path))
    (warning,) = caught
    assert re.search(
        r"ex92_loads.ipynb, cell 1 \(locked 'data0'\) calls `datasets.load_mnist\(limit=\(2000, n\)\)`"
        r" with arguments that are not literals.* whole mnist test split",
        str(warning.message),
    )
    assert view == DataView((Load("cifar10", (10, 20), 1),), whole=("mnist",))
    (_, _), (x_real, _) = loaders.load_mnist()
    _as_kernel(monkeypatch, data_view.folder(DataView(whole=("mnist",))), tmp_path / "cache")
    with warnings.catch_warnings():
        warnings.simplefilter("error", WithheldWarning)
        (_, _), (x_test, _) = loaders.load_mnist()
    assert np.array_equal(x_test, x_real)  # today's behaviour for that data set, as the warning says


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("from toolkit.data import load_mnist as lm\n_ = lm(limit=10)", "imports load_mnist as lm"),
        ("loader = datasets.load_mnist\n_ = loader(limit=10)", "uses `datasets.load_mnist` other than by calling"),
        ("args = {'limit': 10}\n_ = datasets.load_mnist(**args)", "with arguments other than limit and seed"),
    ],
)
def test_each_way_of_hiding_a_call_is_warned_about(tmp_path: Path, source: str, why: str) -> None:
    with pytest.warns(DataViewWarning, match=re.escape(why)):
        view = data_view.for_exercise(load_exercise(_exercise(tmp_path, source)))
    assert view.whole == ("mnist",)


def test_a_literal_call_that_cannot_run_is_an_error_naming_the_cell(tmp_path: Path) -> None:
    exercise = load_exercise(_exercise(tmp_path, "_ = datasets.load_mnist(limit=(70000, 10))"))
    with pytest.raises(ValueError, match=r"ex92_loads.ipynb, cell 1 \(locked 'data0'\): .* 70000 train images"):
        data_view.for_exercise(exercise)


# --- the sandbox shows the view, and only the view ------------------------------------------------------------------


def test_the_sandbox_binds_the_view_instead_of_the_data_folder_and_cache(real_data: Path, tmp_path: Path) -> None:
    from course.sandbox import run as sandbox
    from course.sandbox.forkserver import SlotPool

    view = DataView((Load("mnist", 20, 0),))
    limits = Limits(data_view=view)
    folder = data_view.folder(view)
    assert sandbox.readonly_views(tmp_path / "lib", limits) == [tmp_path / "lib", folder]
    env = sandbox.kernel_env(tmp_path / "work", tmp_path / "runtime", limits)
    assert env["KERAS_COURSE_DATA"] == str(folder) and env["KERAS_COURSE_CACHE"].startswith(str(tmp_path / "work"))
    assert real_data in sandbox.readonly_views(tmp_path / "lib", Limits())  # without a view: the data folder, as before
    other = Limits(data_view=DataView((Load("mnist", 30, 0),)))
    assert SlotPool.key(limits) != SlotPool.key(other) != SlotPool.key(Limits())
    assert SlotPool.key(limits) == SlotPool.key(Limits(data_view=DataView((Load("mnist", 20, 0),))))


@pytest.mark.parametrize("with_view", [True, False], ids=["view", "no-view (control)"])
def test_the_class_probe_runner_sees_the_view_not_the_data(
    real_data: Path, cache_root: Path, tmp_path: Path, with_view: bool
) -> None:
    from course.sandbox.run import run_probes

    real = [str(real_data / "mnist.npz"), str(real_data / "cifar10-jpeg.tar.gz"), str(cache_root)]
    definitions = ["import os", f"class Spy:\n    seen = [p for p in {real!r} if os.path.exists(p)]"]
    probes = {"spy": "def probe(rng):\n    return {'seen': Spy.seen}"}
    limits = Limits(preload=None, data_view=DataView((Load("mnist", 20, 0),)) if with_view else None)
    (tmp_path / "answers").mkdir()
    assert run_probes(definitions, probes, 0, limits, tmp_path / "answers") is None
    seen = json.loads((tmp_path / "answers" / "spy" / "values.json").read_text())["seen"]
    assert seen == ([] if with_view else real[:2] + ([real[2]] if Path(real[2]).exists() else []))
