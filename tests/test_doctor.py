"""doctor() finds what is wrong with an environment, says how to fix it, and renders itself."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.data import loaders as datasets
from toolkit.doctor.probes import Check, DoctorReport

doctor = importlib.import_module("toolkit.doctor.probes")  # where the checks live (monkeypatched below)

EXPECTED_NAMES = [
    "Python",
    "TensorFlow",
    "Keras 3",
    "TF_USE_LEGACY_KERAS",
    "pydot",
    "Graphviz dot",
    "ipywidgets 8",
    "JupyterLab widgets",
    "Jupyter kernel",
    "KERAS_COURSE_DATA",
    "mnist.npz",
    "cifar10-jpeg.tar.gz",
    "cache folder",
]


@pytest.fixture(autouse=True)
def _course_env(monkeypatch: pytest.MonkeyPatch, data_dir: Path, cache_root: Path) -> None:
    """The course's own environment: the real data folder, a private cache, no legacy Keras."""
    monkeypatch.setenv(datasets.DATA_ENV, str(data_dir))
    monkeypatch.setenv(datasets.CACHE_ENV, str(cache_root))
    monkeypatch.delenv("TF_USE_LEGACY_KERAS", raising=False)


def test_the_course_environment_passes_every_check() -> None:
    report = doctor.doctor()
    assert [check.name for check in report] == EXPECTED_NAMES
    assert report.ok, f"this environment should pass every check:\n{report}"
    assert str(report).endswith(f"All {len(EXPECTED_NAMES)} checks passed.")
    assert report["Keras 3"].detail == "keras 3.15.1 (pinned: 3.15.1)"
    assert report["TensorFlow"].detail == "tensorflow-cpu 2.21.0 (pinned: 2.21.0)"


def test_missing_dot_fails_with_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = shutil.which
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None if name == "dot" else real_which(name))
    report = doctor.doctor()
    check = report["Graphviz dot"]
    assert not check.ok and not report.ok and report.failures == (check,)
    assert "apt-get install graphviz" in check.fix and "conda-forge graphviz" in check.fix
    assert "FIX  Graphviz dot" in str(report) and f"fix: {check.fix}" in str(report)
    assert str(report).endswith("1 of 13 checks need a fix (see FIX lines).")


