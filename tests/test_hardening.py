"""One submission must never reach a classmate, the grader's disk or the next kernel of its slot (issue 27).

Hostile submissions are graded with correct classmates through `course grade` with DEFAULT limits and one worker,
so that every kernel runs in the same grading slot (one sandbox, one fork server) one after another: whatever a
hostile one leaves behind is there when its classmates run. A correct classmate's grade must be the same as when
graded alone. The faster tests check the pieces: the disk quota, deep folder chains, the read-only sandbox.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat
import pytest
from test_sandbox import _answered  # a correct ex01 submission with one cell added

from course.kernel_side.kernel_zygote import remove_tree
from course.sandbox import forkserver
from course.sandbox.limits import Limits
from course.sandbox.run import run_notebook

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox is Linux-only")
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _tiny(*sources: str) -> Any:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3"}
    return nb


def _chain(top: Path, depth: int) -> Path:
    """A chain of ``depth`` folders under ``top`` (longer than PATH_MAX in all), made relative to each folder."""
    here = os.open(top, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir("d" * 40, dir_fd=here)
        below = os.open("d" * 40, os.O_RDONLY, dir_fd=here)
        os.close(here)
        here = below
    fd = os.open("f", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=here)
    os.close(fd)
    os.close(here)
    return top / ("d" * 40)


def test_a_folder_chain_of_any_depth_is_emptied_and_links_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("a classmate's file")
    work = tmp_path / "work"
    work.mkdir()
    _chain(work, 1500)
    (work / "link").symlink_to(outside)
    os.chmod(work / ("d" * 40), 0)  # a kernel took its permissions away
    assert forkserver.empty(str(work))
    assert list(work.iterdir()) == [] and (outside / "keep.txt").read_text() == "a classmate's file"
    _chain(work, 1200)
    assert remove_tree(str(work)) and not work.exists()


GRADED = ["z_classmate_1", "z_classmate_2"]  # graded after the hostile ones (names sorted), in the same slot
TAKE_OVER = r"""# Take over the slot: start-up files of IPython, Jupyter, Keras and matplotlib, keyrings, deep folders.
import ctypes, os, platform
evil = ("import toolkit.checks as _c\n"
        "_c.check_equal = _c.check_true = lambda *a, **k: (_ for _ in ()).throw(AssertionError('taken over'))\n")
for path in ['/etc/ipython/ipython_kernel_config.py', '/etc/ipython/profile_default/startup/00.py',
             '/etc/jupyter/jupyter_config.py', '/usr/local/etc/ipython/ipython_kernel_config.py',
             '/root/.ipython/profile_default/startup/00.py', '/etc/matplotlibrc', '/sitecustomize.py']:
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        config = "c.InteractiveShellApp.exec_lines = [%r]\n" % evil
        open(path, 'w').write(config if path.endswith('config.py') else evil)
    except OSError:
        pass
libc = ctypes.CDLL(None, use_errno=True)
add_key = {'x86_64': 248, 'aarch64': 217}.get(platform.machine())
for ring in (-3, -4, -5):
    if add_key:
        libc.syscall(ctypes.c_long(add_key), b'user', b'left', b'secret', ctypes.c_long(6), ctypes.c_long(ring))
for top in (os.path.expanduser('~'), '/tmp'):
    os.chdir(top)
    for _ in range(1500):
        os.mkdir('deep' * 10)
        os.chdir('deep' * 10)
os.chdir(os.path.expanduser('~'))
for scratch in ('/tmp/fill', '/dev/shm/fill'):  # fill the memory-backed folders to the brim
    try:
        with open(scratch, 'wb') as f:
            while True:
                f.write(b'x' * 2**20)
    except OSError:
        pass
"""
FILL_DISK = r"""# Fill the grader's disk through the work folder: many files, and files deleted but kept open.
import os
kept = []
chunk = b'x' * 2**22
try:
    for i in range(4096):
        f = open(f'fill{i}', 'wb')
        f.write(chunk * 16)
        if i % 2:
            os.unlink(f'fill{i}')
            kept.append(f)
        else:
            f.close()
except OSError:
    pass
