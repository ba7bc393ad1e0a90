"""A pytest plugin, loaded next to nbval in the grading subprocess: tokens, liveness, signed results.

The sandbox copies this file into a private folder and runs ``pytest -p _course_nbval_plugin -p nbval.plugin``,
so it imports nothing from ``course``. It reads one JSON line from stdin (the per-run secret and the results path:
they never enter the kernel's environment or the notebook file), then:

- extends each check cell, in memory, with a fresh import of ``toolkit.checks`` before it and a line after it that
  prints the check's token (an HMAC of the check id), so a check counts only if its own cell really reached the end,
  and the share of its points the cell awarded (``toolkit.checks.award``; counted only for a check verified in the
  kernel alone: a verified check's share comes from the trusted process);
- deletes the notebook file once collected, so student code cannot read the hidden checks from it;
- polls the kernel while a cell runs and reports a dead kernel within about a second;
- appends one HMAC-signed JSON record per cell to the results file, which the grader verifies, and a ``start``
  record (cell index, time) before each cell, so the grader knows which cell the CPU seconds it measures belong to;
- stops a cell when the grader says it used its CPU seconds (a ``{"stop": index}`` line on stdin), the way nbval
  stops one at its wall-clock timeout (which stays, as a backstop): the kernel is interrupted, and stopped if it
  does not obey.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import select
import time
from pathlib import Path
from typing import Any

import pytest

MAX_TEXT = 2000
POLL_S = 0.25  # how often a running cell checks the kernel and the grader's stop requests
_state: dict[str, Any] = {}


class KernelDied(RuntimeError):
    """The kernel process exited while a cell was running."""


def token_for(secret: str, check_id: str) -> str:
    return hmac.new(secret.encode(), f"check:{check_id}".encode(), hashlib.sha256).hexdigest()[:32]


def sign(secret: str, record: dict[str, Any]) -> str:
    body = json.dumps(record, sort_keys=True)
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return json.dumps({"record": record, "mac": mac})


def _emit(record: dict[str, Any]) -> None:
    with open(_state["results"], "a", encoding="utf-8") as f:
        f.write(sign(_state["secret"], record) + "\n")


def _read_line() -> str:
    """One line from stdin, read unbuffered (later lines are read with select: a buffer would hide them)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(0, 1)
        if not chunk:
            break
        data += chunk
    return data.decode()


def _stop_requested() -> bool:
    """True once the grader has asked to stop the running cell (it used its CPU seconds)."""
    while not _state["closed"] and select.select([0], [], [], 0)[0]:
        chunk = os.read(0, 4096)
        _state["closed"] = not chunk  # the grader closed the pipe: no more requests
        _state["pending"] += chunk
    *lines, _state["pending"] = _state["pending"].split(b"\n")
    for line in lines:
        if line.strip() and json.loads(line).get("stop") == _state["cell"]:
            _state["stopped"] = _state["cell"]
    return _state["stopped"] is not None and _state["stopped"] == _state["cell"]


def _await_reply_polling(self: Any, msg_id: str, timeout: float | None = None) -> None:
    """nbval's ``RunningKernel.await_reply``, but checking every quarter second that the kernel is still alive and
    whether the grader asked to stop the cell (then it raises ``queue.Empty``, as at nbval's own timeout)."""
    deadline = None if timeout is None else time.monotonic() + float(timeout)
    while True:
        wait = POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - time.monotonic()))
        try:
            msg = self.get_message(stream="shell", timeout=wait)
        except queue.Empty:
            if not self.is_alive():
                raise KernelDied("the Python kernel died while this cell was running") from None
            if _stop_requested():
                raise
            if deadline is not None and time.monotonic() >= deadline:
                raise
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            if msg["content"]["status"] == "aborted":
                raise RuntimeError("Kernel aborted execution request")
            return


def pytest_configure(config: pytest.Config) -> None:
    control = json.loads(_read_line())
    _state.update(secret=control["secret"], results=control["results"], t0=time.monotonic(), first=None)
    _state.update(cell=None, stopped=None, pending=b"", closed=False)
    # The kernel inherits this process's environment: nothing of ours may reach it.
    os.environ.pop("PYTHONPATH", None)
    from nbval import kernel

    kernel.RunningKernel.await_reply = _await_reply_polling
    if control.get("ipc"):  # the sandboxed kernel has no network: talk over Unix sockets in its runtime folder
        manager = kernel.KernelManager

        def ipc_manager(**kwargs: Any) -> Any:
            return manager(transport="ipc", ip=control["ipc"], **kwargs)

        kernel.KernelManager = ipc_manager


def _course(item: Any) -> dict[str, Any]:
    cell = getattr(item, "cell", None)
    meta = cell.get("metadata", {}) if cell is not None else {}
    return {"check": meta.get("course", {}).get("check"), "student_cell": meta.get("grader", {}).get("student_cell")}


