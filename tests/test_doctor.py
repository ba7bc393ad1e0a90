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
from packaging.specifiers import SpecifierSet

from toolkit.data import loaders as datasets
from toolkit.doctor import support
from toolkit.doctor.probes import Check, DoctorReport

doctor = importlib.import_module("toolkit.doctor.probes")  # where the checks live (monkeypatched below)

EXPECTED_NAMES = [
    "environment",
    "Python",
    "TensorFlow",
    "Keras",
    "TF_USE_LEGACY_KERAS",
    "pydot",
    "Graphviz dot",
    "ipywidgets",
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
    for name in ("COLAB_RELEASE_TAG", "KAGGLE_KERNEL_RUN_TYPE", "CONDA_PREFIX"):
        monkeypatch.delenv(name, raising=False)


def test_the_course_environment_passes_every_check() -> None:
    report = doctor.doctor()
    assert [check.name for check in report] == EXPECTED_NAMES
    assert report.ok, f"this environment should pass every check:\n{report}"
    assert str(report).endswith(f"All {len(EXPECTED_NAMES)} checks passed.")
    keras, tensorflow = importlib.metadata.version("keras"), report["TensorFlow"].detail.split()[1]
    assert report["Keras"].detail == f"keras {keras} (supported: >=3.10,<4)"
    assert report["TensorFlow"].detail.endswith(f"{tensorflow} (supported: >=2.20,<3)")
    assert report["environment"].detail.startswith("virtual environment ")


def test_missing_dot_fails_with_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_which = shutil.which
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None if name == "dot" else real_which(name))
    report = doctor.doctor()
    check = report["Graphviz dot"]
    assert not check.ok and not report.ok and report.failures == (check,)
    assert "apt-get install graphviz" in check.fix and "conda-forge graphviz" in check.fix
    assert "FIX  Graphviz dot" in str(report) and f"fix: {check.fix}" in str(report)
    assert str(report).endswith(f"1 of {len(EXPECTED_NAMES)} checks need a fix (see FIX lines).")


