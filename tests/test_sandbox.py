"""Isolation by default: every kernel runs in a bubblewrap sandbox; harm to others is impossible.

Each probe below is one cell of one notebook (one kernel for all of them). A probe cell passes when the sandbox
stopped what it tried. Then two hostile submissions are graded with a classmate through the `course grade` command,
in a separate process (one of them tries to kill the grader), and the classmate, the project and the outputs are
checked to be untouched.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat
import pytest

import course
from course.sandbox.limits import Limits
from course.sandbox.run import run_notebook

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SUBMISSIONS = FIXTURES / "submissions" / "ex01"
SOLUTIONS = Path(course.__file__).resolve().parent / "solutions"  # site-packages/course/... in a wheel install
MARK = "987.654321"  # an argument of `sleep` that identifies the probe's leftover child processes


def _tiny(*sources: str) -> Any:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3"}
    return nb


def _processes_with(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            found.append(cmd)
    return found


@pytest.fixture(scope="module", params=[True, False], ids=["fork-server", "own-sandbox"])
def probes(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    """Run every probe in one sandboxed kernel (forked from a slot's server, or in a sandbox of its own); probe
    name -> its cell record."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    canary = tempfile.NamedTemporaryFile(prefix="course-canary-", dir="/tmp")  # noqa: SIM115  (closed below)
    checks_file = ROOT / "toolkit" / "checks.py"
    cells = {
        "network_out": "import socket\ns = socket.socket(); s.settimeout(3)\n"
        "try:\n    s.connect(('1.1.1.1', 80))\nexcept OSError:\n    pass\nelse:\n    raise AssertionError('network')",
        "grader_loopback": f"import socket\ns = socket.socket(); s.settimeout(3)\n"
        f"try:\n    s.connect(('127.0.0.1', {port}))\nexcept OSError:\n    pass\n"
        "else:\n    raise AssertionError('reached the grader host loopback')",
        "private_tmp": f"import os\nassert not os.path.exists({canary.name!r}), 'sees the grader /tmp'\n"
        "open('/tmp/x', 'w').write('mine')",
        "no_project": "import os\nfor p in "
        f"[{str(ROOT / 'course')!r}, {str(ROOT / 'course' / 'solutions')!r}, {str(SUBMISSIONS)!r}, "
        f"{str(ROOT / 'README.md')!r}, {str(Path.home() / '.bash_history')!r}]:\n"
        "    assert not os.path.exists(p), p",
        "toolkit_read_only": "import toolkit.checks as c\n"
        "try:\n    open(c.__file__, 'a').write('# forged')\nexcept OSError:\n    pass\n"
        "else:\n    raise AssertionError('could write the toolkit')\n"
        f"try:\n    open({str(checks_file)!r}, 'a').write('# forged')\nexcept OSError:\n    pass\n"
        "else:\n    raise AssertionError('could write the project toolkit')",
        "no_grader_processes": f"import os, signal\npids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
        f"assert len(pids) < 10, pids\n"
        f"try:\n    os.kill({os.getpid()}, 0)\nexcept ProcessLookupError:\n    pass\n"
        "else:\n    raise AssertionError('can signal the grader')",
        "leave_a_daemon": f"import subprocess\nsubprocess.Popen(['sleep', '{MARK}'], start_new_session=True)",
        "memory_hog": "try:\n    hog = bytearray(12 * 2**30)\nexcept MemoryError:\n    pass\n"
        "else:\n    raise AssertionError('12 GB allowed')",
        # nothing but the work, runtime and scratch folders is writable: not the root, /etc, /root or /dev
        "read_only_root": "import os\nfor p in ['/left', '/etc/left', '/etc/ipython/ipython_config.py', '/dev/left',"
        " '/root/left', '/usr/left']:\n    try:\n        os.makedirs(os.path.dirname(p), exist_ok=True)\n"
        "        open(p, 'w').write('x')\n    except OSError:\n        pass\n    else:\n"
        "        raise AssertionError('could write ' + p)",
        # /tmp is memory the kernel's own limit counts: it is full at --tmp-mb, not when the machine is
        "sized_tmp": "import errno\nchunk = b'x' * 2**20\ntry:\n    with open('/tmp/big', 'wb') as f:\n"
        "        for _ in range(4096):\n            f.write(chunk)\nexcept OSError as err:\n"
        "    assert err.errno == errno.ENOSPC, err\nelse:\n    raise AssertionError('4 GB written to /tmp')\n"
        "finally:\n    import os\n    os.unlink('/tmp/big')",
        # the solutions and hidden checks: a wheel installs them inside the virtual environment the sandbox shows
        "no_solutions": f"import os\nassert not os.path.lexists({str(SOLUTIONS)!r}), 'the solutions are visible'",
    }
    assert SOLUTIONS.is_dir()  # there outside the sandbox
    before = checks_file.read_bytes()
    try:
        limits = Limits(preload="toolkit", cell_timeout=30, timeout=120, fork_server=request.param)
        outcome = run_notebook(_tiny(*cells.values()), limits)
    finally:
        listener.close()
        canary.close()
    assert checks_file.read_bytes() == before
    records = [r for r in outcome.cells() if r["when"] == "call"]
    assert len(records) == len(cells), outcome.log_tail
    return dict(zip(cells, records))


PROBES = [
    "network_out",
    "grader_loopback",
    "private_tmp",
    "no_project",
    "toolkit_read_only",
    "no_grader_processes",
    "leave_a_daemon",
    "memory_hog",
    "read_only_root",
    "sized_tmp",
    "no_solutions",
]


@pytest.mark.slow
@pytest.mark.parametrize("probe", PROBES)
def test_the_sandbox_stops_it(probes: dict[str, dict[str, Any]], probe: str) -> None:
    record = probes[probe]
    assert (record["passed"], record["error"]) == (True, None), record


@pytest.mark.slow
def test_no_process_outlives_its_sandbox(probes: dict[str, dict[str, Any]]) -> None:
    assert probes["leave_a_daemon"]["passed"]
    assert not _processes_with(MARK)


FORK_STORM = """import os, time
children = []
try:
    for _ in range(3000):
        pid = os.fork()
        if pid == 0:
            time.sleep(20)
            os._exit(0)
        children.append(pid)
finally:
    print(len(children), "children")
    for pid in children:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
"""


@pytest.mark.slow
@pytest.mark.parametrize("fork_server", [True, False], ids=["fork-server", "own-sandbox"])
def test_a_fork_storm_hits_the_process_limit_and_leaves_nothing_behind(fork_server: bool) -> None:
    from course.sandbox import forkserver

    cells = [FORK_STORM, "import os\npid = os.fork()\nif pid == 0:\n    os._exit(0)\nos.waitpid(pid, 0)"]
    limits = Limits(preload=None, cell_timeout=60, timeout=120, max_processes=128, keep_work=True,
                    fork_server=fork_server)  # fmt: skip
    outcome = run_notebook(_tiny(*cells), limits)
    assert outcome.work_dir is not None
    shutil.rmtree(outcome.work_dir)  # its path names every process of this run (not another grader's on the machine)
    storm, after = (r for r in outcome.cells() if r["when"] == "call")
    assert outcome.process_limit != "none", "no process limit on this machine"
    assert (storm["error"] or {}).get("ename") == "BlockingIOError", (storm, outcome.log_tail[-2000:])
    assert after["passed"], after  # the limit is on tasks at once: once the storm is gone, a fork works again
    if outcome.process_limit.startswith("cgroup"):
        assert outcome.processes_refused > 0
        if not fork_server:  # a slot's group also counts its server, for all its submissions: no peak per kernel
            assert outcome.processes_peak is not None and outcome.processes_peak <= 128
    assert not _processes_with(str(outcome.work_dir))  # every process of the run is gone
    assert (outcome.slot_root is not None) == fork_server
    for slot in forkserver.SLOTS.slots():
        if str(slot.root) == outcome.slot_root:
            assert slot.alive() and slot.processes() == []  # nothing of the run is left in the slot's sandbox
            break
    else:
        assert not fork_server, "the slot was not given back"


def test_without_a_cgroup_the_kernel_gets_an_nproc_rlimit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from course.sandbox import run as sandbox

    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 4242)  # a grader that is not root: no cgroup of its own
    (tmp_path / "r").mkdir()
    _, _, limit = sandbox._prepare(tmp_path / "r", _tiny("1"), Limits(max_processes=200, sandbox=False))
    argv = json.loads((tmp_path / "r" / "jupyter" / "kernels" / "course-grader" / "kernel.json").read_text())["argv"]
    nproc = argv[argv.index("--nproc") + 1]
    assert (limit, int(nproc)) == (f"RLIMIT_NPROC={nproc}", 200)  # user 4242 runs nothing yet: 0 + 200


