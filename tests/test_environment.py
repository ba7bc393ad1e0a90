"""environment.yml (conda users) and pyproject.toml (pip path) must pin the same packages and versions."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([\w.]+)$")


def _pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + [d for group in project["optional-dependencies"].values() for d in group]
    pins = {}
    for spec in specs:
        match = PIN.match(spec.replace(" ", ""))
        assert match, f"pyproject.toml: {spec!r} is not pinned with =="
        pins[match.group(1).lower()] = match.group(2)
    return pins


def _environment_pins() -> dict[str, str]:
    pins, in_pip = {}, False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        stripped = line.strip()
        if stripped == "- pip:":
            in_pip = True
            continue
        if in_pip and stripped.startswith("- ") and stripped != "- -e .":
            match = PIN.match(stripped[2:].replace(" ", ""))
            assert match, f"environment.yml: {stripped!r} is not pinned with =="
            pins[match.group(1).lower()] = match.group(2)
    return pins


def test_environment_yml_matches_pyproject() -> None:
    ours, conda = _pyproject_pins(), _environment_pins()
    assert ours == conda, {
        "only in pyproject": sorted(set(ours) - set(conda)),
        "only in environment.yml": sorted(set(conda) - set(ours)),
        "different versions": {k: (ours[k], conda[k]) for k in set(ours) & set(conda) if ours[k] != conda[k]},
    }
    text = (ROOT / "environment.yml").read_text()
    assert "- -e ." in text and "python=3.11" in text


def test_the_stack_is_the_one_the_course_targets() -> None:
    pins = _pyproject_pins()
    assert pins["tensorflow-cpu"] == "2.21.0" and pins["keras"].startswith("3.")
    assert pins["ipywidgets"].startswith("8.") and pins["jupyterlab"].startswith("4.")
