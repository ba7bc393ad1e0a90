"""The class report (report.html, course/reports/class_report.py): its statistics from small hand-made records, what it
shows and never shows, and one real Chromium that loads it offline (no console error, every picture drawn, every
feedback link a file). Nothing is graded: the records are made here, the notebooks come from test_similarity.
"""

from __future__ import annotations

import math
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from test_similarity import ANN, BEN, CAT, write_exercise, write_students

from course.reports.analysis import REPORT_FILES, class_report, item_analysis, report_files
from course.reports.class_report import FILE, ReportContext, histogram_png, render, student_rows
from course.reports.gradebook import Gradebook
from course.reports.records import CheckResult, SubmissionResult
from course.term.assess import assess
from course.term.due import parse_policy
from course.term.overrides import Override
from course.term.settings import Stamp, Term

CANARY = "CANARY-class-report-5e1d"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHAPE = (("q1", 2, False), ("q2", 1, False), ("q3", 3, True))  # id, points, hidden


def _result(student: str, points: tuple[float, ...], status: str = "graded", **more: object) -> SubmissionResult:
    checks = tuple(
        CheckResult(c, p, most, hidden, p == most, "" if p == most else f"{c} failed: {CANARY if hidden else 'x'}")
        for (c, most, hidden), p in zip(SHAPE, points)
    )  # fmt: skip
    return SubmissionResult(student, "ex91_lists", status, checks, **more)  # type: ignore[arg-type]


RESULTS = [
    _result("ann", (2, 1, 3)),
    _result("ben", (2, 0, 3), notes=("check 'q1' was edited; the original was used",)),
    _result("cat", (0, 1, 1.5)),
    _result("dan", (2, 1, 0), "timeout", flags=("cell 4 replaces sys.modules['toolkit.checks']",)),
    _result("eve", (0, 0, 0)),
    _result("fay", (0, 0, 0), "invalid"),  # never ran: in no statistic
    _result("gus", (0, 0, 0), "missing"),
]
RAN = [r for r in RESULTS if r.status not in ("invalid", "missing")]


