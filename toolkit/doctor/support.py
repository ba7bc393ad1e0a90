"""What the course supports, where it is running, and one-sentence fixes that fit that place.

No TensorFlow import here: ``toolkit._keras`` calls :func:`import_problem` around its own import of TensorFlow, and
``doctor()`` uses the same ranges and advice. The ranges equal pyproject.toml's (a test keeps them equal).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

PYTHON_MIN = (3, 11)
PYTHON_TESTED = ((3, 11), (3, 12), (3, 13))  # the CI matrix: reference, Colab-like, newest releases
# distribution -> the range the course supports (the same specifiers as pyproject.toml's dependencies)
RANGES = {
    "tensorflow": ">=2.20,<3",
    "keras": ">=3.10,<4",
    "ipywidgets": ">=7.7,<9",
    "pydot": ">=2",
}
_LEGACY_OFF = ("", "0", "false", "False")


@dataclass(frozen=True)
class Platform:
    """Where the course runs: ``kind`` is colab, kaggle, conda, venv or system; ``detail`` says how we know."""

    kind: str
    detail: str

    @property
    def hosted(self) -> bool:
        """Colab or Kaggle: the runtime brings Python, TensorFlow and the front end; we never replace them."""
        return self.kind in ("colab", "kaggle")


def _colab_importable(find_spec: Callable[[str], object]) -> bool:
    try:
        return find_spec("google.colab") is not None
    except (ImportError, ValueError):  # no `google` package at all
        return False


def detect_platform(
    environ: Mapping[str, str] | None = None, find_spec: Callable[[str], object] = importlib.util.find_spec
) -> Platform:
    """Colab (``COLAB_RELEASE_TAG`` or ``google.colab``), Kaggle, a conda env, a venv or a system Python."""
    env = os.environ if environ is None else environ
    if env.get("COLAB_RELEASE_TAG") or _colab_importable(find_spec):
        tag = env.get("COLAB_RELEASE_TAG")
        return Platform("colab", f"Google Colab ({f'COLAB_RELEASE_TAG={tag}' if tag else 'google.colab importable'})")
    if env.get("KAGGLE_KERNEL_RUN_TYPE"):
        return Platform("kaggle", f"Kaggle notebook (KAGGLE_KERNEL_RUN_TYPE={env['KAGGLE_KERNEL_RUN_TYPE']})")
    if env.get("CONDA_PREFIX"):
        return Platform("conda", f"conda environment {env['CONDA_PREFIX']}")
    if sys.prefix != sys.base_prefix:
        return Platform("venv", f"virtual environment {sys.prefix}")
    return Platform("system", f"system Python {sys.prefix} (no virtual environment)")


def in_range(distribution: str, version: str) -> bool:
    """True when ``version`` lies in the supported range of ``distribution`` (a bad version string is not)."""
    try:
        return Version(version) in SpecifierSet(RANGES[distribution])
    except InvalidVersion:
        return False


def restart(where: Platform) -> str:
    return "then restart the session (Runtime > Restart session)" if where.hosted else "then restart the kernel"


def pip_fix(distribution: str, where: Platform, range_of: str | None = None) -> str:
    """``pip install '<dist><range>'`` as this platform spells it, with the restart it needs."""
    spec = f"'{distribution}{RANGES.get(range_of or distribution, '')}'"
    command = f"%pip install {spec}" if where.hosted else f"pip install {spec}"
    return f"{command}, {restart(where)}"


def python_fix(where: Platform) -> str:
    tested = ", ".join(f"{major}.{minor}" for major, minor in PYTHON_TESTED)
    if where.kind == "colab":
        return "Colab's runtime brings its own Python: use the default runtime (Runtime > Change runtime type)"
    if where.kind == "kaggle":
        return "Kaggle's image brings its own Python: pick the latest environment in the notebook's settings"
    if where.kind == "conda":
        return f"create a conda env with a tested Python ({tested}): `conda env create -f environment.yml`"
    return f"create a virtual environment with a tested Python ({tested}), e.g. `make setup PYTHON=python3.11`"


def tensorflow_fix(where: Platform, installed: str | None = None) -> str:
    """How to get a TensorFlow in range: ``installed`` names the distribution there is (None: there is none).

    keras-course asks for no backend (pyproject.toml), so a computer without one adds it through the course's
    ``[tensorflow]`` extra (tensorflow-cpu on Linux x86_64, else tensorflow). One out of range is replaced under its
    own name: installing the other name would put a second TensorFlow over the first.
    """
    if where.kind == "colab":  # never reinstall TensorFlow over Colab's own build
        return (
            "TensorFlow comes with the Colab runtime (do not pip-install it): reset to the default runtime with "
            "Runtime > Disconnect and delete runtime"
        )
    if installed or where.hosted:  # Kaggle: its own TensorFlow build, never the extra's tensorflow-cpu
        return pip_fix(installed or "tensorflow", where, range_of="tensorflow")
    alone = f"pip install 'tensorflow{RANGES['tensorflow']}'"
    return f"pip install 'keras-course[tensorflow]' (or {alone}), {restart(where)}"


def graphviz_fix(where: Platform) -> str:
    if where.hosted:
        return "run `!apt-get install -y graphviz` in a cell"
    return (
        "install Graphviz: `sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) "
        "or `conda install -c conda-forge graphviz`"
    )


def legacy_keras_set(environ: Mapping[str, str] | None = None) -> str | None:
    """The value of TF_USE_LEGACY_KERAS when it turns legacy Keras on, else None."""
    value = (os.environ if environ is None else environ).get("TF_USE_LEGACY_KERAS")
    return None if value is None or value.strip() in _LEGACY_OFF else value


def import_problem(
    keras_version: str | None = None,
    keras_module: str | None = None,
    *,
    python: tuple[int, ...] | None = None,
    environ: Mapping[str, str] | None = None,
    where: Platform | None = None,
) -> str | None:
    """One sentence naming what keeps ``import toolkit`` from working here and how to fix it, or None.

    Call it before importing TensorFlow with no arguments (checks Python and TF_USE_LEGACY_KERAS), and again after
    with ``keras.__version__`` and ``keras.__name__`` (``tf_keras`` means Keras 2 was imported as keras).
    """
    where = where or detect_platform(environ)
    major_minor = tuple((python or sys.version_info)[:2])
    if major_minor < PYTHON_MIN:
        found = ".".join(map(str, major_minor))
        wanted = ".".join(map(str, PYTHON_MIN))
        return f"Python {found} is too old for this course (it needs {wanted} or newer): {python_fix(where)}."
    legacy = legacy_keras_set(environ)
    if legacy is not None:
        return (
            f"TF_USE_LEGACY_KERAS is set to {legacy!r}, which makes tf.keras Keras 2 (tf_keras) while this course "
            f"needs Keras 3: unset it (`del os.environ['TF_USE_LEGACY_KERAS']` or `unset TF_USE_LEGACY_KERAS`), "
            f"{restart(where)}."
        )
    if keras_module is not None and keras_module.split(".")[0] == "tf_keras":
        return (
            f"`keras` here is Keras 2 (tf_keras {keras_version or ''}), but this course needs Keras 3: "
            f"{pip_fix('keras', where)}."
        ).replace("  ", " ")
    if keras_version is not None and not in_range("keras", keras_version):
        return f"Keras {keras_version} is outside the supported range {RANGES['keras']}: {pip_fix('keras', where)}."
    return None


def missing_problem(what: str, where: Platform | None = None) -> str:
    """One sentence for a missing piece: ``"tensorflow"``, ``"keras"``, ``"ipywidgets"`` or ``"graphviz"``."""
    where = where or detect_platform()
    if what == "tensorflow":
        return f"TensorFlow is not installed, and toolkit runs Keras on it: {tensorflow_fix(where)}."
    if what == "keras":
        return f"Keras is not installed, and toolkit needs Keras 3: {pip_fix('keras', where)}."
    if what == "ipywidgets":
        return f"ipywidgets is not installed, so the course's panels cannot be shown: {pip_fix('ipywidgets', where)}."
    if what == "graphviz":
        return f"Graphviz's `dot` program is not on PATH, so diagrams cannot be drawn: {graphviz_fix(where)}."
    raise ValueError(f"missing_problem() knows 'tensorflow', 'keras', 'ipywidgets' and 'graphviz' (got {what!r})")


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution`` from its metadata (no import), or None."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def startup_problem(
    environ: Mapping[str, str] | None = None,
    find_spec: Callable[[str], object] = importlib.util.find_spec,
    version_of: Callable[[str], str | None] = installed_version,
) -> str | None:
    """What keeps the lessons from running here, found without importing TensorFlow (the setup cell asks this).

    Python too old, TF_USE_LEGACY_KERAS on, TensorFlow or Keras missing, a Keras outside the range (Keras 2
    installed as ``keras``), ipywidgets missing: one sentence with the fix, or None.
    """
    where = detect_platform(environ, find_spec)
    problem = import_problem(environ=environ, where=where)
    if problem:
        return problem
    for module, what in (("tensorflow", "tensorflow"), ("keras", "keras"), ("ipywidgets", "ipywidgets")):
        if find_spec(module) is None:
            return missing_problem(what, where)
    keras_version = version_of("keras")
    if keras_version is not None:
        return import_problem(keras_version, "keras", environ=environ, where=where)
    return None


class EnvironmentProblem(ImportError):
    """Raised by ``import toolkit`` (through toolkit._keras) with the sentence from :func:`import_problem`."""
