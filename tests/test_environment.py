"""One reference set: .ci/constraints-py311.txt pins every distribution; pyproject.toml's ranges admit it, and the
Makefile, CI and environment.yml all install from it. The matrix's constraint files must fit the ranges too."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ".ci/constraints-py311.txt"
COLAB = ".ci/constraints-colab.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)==([\w.+!]+)$")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(relative: str) -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for number, line in enumerate((ROOT / relative).read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = PIN.match(line)
        assert match, f"{relative}:{number}: {line!r} is not `name==version`"
        name = _normalise(match.group(1))
        assert name not in pins, f"{relative}:{number}: {name} is pinned twice"
        pins[name] = Version(match.group(2))
    return pins


def _requirements(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += project["optional-dependencies"][extra]
    return [r for r in map(Requirement, specs) if _normalise(r.name) != "keras-course"]


def _applies(requirement: Requirement, platform: dict[str, str]) -> bool:
    return requirement.marker is None or requirement.marker.evaluate(platform)


LINUX_X86_64 = {"sys_platform": "linux", "platform_machine": "x86_64", "python_version": "3.11"}


def test_the_lock_pins_every_direct_dependency_inside_its_range() -> None:
    pins = _pins(LOCK)
    for requirement in _requirements("tensorflow", "course", "dev"):
        if not _applies(requirement, LINUX_X86_64):
            continue
        name = _normalise(requirement.name)
        assert name in pins, f"{LOCK} does not pin {name}, a direct dependency"
        assert requirement.specifier.contains(pins[name]), f"{LOCK}: {name}=={pins[name]} is outside {requirement}"


def test_the_reference_stack_is_the_one_the_stored_outputs_were_made_with() -> None:
    pins = _pins(LOCK)
    assert pins["tensorflow-cpu"] == Version("2.21.0") and pins["keras"] == Version("3.15.1")
    assert pins["ipywidgets"].major == 8 and pins["jupyterlab"].major == 4
    assert "tensorflow" not in pins, "the reference is the CPU build only"


def test_environment_yml_installs_from_the_lock() -> None:
    text = (ROOT / "environment.yml").read_text()
    pip_lines = [line.strip()[2:] for line in text.split("- pip:", 1)[1].splitlines() if line.strip().startswith("- ")]
    assert pip_lines == [f"-c {LOCK}", "-e .[dev,tensorflow]"], pip_lines
    python = re.search(r"^\s*- python=([\d.]+)\s*$", text, re.MULTILINE)
    assert python and python.group(1) == "3.11", "the lock is for Python 3.11"
    assert re.search(r"^\s*- graphviz\s*$", text, re.MULTILINE), "conda users get Graphviz's `dot` from conda-forge"
    assert not PIN.search(text), "pins belong in the lock, not in environment.yml"


def test_the_makefile_installs_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert f"LOCK := {LOCK}" in makefile
    assert "pip install --quiet -c $(LOCK) -e '.[dev,tensorflow]'" in makefile
    assert re.search(r"^\$\(STAMP\): pyproject\.toml \$\(LOCK\)", makefile, re.MULTILINE), "a new lock reinstalls"


def test_the_colab_constraints_fit_the_ranges() -> None:
    pins = _pins(COLAB)
    colab = {"tensorflow": "2.20.0", "keras": "3.13.2", "ipywidgets": "7.7.1", "matplotlib": "3.10.0"}
    assert {name: str(pins[name]) for name in colab} == colab, "Colab's preinstalled versions"
    assert "tensorflow-cpu" not in pins, "Colab preinstalls `tensorflow`, not `tensorflow-cpu`"
    for requirement in _requirements("tensorflow", "course"):
        name = _normalise(requirement.name)
        if name == "tensorflow-cpu":  # Colab's `tensorflow` must fit the range the [tensorflow] extra asks for
            name = "tensorflow"
        if name in pins:
            assert requirement.specifier.contains(pins[name]), f"{COLAB}: {name}=={pins[name]} is outside {requirement}"