def _answered(extra: str) -> Any:
    sys.path.insert(0, str(FIXTURES))
    try:
        import make_submissions
    finally:
        sys.path.remove(str(FIXTURES))
    nb = make_submissions.answered()
    nb.cells.insert(3, nbformat.v4.new_code_cell(extra, id="attack"))
    return nb


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*.py")}


HARM = """# Harm the others: rewrite the checks, a classmate's file and the grades; kill the grader and other kernels.
import os, pathlib, signal
targets = [pathlib.Path({checks!r}), pathlib.Path({classmate!r}), pathlib.Path({out!r}) / 'gradebook.csv']
for t in targets:
    try:
        t.write_text('forged')
    except OSError:
        pass
others = [int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) != os.getpid()
          and b'course-grade-' in open(f'/proc/{{p}}/cmdline', 'rb').read()]  # classmates' kernels and nbval
for pid in (os.getppid(), {grader}, *others):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
"""

KILL_PARENTS = """# Kill every ancestor process this kernel can find.
import os, signal
pid = os.getpid()
while pid > 1:
    parent = int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])
    if parent > 1:
        try:
            os.kill(parent, signal.SIGKILL)
        except OSError:
            pass
    pid = parent
"""


@pytest.mark.slow
def test_a_submission_cannot_harm_the_project_its_classmates_or_the_batch(tmp_path: Path) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    out = tmp_path / "out"
    classmate = folder / "classmate.ipynb"
    shutil.copyfile(SUBMISSIONS / "correct.ipynb", classmate)
    project = _digest(ROOT / "toolkit")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    cmd = [sys.executable, "-m", "course", "grade", "ex01", str(folder), "--out", str(out), "--workers", "2"]
    # The grader's pid is only known once it runs: the harm notebook reads it from a file the test writes.
    harm = HARM.format(
        checks=str(ROOT / "toolkit" / "checks.py"),
        classmate=str(classmate),
        out=str(out),
        grader="int(open(" + repr(str(tmp_path / "grader.pid")) + ").read())",
    )
    nbformat.write(_answered(harm), str(folder / "harm.ipynb"))
    nbformat.write(_answered(KILL_PARENTS), str(folder / "killer.ipynb"))
    before = classmate.read_bytes()
    proc = subprocess.Popen([*cmd, "--cell-timeout", "60"], env=env, cwd=tmp_path)
    (tmp_path / "grader.pid").write_text(str(proc.pid))
    assert proc.wait(timeout=400) == 0
    with open(out / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert sorted(rows) == ["classmate", "harm", "killer"]
    assert (rows["classmate"]["total"], rows["classmate"]["status"]) == ("11", "graded"), rows["classmate"]
    for name in ("harm", "killer"):  # their answers are right, and nothing they did reached anyone
        assert rows[name]["total"] == "11", rows[name]
    assert classmate.read_bytes() == before
    assert _digest(ROOT / "toolkit") == project


def test_no_sandbox_means_an_explicit_flag_and_marked_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from course.cli import main
    from course.sandbox import bwrap

    monkeypatch.setattr(bwrap.shutil, "which", lambda name: None)  # a machine without bubblewrap
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copyfile(SUBMISSIONS / "empty_notebook.ipynb", folder / "e.ipynb")
    assert main(["grade", "ex01", str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "apt-get install bubblewrap" in err and "--unsafe-no-sandbox" in err, err
    assert not (tmp_path / "out" / "gradebook.csv").exists()
    assert main(["grade", "ex01", str(folder), "--out", str(tmp_path / "out"), "--unsafe-no-sandbox"]) == 0
    text = (tmp_path / "out" / "gradebook.csv").read_text()
    assert "review: graded without a sandbox" in text, text


def _readable_by(user: str, path: Path) -> bool:
    probe = subprocess.run(["runuser", "-u", user, "--", "test", "-r", str(path)], capture_output=True)
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="already running as a non-root user: the tests above are that run")
def test_the_sandbox_works_for_a_grader_that_is_not_root() -> None:
    python = Path(os.path.realpath(sys.executable))
    if not (_readable_by("nobody", python) and _readable_by("nobody", ROOT / "tests" / "test_sandbox.py")):
        pytest.skip(
            f"user 'nobody' cannot read {python} or the repository, so the course's Python cannot run as nobody "
            "(course/GUIDE.md, section 6.1: install Python and the venv somewhere world-readable)"
        )
    env = {"PATH": os.environ.get("PATH", ""), "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
    env.update({k: os.environ[k] for k in ("KERAS_COURSE_DATA",) if k in os.environ})
    here = Path(__file__).parent
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{__file__}::test_the_sandbox_stops_it",
           f"{__file__}::test_a_fork_storm_hits_the_process_limit_and_leaves_nothing_behind",
           f"{here / 'test_forkserver.py'}::test_nothing_of_one_submission_reaches_the_next_in_its_slot",
           f"{here / 'test_hardening.py'}::test_a_run_that_passes_its_disk_quota_is_stopped_at_once",
           f"{here / 'test_hardening.py'}::test_one_file_cannot_pass_the_quota_and_tmp_is_full_at_its_size",
           f"{here / 'test_hardening.py'}::test_a_folder_chain_of_any_depth_is_emptied_and_links_are_not_followed",
           str(here / "test_names.py"),  # file names and feedback text (issue 27, items 6, 8, 10)
           f"{here / 'test_data_view.py'}::test_a_graded_kernel_cannot_read_held_out_test_images",
           *(f"{here / 'test_trusted_limits.py'}::{name}" for name in (  # the trusted worker (items 2, 5, 10)
               "test_files_no_check_exports_never_replace_the_held_out_data_and_are_flagged",
               "test_a_numpy_number_exported_as_a_0d_array_counts_as_the_number",
               "test_bombs_in_an_export_folder_fail_their_check_with_a_sentence",
               "test_the_trusted_worker_runs_sandboxed_with_memory_cpu_and_file_limits")),
           ]  # fmt: skip
    result = subprocess.run(
        ["runuser", "-u", "nobody", "--", *cmd], env=env, cwd="/tmp", capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout, result.stdout[-3000:]  # ran, as nobody
