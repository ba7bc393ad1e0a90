"""What a sandboxed process gets: its environment variables, its private copy of the toolkit and of the kernel-side
scripts, and what it sees read-only."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from course.sandbox.data_view import folder as view_folder
from course.sandbox.limits import Limits

HERE = Path(__file__).resolve().parents[1] / "kernel_side"  # the scripts copied into the sandbox


PASS_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "KERAS_COURSE_DATA", "KERAS_COURSE_CACHE")


def _toolkit_dir() -> Path:
    spec = importlib.util.find_spec("toolkit")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cannot find the toolkit package; run the grader from the course's environment")
    return Path(next(iter(spec.submodule_search_locations)))


def readonly_views(lib: Path, limits: Limits) -> list[Path]:
    """What a sandboxed process sees read-only besides Python: the toolkit copy, and the grader's data view of
    ``limits`` (written now if need be), else the data folder and the data cache."""
    if limits.data_view is not None:  # never the data folder or the cache: they hold the held-out test images
        return [lib, view_folder(limits.data_view)]
    data = [Path(os.environ[k]).expanduser() for k in ("KERAS_COURSE_DATA",) if os.environ.get(k)]
    cache = Path(os.environ.get("KERAS_COURSE_CACHE") or Path("~/.cache/keras-course").expanduser())
    return [lib, *data, *([cache] if cache.exists() else [])]


def kernel_env(work: Path, runtime: Path, limits: Limits, root: Path | None = None) -> dict[str, str]:
    """The environment of pytest and the kernel (``root``: the run's private folder, holding the kernelspec and the
    plugin; None for a fork server's slot, whose kernels get theirs from pytest)."""
    threads = str(limits.threads)
    env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
    # HOME moves into the private folder, so name the grader's own data cache (toolkit/_data_cache.py's default):
    # otherwise every kernel would decode CIFAR-10 again.
    env.setdefault("KERAS_COURSE_CACHE", str(Path("~/.cache/keras-course").expanduser()))
    if limits.data_view is not None:  # the view is all the data the sandbox shows (see readonly_views); no cache needed
        env.update(KERAS_COURSE_DATA=str(view_folder(limits.data_view)), KERAS_COURSE_CACHE=str(work / ".cache"))
    env.update(
        KERAS_COURSE_GRADING="1",  # the toolkit leaves IPython's hooks alone (toolkit/notebook_setup.py)
        HOME=str(work),
        TMPDIR=str(work),
        IPYTHONDIR=str(work / ".ipython"),
        MPLCONFIGDIR=str(work / ".matplotlib"),
        JUPYTER_RUNTIME_DIR=str(runtime),
        JUPYTER_PLATFORM_DIRS="1",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONHASHSEED="0",
        TF_CPP_MIN_LOG_LEVEL="3",
        KERAS_BACKEND="tensorflow",
        TF_NUM_INTRAOP_THREADS=threads,
        TF_NUM_INTEROP_THREADS=threads,
        OMP_NUM_THREADS=threads,
    )
    if root is not None:
        env.update(
            JUPYTER_PATH=str(root / "jupyter"),
            JUPYTER_CONFIG_DIR=str(root / "jupyter-config"),
            PYTHONPATH=str(root / "plugin"),
            PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
        )
    return env


def private_lib(lib: Path, *scripts: str) -> None:
    """What a sandboxed process may import: a private copy of the toolkit and the named scripts of ``course``."""
    shutil.copytree(_toolkit_dir(), lib / "toolkit", ignore=shutil.ignore_patterns("*.pyc", "__pycache__"))
    for name in scripts:
        shutil.copyfile(HERE / name, lib / name)


def as_user(uid: int, gid: int) -> list[str]:
    """A command prefix that runs the rest as ``uid``:``gid`` with no supplementary groups (root only)."""
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]
