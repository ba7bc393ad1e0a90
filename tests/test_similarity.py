"""The similarity check (course/reports/similarity.py): pairs of students whose own code is unusually alike.

A small exercise of its own (no TensorFlow, nothing run): a locked cell, two answer cells with the instructor's
code around the solution regions, one check. Students are the starter with its stubs replaced, as a student makes
them. Milliseconds each, but the one test that starts a second Python (a different string hash seed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import nbformat
import pytest

from course.authoring.notebook_format import Exercise, load_exercise
from course.authoring.starters import make_starter
from course.reports.gradebook import Gradebook, render_only
from course.reports.records import CheckResult, SubmissionResult
from course.reports.similarity import COMMON_MIN, THRESHOLD, Span, find_similar, read_own_code

ANSWER1 = """def normalise(values):
    ### BEGIN SOLUTION scale the values to [0, 1]
    low, high = min(values), max(values)
    return [(v - low) / (high - low) for v in values]
    ### END SOLUTION


scaled = normalise(DATA)
print(f"scaled values: {scaled}")"""
ANSWER2 = """### BEGIN SOLUTION write running_mean(values, window)
def running_mean(values, window):
    return [sum(values[i : i + window]) / window for i in range(len(values) - window + 1)]
### END SOLUTION
means = running_mean(DATA, 3)"""

# ann's answers, ben's (ann's with other names, comments and spacing), cat's (written independently)
ANN = {
    "answer1": """    smallest = min(values)
    largest = max(values)
    spread = largest - smallest
    if spread == 0:
        return [0.0 for _ in values]
    return [(value - smallest) / spread for value in values]""",
    "answer2": """def running_mean(values, window):
    totals = [0]
    for value in values:
        totals.append(totals[-1] + value)
    result = []
    for end in range(window, len(totals)):
        result.append((totals[end] - totals[end - window]) / window)
    return result""",
}
BEN = {
    "answer1": """    lo = min(values)   # the smallest
    hi = max(values)
    width = hi - lo
    if width == 0:
        return [0.0 for _ in values]
    return [(x - lo)/width for x in values]""",
    "answer2": """def running_mean(values, window):
    # prefix sums, then differences
    acc = [0]
    for x in values:
        acc.append(acc[-1] + x)
    out = []
    for j in range(window, len(acc)):
        out.append((acc[j] - acc[j - window]) / window)
    return out""",
}
CAT = {
    "answer1": """    ordered = sorted(values)
    first, last = ordered[0], ordered[-1]
    scale = 1.0 / (last - first) if last != first else 0.0
    out = []
    for item in values:
        out.append(scale * (item - first))
    return out""",
    "answer2": """def running_mean(values, window):
    import statistics
    windows = (values[k : k + window] for k in range(0, len(values) - window + 1))
    return list(map(statistics.fmean, windows))""",
}


def _cell(source: str, cell_id: str, **course: object) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, id=cell_id)
    if course:
        cell.metadata["course"] = course
    return cell


def write_exercise(folder: Path) -> Exercise:
    """ex91_lists.ipynb in ``folder``, loaded."""
    nb = nbformat.v4.new_notebook(
        cells=[
            _cell("import math\nDATA = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5]", "setup", locked="setup"),
            _cell(ANSWER1, "answer1"),
            _cell('assert math.isclose(max(scaled), 1.0), "the largest value must become 1"', "q1", check="q1",
                  points=2),
            _cell(ANSWER2, "answer2"),
            _cell('assert len(means) == len(DATA) - 2, "one mean per window"', "q2", check="q2", points=1),
        ]
    )  # fmt: skip
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "ex91_lists.ipynb"
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return load_exercise(path)


def student_notebook(exercise: Exercise, answers: dict[str, str], extra: str = "") -> nbformat.NotebookNode:
    """The starter with each answer cell's stub line replaced by ``answers[cell id]`` (and a new cell ``extra``)."""
    nb = make_starter(exercise)
    for cell in nb.cells:
        if cell.get("id") in answers:
            lines = cell.source.split("\n")
            stub = next(i for i, line in enumerate(lines) if "raise NotImplementedError" in line)
            cell.source = "\n".join([*lines[:stub], answers[cell.id], *lines[stub + 1 :]])
    if extra:
        nb.cells.append(nbformat.v4.new_code_cell(extra, id="extra"))
    return nb


