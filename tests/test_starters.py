"""Starters are generated from the solutions: stubs, hidden checks removed, no answer leaks, committed = fresh."""

from __future__ import annotations

import ast
import operator
import re
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest

from course.authoring.notebook_format import FormatError, course_meta, find_exercises, load_exercise, stub_solutions
from course.authoring.starters import EXERCISES_DIR, make_starter, sync_starters
from course.cli import main
from toolkit.checks import check_hashed

SOLUTIONS = find_exercises()
HASHED = re.compile(r"check_hashed\(\s*\"([^\"]+)\",\s*(\w+),\s*\"([^\"]+)\"")


def _notebook(cells: list[Any]) -> Any:
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _check(source: str, check_id: str = "q1", points: int = 1, **extra: Any) -> Any:
    return nbformat.v4.new_code_cell(source, metadata={"course": {"check": check_id, "points": points, **extra}})


def _write(tmp_path: Path, nb: Any, name: str = "ex09_test.ipynb") -> Path:
    path = tmp_path / name
    nbformat.write(nb, str(path))
    return path


def test_there_are_solutions_to_test() -> None:
    assert [p.stem[:4] for p in SOLUTIONS][:2] == ["ex01", "ex02"]


def test_stub_keeps_lines_outside_markers_and_the_indentation_and_message() -> None:
    source = "x = 1\ndef f():\n    ### BEGIN SOLUTION return 2\n    return 2\n    ### END SOLUTION\ny = f()"
    assert stub_solutions(source) == ('x = 1\ndef f():\n    raise NotImplementedError("Exercise: return 2")\ny = f()')
    two = '### BEGIN SOLUTION\na = 1\n### END SOLUTION\nb = 2\n### BEGIN SOLUTION say "hi"\nc = 3\n### END SOLUTION'
    assert stub_solutions(two) == (
        'raise NotImplementedError("Exercise: replace this line with your code")\nb = 2\n'
        'raise NotImplementedError("Exercise: say \\"hi\\"")'
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("### BEGIN SOLUTION\nx = 1", "is never closed"),
        ("x = 1\n### END SOLUTION", "without a '### BEGIN SOLUTION' before it"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another solution region"),
    ],
)
def test_unbalanced_markers_are_errors(source: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        stub_solutions(source, where="ex09, cell 3")


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ([nbformat.v4.new_code_cell("x = 1")], "no check cells"),
        ([_check("pass", "Q1")], r"id 'Q1' must match \[a-z\]"),
        ([_check("pass"), _check("pass")], "id 'q1' is used twice"),
        ([_check("pass", points=0)], "needs 'points': a positive int"),
        ([_check("pass", hidden="yes")], "'hidden' must be true or false"),
        ([_check("### BEGIN SOLUTION\n### END SOLUTION")], "may not contain solution markers"),
        ([nbformat.v4.new_markdown_cell("hi", metadata={"course": {"check": "q1"}})], "only code cells"),
        ([nbformat.v4.new_code_cell("x", metadata={"course": {"points": 1}})], "must hold one of 'check', 'locked'"),
        (
            [_check("pass"), nbformat.v4.new_code_cell("x = 1", metadata={"course": {"verify": "q7"}})],
            "the verify cell names 'q7', which no check cell has as its id",
        ),
        (
            [_check("pass"), nbformat.v4.new_code_cell("x = 1", metadata={"course": {"probe": "q1"}})],
            r"must define a function probe\(rng\)",
        ),
        (
            [
                _check("pass"),
                nbformat.v4.new_code_cell("def probe(rng):\n  return {}", metadata={"course": {"probe": ["q1"]}}),
            ],
            "'probe' must name a check id",
        ),
        (
            [
                _check("pass"),
                *[nbformat.v4.new_code_cell("def probe(rng):\n  return {}", metadata={"course": {"probe": "q1"}})] * 2,
            ],
            "has two probe cells",
        ),
        ([_check("pass", kernel_only=True)], "'kernel_only' must be a sentence"),
    ],
)
def test_format_errors_name_the_cell_and_the_fix(tmp_path: Path, cells: list[Any], message: str) -> None:
    with pytest.raises(FormatError, match=message):
        load_exercise(_write(tmp_path, _notebook(cells)))


def test_kernelspec_must_be_python3(tmp_path: Path) -> None:
    nb = _notebook([_check("pass")])
    nb.metadata["kernelspec"]["name"] = "other"
    with pytest.raises(FormatError, match="kernelspec name must be 'python3'"):
        load_exercise(_write(tmp_path, nb))


