"""Installing the course never replaces a platform's TensorFlow (issue 25, item 4).

`keras-course` depends on Keras and what `toolkit` imports, never on TensorFlow: TensorFlow comes through the
`[tensorflow]` extra (tensorflow-cpu on Linux x86_64, tensorflow elsewhere), which the Makefile, environment.yml and
the matrix's newest entry ask for. Without a backend `import toolkit` still works, and the doctor and the first use
of Keras say in one sentence what to install. The Colab-like matrix entry proves the rest on a real Colab stack:
a plain `pip install <wheel>` leaves every preinstalled package as it was (.ci/matrix.sh).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from toolkit.doctor import support

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTION = "keras-course"
TENSORFLOWS = {"tensorflow", "tensorflow-cpu"}
LINUX_X86_64 = {"sys_platform": "linux", "platform_machine": "x86_64"}
MAC_ARM = {"sys_platform": "darwin", "platform_machine": "arm64"}
EXTRA_FIX = "pip install 'keras-course[tensorflow]'"


def _name(requirement: Requirement) -> str:
    return re.sub(r"[-_.]+", "-", requirement.name).lower()


def _unconditional_tensorflow(requirements: list[Requirement]) -> list[str]:
    """The TensorFlow requirements that apply without any extra, on Linux x86_64 or on macOS."""
    found = []
    for requirement in requirements:
        if _name(requirement) not in TENSORFLOWS:
            continue
        for platform in (LINUX_X86_64, MAC_ARM):
            if requirement.marker is None or requirement.marker.evaluate({**platform, "extra": ""}):
                found.append(str(requirement))
    return found


def test_pyproject_asks_for_tensorflow_only_through_its_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = [Requirement(spec) for spec in project["dependencies"]]
    assert not [str(r) for r in base if _name(r) in TENSORFLOWS], "TensorFlow belongs in the [tensorflow] extra"
    assert "keras" in {_name(r) for r in base}, "Keras (backend-free) is what the toolkit builds on"
    extra = [Requirement(spec) for spec in project["optional-dependencies"]["tensorflow"]]
    for name, (linux, mac) in (("tensorflow-cpu", (True, False)), ("tensorflow", (False, True))):
        requirement = next(r for r in extra if _name(r) == name)
        assert requirement.marker is not None and str(requirement.specifier) == str(
            Requirement(f"x{support.RANGES['tensorflow']}").specifier
        )
        assert (requirement.marker.evaluate(LINUX_X86_64), requirement.marker.evaluate(MAC_ARM)) == (linux, mac)


def test_the_installed_metadata_asks_for_tensorflow_only_through_the_extra() -> None:
    """What pip reads: the installed wheel's METADATA in the matrix, the editable install's here (`make setup`)."""
    requires = importlib.metadata.requires(DISTRIBUTION) or []
    requirements = [Requirement(spec) for spec in requires]
    stale = "the installed metadata is older than pyproject.toml: run `make setup` (it reinstalls)"
    assert not _unconditional_tensorflow(requirements), f"{_unconditional_tensorflow(requirements)}; {stale}"
    with_extra = [r for r in requirements if _name(r) in TENSORFLOWS]
    assert {_name(r) for r in with_extra} == TENSORFLOWS, f"the [tensorflow] extra is missing; {stale}"
    assert all(r.marker and r.marker.evaluate({**LINUX_X86_64, "extra": "tensorflow"}) == (_name(r) == "tensorflow-cpu")
               for r in with_extra), with_extra


def _without_tensorflow(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh Python where TensorFlow cannot be imported (None in sys.modules), outside the
    checkout (so that the matrix imports its installed wheel)."""
    hide = "import sys\nsys.modules['tensorflow'] = None\n"
    env = {k: v for k, v in os.environ.items() if k not in ("TF_USE_LEGACY_KERAS", "PYTHONPATH")}
    return subprocess.run([sys.executable, "-c", hide + code], capture_output=True, text=True, timeout=300,
                          env=env, cwd=cwd, check=False)


def test_without_a_backend_toolkit_imports_and_the_first_use_of_keras_says_what_to_install(tmp_path: Path) -> None:
    code = (
        "import toolkit\ntoolkit.doctor, toolkit.checks, toolkit.datasets  # need no Keras\n"
        "try:\n    toolkit.summary\nexcept ImportError as e:\n    print(type(e).__name__, e)\n"
    )
    run = _without_tensorflow(code, tmp_path)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr[-2000:]
    (line,) = run.stdout.splitlines()  # one sentence, on one line
    assert line.startswith("EnvironmentProblem TensorFlow is not installed") and line.endswith("."), line
    assert EXTRA_FIX in line and "pip install 'tensorflow" in line, line


def test_the_doctor_names_the_extra_when_no_tensorflow_is_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    probes = importlib.import_module("toolkit.doctor.probes")
    real = probes._installed_version
    monkeypatch.setattr(probes, "_installed_version", lambda d: None if d.startswith("tensorflow") else real(d))
    for name in ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE"):
        monkeypatch.delenv(name, raising=False)
    check = probes._check_tensorflow()
    assert not check.ok and check.detail.startswith("not installed")
    assert check.fix.startswith(EXTRA_FIX) and "\n" not in check.fix, check.fix


def test_an_old_tensorflow_is_replaced_under_its_own_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """A TensorFlow outside the range: replace the distribution that is there (a second one would break both)."""
    probes = importlib.import_module("toolkit.doctor.probes")
    versions = {"tensorflow": "2.19.0", "tensorflow-cpu": None}
    real = probes._installed_version
    monkeypatch.setattr(probes, "_installed_version", lambda d: versions[d] if d in versions else real(d))
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    check = probes._check_tensorflow()
    assert not check.ok and check.fix.startswith("pip install 'tensorflow>=2.20,<3', then"), check.fix


def _shell_function(text: str, name: str) -> str:
    match = re.search(rf"^{name}\(\) \{{.*?^\}}", text, re.MULTILINE | re.DOTALL)
    assert match, f".ci/matrix.sh has no function {name}()"
    return match.group(0)


def test_every_installer_asks_for_the_tensorflow_extra_and_the_colab_entry_installs_plainly() -> None:
    assert "-e '.[dev,tensorflow]'" in (ROOT / "Makefile").read_text()
    assert "- -e .[dev,tensorflow]" in (ROOT / "environment.yml").read_text()
    matrix = (ROOT / ".ci" / "matrix.sh").read_text()
    assert "[tensorflow]" in _shell_function(matrix, "install_latest")
    colab = _shell_function(matrix, "install_wheel_like_colab")
    assert "--no-deps" not in colab and re.search(r'pip install --quiet "\$wheel"', colab), colab
    assert "pip freeze" in matrix and "import tensorflow" in colab, "the entry compares the freeze, imports TF"
    readme = (ROOT / "README.md").read_text()
    assert EXTRA_FIX in readme and "--no-deps` is the point" not in readme