@pytest.mark.parametrize(("value", "ok"), [("1", False), ("True", False), ("0", True), ("", True)])
def test_legacy_keras_variable(value: str, ok: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", value)
    check = doctor.doctor()["TF_USE_LEGACY_KERAS"]
    assert check.ok is ok
    assert ok or check.fix.startswith("unset TF_USE_LEGACY_KERAS")


@pytest.mark.parametrize(
    ("distribution", "version", "check_name", "fix"),
    [
        ("tensorflow-cpu", "2.20.0", "TensorFlow", "pip install tensorflow-cpu==2.21.0"),
        ("keras", "3.14.0", "Keras 3", "pip install keras==3.15.1"),
        ("keras", "2.15.0", "Keras 3", "pip install keras==3.15.1"),
        ("keras", None, "Keras 3", "pip install keras==3.15.1"),
        ("ipywidgets", "7.8.1", "ipywidgets 8", "pip install ipywidgets==8.1.9"),
        ("jupyterlab_widgets", None, "JupyterLab widgets", "pip install 'jupyterlab_widgets>=3,<4'"),
    ],
)
def test_wrong_or_missing_versions_fail_with_the_pin(
    distribution: str, version: str | None, check_name: str, fix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = doctor._installed_version
    monkeypatch.setattr(doctor, "_installed_version", lambda d: version if d == distribution else real(d))
    check = doctor.doctor()[check_name]
    assert not check.ok
    assert check.fix.startswith(fix)
    assert (version or "not installed") in check.detail


def test_pins_come_from_the_installed_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    requires = ["tensorflow-cpu==9.9.9", "Keras == 3.99.0", "numpy>=2", 'ruff==0.1.0; extra == "dev"']
    monkeypatch.setattr(doctor.metadata, "requires", lambda name: requires)
    assert doctor.expected_pins() == {"tensorflow-cpu": "9.9.9", "keras": "3.99.0"}
    assert "pinned: 3.99.0" in doctor.doctor()["Keras 3"].detail


def test_pins_fall_back_to_constants_without_the_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(doctor.metadata, "requires", not_installed)
    assert doctor.expected_pins() == doctor.FALLBACK_PINS
    assert doctor.FALLBACK_PINS["keras"] == "3.15.1" and doctor.FALLBACK_PINS["tensorflow-cpu"] == "2.21.0"


class _Spec:
    def __init__(self, argv: list[str]) -> None:
        self.argv = argv


@pytest.mark.parametrize(
    ("specs", "ok"),
    [
        ({}, False),
        ({"python3": ["/opt/other-env/bin/python", "-m", "ipykernel_launcher"]}, False),
        ({"python3": ["python", "-m", "ipykernel_launcher"]}, True),
        ({"keras-course": [sys.executable, "-m", "ipykernel_launcher"]}, True),
    ],
    ids=["no-kernel", "other-python", "bare-python", "this-python"],
)
def test_kernel_check(specs: dict[str, list[str]], ok: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    monkeypatch.setattr(KernelSpecManager, "find_kernel_specs", lambda self: {n: "/somewhere" for n in specs})
    monkeypatch.setattr(KernelSpecManager, "get_kernel_spec", lambda self, name: _Spec(specs[name]))
    check = doctor.doctor()["Jupyter kernel"]
    assert check.ok is ok, check
    assert ok or check.fix == (
        f"{sys.executable} -m ipykernel install --user --name keras-course --display-name keras-course"
    )


def test_data_checks_name_the_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(datasets.DATA_ENV)
    report = doctor.doctor()
    check = report["KERAS_COURSE_DATA"]
    assert not check.ok and "not set" in check.detail and check.fix.startswith("export KERAS_COURSE_DATA=")
    with pytest.raises(KeyError, match="no check named 'mnist.npz'"):
        report["mnist.npz"]


def test_data_checks_find_a_damaged_and_a_missing_file(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, tmp_path: Path
) -> None:
    damaged = tmp_path / "mnist.npz"
    shutil.copyfile(data_dir / "mnist.npz", damaged)
    with open(damaged, "r+b") as handle:
        handle.truncate(1000)
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path))
    report = doctor.doctor()
    assert report["KERAS_COURSE_DATA"].ok
    assert not report["mnist.npz"].ok and "damaged" in report["mnist.npz"].detail
    assert str(damaged) in report["mnist.npz"].fix
    missing = report["cifar10-jpeg.tar.gz"]
    assert not missing.ok and missing.fix == f"copy cifar10-jpeg.tar.gz into {tmp_path}"


def test_an_unwritable_cache_folder_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(datasets.CACHE_ENV, str(blocker / "cache"))  # cannot be created, even as root
    check = doctor.doctor()["cache folder"]
    assert not check.ok and check.fix.startswith("export KERAS_COURSE_CACHE=")


def test_a_crashing_check_becomes_a_failed_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def _check_broken() -> Check:
        raise RuntimeError("boom")

    monkeypatch.setattr(doctor, "_CHECKS", (doctor._check_python, _check_broken))
    report = doctor.doctor()
    assert [c.name for c in report] == ["Python", "broken"]
    assert not report["broken"].ok and "RuntimeError: boom" in report["broken"].detail


def test_rendering_is_fixed_width_and_deterministic() -> None:
    report = DoctorReport(
        (Check("short", True, "fine"), Check("a <longer> name", False, "bad & worse", "do x"))
    )
    assert str(report).splitlines() == [
        "keras-course environment check",
        "OK   short            fine",
        "FIX  a <longer> name  bad & worse",
        "                      fix: do x",
        "1 of 2 checks need a fix (see FIX lines).",
    ]
    html = report._repr_html_()
    assert html == report._repr_html_()
    assert "a &lt;longer&gt; name" in html and "bad &amp; worse" in html and "<code>do x</code>" in html
    assert html.count("<tr>") == 3 and ">FIX</td>" in html and ">OK</td>" in html


def test_main_prints_the_report_and_sets_the_exit_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert doctor.main([]) == 0
    assert "All 13 checks passed." in capsys.readouterr().out
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")
    assert doctor.main([]) == 1
    assert "FIX  TF_USE_LEGACY_KERAS" in capsys.readouterr().out


def test_python_dash_m_exits_1_when_something_needs_fixing() -> None:
    env = {k: v for k, v in os.environ.items() if k != datasets.DATA_ENV}
    run = subprocess.run(
        [sys.executable, "-m", "toolkit.doctor"],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        timeout=120,
        check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "FIX  KERAS_COURSE_DATA" in run.stdout and "fix: export KERAS_COURSE_DATA=" in run.stdout
