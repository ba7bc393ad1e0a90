"""The records that cross from the run (course/kernel_side/nbval_plugin.py, in the pytest process beside the
kernel) to the grader: their types, checked where they are read (course/sandbox/run.py), so that the steps after the
run can rely on every field. A signed line whose record does not have these fields and types is counted as rejected,
like a forged one."""

from __future__ import annotations

from types import NoneType
from typing import Any, Literal, TypedDict

Number: tuple[type, ...] = (int, float)


class CollectedRecord(TypedDict):
    kind: Literal["collected"]
    cells: int


class KernelRecord(TypedDict):
    kind: Literal["kernel"]
    pid: int | None
    ready_s: float


class StartRecord(TypedDict):
    kind: Literal["start"]
    index: int
    t: float


class CellError(TypedDict):
    ename: str
    evalue: str


class CellRecord(TypedDict, total=False):
    kind: Literal["cell"]
    when: Literal["setup", "call", "teardown"]
    index: int | None
    check: str | None
    student_cell: int | None
    passed: bool
    token: bool
    error: CellError | None
    timeout: bool
    limit: Literal["cpu", "wall"] | None
    died: bool
    seconds: float
    t: float
    cpu_s: float  # added by the grader, never by the plugin


class FinishedRecord(TypedDict):
    kind: Literal["finished"]
    total_s: float
    exitstatus: int


# kind -> field -> the types its value may have (bool is not a number here: True is no cell index)
FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "collected": {"cells": (int,)},
    "kernel": {"pid": (int, NoneType), "ready_s": Number},
    "start": {"index": (int,), "t": Number},
    "cell": {
        "when": (str,),
        "index": (int, NoneType),
        "check": (str, NoneType),
        "student_cell": (int, NoneType),
        "passed": (bool,),
        "token": (bool,),
        "error": (dict, NoneType),
        "timeout": (bool,),
        "died": (bool,),
        "seconds": Number,
    },  # fmt: skip
    "finished": {"total_s": Number, "exitstatus": (int,)},
}
OPTIONAL = {"cell": {"limit": (str, NoneType), "t": Number}}


def valid(record: Any) -> bool:
    """Whether ``record`` is one of the records above, with every field of the right type."""
    if not isinstance(record, dict) or record.get("kind") not in FIELDS:
        return False
    kind = record["kind"]
    for name, types in FIELDS[kind].items():
        value = record.get(name, ...)
        if value is ... or not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            return False
    for name, types in OPTIONAL.get(kind, {}).items():
        if name in record and not isinstance(record[name], types):
            return False
    if kind == "cell":
        if record["when"] not in ("setup", "call", "teardown"):
            return False
        error = record["error"]
        if error is not None and not (isinstance(error.get("ename"), str) and isinstance(error.get("evalue"), str)):
            return False
    return True
