"""Student file names and student-supplied text: any bytes, never a collision, never a forged line (issue 27).

No kernel starts here: every submission is refused before a kernel would run (broken JSON, no code cells), and the
kernel run is replaced by a function that fails the test if it is ever called.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from course.cli import main
from course.grading import pipeline
from course.grading.files import safe_file_name
from course.reports.analysis import report_files
from course.reports.gradebook import Gradebook, feedback_markdown, gradebook_csv, gradebook_html
from course.reports.records import CheckResult, SubmissionResult

SUBMISSIONS = Path(__file__).resolve().parent / "fixtures" / "submissions" / "ex01"
BROKEN = (SUBMISSIONS / "invalid_json.ipynb").read_bytes()  # status invalid: "not valid JSON"
EMPTY = (SUBMISSIONS / "empty_notebook.ipynb").read_bytes()  # status empty: "no code cells"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
SCORE_LINE = re.compile(r"^\*\*\d+ / \d+ points\*\*", re.MULTILINE)


def _no_kernel(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a kernel was started for a file that should have been refused before running")


@pytest.fixture
def no_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "run_notebook", _no_kernel)


def _write(folder: Path, name: bytes | str, data: bytes) -> None:
    """Create ``folder/name`` with a bytes file name (a Latin-1 zip gives names that are not UTF-8)."""
    raw = name if isinstance(name, bytes) else name.encode("utf-8")
    with open(os.path.join(os.fsencode(folder), raw), "wb") as f:
        f.write(data)


def _grade(folder: Path, out: Path) -> list[dict[str, str]]:
    """Run ``course grade ex01`` on ``folder``; the gradebook's rows (it must exist, whatever the names)."""
    code = main(["grade", "ex01", str(folder), "--out", str(out), "--workers", "2"])
    assert code == 0, f"course grade exited with {code}"
    with open(out / "gradebook.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _feedback(out: Path) -> list[str]:
    return sorted(p.read_text(encoding="utf-8") for p in (out / "feedback").iterdir())


def _visible(text: str) -> bool:
    """True when ``text`` holds no control character, no bidi control and no other format character."""
    return not any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\n" for ch in text)


# ---------------------------------------------------------------- item 6: names that are not UTF-8


def test_file_names_that_are_not_utf8_get_readable_distinct_names_and_a_gradebook(
    tmp_path: Path, no_kernel: None
) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    _write(folder, b"Zo\xeb.ipynb", BROKEN)  # Latin-1 e-diaeresis
    _write(folder, b"Zo\xe9.ipynb", EMPTY)  # Latin-1 e-acute
    _write(folder, "Zoë.ipynb", BROKEN)  # the same name as the first once decoded, but a different file
    _write(folder, b"\xff\xfe.ipynb", BROKEN)
    out = tmp_path / "out"
    rows = _grade(folder, out)
    students = [row["student"] for row in rows]
    assert len(rows) == 4 and len(set(students)) == 4, students
    assert "Zoé" in students and sum(s.startswith("Zoë") for s in students) == 2, students
    assert all("\ufffd" not in s and _visible(s) for s in students), students
    assert {row["status"] for row in rows if row["student"] == "Zoé"} == {"empty"}
    texts = _feedback(out)
    assert len(texts) == 4  # one feedback file per submission, none shared
    assert sum("no code cells" in t for t in texts) == 1 and sum("not valid JSON" in t for t in texts) == 3


# ---------------------------------------------------------------- item 8: names chosen to collide


def test_a_file_named_like_a_classmates_feedback_file_gets_its_own(tmp_path: Path, no_kernel: None) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    impostor = safe_file_name("Zoe Smith", "")  # Zoe_Smith-<digest>: what Zoe's feedback file is called
    _write(folder, "Zoe Smith.ipynb", EMPTY)
    _write(folder, f"{impostor}.ipynb", BROKEN)
    _write(folder, f"{impostor.upper()}.ipynb", BROKEN)  # the same file name on macOS and Windows
    _write(folder, "zoe.ipynb", BROKEN)
    _write(folder, "ZOE.ipynb", BROKEN)
    out = tmp_path / "out"
    rows = _grade(folder, out)
    assert len(rows) == 5 and len({row["student"] for row in rows}) == 5
    names = [p.name for p in (out / "feedback").iterdir()]
    assert len({n.casefold() for n in names}) == len(names) == 5, names
    texts = _feedback(out)
    assert sum("no code cells" in t for t in texts) == 1, "Zoe's own feedback was overwritten"
    assert {row["student"]: row["status"] for row in rows}["Zoe Smith"] == "empty"


def test_results_with_the_same_student_name_still_get_one_feedback_file_each(tmp_path: Path) -> None:
    checks = (CheckResult("q1", 0, 2, False, False, "no"),)
    same = [SubmissionResult("CON", "ex09", status, checks) for status in ("invalid", "empty")]
    Gradebook((*same, SubmissionResult("con", "ex09", "graded", checks))).write(tmp_path)
    names = sorted(p.name for p in (tmp_path / "feedback").iterdir())
    assert len({n.casefold() for n in names}) == 3, names
    assert not [n for n in names if n.split(".")[0].upper() in ("CON", "PRN", "AUX", "NUL")], names  # Windows


# ---------------------------------------------------------------- item 10a: student text in the feedback

HOSTILE = "Bad\n**11 / 11 points**<img src=x onerror=alert(1)>\n# Full marks\n- ✓ check `q1`: passed, 2/2 points"


def _hostile_result() -> SubmissionResult:
    checks = (
        CheckResult("q1", 0, 2, False, False, f"TypeError: class {HOSTILE}"),
        CheckResult("q2", 0, 3, True, False, HOSTILE),
    )
    return SubmissionResult(
        "Eve\n**11 / 11 points**",
        "ex01",
        "graded",
        checks,
        notes=(f"check 'q1' was edited {HOSTILE}",),
        problems=(f"your cell 3 (`x`) raised {HOSTILE}", "**11 / 11 points**\u2028## Perfect"),
        flags=(HOSTILE,),
    )


def _html_renderings(markdown: str) -> dict[str, str]:
    """The feedback as the two Markdown renderers the course ships with turn it into HTML, raw HTML allowed."""
    import mistune
    from markdown_it import MarkdownIt

    return {
        "markdown-it": MarkdownIt("commonmark", {"html": True}).render(markdown),
        "mistune": str(mistune.create_markdown(escape=False)(markdown)),
    }


def test_student_text_cannot_add_score_lines_headings_or_html_to_the_feedback() -> None:
    text = feedback_markdown(_hostile_result())
    assert len(SCORE_LINE.findall(text)) == 1, text  # only the grader's own score line
    headings = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert headings == ["# Feedback: ex01", "## Checks", "## What happened while running your notebook",
                        "## Changes to the exercise's own cells"], text  # fmt: skip
    assert not re.search(r"^\s*- ✓", text, re.MULTILINE), text  # no forged "passed" line
    for renderer, page in _html_renderings(text).items():
        assert "<img" not in page, (renderer, page)
        assert page.count("<strong>") == 1, (renderer, page)
        assert page.count("<h1>") == 1 and page.count("<h2>") == 3, (renderer, page)
        assert "&lt;img src=x onerror=alert(1)&gt;" in page, (renderer, page)  # the student's text, shown as text


def test_student_text_stays_text_in_the_html_gradebook_and_the_reports() -> None:
    result = _hostile_result()
    page = gradebook_html([result])
    assert "<img" not in page and "<strong>" not in page
    reports = report_files([result])
    assert "<img" not in reports["item_analysis.html"]
    rows = list(csv.reader(io.StringIO(gradebook_csv([result]))))
    assert rows[1][0] == "Eve **11 / 11 points**", rows[1]  # one line: a newline in a name is a space


# ---------------------------------------------------------------- item 10b: invisible characters in names


def test_bidi_and_format_characters_are_stripped_from_names_and_the_rows_stay_distinct(
    tmp_path: Path, no_kernel: None
) -> None:
    folder = tmp_path / "subs"
    folder.mkdir()
    _write(folder, "ali\u202efdp.exe.ipynb", EMPTY)  # shows as "aliexe.pdf" where bidi is honoured
    _write(folder, "alifdp.exe.ipynb", BROKEN)
    _write(folder, "a\u200bli\u2066fdp\u2069.exe\u00ad.ipynb", BROKEN)  # zero-width space, isolate, soft hyphen
    _write(folder, f"{BIDI}.ipynb", BROKEN)  # nothing left once stripped
    _write(folder, "bell\x07\x1b[31m.ipynb", BROKEN)
    out = tmp_path / "out"
    rows = _grade(folder, out)
    students = [row["student"] for row in rows]
    assert len(rows) == 5 and len(set(students)) == 5, students
    assert all(s and _visible(s) for s in students), students
    assert sum(s.startswith("alifdp.exe") for s in students) == 3, students
    assert len(_feedback(out)) == 5
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert not set(BIDI) & set(text) and "\u200b" not in text and "\x1b" not in text, (path.name, text)
            assert _visible(path.name), path.name


def test_reports_strip_bidi_characters_from_names_given_directly() -> None:
    checks = (CheckResult("q1", 2, 2, False, True, ""),)
    results = [SubmissionResult(f"ali{ch}fdp.exe", "ex09", "graded", checks) for ch in ("\u202e", "\u2067")]
    texts = {"gradebook.csv": gradebook_csv(results), "gradebook.html": gradebook_html(results),
             **report_files(results)}  # fmt: skip
    for name, text in texts.items():
        assert not set(BIDI) & set(text), name
    assert "alifdp.exe" in texts["canvas.csv"] and "alifdp.exe" in texts["moodle.csv"]


# ---------------------------------------------------------------- the guarantees behind items 6, 8 and 10b


def test_names_stay_distinct_when_a_file_is_named_like_the_tie_breaker(tmp_path: Path) -> None:
    from course.grading.files import output_names, student_names

    folder = tmp_path / "subs"
    folder.mkdir()
    for raw in (b"Zo\xeb.ipynb", "Zoë.ipynb".encode(), b"a.ipynb", b"a.IPYNB", b"A.ipynb"):
        _write(folder, raw, b"")
    paths = sorted(folder.iterdir(), key=lambda p: os.fsencode(p.name))
    first = student_names(paths)
    digest = hashlib.sha256(b"Zo\xeb.ipynb").hexdigest()[:8]
    assert f"Zoë [{digest}]" in first  # Zoë in UTF-8 and in Latin-1: each followed by a digest of its name's bytes
    for tag in first:  # classmates hand in files named exactly like the tie-broken names
        _write(folder, f"{tag}.ipynb", b"")
    paths = sorted(folder.iterdir(), key=lambda p: os.fsencode(p.name))
    names = student_names(paths)
    assert len(set(names)) == len(paths) == 9, names  # "A.ipynb" was written again; the 4 others are new
    files = output_names([*names, *names], ".md")  # results with the same name still get a file each
    assert len({f.casefold() for f in files}) == 18, files
    impostors = [safe_file_name("Zoe", ""), safe_file_name(safe_file_name("Zoe", ""), "", salt="")]
    files = output_names(["Zoe", *impostors, "ZOE", "zoe"], ".md")
    assert len({f.casefold() for f in files}) == 5, files


def test_text_that_cannot_be_written_as_utf8_never_stops_the_gradebook(tmp_path: Path) -> None:
    surrogate = "Zo\udceb"  # what os.listdir gives for the bytes Zo\xeb
    checks = (CheckResult("q1", 0, 2, False, False, f"FileNotFoundError: {surrogate}.ipynb"),)
    result = SubmissionResult(surrogate, "ex01", "grader error", checks, problems=(surrogate,), flags=(surrogate,))
    Gradebook((result,)).write(tmp_path)
    assert (tmp_path / "gradebook.csv").read_text(encoding="utf-8").splitlines()[1].startswith("Zo,")
    assert len(list((tmp_path / "feedback").iterdir())) == 1


def test_only_characters_that_may_be_invisible_are_looked_up() -> None:
    from course.grading.files import _SUSPECT, strip_invisible

    skipped = [chr(c) for c in range(0x110000) if not _SUSPECT.match(chr(c))]
    assert not [hex(ord(ch)) for ch in skipped if ch not in "\n\t" and unicodedata.category(ch)[0] in "CZ"
                and unicodedata.category(ch) not in ("Zs", "Cn", "Co")]  # fmt: skip
    assert strip_invisible("a\u202eb\u200bc\u2028d\ud800\x9b31me\r\n") == "abc\nde\n"
