"""``doctor()``: check that this environment can run the course, with a one-line fix for each problem.

Run it in a notebook (``toolkit.doctor.doctor()`` displays a table) or in a shell (``keras-course-doctor`` or
``python -m toolkit.doctor``, which exits with status 1 if anything needs fixing). Versions are read from
package metadata, so the check does not import TensorFlow.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata as metadata
import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable

from toolkit.data import loaders as datasets
from toolkit.doctor.report import Check, DoctorReport

__all__ = ["Check", "DoctorReport", "doctor", "expected_pins", "main"]

PYTHON = (3, 11)
# Used when the keras-course distribution is not installed (e.g. running from a checkout without pip install).
FALLBACK_PINS = {"tensorflow-cpu": "2.21.0", "keras": "3.15.1", "ipywidgets": "8.1.9", "pydot": "4.0.1"}
_TF_DISTRIBUTIONS = ("tensorflow", "tensorflow-cpu", "tensorflow-macos", "tensorflow-intel")
_KERNELS = ("keras-course", "python3")


def expected_pins() -> dict[str, str]:
    """``{distribution: version}`` pinned with ``==`` by the installed keras-course, else FALLBACK_PINS."""
    try:
        requirements = metadata.requires("keras-course") or []
    except metadata.PackageNotFoundError:
        return dict(FALLBACK_PINS)
    pins = {}
    for requirement in requirements:
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^;\s,]+)\s*(;.*)?$", requirement)
        if match and "extra" not in (match.group(3) or ""):
            pins[_normalise(match.group(1))] = match.group(2)
    return pins or dict(FALLBACK_PINS)


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _pinned_version_check(name: str, distributions: tuple[str, ...], major: int) -> Check:
    pins = expected_pins()
    found = [(d, v) for d in distributions if (v := _installed_version(d)) is not None]
    pinned = next(((d, pins[d]) for d in distributions if d in pins), (distributions[0], None))
    install = f"pip install {pinned[0]}=={pinned[1]}" if pinned[1] else f"pip install '{pinned[0]}>={major}'"
    if not found:
        return Check(name, False, "not installed", install)
    dist, version = found[0]
    expected = f" (pinned: {pinned[1]})" if pinned[1] else ""
    ok = version.split(".")[0] == str(major) and (pinned[1] is None or version == pinned[1])
    return Check(name, ok, f"{dist} {version}{expected}", "" if ok else install)


def _check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info[:2] == PYTHON
    wanted = ".".join(map(str, PYTHON))
    fix = f"create the environment with Python {wanted}, e.g. `conda create -n keras-course python={wanted}`"
    return Check("Python", ok, f"{version} at {sys.executable} (expected {wanted})", "" if ok else fix)


def _check_tensorflow() -> Check:
    return _pinned_version_check("TensorFlow", _TF_DISTRIBUTIONS, major=2)


def _check_keras() -> Check:
    return _pinned_version_check("Keras 3", ("keras",), major=3)


def _check_legacy_keras() -> Check:
    value = os.environ.get("TF_USE_LEGACY_KERAS")
    if value is None or value.strip() in ("", "0", "false", "False"):
        return Check("TF_USE_LEGACY_KERAS", True, "not set" if value is None else f"set to {value!r} (off)")
    fix = "unset TF_USE_LEGACY_KERAS (and remove it from your shell profile), then restart the kernel"
    return Check("TF_USE_LEGACY_KERAS", False, f"set to {value!r}: tf.keras would be Keras 2", fix)


def _check_pydot() -> Check:
    try:
        module = importlib.import_module("pydot")
    except Exception as err:
        fix = f"pip install pydot=={expected_pins().get('pydot', FALLBACK_PINS['pydot'])}"
        return Check("pydot", False, f"cannot be imported ({type(err).__name__}: {err})", fix)
    return Check("pydot", True, f"pydot {getattr(module, '__version__', '?')}")


def _check_dot() -> Check:
    fix = (
        "install Graphviz: `sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) "
        "or `conda install -c conda-forge graphviz`"
    )
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
    return _pinned_version_check("ipywidgets 8", ("ipywidgets",), major=8)


def _check_lab_widgets() -> Check:
    version = _installed_version("jupyterlab_widgets")
    ok = version is not None and version.split(".")[0] == "3"
    detail = f"jupyterlab_widgets {version}" if version else "jupyterlab_widgets is not installed"
    fix = "pip install 'jupyterlab_widgets>=3,<4' (installed with ipywidgets 8), then restart JupyterLab"
    return Check("JupyterLab widgets", ok, detail, "" if ok else fix)


def _check_kernel() -> Check:
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

