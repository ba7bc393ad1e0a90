"""A Babel extractor for notebooks (a dev tool: ``babel.cfg`` names it; the runtime never imports it).

The check cells of the English lessons and solutions pass their own texts to ``checks.check_*(...)`` (``what``,
``hint=``), which the checks translate at run time; this yields every such literal that holds a space (a single
word is a value, not a sentence), so ``pybabel extract`` puts them in the catalog beside the toolkit's messages.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from typing import IO, Any


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _literals(node: ast.Call) -> Iterator[str]:
    for value in [*node.args, *(kw.value for kw in node.keywords)]:
        for part in value.values if isinstance(value, ast.BoolOp) else [value]:  # hint=hint or "..."
            if isinstance(part, ast.Constant) and isinstance(part.value, str) and " " in part.value:
                yield part.value


def check_texts(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: dict[str, Any]
) -> Iterator[tuple[int, None, str, list[str]]]:
    """Babel's extractor protocol: ``(line, funcname, message, comments)`` for each check text of a notebook.

    The line is the cell's number (1-based), so that the ``.pot`` says where a text comes from.
    """
    notebook = json.loads(fileobj.read().decode("utf-8"))
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        source = _source(cell)
        if cell.get("cell_type") != "code" or source.lstrip().startswith(("%", "!")):
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and (node.func.attr.startswith("check_") or node.func.attr == "award")
            ):
                for literal in _literals(node):
                    yield number, None, literal, []
