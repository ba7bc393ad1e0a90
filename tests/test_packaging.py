"""The distribution: its dependencies match what the code imports, and the built wheel works on its own.

The slow tests build an sdist and a wheel with ``python -m build`` and install the wheel (not editable) into a
fresh virtual environment that has neither JupyterLab nor pytest, then use ``toolkit`` there.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("toolkit", "course")
LOCK = ROOT / ".ci" / "constraints-py311.txt"
# Declared although no module imports them by that name, and why.
DECLARED_WITHOUT_IMPORT = {
    "keras": "imported as tensorflow.keras; the range pins Keras 3, whose internals keras_graph/ reads",
    "pydot": "keras.utils.plot_model, which the lessons call next to toolkit.diagram",
}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _is_optional(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """True for an import inside ``try: ... except ImportError`` (the code copes without it)."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                names = ast.unparse(handler.type) if handler.type else ""
                if "ImportError" in names or "ModuleNotFoundError" in names:
                    return True
    return False


def _third_party_imports(package: str) -> set[str]:
    """Top-level module names that ``package`` imports unconditionally, outside the standard library."""
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            if _is_optional(node, parents):
                continue
            # a script's sibling (course/kernel_side/kernel_launcher.py imports kernel_audit.py, copied beside it) is
            # no package
            found.update(n for name in names if not (path.parent / f"{(n := name.split('.')[0])}.py").exists())
    return {name for name in found if name not in sys.stdlib_module_names and name not in PACKAGES + ("__future__",)}


def _distributions(modules: set[str]) -> set[str]:
    """The installed distributions that provide these import names (read from this environment's metadata)."""
    providers = importlib.metadata.packages_distributions()
    missing = sorted(m for m in modules if m not in providers)
    assert not missing, f"no installed distribution provides {missing}"
    return {_normalise(d) for m in modules for d in providers[m]}


def _requirements(extra: str | None = None) -> list[Requirement]:
    project = _project()
    specs = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    return [Requirement(spec) for spec in specs]


def test_the_distribution_declares_what_toolkit_imports_and_no_more() -> None:
    imported = _distributions(_third_party_imports("toolkit"))
    declared = {_normalise(r.name) for r in _requirements()}
    tensorflow = {"tensorflow", "tensorflow-cpu"}
    assert imported - tensorflow <= declared, f"imported but not declared: {sorted(imported - declared)}"
    # the backend is the [tensorflow] extra's, never the distribution's own (tests/test_install.py)
    backend = {_normalise(r.name) for r in _requirements("tensorflow")}
    assert imported & tensorflow and tensorflow == backend, "TensorFlow must be the [tensorflow] extra (both names)"
    extra = declared - imported - tensorflow
    assert extra == set(DECLARED_WITHOUT_IMPORT), f"declared but not imported by toolkit: {sorted(extra)}"


def test_the_course_extra_declares_what_course_imports() -> None:
    given = {_normalise(r.name) for r in _requirements() + _requirements("tensorflow")}  # the backend: its own extra
    needed = _distributions(_third_party_imports("course")) - given
    course = {_normalise(r.name) for r in _requirements("course")}
    assert needed <= course, f"course/ imports these, missing from the [course] extra: {sorted(needed - course)}"


def test_the_distribution_uses_ranges_and_leaves_the_course_stack_to_extras() -> None:
    project = _project()
    base = _requirements()
    pinned = [str(r) for r in base if any(s.operator in ("==", "===") for s in r.specifier)]
    assert not pinned, f"exact pins belong in {LOCK.relative_to(ROOT)}, not in the distribution: {pinned}"
    heavy = {"jupyterlab", "pytest", "nbval", "rich", "tqdm", "nbclient", "ruff", "mypy", "playwright"}
    assert not heavy & {_normalise(r.name) for r in base}
    assert project["requires-python"] == ">=3.11"
    assert not [r for r in base if r.name.startswith("tensorflow")], "the backend belongs in the [tensorflow] extra"
    base = _requirements("tensorflow")
    markers = {_normalise(r.name): str(r.marker) for r in base if r.name.startswith("tensorflow")}
    assert set(markers) == {"tensorflow", "tensorflow-cpu"}
    linux = {"sys_platform": "linux", "platform_machine": "x86_64"}
    mac = {"sys_platform": "darwin", "platform_machine": "arm64"}
    for name, wanted in (("tensorflow-cpu", (True, False)), ("tensorflow", (False, True))):
        requirement = next(r for r in base if _normalise(r.name) == name)
        assert requirement.marker is not None
        assert (requirement.marker.evaluate(linux), requirement.marker.evaluate(mac)) == wanted, markers


