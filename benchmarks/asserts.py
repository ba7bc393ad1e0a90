"""Read every accuracy threshold the lessons assert and the exercises check, straight from the notebooks.

A lesson asserts ``assert convnet_acc >= 0.99`` and records ``toolkit.record_result(..., convnet_test_accuracy=
convnet_acc)``; an exercise's solution calls ``checks.check_accuracy(model, x, y, at_least=0.30)``. Parsing the
cells (no execution, no Keras) gives bench_lessons.py the threshold beside each recorded result, and lets a test
hold benchmarks/lesson_recipes.py to the numbers the notebooks really use.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Threshold:
    notebook: str  # file stem, e.g. "01_sequential"
    cell: int  # index in the notebook's cells
    variable: str  # the asserted name (lessons) or "check_accuracy" (exercises)
    at_least: float
    metric: str | None  # the record_result key holding the same value, when the lesson records it


def _code_cells(path: Path) -> list[tuple[int, str]]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [(i, "".join(c["source"])) for i, c in enumerate(cells) if c["cell_type"] == "code"]


def _parse(source: str) -> ast.Module | None:
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _number(node: ast.expr) -> float | None:
    return float(node.value) if isinstance(node, ast.Constant) and isinstance(node.value, int | float) else None


def thresholds(path: Path) -> list[Threshold]:
    """Every ``assert NAME >= NUMBER`` and every ``check_accuracy(..., at_least=NUMBER)`` in ``path``."""
    found: list[Threshold] = []
    for index, source in _code_cells(path):
        tree = _parse(source)
        if tree is None:
            continue
        recorded: dict[str, str] = {}  # variable -> record_result key
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "record_result":
                recorded.update({kw.value.id: kw.arg for kw in node.keywords
                                 if kw.arg and isinstance(kw.value, ast.Name)})  # fmt: skip
        for node in ast.walk(tree):
            if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare):
                test = node.test
                if (isinstance(test.left, ast.Name | ast.Subscript) and len(test.ops) == 1
                        and isinstance(test.ops[0], ast.GtE | ast.Gt)
                        and (value := _number(test.comparators[0])) is not None):  # fmt: skip
                    name = ast.unparse(test.left)
                    found.append(Threshold(path.stem, index, name, value, recorded.get(name)))
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "check_accuracy":
                for kw in node.keywords:
                    if kw.arg == "at_least" and (value := _number(kw.value)) is not None:
                        found.append(Threshold(path.stem, index, "check_accuracy", value, None))
    return found


def course_thresholds(root: Path = ROOT) -> list[Threshold]:
    """The English lessons' asserts and the English solutions' accuracy checks (the Chinese edition shares them)."""
    paths = sorted((root / "notebooks").glob("[0-9]*.ipynb")) + sorted((root / "course" / "solutions").glob("*.ipynb"))
    return [t for p in paths for t in thresholds(p)]
