"""``doctor()``: check that this environment can run the course, with a one-line fix for each problem.

Run it in a notebook (``toolkit.doctor.doctor()`` displays a table) or in a shell (``keras-course-doctor`` or
``python -m toolkit.doctor``, which exits with status 1 if anything needs fixing). Versions are read from
package metadata, so the check does not import TensorFlow.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable

from toolkit.data import loaders as datasets
from toolkit.doctor import support
from toolkit.doctor.report import Check, DoctorReport

__all__ = ["Check", "DoctorReport", "doctor", "main"]

_TF_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tensorflow-intel")
_KERNELS = ("keras-course", "python3")


_installed_version = support.installed_version


def _range_check(name: str, distributions: tuple[str, ...], range_of: str, fix: str) -> Check:
    """The first installed distribution of ``distributions``, checked against the supported range."""
    found = [(d, v) for d in distributions if (v := _installed_version(d)) is not None]
    wanted = support.RANGES[range_of]
    if not found:
        return Check(name, False, f"not installed (supported: {wanted})", fix)
    dist, version = found[0]
    ok = support.in_range(range_of, version)
    return Check(name, ok, f"{dist} {version} (supported: {wanted})", "" if ok else fix)


def _check_environment() -> Check:
    return Check("environment", True, support.detect_platform().detail)


def _check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    tested = ", ".join(".".join(map(str, v)) for v in support.PYTHON_TESTED)
    detail = f"{version} at {sys.executable} (tested: {tested})"
    ok = sys.version_info[:2] in support.PYTHON_TESTED
    return Check("Python", ok, detail, "" if ok else support.python_fix(support.detect_platform()))


def _check_tensorflow() -> Check:
    """The backend: keras-course asks for none, so a missing one is named with the install command."""
    where = support.detect_platform()
    installed = next((d for d in _TF_DISTRIBUTIONS if _installed_version(d) is not None), None)
    return _range_check("TensorFlow", _TF_DISTRIBUTIONS, "tensorflow", support.tensorflow_fix(where, installed))


def _check_keras() -> Check:
    where = support.detect_platform()
    check = _range_check("Keras", ("keras",), "keras", support.pip_fix("keras", where))
    version = _installed_version("keras")
    if version is not None and version.split(".")[0] == "2":
        return Check("Keras", False, f"keras {version} is Keras 2; the course needs Keras 3", check.fix)
    return check


def _check_legacy_keras() -> Check:
    value = os.environ.get("TF_USE_LEGACY_KERAS")
    if support.legacy_keras_set() is None:
        return Check("TF_USE_LEGACY_KERAS", True, "not set" if value is None else f"set to {value!r} (off)")
    where = support.detect_platform()
    fix = (
        "unset TF_USE_LEGACY_KERAS (`del os.environ['TF_USE_LEGACY_KERAS']` in a notebook; remove it from your "
        f"shell profile), {support.restart(where)}"
    )
    return Check("TF_USE_LEGACY_KERAS", False, f"set to {value!r}: tf.keras would be Keras 2 (tf_keras)", fix)


def _check_pydot() -> Check:
    fix = support.pip_fix("pydot", support.detect_platform())
    try:
        module = importlib.import_module("pydot")
    except Exception as err:
        return Check("pydot", False, f"cannot be imported ({type(err).__name__}: {err})", fix)
    version = getattr(module, "__version__", "?")
    ok = support.in_range("pydot", version)
    return Check("pydot", ok, f"pydot {version} (supported: {support.RANGES['pydot']})", "" if ok else fix)


def _check_dot() -> Check:
    fix = support.graphviz_fix(support.detect_platform())
    path = shutil.which("dot")
    if path is None:
        return Check("Graphviz dot", False, "no `dot` program on PATH (needed to draw model diagrams)", fix)
    try:
        run = subprocess.run([path, "-V"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return Check("Graphviz dot", False, f"{path} does not run ({err})", fix)
    version = (run.stderr or run.stdout).strip().splitlines()
    if run.returncode != 0:
        return Check("Graphviz dot", False, f"{path} -V exited with {run.returncode}", fix)
    return Check("Graphviz dot", True, f"{path}: {version[0] if version else 'version unknown'}")


def _check_ipywidgets() -> Check:
    return _range_check(
        "ipywidgets", ("ipywidgets",), "ipywidgets", support.pip_fix("ipywidgets", support.detect_platform())
    )


def _check_lab_widgets() -> Check:
    where = support.detect_platform()
    if where.hosted:
        return Check("JupyterLab widgets", True, f"not needed: the {where.kind.title()} front end draws widgets")
    widgets = _installed_version("ipywidgets") or ""
    wanted = "1" if widgets.startswith("7.") else "3"  # ipywidgets 7 pairs with jupyterlab_widgets 1, 8 with 3
    version = _installed_version("jupyterlab_widgets")
    ok = version is not None and version.split(".")[0] == wanted
    detail = f"jupyterlab_widgets {version}" if version else "jupyterlab_widgets is not installed"
    fix = (
        f"pip install 'jupyterlab_widgets>={wanted},<{int(wanted) + 1}' (the partner of ipywidgets "
        f"{widgets or '8'}), then restart JupyterLab"
    )
    return Check("JupyterLab widgets", ok, detail, "" if ok else fix)


def _check_kernel() -> Check:
    where = support.detect_platform()
    if where.hosted:
        return Check("Jupyter kernel", True, f"{where.kind.title()}'s own kernel ({sys.executable})")
    fix = f"{sys.executable} -m ipykernel install --user --name keras-course --display-name keras-course"
    try:
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError as err:
        return Check(
            "Jupyter kernel", False, f"jupyter_client cannot be imported ({err})", "pip install jupyterlab"
        )
    manager = KernelSpecManager()
    available = manager.find_kernel_specs()
    seen = []
    for name in _KERNELS:
        if name not in available:
            continue
        command = manager.get_kernel_spec(name).argv[0]
        seen.append(f"{name!r} runs {command}")
        if command in _bare_pythons():  # jupyter_client swaps these for its own interpreter
            detail = (
                f"{name!r} runs {command!r}: the Python that Jupyter runs under (start Jupyter from here)"
            )
            return Check("Jupyter kernel", True, detail)
        if os.path.dirname(os.path.abspath(command)) == os.path.dirname(os.path.abspath(sys.executable)):
            return Check("Jupyter kernel", True, f"{name!r} runs {command}")
    found = "; ".join(seen) or f"no kernel named {' or '.join(map(repr, _KERNELS))}"
    return Check("Jupyter kernel", False, f"{found}, not {sys.executable}", fix)


def _bare_pythons() -> set[str]:
    """Names that jupyter_client replaces with the interpreter it runs under."""
    major, minor = sys.version_info[:2]
    return {"python", f"python{major}", f"python{major}.{minor}"}


def _check_data() -> list[Check]:
    folder = datasets.data_dir()
    name = datasets.DATA_ENV
    point = f"export {name}=/path/to/data (a folder holding mnist.npz and cifar10-jpeg.tar.gz)"
    if folder is None and support.detect_platform().hosted:
        return [Check(name, True, "not set: the loaders download the data sets (this runtime is online)")]
    if folder is None:
        return [Check(name, False, "not set: the loaders would try to download (needs the internet)", point)]
    if not folder.is_dir():
        return [Check(name, False, f"set to {str(folder)!r}, which is not a folder", point)]
    checks = [Check(name, True, str(folder))]
    for entry in datasets.FILES.values():
        path = folder / entry.name
        if not path.is_file():
            checks.append(
                Check(entry.name, False, f"missing from {folder}", f"copy {entry.name} into {folder}")
            )
            continue
        try:
            with warnings.catch_warnings():  # an unwritable cache gets its own line below
                warnings.simplefilter("ignore", datasets.CacheWarning)
                datasets.verify_file(path, entry.sha256)
        except datasets.ChecksumError:
            fix = f"replace {path} with a fresh copy (the data folder's README lists the SHA-256 digests)"
            checks.append(Check(entry.name, False, "SHA-256 differs from the expected digest: damaged", fix))
            continue
        checks.append(Check(entry.name, True, f"SHA-256 OK ({path.stat().st_size / 1e6:.1f} MB)"))
    return checks


def _check_cache() -> Check:
    folder = datasets.cache_dir()
    fix = f"export {datasets.CACHE_ENV}=/a/writable/folder (about 200 MB for the decoded CIFAR-10)"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".doctor-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        return Check("cache folder", False, f"{folder} is not writable ({err.strerror or err})", fix)
    return Check("cache folder", True, f"{folder} is writable")


_CHECKS: tuple[Callable[[], Check | list[Check]], ...] = (
    _check_environment,
    _check_python,
    _check_tensorflow,
    _check_keras,
    _check_legacy_keras,
    _check_pydot,
    _check_dot,
    _check_ipywidgets,
    _check_lab_widgets,
    _check_kernel,
    _check_data,
    _check_cache,
)


def doctor() -> DoctorReport:
    """Run every check and return the report (it prints nothing by itself)."""
    checks: list[Check] = []
    for run in _CHECKS:
        try:
            result = run()
        except Exception as err:  # a broken check must not hide the others
            name = run.__name__.removeprefix("_check_")
            result = Check(
                name, False, f"the check itself failed: {type(err).__name__}: {err}", "see the error"
            )
        checks.extend(result if isinstance(result, list) else [result])
    return DoctorReport(tuple(checks))


def main(argv: list[str] | None = None) -> int:
    """Print the report; the exit status is 0 if everything is fine, else 1."""
    parser = argparse.ArgumentParser(prog="keras-course-doctor", description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    report = doctor()
    print(report)
    return 0 if report.ok else 1

