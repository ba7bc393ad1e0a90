"""Which names a check cell reads from the student: the objects the grader exports for it.

A check reads the student's objects: the names it uses that the exercise's locked cells do not define. Its
``verify`` cells (instructor code the trusted process runs first) may read more, and make some themselves.
"""

from __future__ import annotations

import ast
import builtins

from course.authoring.notebook_format import Exercise, course_meta


def _locked_names(exercise: Exercise) -> set[str]:
    names: set[str] = set(dir(builtins))
    for cell in exercise.notebook.cells:
        if cell.cell_type == "code" and course_meta(cell).get("locked"):
            for node in ast.walk(ast.parse(python_code(cell.source))):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
                elif isinstance(node, ast.alias):
                    names.add((node.asname or node.name).split(".")[0])
    return names


def _stored(source: str) -> set[str]:
    """Names ``source`` assigns, defines or loops over."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def python_code(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def student_names(exercise: Exercise, check_source: str) -> list[str]:
    """Names a check cell reads that the exercise's locked cells do not define: the student's objects."""
    known = _locked_names(exercise)
    used = [n.id for n in ast.walk(ast.parse(check_source)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
    return sorted({n for n in used if n not in known})


def exported_names(exercise: Exercise, check_id: str, check_source: str) -> list[str]:
    """What the export cell before ``check_id`` saves: the student's objects the check (and its ``verify`` cells)
    read; not the names the verify cells make themselves in the trusted process."""
    prelude = exercise.verify_source(check_id)
    names = student_names(exercise, prelude + check_source)
    made = (_stored(prelude) if prelude else set()) | _stored(python_code(check_source))  # made there, not read
    return [n for n in names if n not in made and not n.startswith("_")]