"""


@pytest.mark.slow
def test_hostile_submissions_in_one_slot_change_no_correct_grade(tmp_path: Path) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    for name in GRADED:
        shutil.copyfile(FIXTURES / "submissions" / "ex01" / "correct.ipynb", folder / f"{name}.ipynb")
    nbformat.write(_answered(TAKE_OVER), str(folder / "a_take_over.ipynb"))
    nbformat.write(_answered(FILL_DISK), str(folder / "b_fill_disk.ipynb"))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "course", "grade", "ex01", str(folder), "--out", str(out), "--workers", "1"]
    scratch = Path(tempfile.mkdtemp(prefix="course-test-", dir="/tmp"))  # the grader's own temporary folders go
    # here (a short path: the kernels' sockets live in it)
    env = {**os.environ, "TMPDIR": str(scratch)}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(out / "gradebook.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    for name in GRADED:  # as when graded alone: full marks, nothing of the others on their rows
        assert (rows[name]["total"], rows[name]["status"], rows[name]["notes"]) == ("11", "graded", ""), rows[name]
    # its answers are right and all it did stayed in its own sandbox: its points are its own
    assert (rows["a_take_over"]["total"], rows["a_take_over"]["status"]) == ("11", "graded"), rows["a_take_over"]
    filler = rows["b_fill_disk"]
    assert filler["status"] == "disk limit" and "1024 MB" in (out / "feedback" / "b_fill_disk.md").read_text()
    assert [p.name for p in scratch.iterdir()] == []  # no grader folder left behind, however deep its folders were
    scratch.rmdir()


@pytest.mark.slow
def test_a_run_that_passes_its_disk_quota_is_stopped_at_once() -> None:
    limits = Limits(preload=None, cell_timeout=60, timeout=120, disk_mb=64)
    fill = "chunk = b'x' * 2**20\nfor i in range(400):\n    with open(f'f{i}', 'wb') as f:\n        f.write(chunk)"
    unlinked = (
        "import os\nkept = []\nfor i in range(400):\n    f = open(f'g{i}', 'wb')\n    os.unlink(f'g{i}')\n"
        "    f.write(b'x' * 2**20)\n    f.flush()\n    kept.append(f)\nimport time\ntime.sleep(60)"
    )
    for cells in ([fill, "print('after')"], [unlinked]):
        outcome = run_notebook(_tiny(*cells), limits)
        assert outcome.disk_used_mb is not None and outcome.disk_used_mb >= 64, outcome.log_tail[-2000:]
        assert outcome.wall_s < 30 and not outcome.timed_out  # stopped by the quota, not by the clock


def test_one_file_cannot_pass_the_quota_and_tmp_is_full_at_its_size() -> None:
    # /tmp (100 MB) is larger than the quota (64 MB): the file-size limit stops the first write, not a full /tmp;
    # /dev/shm (50 MB) is full before the file-size limit. Neither is on the grader's disk, so no run is stopped.
    limits = Limits(preload=None, cell_timeout=60, timeout=120, disk_mb=64, tmp_mb=100)
    big = ("import errno, os\ntry:\n    with open('/tmp/big', 'wb') as f:\n        f.write(b'x' * 65 * 2**20)\n"
           "except OSError as err:\n    assert err.errno == errno.EFBIG, err\nelse:\n    raise AssertionError('65')\n"
           "assert os.path.getsize('/tmp/big') == 64 * 2**20\nos.unlink('/tmp/big')")  # fmt: skip
    shm = ("import errno, os\ntry:\n    with open('/dev/shm/s', 'wb') as f:\n        f.write(b'x' * 51 * 2**20)\n"
           "except OSError as err:\n    assert err.errno == errno.ENOSPC, err\nelse:\n    raise AssertionError('shm')\n"
           "os.unlink('/dev/shm/s')")  # fmt: skip
    outcome = run_notebook(_tiny(big, shm), limits)
    calls = [r for r in outcome.cells() if r["when"] == "call"]
    assert [(r["passed"], r["error"]) for r in calls] == [(True, None)] * 2, outcome.log_tail[-2000:]
    assert outcome.disk_used_mb is None


def test_a_temporary_folder_too_long_for_the_kernels_sockets_is_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from course.sandbox import run as sandbox

    monkeypatch.setattr(sandbox.tempfile, "gettempdir", lambda: "/tmp/" + "x" * 80)
    with pytest.raises(ValueError, match=r"too long a path .* set TMPDIR to a shorter folder"):
        sandbox.preflight(Limits(sandbox=False))