def _instrument(source: str, check_id: str) -> str:
    token = token_for(_state["secret"], check_id)
    return "\n".join(
        [
            "import importlib as _course_importlib, json as _course_json, sys as _course_sys",
            "_course_checks = checks = _course_importlib.reload(_course_importlib.import_module('toolkit.checks'))",
            source,
            # (a module put in toolkit.checks' place may lack a working awarded(): then all or nothing)
            "try:\n    _course_award = _course_json.dumps(list(_course_checks.awarded()))\n"
            "except Exception:\n    _course_award = '[1.0, \"\"]'",
            f"_course_sys.stdout.write('course-check {check_id} {token} ' + _course_award + '\\n'); "
            "_course_sys.stdout.flush()",
        ]
    )


def token_line(text: str, check_id: str) -> tuple[float, str] | None:
    """The share of its points and the reason that check ``check_id``'s token line in ``text`` (its cell's output)
    gives (the last such line counts), or None when there is no valid one: a line without the right token, or with
    a share that is not a number from 0 to 1, is not the cell's own."""
    prefix = f"course-check {check_id} {token_for(_state['secret'], check_id)}"
    for line in reversed(text.splitlines()):
        if not line.startswith(prefix + " "):
            continue
        try:
            fraction, why = json.loads(line[len(prefix) + 1 :])
        except (ValueError, TypeError):
            return None
        number = isinstance(fraction, int | float) and not isinstance(fraction, bool)
        if not number or not 0 <= fraction <= 1 or not isinstance(why, str):
            return None
        return float(fraction), why[:MAX_TEXT]
    return None


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[Any]) -> None:
    for item in items:
        check_id = _course(item)["check"]
        if check_id:
            item.cell.source = _instrument(item.cell.source, check_id)
    for path in {Path(str(item.fspath)) for item in items}:
        path.unlink(missing_ok=True)
    _emit({"kind": "collected", "cells": len(items)})


def _kernel_pid(item: Any) -> int | None:
    kernel = getattr(item.parent, "kernel", None)
    provisioner = getattr(getattr(kernel, "km", None), "provisioner", None)
    return getattr(provisioner, "pid", None)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: Any) -> None:
    if _state["first"] is None:
        _state["first"] = time.monotonic()
        _emit({"kind": "kernel", "pid": _kernel_pid(item), "ready_s": round(_state["first"] - _state["t0"], 3)})
    _state.update(cell=getattr(item, "cell_num", None), stopped=None)
    _emit({"kind": "start", "index": _state["cell"], "t": time.monotonic()})


def _text(outputs: list[Any]) -> str:
    return "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stdout")


def _error(call: Any, outputs: list[Any]) -> dict[str, str] | None:
    for out in outputs:
        if out.get("output_type") == "error":
            return {"ename": str(out.get("ename"))[:200], "evalue": str(out.get("evalue"))[:MAX_TEXT]}
    if call.excinfo is not None:
        return {"ename": call.excinfo.type.__name__, "evalue": str(call.excinfo.value)[:MAX_TEXT]}
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Any:
    outcome = yield
    report = outcome.get_result()
    if call.when == "setup" and report.passed:
        return
    if call.when == "teardown" and report.passed:
        return
    info = _course(item)
    outputs = list(getattr(item, "test_outputs", None) or [])
    error = _error(call, outputs)
    died = call.excinfo is not None and (
        call.excinfo.type.__name__ == "KernelDied" or "Kernel dead" in str(call.excinfo.value)
    )
    # nbval reports a timeout in its own exception; the cell's output shows the KeyboardInterrupt it caused.
    timed_out = call.excinfo is not None and "Timeout of" in str(call.excinfo.value)
    stopped = call.when == "call" and _state["stopped"] is not None and _state["stopped"] == _state["cell"]
    awarded = token_line(_text(outputs), info["check"]) if info["check"] else None
    _emit(
        {
            "kind": "cell",
            "when": call.when,
            "index": getattr(item, "cell_num", None),
            "check": info["check"],
            "student_cell": info["student_cell"],
            "passed": bool(report.passed),
            "token": awarded is not None,
            "fraction": awarded[0] if awarded is not None else None,  # of the check's points (toolkit.checks.award)
            "award": awarded[1] if awarded is not None else "",
            "error": error,
            "timeout": timed_out or stopped,
            "limit": ("cpu" if stopped else "wall") if timed_out or stopped else None,  # which limit stopped it
            "died": died,
            "seconds": round(call.duration, 3),
            "t": time.monotonic(),
        }
    )
    if died:
        item.session.shouldstop = "the kernel died"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    end = time.monotonic()
    _emit({"kind": "finished", "total_s": round(end - _state["t0"], 3), "exitstatus": int(exitstatus)})