@pytest.mark.parametrize(("value", "ok"), [("1", False), ("True", False), ("0", True), ("", True)])
def test_legacy_keras_variable(value: str, ok: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", value)
    check = doctor.doctor()["TF_USE_LEGACY_KERAS"]
    assert check.ok is ok
    assert ok or check.fix.startswith("unset TF_USE_LEGACY_KERAS")


def _pretend_installed(monkeypatch: pytest.MonkeyPatch, distribution: str, version: str | None) -> None:
    """``distribution`` at ``version`` (None: absent), whatever this environment has (e.g. Colab's `tensorflow`)."""
    real = doctor._installed_version
    pretend = {distribution: version}
    if distribution in doctor._TF_DISTRIBUTIONS:  # the only TensorFlow
        pretend |= {d: None for d in doctor._TF_DISTRIBUTIONS if d != distribution}
    if distribution == "jupyterlab_widgets":  # the partner of ipywidgets 8
        pretend["ipywidgets"] = "8.1.9"
    monkeypatch.setattr(doctor, "_installed_version", lambda d: pretend[d] if d in pretend else real(d))


@pytest.mark.parametrize(
    ("distribution", "version", "check_name", "fix"),
    [
        ("tensorflow-cpu", "2.19.0", "TensorFlow", "pip install 'tensorflow"),
        ("tensorflow-cpu", "3.0.0", "TensorFlow", "pip install 'tensorflow"),
        ("keras", "3.9.2", "Keras", "pip install 'keras>=3.10,<4'"),
        ("keras", "4.0.0", "Keras", "pip install 'keras>=3.10,<4'"),
        ("keras", "2.15.0", "Keras", "pip install 'keras>=3.10,<4'"),
        ("keras", None, "Keras", "pip install 'keras>=3.10,<4'"),
        ("ipywidgets", "7.6.5", "ipywidgets", "pip install 'ipywidgets>=7.7,<9'"),
        ("ipywidgets", "9.0.0", "ipywidgets", "pip install 'ipywidgets>=7.7,<9'"),
        ("ipywidgets", None, "ipywidgets", "pip install 'ipywidgets>=7.7,<9'"),
        ("jupyterlab_widgets", None, "JupyterLab widgets", "pip install 'jupyterlab_widgets>=3,<4'"),
    ],
)
def test_versions_outside_the_ranges_fail_with_the_range(
    distribution: str, version: str | None, check_name: str, fix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pretend_installed(monkeypatch, distribution, version)
    check = doctor.doctor()[check_name]
    assert not check.ok
    assert check.fix.startswith(fix)
    assert (version or "not installed") in check.detail
    if check_name == "Keras" and version == "2.15.0":
        assert "is Keras 2" in check.detail


@pytest.mark.parametrize(
    ("distribution", "version", "check_name"),
    [
        ("tensorflow-cpu", "2.20.0", "TensorFlow"),  # Colab's
        ("keras", "3.13.2", "Keras"),  # Colab's
        ("keras", "3.10.0", "Keras"),
        ("ipywidgets", "7.7.1", "ipywidgets"),  # Colab's
        ("ipywidgets", "8.1.9", "ipywidgets"),
    ],
)
def test_versions_inside_the_ranges_pass(
    distribution: str, version: str, check_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _pretend_installed(monkeypatch, distribution, version)
    check = doctor.doctor()[check_name]
    assert check.ok, check
    assert version in check.detail and "supported: " in check.detail


def test_ipywidgets_7_wants_its_own_jupyterlab_partner(monkeypatch: pytest.MonkeyPatch) -> None:
    versions = {"ipywidgets": "7.7.1", "jupyterlab_widgets": "3.0.17"}
    real = doctor._installed_version
    monkeypatch.setattr(doctor, "_installed_version", lambda d: versions.get(d) or real(d))
    check = doctor.doctor()["JupyterLab widgets"]
    assert not check.ok and check.fix.startswith("pip install 'jupyterlab_widgets>=1,<2'")


@pytest.mark.parametrize(("python", "ok"), [((3, 10), False), ((3, 11), True), ((3, 13), True), ((3, 14), False)])
def test_python_outside_the_tested_versions(python: tuple[int, int], ok: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor.sys, "version_info", (*python, 0, "final", 0))
    check = doctor.doctor()["Python"]
    assert check.ok is ok, check
    assert "tested: 3.11, 3.12, 3.13" in check.detail
    assert ok or check.fix.startswith("create a virtual environment with a tested Python")


def test_the_ranges_are_pyproject_tomls() -> None:
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    ranges: dict[str, set[str]] = {}
    # TensorFlow through the [tensorflow] extra: the distribution itself asks for no backend (tests/test_install.py)
    for requirement in map(Requirement, project["dependencies"] + project["optional-dependencies"]["tensorflow"]):
        name = "tensorflow" if requirement.name == "tensorflow-cpu" else requirement.name
        ranges.setdefault(name, set()).add(str(requirement.specifier))
    for name, wanted in support.RANGES.items():
        assert ranges[name] == {str(SpecifierSet(wanted))}, (name, ranges[name], wanted)
    assert project["requires-python"] == f">={'.'.join(map(str, support.PYTHON_MIN))}"


@pytest.mark.parametrize(
    ("environ", "kind"),
    [
        ({"COLAB_RELEASE_TAG": "release-colab-20261201"}, "colab"),
        ({"KAGGLE_KERNEL_RUN_TYPE": "Interactive"}, "kaggle"),
        ({"CONDA_PREFIX": "/opt/conda/envs/keras-course"}, "conda"),
    ],
)
def test_the_platform_is_detected(environ: dict[str, str], kind: str) -> None:
    where = support.detect_platform(environ, find_spec=lambda name: None)
    assert where.kind == kind and next(iter(environ.values())) in where.detail


def test_colab_is_detected_by_its_module_too() -> None:
    seen: list[str] = []

    def find_spec(name: str) -> object:
        seen.append(name)
        return object()

    assert support.detect_platform({}, find_spec=find_spec).kind == "colab" and seen == ["google.colab"]
    assert support.detect_platform({}, find_spec=lambda name: None).kind in ("venv", "system")


def test_on_colab_no_fix_recreates_the_environment_or_reinstalls_tensorflow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab-20261201")
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")
    monkeypatch.delenv(datasets.DATA_ENV)
    monkeypatch.setattr(doctor.sys, "version_info", (3, 10, 0, "final", 0))
    broken = {"tensorflow-cpu": None, "tensorflow": "2.19.0", "keras": "2.15.0", "ipywidgets": None}
    real = doctor._installed_version
    monkeypatch.setattr(doctor, "_installed_version", lambda d: broken[d] if d in broken else real(d))
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None)
    report = doctor.doctor()
    assert report["environment"].detail == "Google Colab (COLAB_RELEASE_TAG=release-colab-20261201)"
    failed = {check.name: check.fix for check in report.failures}
    assert {"Python", "TensorFlow", "Keras", "TF_USE_LEGACY_KERAS", "ipywidgets", "Graphviz dot"} <= set(failed)
    for fix in failed.values():
        assert "conda create" not in fix and "python=" not in fix and "make setup" not in fix, fix
        assert "install tensorflow" not in fix and "install 'tensorflow" not in fix, fix
    assert "do not pip-install it" in failed["TensorFlow"]
    assert failed["Keras"].startswith("%pip install 'keras>=3.10,<4'") and "Restart session" in failed["Keras"]
    assert failed["Graphviz dot"] == "run `!apt-get install -y graphviz` in a cell"
    for name in ("JupyterLab widgets", "Jupyter kernel", "KERAS_COURSE_DATA"):
        assert report[name].ok, report[name]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"python": (3, 10, 4)}, ["Python 3.10 is too old", "3.11 or newer"]),
        ({"environ": {"TF_USE_LEGACY_KERAS": "1"}}, ["TF_USE_LEGACY_KERAS is set to '1'", "unset it"]),
        ({"keras_version": "2.15.0", "keras_module": "tf_keras"}, ["Keras 2 (tf_keras 2.15.0)", "'keras>=3.10,<4'"]),
        ({"keras_version": "3.9.0", "keras_module": "keras"}, ["Keras 3.9.0 is outside", "'keras>=3.10,<4'"]),
    ],
)
def test_import_problem_is_one_sentence_with_the_fix(kwargs: dict, words: list[str]) -> None:
    kwargs.setdefault("environ", {})
    message = support.import_problem(**kwargs, where=support.Platform("venv", "a venv"))
    assert message is not None and message.endswith(".") and "\n" not in message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize(
    ("what", "kind", "words"),
    [
        ("tensorflow", "venv", ["TensorFlow is not installed", "pip install 'tensorflow"]),
        ("tensorflow", "colab", ["TensorFlow is not installed", "do not pip-install it"]),
        ("ipywidgets", "colab", ["ipywidgets is not installed", "%pip install 'ipywidgets>=7.7,<9'"]),
        ("graphviz", "venv", ["`dot` program is not on PATH", "apt-get install graphviz", "brew install graphviz"]),
        ("graphviz", "kaggle", ["`dot` program is not on PATH", "!apt-get install -y graphviz"]),
    ],
)
def test_missing_pieces_get_one_sentence_each(what: str, kind: str, words: list[str]) -> None:
    message = support.missing_problem(what, support.Platform(kind, kind))
    assert message.endswith(".") and "\n" not in message
    for word in words:
        assert word in message, message
    with pytest.raises(ValueError, match="knows 'tensorflow'"):
        support.missing_problem("cuda")