def test_make_starter_stubs_clears_and_drops_hidden_checks(tmp_path: Path) -> None:
    answer = nbformat.v4.new_code_cell("### BEGIN SOLUTION\nsecret = 41 + 1\n### END SOLUTION", id="answer")
    answer.outputs = [nbformat.v4.new_output("stream", name="stdout", text="42\n")]
    answer.execution_count = 3
    visible = _check("checks.check_equal('x', secret, 42)", "q1", 2)
    hidden = _check("checks.check_equal('y', secret, 42)", "q2", 1, hidden=True)
    nb = _notebook([nbformat.v4.new_markdown_cell("# Title"), answer, visible, hidden])
    starter = make_starter(load_exercise(_write(tmp_path, nb)))
    assert [c.cell_type for c in starter.cells] == ["markdown", "code", "code"]
    stub, check = starter.cells[1], starter.cells[2]
    assert stub.source == 'raise NotImplementedError("Exercise: replace this line with your code")'
    assert stub.outputs == [] and stub.execution_count is None and stub.id == "answer"
    assert course_meta(check) == {"check": "q1", "points": 2}
    assert "41 + 1" not in nbformat.writes(starter) and "'y'" not in nbformat.writes(starter)


def test_committed_starters_equal_freshly_generated_ones() -> None:
    statuses = sync_starters(check=True)
    assert {s.path.name for s in statuses if s.state != "orphan"} == {p.name for p in SOLUTIONS}
    stale = [f"{s.state}: {s.path}" for s in statuses if s.state != "unchanged"]
    assert not stale, f"run `python -m course starters`: {stale}"


def test_starters_check_exits_1_and_names_the_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    shutil.copy(SOLUTIONS[0], solutions)
    args = ["--solutions", str(solutions), "starters", "--exercises", str(exercises)]
    assert main([*args, "--check"]) == 1
    assert f"missing   {exercises / SOLUTIONS[0].name}" in capsys.readouterr().out
    assert main(args) == 0
    assert main([*args, "--check"]) == 0
    starter = exercises / SOLUTIONS[0].name
    starter.write_text(starter.read_text().replace("Exercise", "Exercize"))
    assert main([*args, "--check"]) == 1
    out = capsys.readouterr()
    assert f"stale     {starter}" in out.out and "differ from their solution" in out.err


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv}


def _literal(node: ast.AST) -> Any:
    """Evaluate a literal answer, allowing + - * // between numbers (e.g. ``784 * 64 + 64``)."""
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_literal(node.left), _literal(node.right))
    if isinstance(node, ast.Tuple | ast.List):
        return tuple(_literal(e) for e in node.elts)
    return ast.literal_eval(node)


def _solution_answers(nb: Any) -> dict[str, Any]:
    answers = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and not course_meta(cell):
            for stmt in ast.parse(cell.source).body:
                if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
                    try:
                        answers[stmt.targets[0].id] = _literal(stmt.value)
                    except ValueError:
                        continue
    return answers


def _plain_forms(value: Any) -> list[str]:
    if isinstance(value, tuple):
        return [repr(value), repr(list(value))]
    if isinstance(value, int) and abs(value) >= 100:
        return [str(value), f"{value:,}"]
    return [str(value)] if isinstance(value, str) else []


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_hashed_answers_match_the_solution_and_never_appear_in_the_starter(solution: Path) -> None:
    exercise = load_exercise(solution)
    answers = _solution_answers(exercise.notebook)
    starter_text = "\n".join(c.source for c in nbformat.read(str(EXERCISES_DIR / solution.name), 4).cells)
    for check in exercise.checks:
        for question, variable, digest in HASHED.findall(check.source):
            assert variable in answers, (
                f"{solution.name}: write {variable} as a literal in its solution region, so the tests can verify "
                f"the digest of {question!r}"
            )
            check_hashed(question, answers[variable], digest)  # the digest is the solution's answer
            for form in _plain_forms(answers[variable]):
                assert form not in starter_text, f"{solution.name}: the answer to {question} ({form}) leaks"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=lambda p: p.stem)
def test_hidden_checks_are_absent_from_the_starter(solution: Path) -> None:
    exercise = load_exercise(solution)
    starter = nbformat.read(str(EXERCISES_DIR / solution.name), 4)
    starter_checks = {course_meta(c).get("check") for c in starter.cells} - {None}
    assert starter_checks == {c.id for c in exercise.checks if not c.hidden}
    assert all(c.execution_count is None and not c.outputs for c in starter.cells if c.cell_type == "code")


def test_course_hash_prints_a_digest_that_check_hashed_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hash", "ex99_q1", "(None, 10)"]) == 0
    digest = capsys.readouterr().out.strip()
    check_hashed("ex99_q1", [None, 10], digest)
    assert main(["hash", "ex99_q1", "not a literal"]) == 2
    assert "must be a Python literal" in capsys.readouterr().err


def test_starters_default_to_the_checkout_or_the_working_folder_never_site_packages(tmp_path: Path) -> None:
    from course.authoring.starters import default_exercises_dir

    checkout = tmp_path / "clone"
    (checkout / "course").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'keras-course'\n")
    assert default_exercises_dir(checkout / "course", cwd=tmp_path) == checkout / "exercises"
    installed = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "course"
    installed.mkdir(parents=True)
    work = tmp_path / "my-class"
    assert default_exercises_dir(installed, cwd=work) == work / "exercises"
    assert default_exercises_dir() == Path(__file__).resolve().parents[1] / "exercises"  # this checkout
