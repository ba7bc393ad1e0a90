"""Grading results as records, and their renderings: the gradebook CSV, Markdown feedback, HTML for notebooks."""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from course.atomic_write import write_atomically
from course.authoring.notebook_format import Exercise
from course.grading import results_store as store
from course.grading.files import check_out_dir, display_name, output_names, safe_file_name
from course.reports.records import SubmissionResult, missing_result, points_value
from course.reports.text import clean, markdown_text, spreadsheet_safe

if TYPE_CHECKING:
    from course.reports.similarity import SimilarityReport
    from course.term.assess import Standing
    from course.term.manual import Mark
    from course.term.settings import Term


TERM_COLUMNS = ["submitted", "due", "late_days", "penalty", "final", "overrides"]
PENDING = "pending"  # a cell whose points wait for an answer graded by hand (course/term/review_file.py)


def gradebook_rows(
    results: list[SubmissionResult], standings: list[Standing] | None = None
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the gradebook: one row per result (names as :func:`display_name` shows them), one column
    per check; with ``standings`` (one per result, course/term/assess.py) the check columns count overrides, one
    column per answer graded by hand follows them (``pending`` until graded, and so are ``total`` and ``final``),
    and :data:`TERM_COLUMNS` come last."""
    check_ids = [c.id for c in results[0].checks] if results else []
    questions = [m.question.id for m in standings[0].manual] if standings else []
    header = ["student", *check_ids, *questions, "total", "max_points", "status", "notes",
              *(TERM_COLUMNS if standings else [])]  # fmt: skip
    given: list[Standing | None] = list(standings) if standings else [None] * len(results)
    pairs = sorted(zip(results, given), key=lambda rs: rs[0].student)
    rows = []
    for r, standing in pairs:
        points = {c.id: c.points for c in r.checks}
        flags = [*r.flags]
        total: Any = points_value(sum(points.values()))
        max_points, marks = r.max_points, []
        if standing is not None:
            points = {c.result.id: c.points for c in standing.checks}
            if standing.days_late is None:
                flags.append("no submission time: raw points kept, no late penalty worked out; give the time in "
                             "--submitted-times or the roster's submitted column")  # fmt: skip
            by_id = {m.question.id: m for m in standing.manual}
            marks = [PENDING if by_id[q].points is None else by_id[q].points for q in questions if q in by_id]
            if standing.pending:
                shown = ", ".join(f"{m.question.id} (manual/{m.question.id}.csv)" for m in standing.pending)
                flags.append(f"to grade by hand: {shown}")
            total = PENDING if standing.pending else standing.points
            max_points = standing.max_points
        notes = "; ".join([*r.notes, *(f"review: {f}" for f in flags)])
        row = [display_name(r.student), *(points[i] for i in check_ids), *marks, total, max_points, r.status, notes]
        rows.append(row + (_term_cells(standing) if standing is not None else []))
    return header, rows


def _term_cells(s: Standing) -> list[Any]:
    """submitted, due, late_days, penalty, final, overrides of one row (final, and a late row's penalty,
    ``pending`` while an answer graded by hand is not graded)."""
    from course.term.due import show_time

    late = "unknown" if s.days_late is None else s.days_late if s.due is not None else ""
    changed = "; ".join(f"{c.result.id}: {c.result.points} -> {c.points} ({c.override.reason})"
                        for c in s.checks if c.override is not None)  # fmt: skip
    late_share = s.late.penalty_percent(s.days_late or 0)  # a penalty on points not all known yet is not known
    penalty = PENDING if s.pending and late_share else _number(s.penalty)
    final = PENDING if s.pending else _number(s.final)
    return [show_time(s.submitted.time) if s.submitted else "", show_time(s.due) if s.due else "", late,
            penalty, final, changed]  # fmt: skip


def _number(value: float) -> int | float:
    return int(value) if value == int(value) else value


def gradebook_csv(results: list[SubmissionResult], standings: list[Standing] | None = None) -> str:
    header, rows = gradebook_rows(results, standings)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([spreadsheet_safe(h) for h in header])
    writer.writerows([spreadsheet_safe(v) for v in row] for row in rows)
    return buffer.getvalue()


def feedback_markdown(result: SubmissionResult, standing: Standing | None = None) -> str:
    """The feedback file for one student, in their submission's language (flags for the instructor are left out).

    With ``standing`` (course/term/assess.py): overridden points with the instructor's reason, only the checks
    released now (a line saying how many are held back), the answers graded by hand (points and comments, or not
    graded yet) and the submission time with any late penalty.
    Messages, problems, notes and comments can quote the student (an exception's text, a class name, a cell's first
    line): they go through :func:`markdown_text`, so the only score line, headings and HTML are the grader's own.
    """
    from course.i18n import feedback_text

    t = feedback_text(result.lang)
    views = standing.checks if standing is not None else ()
    shown = [v for v in views if v.shown] if standing is not None else []
    manual = standing.manual if standing is not None else ()
    status = t(f"status.{result.status}") if f"status.{result.status}" in t.frame else result.status
    if standing is None or not standing.withheld:
        points = standing.points if standing is not None else result.total
        most = standing.max_points if standing is not None else result.max_points
        score = t("score", points=points, max_points=most, status=status)
    else:
        score = t("score_shown", points=points_value(sum(v.points for v in shown) + sum(m.points or 0 for m in manual)),
                  max_points=sum(v.result.max_points for v in shown) + sum(m.question.points for m in manual),
                  status=status)  # fmt: skip
    lines = [f"# {t('title', exercise=result.exercise)}", "", score, ""]
    if standing is not None and standing.pending:
        lines += [t("manual_pending", count=len(standing.pending),
                    points=sum(m.question.points for m in standing.pending)), ""]  # fmt: skip
    if standing is not None:
        lines += _late_lines(standing, t)
    lines += [f"## {t('checks')}", ""]
    for c, view in zip(result.checks, views or [None] * len(result.checks)):
        if view is not None and not view.shown:
            continue
        points = view.points if view is not None else c.points
        label = t("hidden_check" if c.hidden else "check", id=c.id)
        part = not c.passed and c.points > 0  # partial credit (toolkit.checks.award)
        outcome = t("passed" if c.passed else "partial" if part else "failed")
        mark = "✓" if c.passed else "◐" if part else "✗"
        lines.append("- " + t("check_line", mark=mark, label=label, outcome=outcome, points=points,
                              max_points=c.max_points))  # fmt: skip
        if not c.passed and c.message:
            lines.append(f"  - {markdown_text(t.message(c.message), '    ')}")
        if view is not None and view.override is not None:
            reason = t("override", before=c.points, points=view.points, reason=view.override.reason)
            lines.append(f"  - {markdown_text(reason, '    ')}")
    for release in ("after_due", "never"):
        held = [v for v in (standing.withheld if standing is not None else ()) if v.release == release]
        if held:
            lines += ["", t(f"withheld_{release}", count=len(held), points=sum(v.result.max_points for v in held))]
    if manual:
        lines += ["", f"## {t('manual')}", "", *_manual_lines(manual, t)]
    if result.problems:
        lines += ["", f"## {t('problems')}", ""]
        lines += [f"- {markdown_text(t.message(p), '  ')}" for p in result.problems]
    if result.notes:
        lines += ["", f"## {t('notes')}", ""]
        lines += [f"- {markdown_text(t.message(n), '  ')}" for n in result.notes]
        lines += ["", t("notes_after")]
    return clean("\n".join(lines)) + "\n"


def _manual_lines(marks: tuple[Mark, ...], t: Any) -> list[str]:
    """One line per answer graded by hand (its points, or that it is not graded yet), each comment under it."""
    lines = []
    for m in marks:
        label, most = t("manual_answer", id=m.question.id), m.question.points
        if m.points is None:
            lines.append("- " + t("manual_not_graded", label=label, max_points=most))
        elif m.state in ("no answer", "missing") and not m.comments:
            lines.append("- " + t("manual_no_answer", label=label, points=m.points, max_points=most))
        else:
            mark = "✓" if m.points == most else "✗" if m.points == 0 else "◐"
            lines.append("- " + t("manual_line", mark=mark, label=label, points=m.points, max_points=most))
        lines += [f"  - {markdown_text(comment, '    ')}" for comment in m.comments]
    return lines


def _late_lines(standing: Standing, t: Any) -> list[str]:
    """The submission time, the days late and the penalty, when there is a due date (else nothing)."""
    from course.term.due import show_time

    if standing.due is None or standing.result.status == "missing":
        return []
    due = show_time(standing.due)
    if standing.submitted is None:
        return [f"## {t('submission')}", "", t("no_time"), ""]
    submitted = show_time(standing.submitted.time)
    days = standing.days_late or 0
    if not days:
        return [f"## {t('submission')}", "", t("on_time", submitted=submitted, due=due), ""]
    policy = standing.late
    words = t("policy_none") if policy.kind == "none" else t("policy_not_accepted") if policy.kind == "not accepted" \
        else t("policy_per_day", percent=f"{policy.percent_per_day:g}", cap=f"{policy.max_percent:g}")  # fmt: skip
    percent = f"{policy.penalty_percent(days):g}"
    lines = [f"## {t('submission')}", "", t("late", submitted=submitted, days=t.days(days), due=due, percent=percent,
                                             policy=words)]  # fmt: skip
    if not standing.withheld and not standing.pending:
        lines += ["", t("late_points", points=standing.points, penalty=_number(standing.penalty),
                        final=_number(standing.final), max_points=standing.max_points)]  # fmt: skip
    return [*lines, ""]


def feedback_file_name(student: str) -> str:
    """The feedback file name of ``student`` alone; :meth:`Gradebook.feedback_files` makes a batch's distinct."""
    return safe_file_name(student, ".md")


def gradebook_html(results: list[SubmissionResult]) -> str:
    header, rows = gradebook_rows(results)
    head = "".join(f"<th>{html.escape(clean(str(h)))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(clean(str(v)))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


Entry = tuple[SubmissionResult, "dict[str, str] | None"]  # a result and the submission it graded (none: missing)


@dataclass(frozen=True)
class Gradebook:
    """The results of one grading run; displays itself as a table in a notebook.

    ``write`` merges them into ``--out``: the students in ``results`` replace their own rows, every other student's
    stays (course/grading/results_store.py keeps one record per student; the gradebook, feedback and reports render from
    those records).
    """

    results: tuple[SubmissionResult, ...]
    roster: dict[str, dict[str, str]] | None = None  # file stem -> LMS identity, for canvas.csv and moodle.csv
    submissions: dict[str, dict[str, str]] | None = None  # student -> {file, sha256, kept}: what was graded
    updated: tuple[str, ...] = ()  # after ``write``: the students whose rows this write replaced or added
    term: Term | None = None  # due date, late policy, overrides, release (course/term/); None: the results as graded
    exercise: Exercise | None = None  # for the similarity check in report.html: the starter's code is not evidence

    def __str__(self) -> str:
        return gradebook_csv(list(self.results))

    def _repr_html_(self) -> str:
        return gradebook_html(list(self.results))

    def feedback_files(self) -> list[tuple[str, SubmissionResult]]:
        """(file name, result) for each result: distinct names, even ignoring case and for results with the same
        student, decided for the whole batch (a student may name a file like a classmate's feedback file)."""
        ordered = sorted(self.results, key=lambda r: r.student)  # the same names whatever order the results came in
        return list(zip(output_names([r.student for r in ordered], ".md"), ordered))

    def write(self, out_dir: Path, *, handed_in: Collection[str] = ()) -> Gradebook:
        """Merge these results into ``out_dir`` and render it; return the merged gradebook.

        Each student here gets a new record (course/grading/results_store.py) replacing their old one; every other
        record
        stays; roster students with no record get a ``missing`` row, unless ``handed_in`` names them (a file that
        ``--only`` left ungraded). Then gradebook.csv, feedback/<student>.md and the reports are rendered from all
        records, atomically; feedback files of no record are removed. Refuses (ValueError, before writing anything)
        an ``out_dir`` that is or holds a link where it writes, holds results of another exercise or of another
        version of it, or holds a damaged record.
        """
        check_out_dir(out_dir)
        store.check_places(out_dir)
        mine = self.results[0] if self.results else None
        with store.locked(out_dir):
            kept = earlier_results(out_dir, mine.exercise if mine else None, mine.shape if mine else None,
                                   {r.student for r in self.results})  # fmt: skip
            roster = self.roster if self.roster is not None else store.read_roster(out_dir)
            merged, changed = self._merge(kept, {s: p for s, p in (roster or {}).items() if s not in handed_in})
            merged, restamped = self._stamp(out_dir, kept, merged)
            for student in sorted({*changed, *restamped}):  # the records first: the truth the rest is rendered from
                store.write_record(out_dir, student, _record(student, merged[student]))
            if self.roster is not None:
                store.write_roster(out_dir, self.roster)
            if self.term is not None:
                from course.term.settings import store as store_term

                store_term(out_dir, self.term)
            results = tuple(r for student in sorted(merged) for r, _ in merged[student])
            submissions = {s: e[1] for s, es in merged.items() for e in es if e[1]}
            book = Gradebook(results, roster, submissions, changed, self.term, self.exercise)
            book = replace(book, term=book._graded_by_hand(out_dir))
            book._render(out_dir)
        return book

    def _merge(
        self, kept: dict[str, list[Entry]], roster: dict[str, dict[str, str]] | None
    ) -> tuple[dict[str, list[Entry]], tuple[str, ...]]:
        """All entries by student (this gradebook's replace the kept ones) and the students whose record changes."""
        merged = dict(kept)
        now: dict[str, list[Entry]] = {}
        for r in self.results:
            now.setdefault(r.student, []).append((r, (self.submissions or {}).get(r.student)))
        merged.update(now)
        like = self.results[0] if self.results else next((es[0][0] for es in kept.values()), None)
        changed = set(now)
        if like is not None:
            for student in [s for s in roster or {} if s and s not in merged]:
                merged[student] = [(missing_result(student, like), None)]
                changed.add(student)
            for student, entries in kept.items():  # a missing row of an older version: nothing graded, remade
                if student not in now and entries[0][0].status == "missing" and entries[0][0].shape != like.shape:
                    merged[student] = [(missing_result(student, like), None)]
                    changed.add(student)
        return merged, tuple(sorted(changed))

    def _stamp(
        self, out_dir: Path, kept: dict[str, list[Entry]], merged: dict[str, list[Entry]]
    ) -> tuple[dict[str, list[Entry]], set[str]]:
        """The entries graded now with their language and submission time, kept ones with a time given now, and the
        students not graded now whose record changes for that.

        A submission's time is this run's (``Term.times``), else the time its record had for the same bytes (a
        regrade of an unchanged file keeps it); a kept record whose time this run gives differently is updated.
        """
        from course.i18n import submission_language

        times = self.term.times if self.term is not None else {}
        graded = {r.student for r in self.results}
        stamped = dict(merged)
        more: set[str] = set()
        for student, entries in merged.items():
            was = _replaced_entries(out_dir, student) if student in graded else kept.get(student, [])
            earlier = {(e[1] or {}).get("sha256"): e[1] for e in was if e[1] and e[1].get("sha256")}
            new = []
            for r, submission in entries:
                stamp = times.get(student)
                if student in graded:
                    if submission and submission.get("kept") and r.lang == "en":
                        r = replace(r, lang=submission_language(out_dir / submission["kept"]))
                    before = earlier.get((submission or {}).get("sha256")) or {}
                    if stamp is None and before.get("submitted"):
                        submission = {**(submission or {}), "submitted": before["submitted"],
                                      "submitted_from": before.get("submitted_from", "")}  # fmt: skip
                elif stamp is None or r.status == "missing":
                    new.append((r, submission))
                    continue
                if stamp is not None and r.status != "missing":
                    value = {"submitted": stamp.time.isoformat(), "submitted_from": stamp.source}
                    if any((submission or {}).get(k) != v for k, v in value.items()):
                        submission = {**(submission or {}), **value}
                        more |= set() if student in graded else {student}
                new.append((r, submission))
            stamped[student] = new
        return stamped, more

    def _graded_by_hand(self, out_dir: Path) -> Term | None:
        """The term with every student's marks for the answers graded by hand: each graded student's answers go
        into the review files (``manual/<question>.csv``, course/term/review_file.py), whose scores come back."""
        if self.term is None or not self.term.manual.questions:
            return self.term
        from course.term.review_file import sync

        kept = {r.student: out_dir / sub["kept"] if (sub := (self.submissions or {}).get(r.student, {})).get("kept")
                else None for r in self.results if r.status != "missing"}  # fmt: skip
        students = {r.student for r in self.results} | set(self.roster or {})
        return replace(self.term, manual=sync(out_dir, self.term.manual, kept, students))

    def standings(self) -> list[Standing] | None:
        """One :class:`Standing` per result under this gradebook's term (None without a term)."""
        from course.term.assess import assess, parse_stamp

        if self.term is None:
            return None
        now = self.term.now or datetime.now(UTC)
        return [assess(r, parse_stamp((self.submissions or {}).get(r.student)), self.term, now) for r in self.results]

    def _render(self, out_dir: Path) -> None:
        """gradebook.csv, then feedback/<student>.md (only those that change), then the reports."""
        standings = self.standings()
        write_atomically(out_dir / "gradebook.csv", gradebook_csv(list(self.results), standings))
        by_result = {id(r): s for r, s in zip(self.results, standings or [])}
        feedback_dir = out_dir / "feedback"
        feedback_dir.mkdir(exist_ok=True)
        written = set()
        for name, r in self.feedback_files():
            text = feedback_markdown(r, by_result.get(id(r)))
            path = feedback_dir / name
            if path.is_symlink() or not path.is_file() or path.read_bytes() != text.encode("utf-8", "surrogateescape"):
                write_atomically(path, text)  # a classmate's unchanged feedback file stays untouched
            written.add(name)
        for old in feedback_dir.glob("*.md"):
            if old.name not in written:  # a rendering of no record (renamed, or from before records were kept)
                old.unlink()
        from course.reports.analysis import report_files  # reports build on this module's records
        from course.reports.class_report import ReportContext

        counted = [_counted(s) for s in standings] if standings is not None else list(self.results)
        names = {id(r): name for name, r in self.feedback_files()}
        context = ReportContext(tuple(standings) if standings is not None else None,
                                tuple(names[id(r)] for r in self.results), self._similarity(out_dir))  # fmt: skip
        for name, text in report_files(counted, self.roster, context).items():
            if standings is not None:
                text = lms_with_late_columns(name, text, standings)
            write_atomically(out_dir / name, text)

    def _similarity(self, out_dir: Path) -> SimilarityReport:
        """Similar pairs among the kept copies (submitted/...) of the students with a submission, for report.html."""
        from course.reports.similarity import SimilarityReport, find_similar

        if self.exercise is None:
            return SimilarityReport(note="Similarity was not checked in this run (its exercise was not given): run "
                                         "`course grade EXERCISE SUBMISSIONS --out OUT --render-only` to add it.")
        kept = {}
        for r in self.results:
            place = Path((self.submissions or {}).get(r.student, {}).get("kept") or "")
            if r.status != "missing" and place.parts[:1] == (store.SUBMITTED,) and ".." not in place.parts:
                kept[r.student] = out_dir / place  # only a copy inside submitted/: a record edited by hand is not
        return find_similar(self.exercise, kept)


def render_only(
    exercise: Exercise, out_dir: Path, roster: dict[str, dict[str, str]] | None, term: Term | None
) -> Gradebook:
    """Rewrite ``out_dir``'s gradebook, feedback and reports from its records under ``term``, grading nobody (a new
    override, submission time, due date or release then shows without a regrade)."""
    check_out_dir(out_dir)
    store.check_places(out_dir)
    shape = tuple((c.id, c.points, c.hidden) for c in exercise.checks)
    if not earlier_results(out_dir, exercise.name, shape, ()):
        raise ValueError(f"--render-only: {out_dir} holds no results of {exercise.name} yet; grade the folder into it "
                         "first (without --render-only)")  # fmt: skip
    return Gradebook((), roster, term=term, exercise=exercise).write(out_dir)


def _counted(standing: Standing) -> SubmissionResult:
    """The result with each check's points as the term counts them (overrides), for the reports and LMS exports."""
    checks = tuple(replace(c.result, points=c.points) for c in standing.checks)
    return replace(standing.result, checks=checks)


LMS_EXPORTS = ("canvas.csv", "moodle.csv")


def lms_with_late_columns(name: str, text: str, standings: list[Standing]) -> str:
    """An LMS export (``canvas.csv``, ``moodle.csv``) with, after the checks, one column per answer graded by hand
    (empty while it is not graded: the LMS then shows no grade, not 0) and, when a student has a due date, late
    days, penalty and final points (penalty and final empty while an answer is not graded).

    Both exports have one row per result sorted by student, after a header (and Canvas's "Points Possible" row).
    """
    if name not in LMS_EXPORTS or not standings:
        return text
    questions = [m.question for m in standings[0].manual]
    late = any(s.due is not None for s in standings)
    if not questions and not late:
        return text
    rows = list(csv.reader(io.StringIO(text)))
    exercise = standings[0].result.exercise
    ordered = sorted(standings, key=lambda s: s.result.student)
    extra = []
    for s in ordered:
        marks = {m.question.id: m.points for m in s.manual}
        cells: list[Any] = [marks.get(q.id) for q in questions]  # None (not graded) is written as an empty cell
        if late:
            cells += [None if v == PENDING else v for v in _term_cells(s)[2:5]]  # late days, penalty, final
        extra.append(cells)
    head = 2 if name == "canvas.csv" else 1
    if len(rows) != head + len(extra):  # not the layout this function knows: leave the export as it was
        return text
    rows[0] += [f"{exercise} {q.id}" for q in questions]
    if late:
        rows[0] += [f"{exercise} late days", f"{exercise} late penalty", f"{exercise} final"]
    if head == 2:
        rows[1] += [str(q.points) for q in questions] + (["", "", str(standings[0].max_points)] if late else [])
    for row, cells in zip(rows[head:], extra):
        row += ["" if c is None else str(c) for c in cells]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([spreadsheet_safe(v) for v in row] for row in rows)
    return buffer.getvalue()


def _replaced_entries(out_dir: Path, student: str) -> list[Entry]:
    """The entries of ``student``'s record about to be replaced (none when it is absent or damaged)."""
    path = store.record_path(out_dir, student)
    if not path.is_file():
        return []
    try:
        return _entries(path, json.loads(path.read_text(encoding="utf-8")))[1]
    except (OSError, ValueError):
        return []


def _record(student: str, entries: list[Entry]) -> dict[str, Any]:
    return {
        "format": store.FORMAT,
        "student": student,
        "entries": [{"result": r.to_dict(), "submission": submission} for r, submission in entries],
    }


def earlier_results(
    out_dir: Path, exercise: str | None, shape: tuple[Any, ...] | None, replacing: Collection[str]
) -> dict[str, list[Entry]]:
    """The records already in ``out_dir`` by student, checked before anything is graded or written.

    ``replacing``: the students about to be graded, whose records are replaced whatever they hold. ValueError, one
    sentence naming the file and the fix, for a damaged record, a record of another ``exercise`` or of another
    ``shape`` of it (its checks), or a gradebook.csv from before records with rows that would be lost.
    """
    replaced = {store.record_path(out_dir, s) for s in replacing}
    found: dict[str, list[Entry]] = {}
    for path, data in store.read_records(out_dir):
        try:
            student, entries = _entries(path, data)
        except ValueError:
            if path in replaced:  # a damaged record of a student graded now: the new record replaces it
                continue
            raise
        other = next((r.exercise for r, _ in entries if exercise is not None and r.exercise != exercise), None)
        if other is not None:  # even in a record about to be replaced: two exercises never share a gradebook
            raise ValueError(f"--out {out_dir} holds results of {other} ({path}), not of {exercise}; pass another "
                             f"--out, e.g. --out grades/{exercise}")  # fmt: skip
        if path in replaced:
            continue
        if store.record_path(out_dir, student) != path:
            raise ValueError(f"{path} holds the results of {student!r}, whose record is "
                             f"{store.record_path(out_dir, student).name}: it was renamed or copied by hand; move it "
                             "back, or delete the copy")  # fmt: skip
        for r, _ in entries:
            if shape is not None and r.shape != shape and r.status != "missing":
                raise ValueError(
                    f"{path} was graded against another version of {exercise} (checks "
                    f"{', '.join(c[0] for c in r.shape)}; now {', '.join(c[0] for c in shape)}): grade {student!r} "
                    "again too (add them to --only, or grade the whole folder), or pass another --out"
                )
        found[student] = entries
    _refuse_legacy_loss(out_dir, replacing)
    return found


def _entries(path: Path, data: Any) -> tuple[str, list[Entry]]:
    """The student and entries of one parsed record; ValueError naming the file and the fix when it is damaged."""
    student = data.get("student") if isinstance(data, dict) else None
    student = student if isinstance(student, str) else store.guessed_student(path)
    try:
        entries = []
        for result, submission in store.check_record(data):
            entries.append((SubmissionResult.from_record(result), submission))
            if entries[-1][0].student != student:
                raise ValueError(f"its result is for {entries[-1][0].student!r}, not {student!r}")
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path} is not a valid results record ({err}); restore it from a backup, or grade that "
                         f"student again to replace it (--only {student})") from None  # fmt: skip
    return student, entries


def _refuse_legacy_loss(out_dir: Path, replacing: Collection[str]) -> None:
    """A gradebook.csv from before records were kept may be replaced only when every one of its rows is graded now."""
    shown = {spreadsheet_safe(display_name(s)) for s in replacing}
    lost = [s for s in store.legacy_students(out_dir) if s not in shown]
    if lost:
        more = f" and {len(lost) - 5} more" if len(lost) > 5 else ""
        raise ValueError(
            f"--out {out_dir} holds a gradebook.csv written before the grader kept records (no records/*.json), with "
            f"rows this run does not grade ({', '.join(lost[:5])}{more}); grade the whole folder into it, or pass "
            "another --out"
        )
