"""The kernel fork server (course/kernel_side/kernel_zygote.py, course/sandbox/forkserver.py): one sandbox serves many
submissions in
turn, so nothing of one submission may reach the next, and no kernel may reach the server it was forked from."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from course.sandbox import forkserver
from course.sandbox.limits import Limits
from course.sandbox.run import RunOutcome, run_notebook

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox is Linux-only")
MARK = "876.54321"  # the `sleep` argument of the process the first submission leaves behind
LIMITS = Limits(preload="toolkit", cell_timeout=60, timeout=180)

STARTUP = ["/etc/ipython/ipython_kernel_config.py", "/etc/jupyter/jupyter_config.py", "/root/.keras/keras.json",
           "/usr/local/etc/ipython/ipython_config.py", "/left", "/dev/left", "/etc/matplotlibrc"]
KEYRINGS = (  # add_key(2) and keyctl(2) have no Python wrapper
    "import ctypes, platform\nlibc = ctypes.CDLL(None, use_errno=True)\nL = ctypes.c_long\n"
    "ADD_KEY, KEYCTL = {'x86_64': (248, 250), 'aarch64': (217, 219)}[platform.machine()]\n"
    "def add_key(ring, name):\n    return libc.syscall(L(ADD_KEY), b'user', name, b'secret', L(6), L(ring))\n"
    "def search(ring, name):\n    return libc.syscall(L(KEYCTL), L(10), L(ring), b'user', name, L(0))\n"
)
LEAVE = {
    "files": "import os\nopen('/tmp/left', 'w').write('x')\nopen('/dev/shm/left', 'w').write('x')\n"
    "open(os.path.expanduser('~/left.txt'), 'w').write('x')\nos.makedirs('/tmp/locked/deep')\n"
    "open('/tmp/locked/deep/f', 'w').write('x')\nos.chmod('/tmp/locked/deep', 0)\nos.chmod('/tmp/locked', 0)\n"
    "open('/run/left', 'w').write('x')",
    "ipc": "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    "assert libc.shmget(0x5EED, 4096, 0o1000 | 0o666) >= 0, ctypes.get_errno()",  # IPC_CREAT
    "process": f"import subprocess\nsubprocess.Popen(['sleep', '{MARK}'], start_new_session=True)",
    "memory": "import os, sys, keras, toolkit.checks\ntoolkit.checks.LEFT = 1\nkeras.Model.fit = None\n"
    "os.environ['LEFT'] = '1'\nsys.modules['left_behind'] = sys",
    # files IPython, Python, Keras or matplotlib would read when the next kernel starts, and the rest of the root
    "start-up": f"import os\nfor path in {STARTUP!r}:\n    try:\n        os.makedirs(os.path.dirname(path), "
    "exist_ok=True)\n        open(path, 'w').write(\"open('/tmp/pwned', 'w').write('x')\\n\")\n"
    "    except OSError:\n        pass",
    "keyrings": KEYRINGS + "for ring in (-3, -4, -5):  # session, user, user session\n"
    "    assert add_key(ring, b'left%d' % -ring) > 0, ring",
    "deep folders": "import os\nfor top in [os.path.expanduser('~'), '/tmp']:\n    os.chdir(top)\n"
    "    for _ in range(1500):\n        os.mkdir('deep' * 20)\n        os.chdir('deep' * 20)\n"
    "    open('f', 'w').write('x')\nos.chdir(os.path.expanduser('~'))",
}
FIND = {
    "files": "import os\nfor p in ['/tmp/left', '/dev/shm/left', os.path.expanduser('~/left.txt'), '/tmp/locked',"
    " '/run/left']:\n    assert not os.path.lexists(p), p",
    "ipc": "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nassert libc.shmget(0x5EED, 4096, 0o666) == -1",
    "process": "import os\nfor p in os.listdir('/proc'):\n    if p.isdigit():\n        try:\n"
    "            cmd = open(f'/proc/{p}/cmdline').read()\n        except OSError:\n            continue\n"
    f"        assert '{MARK}' not in cmd, cmd",
    "memory": "import os, sys, keras, toolkit.checks\nassert not hasattr(toolkit.checks, 'LEFT')\n"
    "assert callable(keras.Model.fit)\nassert 'LEFT' not in os.environ\nassert 'left_behind' not in sys.modules",
    "start-up": f"import os\nfor path in [*{STARTUP!r}, '/tmp/pwned']:\n    assert not os.path.lexists(path), path",
    "keyrings": KEYRINGS + "for ring in (-3, -4, -5):\n"
    "    assert search(ring, b'left%d' % -ring) == -1, ring",
    "deep folders": "import os\nassert not os.path.lexists(os.path.join(os.path.expanduser('~'), 'deep' * 20))\n"
    "assert not os.path.lexists('/tmp/' + 'deep' * 20)",
}


def _tiny(*sources: str) -> Any:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3"}
    return nb


def _calls(outcome: RunOutcome) -> list[dict[str, Any]]:
    return [r for r in outcome.cells() if r["when"] == "call"]


@pytest.mark.slow
def test_nothing_of_one_submission_reaches_the_next_in_its_slot() -> None:
    first = run_notebook(_tiny(*LEAVE.values()), LIMITS)
    assert [(r["passed"], r["error"]) for r in _calls(first)] == [(True, None)] * len(LEAVE), first.log_tail
    assert first.slot_root is not None and first.processes_killed >= 1  # the sleep it left was killed
    second = run_notebook(_tiny(*FIND.values()), LIMITS)
    assert second.slot_root == first.slot_root  # the same sandbox, the same server
    found = dict(zip(FIND, _calls(second)))
    assert {k: (r["passed"], r["error"]) for k, r in found.items()} == {k: (True, None) for k in FIND}


SERVER = """import os
server = open('/proc/2/cmdline').read()
assert 'kernel_zygote' in server, server
assert os.getppid() == 1  # the kernel's parent is the sandbox's init, not the server
"""
REACH = {
    "memory": "open('/proc/2/mem', 'rb').read(1)",
    "environment": "open('/proc/2/environ', 'rb').read()",
    "control pipe": "open('/proc/2/fd/1', 'wb').write(b'{}')",  # its replies to the grader
    "listening socket": "import os\nos.readlink('/proc/2/fd/0')",
}
CTL = """import os
slot = os.path.dirname(os.environ['HOME'])  # the slot's folder: only its work, runtime and lib are in the sandbox
assert os.path.isdir(os.path.join(slot, 'lib')) and not os.path.exists(os.path.join(slot, 'ctl'))
"""
PTRACE = """import ctypes
libc = ctypes.CDLL(None, use_errno=True)
assert libc.ptrace(16, 2, None, None) == -1  # PTRACE_ATTACH
"""


@pytest.mark.slow
def test_a_kernel_cannot_reach_the_server_it_was_forked_from() -> None:
    sources = [SERVER, *(f"try:\n    {s.replace(chr(10), chr(10) + '    ')}\nexcept PermissionError:\n    pass\n"
                         f"else:\n    raise AssertionError('read the server {k}')" for k, s in REACH.items()),
               PTRACE, CTL]  # fmt: skip
    outcome = run_notebook(_tiny(*sources), LIMITS)
    records = _calls(outcome)
    assert len(records) == len(sources), outcome.log_tail
    assert [(r["passed"], r["error"]) for r in records] == [(True, None)] * len(sources)
    slot = next(s for s in forkserver.SLOTS.slots() if str(s.root) == outcome.slot_root)
    assert slot.socket_path.parent.name == "ctl" and slot.socket_path.exists()  # there, but not in the sandbox


@pytest.mark.slow
def test_a_kernel_that_kills_its_server_ends_only_itself() -> None:
    killer = run_notebook(_tiny("import os\nos.kill(2, 9)", "import time\ntime.sleep(5)"), LIMITS)
    assert any(r["died"] for r in killer.cells()), killer.log_tail
    assert killer.slot_root not in [str(s.root) for s in forkserver.SLOTS.slots()]  # that slot was closed
    after = run_notebook(_tiny("x = 1 + 1", "assert x == 2"), LIMITS)
    assert after.slot_root != killer.slot_root
    assert [(r["passed"], r["error"]) for r in _calls(after)] == [(True, None)] * 2


def test_a_slot_that_cannot_be_cleaned_is_never_reused(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    (folder / "a" / "b").mkdir(parents=True)
    (folder / "a" / "b" / "f").write_text("x")
    (folder / "a" / "b").chmod(0)
    (folder / "link").symlink_to("/etc/passwd")
    assert forkserver.empty(str(folder))  # permissions a kernel took away are given back first
    assert list(folder.iterdir()) == [] and Path("/etc/passwd").exists()


@pytest.mark.slow
def test_what_the_sandbox_binds_under_tmp_survives_a_kernel_that_removes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # A clone under /tmp (CI's fresh clone, for one) puts the data link and the virtual environment inside the
    # sandbox's private /tmp; the reset between submissions must keep them, and put back what a kernel removed.
    import os
    import tempfile

    real = Path(os.environ["KERAS_COURSE_DATA"]).resolve()
    with tempfile.TemporaryDirectory(prefix="course-under-tmp-", dir="/tmp") as tmp:
        link = Path(tmp) / "shared" / "data"
        link.parent.mkdir()
        link.symlink_to(real)
        monkeypatch.setenv("KERAS_COURSE_DATA", str(link))
        remove = (
            "import os\npath = os.environ['KERAS_COURSE_DATA']\nassert os.path.islink(path), path\nos.unlink(path)\n"
            "open(path, 'w').write('not the data')\nos.chmod(os.path.dirname(path), 0)"
        )
        load = "from toolkit import datasets\n(x, y), _ = datasets.load_mnist(limit=(10, 10))\nassert len(x) == 10"
        first = run_notebook(_tiny(load, remove), LIMITS)
        assert [(r["passed"], r["error"]) for r in _calls(first)] == [(True, None)] * 2, first.log_tail
        second = run_notebook(_tiny(load), LIMITS)
        assert second.slot_root == first.slot_root  # the same sandbox, made as it was
        assert [(r["passed"], r["error"]) for r in _calls(second)] == [(True, None)], second.log_tail