# --- the built distributions -------------------------------------------------------------------------------------


def _source_files() -> set[str]:
    """Every file the packages are made of in the checkout (modules, notebooks, markdown), as wheel paths."""
    files = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.add(path.relative_to(ROOT).as_posix())
    return files


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``python -m build`` run once per session: {"sdist": path, "wheel": path}."""
    out = tmp_path_factory.mktemp("dist")
    run = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, f"python -m build failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


@pytest.mark.slow
@pytest.mark.reference  # builds and installs with the lock file; the matrix installs its own wheel
def test_the_wheel_holds_every_subpackage_and_data_file(dist: dict[str, Path]) -> None:
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = set(wheel.namelist())
    missing = sorted(_source_files() - names)
    assert not missing, f"the wheel lacks {len(missing)} files, e.g. {missing[:8]}"
    assert not {n for n in names if n.split("/")[0] in ("tests", "notebooks", "exercises", "benchmarks")}
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        text = wheel.read(metadata).decode()
    assert "Requires-Python: >=3.11" in text and "Provides-Extra: course" in text


@pytest.mark.slow
@pytest.mark.reference  # builds and installs with the lock file; the matrix installs its own wheel
def test_the_sdist_holds_the_packages_and_the_project_files(dist: dict[str, Path]) -> None:
    with tarfile.open(dist["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    missing = sorted((_source_files() | {"pyproject.toml", "README.md"}) - names)
    assert not missing, f"the sdist lacks {missing[:8]}"


_USE_THE_WHEEL = """
import importlib.util, json, sys
import toolkit, keras
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, name="hidden"), keras.layers.Dense(2, name="out")])
text = str(toolkit.summary(model))
print(json.dumps({
    "toolkit": toolkit.__file__,
    "summary": text,
    "params": model.count_params(),
    "absent": [m for m in ("jupyterlab", "pytest", "nbval", "nbclient", "tqdm") if importlib.util.find_spec(m)],
    "doctor": [c.name for c in toolkit.doctor.doctor()],
}))
"""


@pytest.mark.slow
@pytest.mark.reference  # builds and installs with the lock file; the matrix installs its own wheel
def test_the_wheel_installs_into_a_clean_venv_and_toolkit_works(dist: dict[str, Path], tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    # The lock file keeps the versions the pip cache already holds; the wheel itself is installed, not -e.
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-c", str(LOCK), f"{dist['wheel']}[tensorflow]"],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run = subprocess.run(
        [str(python), "-c", _USE_THE_WHEEL],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # not the checkout, so only the installed copy can be imported
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(result["toolkit"]).is_relative_to(site), (result["toolkit"], site)
    assert "hidden" in result["summary"] and "out" in result["summary"]
    assert f"{result['params']:,}" in result["summary"] or str(result["params"]) in result["summary"]
    # (rich is not in the list: keras itself requires it.)
    assert result["absent"] == [], f"the bare install pulled in {result['absent']}"
    assert "Python" in result["doctor"]
    assert sysconfig.get_paths()["purelib"] != site


def test_toolkit_is_imported_from_the_install_ci_made() -> None:
    """The reference venv uses the checkout (editable); the matrix sets KERAS_COURSE_INSTALL=wheel."""
    import toolkit

    how = os.environ.get("KERAS_COURSE_INSTALL", "editable")
    assert how in ("editable", "wheel"), f"KERAS_COURSE_INSTALL must be 'editable' or 'wheel' (got {how!r})"
    in_checkout = Path(toolkit.__file__).resolve().parent == ROOT / "toolkit"  # (the matrix venvs sit in ROOT)
    assert in_checkout == (how == "editable"), f"{how} install, but toolkit comes from {toolkit.__file__}"