def test_import_problem_is_none_for_a_good_environment() -> None:
    assert support.import_problem(environ={}) is None
    assert support.import_problem("3.15.1", "keras", python=(3, 12), environ={"TF_USE_LEGACY_KERAS": "0"}) is None


def test_the_doctor_never_imports_tensorflow() -> None:
    code = "import sys, toolkit.doctor; toolkit.doctor.doctor(); print('tensorflow' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert run.stdout.strip().splitlines()[-1] == "False", run.stdout + run.stderr


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
    assert f"All {len(EXPECTED_NAMES)} checks passed." in capsys.readouterr().out
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


@pytest.mark.parametrize(
    ("environ", "missing", "versions", "words"),
    [
        ({"TF_USE_LEGACY_KERAS": "1"}, set(), {"keras": "3.13.2"}, "TF_USE_LEGACY_KERAS is set to '1'"),
        ({}, {"tensorflow"}, {"keras": "3.13.2"}, "TensorFlow is not installed"),
        ({}, {"keras"}, {}, "Keras is not installed"),
        ({}, {"ipywidgets"}, {"keras": "3.13.2"}, "ipywidgets is not installed"),
        ({}, set(), {"keras": "2.15.0"}, "Keras 2.15.0 is outside the supported range"),
    ],
)
def test_startup_problem_finds_each_bad_environment_without_tensorflow(
    environ: dict, missing: set, versions: dict, words: str
) -> None:
    def find_spec(name: str) -> object | None:
        return None if name in missing or name == "google.colab" else object()

    message = support.startup_problem(environ, find_spec, versions.get)
    assert message is not None and message.startswith(words) and message.endswith(".")
    good = support.startup_problem({}, lambda n: None if n == "google.colab" else object(), {"keras": "3.13.2"}.get)
    assert good is None


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"TF_USE_LEGACY_KERAS": "1"}, "TF_USE_LEGACY_KERAS is set to '1'"),
        ({"PYTHONPATH": "HIDE"}, "TensorFlow is not installed"),
    ],
)
def test_a_bad_environment_stops_at_first_use_with_one_sentence(env: dict, words: str, tmp_path: Path) -> None:
    """`toolkit.summary` (which starts TensorFlow) says what is wrong in one sentence; no traceback from TF."""
    environ = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    hide = env.get("PYTHONPATH") == "HIDE"  # None in sys.modules: as if TensorFlow were not installed
    if not hide:
        environ.update(env)
    code = "import toolkit\ntry:\n    toolkit.summary\nexcept ImportError as e:\n    print(type(e).__name__, e)\n"
    if hide:
        code = "import sys\nsys.modules['tensorflow'] = None\n" + code
    out = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=300)
    assert out.stdout.startswith(f"EnvironmentProblem {words}"), out.stdout + out.stderr
    assert "Traceback" not in out.stderr