def _pearson(xs: list[float], ys: list[float]) -> float:
    """Pearson's r written out: the sum of products of deviations over the square root of the sums of squares."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    return num / math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))


def test_discrimination_is_the_item_rest_correlation_over_the_notebooks_that_ran() -> None:
    items, _ = item_analysis(RESULTS)
    for k, item in enumerate(items):
        points = [float(r.checks[k].points) for r in RAN]
        rest = [float(r.total - r.checks[k].points) for r in RAN]
        assert item.attempted == len(RAN) == 5
        assert item.discrimination == pytest.approx(_pearson(points, rest)), item.check
    # q1 is passed by ann, ben and dan (4, 3 and 1 points on the other checks), failed by cat and eve (2.5 and 0)
    assert items[0].discrimination is not None and 0 < items[0].discrimination < 1


def test_discrimination_is_left_out_where_it_means_nothing() -> None:
    everyone = [_result(s, (2, 1, p)) for s, p in (("a", 0), ("b", 3), ("c", 1))]  # q1 and q2: everyone passes
    items, _ = item_analysis(everyone)
    assert [i.discrimination is None for i in items] == [True, True, True]  # q3: the rest never varies
    assert all(i.discrimination is None for i in item_analysis(RESULTS[:2])[0])  # two notebooks are too few


def test_the_page_shows_the_class_numbers_computed_over_the_notebooks_that_ran() -> None:
    page = report_files(RESULTS)[FILE]
    totals = sorted(r.total for r in RAN)
    mean, middle = sum(totals) / len(totals), (totals[1] + totals[2]) / 2 if len(totals) % 2 == 0 else totals[2]
    assert re.search(rf"<b>{len(RESULTS)}</b>students", page) and re.search(rf"<b>{len(RAN)}</b>notebooks", page)
    assert f"<b>{mean:g}</b>mean points" in page and f"<b>{middle:g}</b>median points" in page
    for status in ("graded", "timeout", "invalid", "missing"):
        count = sum(r.status == status for r in RESULTS)
        assert f'<tr><td>{status}</td><td class="num">{count}</td></tr>' in page
    q1 = sum(r.checks[0].passed for r in RAN) / len(RAN)
    assert f'<td class="num">{q1:.0%}</td>' in page
    assert page.count('<img src="data:image/png;base64,') == 2 and "<script" not in page and "http" not in page


def test_late_days_penalty_and_overrides_reach_each_students_row() -> None:
    due = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
    late = parse_policy("10%/day, max 50%", "--late")
    term = Term(due=due, late=late, overrides=(Override("ben", "q2", 1, "right idea", 2),))
    submitted = {"ann": due - timedelta(hours=3), "ben": due + timedelta(days=1, hours=2)}
    standings = tuple(
        assess(r, Stamp(submitted[r.student], "manifest") if r.student in submitted else None, term, due)
        for r in RESULTS
    )  # fmt: skip
    counted = [SubmissionResult(r.student, r.exercise, r.status, tuple(
        CheckResult(c.result.id, c.points, c.result.max_points, c.result.hidden, c.result.passed, c.result.message)
        for c in s.checks)) for r, s in zip(RESULTS, standings)]  # fmt: skip
    rows = {row.student: row for row in student_rows(class_report(counted, ReportContext(standings=standings)))}
    ben_points = RESULTS[1].total - RESULTS[1].checks[1].points + 1  # the override gives q2 its 1 point
    ben_days = math.ceil((submitted["ben"] - due) / timedelta(days=1))
    assert (rows["ben"].points, rows["ben"].late_days) == (ben_points, str(ben_days))
    assert rows["ben"].penalty == pytest.approx(ben_points * min(10 * ben_days, 50) / 100)
    assert rows["ben"].final == pytest.approx(ben_points - rows["ben"].penalty)
    assert rows["ben"].overrides == ("q2: 0 -> 1 (right idea)",)
    assert (rows["ann"].late_days, rows["ann"].penalty, rows["cat"].late_days) == ("0", 0, "unknown")
    page = render(class_report(counted, ReportContext(standings=standings)))
    assert "q2: 0 -&gt; 1 (right idea)" in page and "<th>late days</th>" in page.replace(' class="num"', "")


def test_no_check_message_reaches_the_page_and_student_text_stays_text() -> None:
    hostile = _result("<img src=x onerror=alert(1)>", (0, 0, 0), notes=("<script>alert(1)</script>",))
    page = report_files([*RESULTS, hostile])[FILE]
    assert CANARY not in page and "failed:" not in page  # no message, a hidden check's least of all
    assert ">q3<" in page  # the hidden check is there by its id
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;script&gt;" in page
    assert "<script" not in page and page.count("<img ") == 2  # the two pictures, nothing of the student's


def test_the_same_records_give_the_same_bytes_in_any_order() -> None:
    assert report_files(RESULTS)[FILE] == report_files(list(reversed(RESULTS)))[FILE]
    assert FILE in REPORT_FILES
    png = histogram_png([1, 2, 2, 6], 6)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png == histogram_png([6, 2, 1, 2], 6)


def _write_class(out: Path) -> Path:
    """A class written by Gradebook.write as a run writes it: notebooks kept in submitted/, a term, an override."""
    exercise = write_exercise(out.parent / "solutions")
    paths = write_students(exercise, out / "submitted", {"ann": ANN, "ben": BEN, "cat": CAT, "dan": {}})
    results = (*[RESULTS[i] for i in range(4)], RESULTS[6], _result("Zoë <b>", (2, 1, 3)))
    results = tuple(SubmissionResult(r.student, exercise.name, r.status, r.checks, r.notes, (), r.flags)
                    for r in results)  # fmt: skip
    kept = {s: {"file": f"{s}.ipynb", "sha256": "0" * 64, "kept": f"submitted/{s}.ipynb"} for s in paths}
    due = datetime(2026, 12, 1, 23, 59, tzinfo=UTC)
    term = Term(
        due=due,
        late=parse_policy("10%/day", "--late"),
        now=due + timedelta(days=9),
        overrides=(Override("ben", "q2", 1, "right idea", 2),),
        times={"ann": Stamp(due - timedelta(days=1), "manifest"), "ben": Stamp(due + timedelta(days=2), "x")},
    )
    Gradebook(results, submissions=kept, term=term, exercise=exercise).write(out)  # fmt: skip
    return out / FILE


def test_every_feedback_link_of_a_written_report_is_a_file(tmp_path: Path) -> None:
    page_path = _write_class(tmp_path / "out")
    page = page_path.read_text(encoding="utf-8")
    links = set(re.findall(r'<a href="(feedback/[^"]+)">', page))  # the flagged rows link too
    assert len(links) == len(list((tmp_path / "out" / "feedback").glob("*.md"))) == 6
    assert all((page_path.parent / unquote(link)).is_file() for link in links)
    assert "ann / ben" in page and "2026-12-03T23:59+00:00" in page  # the pair, and ben's submission time


@pytest.mark.browser
def test_the_report_loads_offline_in_chromium_with_every_picture_and_link(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it (Debian: apt-get install chromium) or set $CHROMIUM "
                    "to its path; deselect this test with -m 'not browser'.")  # fmt: skip
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("Playwright is not installed: pip install -e '.[dev]' (its browser download is not needed).")
    page_path = _write_class(tmp_path / "out")
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"],
                                     headless=True)  # fmt: skip
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_path.as_uri(), wait_until="load")
            images = page.evaluate("[...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
            hrefs = page.evaluate(
                "[...document.querySelectorAll('a[href]')].map(a => [a.getAttribute('href'), a.href])"
            )  # fmt: skip
            scripts = page.evaluate("document.scripts.length")
            targets = page.evaluate(
                "[...document.querySelectorAll('a[href^=\"#\"]')].map(a => !!document.getElementById(a.hash.slice(1)))"
            )  # fmt: skip
        finally:
            browser.close()
    assert errors == []
    assert [u for u in requests if u != page_path.as_uri() and not u.startswith("data:")] == []  # nothing else
    assert scripts == 0
    assert len(images) == 2 and all(done and w > 0 and h > 0 for done, w, h in images), images
    feedback = {resolved for href, resolved in hrefs if href.startswith("feedback/")}
    assert len(feedback) == 6 and all(Path(unquote(urlparse(u).path)).is_file() for u in feedback), feedback
    assert targets and all(targets)