def write_students(exercise: Exercise, folder: Path, students: dict[str, dict[str, str]]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, answers in students.items():
        paths[name] = folder / f"{name}.ipynb"
        nbformat.write(student_notebook(exercise, answers), str(paths[name]))
    return paths


@pytest.fixture
def exercise(tmp_path: Path) -> Exercise:
    return write_exercise(tmp_path / "solutions")


def test_a_near_copy_with_other_names_pairs_and_an_independent_solution_does_not(
    exercise: Exercise, tmp_path: Path
) -> None:
    paths = write_students(exercise, tmp_path / "subs", {"cat": CAT, "ben": BEN, "ann": ANN})
    found = find_similar(exercise, paths)
    assert found.compared == ("ann", "ben", "cat") and not found.left_out and not found.note
    assert [(p.first, p.second) for p in found.pairs] == [("ann", "ben")]
    pair = found.pairs[0]
    assert pair.first_share >= THRESHOLD and pair.second_share >= THRESHOLD
    # the spans point at the students' own lines, in the cells and at the lines where they wrote them
    nb = nbformat.read(str(paths["ben"]), as_version=4)
    for span in pair.second_spans:
        cell_lines = nb.cells[span.cell - 1].source.split("\n")
        assert span.code.split("\n")[0] == cell_lines[span.first_line - 1].rstrip()
        assert span.code.split("\n")[-1] == cell_lines[span.last_line - 1].rstrip()
    shown = "\n".join(s.code for s in pair.second_spans)
    assert "acc.append(acc[-1] + x)" in shown and "return [(x - lo)/width for x in values]" in shown
    assert "scaled = normalise(DATA)" not in shown  # the instructor's code around the solution region
    assert found.typical is not None and found.typical < THRESHOLD  # the median pair of three is not the copy


def test_the_starter_alone_never_pairs(exercise: Exercise, tmp_path: Path) -> None:
    """Two untouched starters, and two independent solutions that share every line the starter gave them."""
    paths = write_students(exercise, tmp_path / "subs", {"dan": {}, "eli": {}, "cat": CAT, "ann": ANN})
    given = "\n".join(c.source for c in make_starter(exercise).cells if c.cell_type == "code")
    nb = student_notebook(exercise, {}, extra=given)  # the whole starter pasted again into a new cell
    nbformat.write(nb, str(tmp_path / "subs" / "fay.ipynb"))
    paths["fay"] = tmp_path / "subs" / "fay.ipynb"
    found = find_similar(exercise, paths)
    assert found.pairs == ()
    assert found.compared == ("ann", "cat")
    assert [s.split(":")[0] for s in found.left_out] == ["dan", "eli", "fay"]
    assert all("no code of their own" in s for s in found.left_out)


def test_a_span_holds_the_shared_lines_not_the_line_a_shared_run_starts_in(exercise: Exercise, tmp_path: Path) -> None:
    """The k-grams that end one line and start the next match when two different lines end alike: that end alone
    does not take the line into the span."""
    shared = "    return [(cube - min(cubes)) / (max(cubes) - min(cubes)) for cube in cubes]"
    paths = write_students(exercise, tmp_path / "subs", {
        "xia": {"answer1": f"    cubes = [value ** 3 + 12345 for value in values]\n{shared}"},
        "yan": {"answer1": f"    roots = [math.sqrt(abs(value)) * 0.5 for value in values]\n{shared}"},
    })  # fmt: skip
    (pair,) = find_similar(exercise, paths, threshold=0.0).pairs
    cell = next(i for i, c in enumerate(make_starter(exercise).cells, 1) if c.get("id") == "answer1")
    assert pair.first_spans == pair.second_spans == (Span(cell, 3, 3, shared),)


def test_a_line_repeated_in_one_notebook_counts_each_time(exercise: Exercise, tmp_path: Path) -> None:
    """ann repeats one line four times and ben has it once: each of ann's four copies is found in ben's code, so
    most of ann's code is shared (copydetect's own ``boilerplate`` argument drops repeated fingerprints; not here)."""
    line = "    values = [v * 2.5 + 1 for v in values if v is not None]"
    paths = write_students(exercise, tmp_path / "subs", {
        "ann": {"answer1": "\n".join([line] * 4) + "\n" + ANN["answer1"]},
        "ben": {"answer1": line + "\n" + CAT["answer1"]},
    })  # fmt: skip
    (pair,) = find_similar(exercise, paths, threshold=0.0).pairs
    repeated = len(line.replace(" ", "")) * 4
    assert pair.first_share > repeated / (repeated + len(ANN["answer1"].replace(" ", ""))) - 0.1
    assert pair.first_spans[0].code == "\n".join([line] * 4)


def test_edited_check_and_locked_cells_are_the_instructors(exercise: Exercise, tmp_path: Path) -> None:
    """Two students who put the same long code into the locked cell (which the grader replaces) do not pair."""
    paths = write_students(exercise, tmp_path / "subs", {"ann": ANN, "cat": CAT})
    for name in paths:
        nb = nbformat.read(str(paths[name]), as_version=4)
        nb.cells[0].source += "\n" + ANN["answer2"]  # cell 0 is the locked setup cell
        nbformat.write(nb, str(paths[name]))
    assert find_similar(exercise, paths).pairs == ()


def test_code_most_of_the_class_wrote_alike_is_not_evidence(exercise: Exercise, tmp_path: Path) -> None:
    """The same answer2 in every notebook: two students pair on it; in a class of COMMON_MIN it is set aside."""
    own = [f"    return [v * {7 * k + 3} - {k} for v in values]  # student {k}" for k in range(COMMON_MIN)]
    students = {f"s{k}": {"answer1": own[k], "answer2": ANN["answer2"]} for k in range(COMMON_MIN)}
    paths = write_students(exercise, tmp_path / "subs", students)
    two = find_similar(exercise, {s: paths[s] for s in ("s0", "s1")})
    assert [(p.first, p.second) for p in two.pairs] == [("s0", "s1")]
    assert find_similar(exercise, paths).pairs == ()


def test_an_unreadable_notebook_is_one_sentence_and_the_others_are_still_compared(
    exercise: Exercise, tmp_path: Path
) -> None:
    paths = write_students(exercise, tmp_path / "subs", {"ann": ANN, "ben": BEN})
    broken = tmp_path / "subs" / "eve.ipynb"
    broken.write_text('{"cells": [\n  oops\n')
    paths["eve"] = broken
    found = find_similar(exercise, paths)
    assert [(p.first, p.second) for p in found.pairs] == [("ann", "ben")]
    (sentence,) = found.left_out
    assert sentence.startswith(f"eve: {broken} was not compared")
    assert "line 2" in sentence and "save it again from Jupyter" in sentence and sentence.count(". ") == 0
    with pytest.raises(ValueError, match=r"eve\.ipynb was not compared \(the file is not valid JSON"):
        read_own_code("eve", broken, frozenset())


def test_the_pairs_do_not_depend_on_the_order_or_on_pythons_string_hashing(exercise: Exercise, tmp_path: Path) -> None:
    paths = write_students(exercise, tmp_path / "subs", {"ann": ANN, "ben": BEN, "cat": CAT})
    here = find_similar(exercise, paths)
    assert find_similar(exercise, dict(reversed(list(paths.items())))) == here
    script = (
        "import json, sys\nfrom pathlib import Path\nfrom dataclasses import asdict\n"
        "from course.authoring.notebook_format import load_exercise\n"
        "from course.reports.similarity import find_similar\n"
        "ex = load_exercise(Path(sys.argv[1]))\npaths = {p.stem: p for p in Path(sys.argv[2]).iterdir()}\n"
        "print(json.dumps(asdict(find_similar(ex, paths))))"
    )  # fmt: skip
    seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"
    other = subprocess.run(
        [sys.executable, "-c", script, str(exercise.path), str(tmp_path / "subs")],
        env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert json.loads(other.stdout) == json.loads(json.dumps(asdict(here)))


def test_the_gradebook_lists_the_pair_in_report_html_and_never_changes_points(
    exercise: Exercise, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    paths = write_students(exercise, out / "submitted", {"ann": ANN, "ben": BEN, "cat": CAT})
    checks = (CheckResult("q1", 2, 2, False, True, ""), CheckResult("q2", 0, 1, False, False, "one mean per window"))
    results = tuple(SubmissionResult(s, exercise.name, "graded", checks) for s in paths)
    kept = {s: {"file": f"{s}.ipynb", "sha256": "0" * 64, "kept": f"submitted/{s}.ipynb"} for s in paths}
    book = Gradebook(results, submissions=kept, exercise=exercise).write(out)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "ann / ben" in page and "cat /" not in page and "/ cat" not in page
    assert "acc.append(acc[-1] + x)" in page and "copydetect" in page
    assert [r.total for r in book.results] == [2, 2, 2]  # the pair is listed; nobody's points change
    assert (out / "gradebook.csv").read_text().count(",2,3,graded,") == 3
    plain = tmp_path / "plain"
    shutil.copytree(out / "submitted", plain / "submitted")
    without = Gradebook(results, submissions=kept).write(plain)  # no exercise given: said, not guessed
    assert without.results == book.results
    assert "Similarity was not checked in this run" in (plain / "report.html").read_text()
    render_only(exercise, plain, None, None)  # what that sentence tells the instructor to run
    assert "ann / ben" in (plain / "report.html").read_text()
