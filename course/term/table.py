"""The instructor's CSV files (roster, submission times, overrides), read with the line number of every row.

Every problem is one sentence naming the file, the line and the fix (a ValueError), raised before anything is graded.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Row:
    """One data row of a CSV file: its line number (the header is line 1) and its cells by column name."""

    line: int
    cells: dict[str, str]

    def get(self, column: str) -> str:
        return (self.cells.get(column) or "").strip()


def read_table(path: Path, required: tuple[str, ...], example: str) -> list[Row]:
    """The rows of ``path``, which must have the ``required`` columns; ``example`` is a header to suggest."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            rows = [
                Row(reader.line_num, {str(k).strip(): v for k, v in row.items() if k is not None}) for row in reader
            ]
            header = [name.strip() for name in reader.fieldnames or []]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"{path} could not be read ({err}); pass a UTF-8 CSV file") from None
    absent = [name for name in required if name not in header]
    if absent:
        raise ValueError(f"{path} has no {', '.join(repr(a) for a in absent)} column; its first line (line 1) must "
                         f"name the columns, e.g. {example}")  # fmt: skip
    return [row for row in rows if any(v.strip() for v in row.cells.values() if isinstance(v, str))]


def unique_students(path: Path, rows: list[Row]) -> dict[str, Row]:
    """Student -> row; a row without a student or a student named twice is refused (file, line, fix)."""
    found: dict[str, Row] = {}
    for row in rows:
        student = row.get("student")
        if not student:
            raise ValueError(f"{path}, line {row.line}: the student cell is empty; fill it in or delete the row")
        if student in found:
            raise ValueError(f"{path}, line {row.line}: student {student!r} appears again (first on line "
                             f"{found[student].line}); keep one row per student")  # fmt: skip
        found[student] = row
    return found
