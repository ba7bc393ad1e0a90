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
from course.reports.records import SubmissionResult, missing_result
from course.reports.text import clean, markdown_text, spreadsheet_safe

if TYPE_CHECKING:
    from course.term.assess import Standing
    from course.term.settings import Term


TERM_COLUMNS = ["submitted", "due", "late_days", "penalty", "final", "overrides"]


def gradebook_rows(
    results: list[SubmissionResult], standings: list[Standing] | None = None
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the gradebook: one row per result (names as :func:`display_name` shows them), one column
    per check; with ``standings`` (one per result, course/term/assess.py) the check columns count overrides and
    :data:`TERM_COLUMNS` follow."""
    check_ids = [c.id for c in results[0].checks] if results else []
    header = ["student", *check_ids, "total", "max_points", "status", "notes", *(TERM_COLUMNS if standings else [])]
    given: list[Standing | None] = list(standings) if standings else [None] * len(results)
    pairs = sorted(zip(results, given), key=lambda rs: rs[0].student)
    rows = []
    for r, standing in pairs:
        points = {c.id: c.points for c in r.checks}
        flags = [*r.flags]
        if standing is not None:
            points = {c.result.id: c.points for c in standing.checks}
            if standing.days_late is None:
                flags.append("no submission time: raw points kept, no late penalty worked out; give the time in "
                             "--submitted-times or the roster's submitted column")  # fmt: skip
        notes = "; ".join([*r.notes, *(f"review: {f}" for f in flags)])
        total = sum(points.values())
        row = [display_name(r.student), *(points[i] for i in check_ids), total, r.max_points, r.status, notes]
        rows.append(row + (_term_cells(standing) if standing is not None else []))
    return header, rows


def _term_cells(s: Standing) -> list[Any]:
    """submitted, due, late_days, penalty, final, overrides of one row."""
    from course.term.due import show_time

    late = "unknown" if s.days_late is None else s.days_late if s.due is not None else ""
    changed = "; ".join(f"{c.result.id}: {c.result.points} -> {c.points} ({c.override.reason})"
                        for c in s.checks if c.override is not None)  # fmt: skip
    return [show_time(s.submitted.time) if s.submitted else "", show_time(s.due) if s.due else "", late,
            _number(s.penalty), _number(s.final), changed]  # fmt: skip


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
    released now (a line saying how many are held back), and the submission time with any late penalty.
    Messages, problems and notes can quote the student (an exception's text, a class name, a cell's first line):
    they go through :func:`markdown_text`, so the only score line, headings and HTML are the grader's own.
    """
    from course.i18n import feedback_text

    t = feedback_text(result.lang)
    views = standing.checks if standing is not None else ()
    shown = [v for v in views if v.shown] if standing is not None else []
    status = t(f"status.{result.status}") if f"status.{result.status}" in t.frame else result.status
    if standing is None or not standing.withheld:
        points = standing.points if standing is not None else result.total
        score = t("score", points=points, max_points=result.max_points, status=status)
    else:
        score = t("score_shown", points=sum(v.points for v in shown),
                  max_points=sum(v.result.max_points for v in shown), status=status)  # fmt: skip
    lines = [f"# {t('title', exercise=result.exercise)}", "", score, ""]
    if standing is not None:
        lines += _late_lines(standing, t)
    lines += [f"## {t('checks')}", ""]
    for c, view in zip(result.checks, views or [None] * len(result.checks)):
        if view is not None and not view.shown:
            continue
        points = view.points if view is not None else c.points
        label = t("hidden_check" if c.hidden else "check", id=c.id)
        outcome = t("passed" if c.passed else "failed")
        mark = "✓" if c.passed else "✗"
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
    if result.problems:
        lines += ["", f"## {t('problems')}", ""]
        lines += [f"- {markdown_text(t.message(p), '  ')}" for p in result.problems]
    if result.notes:
        lines += ["", f"## {t('notes')}", ""]
        lines += [f"- {markdown_text(n, '  ')}" for n in result.notes]
        lines += ["", t("notes_after")]
    return clean("\n".join(lines)) + "\n"


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
    if not standing.withheld:
        lines += ["", t("late_points", points=standing.points, penalty=_number(standing.penalty),
                        final=_number(standing.final), max_points=standing.result.max_points)]  # fmt: skip
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
            book = Gradebook(results, roster, submissions, changed, self.term)
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

        counted = [_counted(s) for s in standings] if standings is not None else list(self.results)
        for name, text in report_files(counted, self.roster).items():
            if standings is not None and self.term is not None and self.term.due is not None:
                text = lms_with_late_columns(name, text, standings)
            write_atomically(out_dir / name, text)


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
    return Gradebook((), roster, term=term).write(out_dir)


def _counted(standing: Standing) -> SubmissionResult:
    """The result with each check's points as the term counts them (overrides), for the reports and LMS exports."""
    checks = tuple(replace(c.result, points=c.points) for c in standing.checks)
    return replace(standing.result, checks=checks)


LMS_EXPORTS = ("canvas.csv", "moodle.csv")


def lms_with_late_columns(name: str, text: str, standings: list[Standing]) -> str:
    """An LMS export (``canvas.csv``, ``moodle.csv``) with late days, penalty and final points after the checks.

    Both exports have one row per result sorted by student, after a header (and Canvas's "Points Possible" row).
    """
    if name not in LMS_EXPORTS or not standings:
        return text
    rows = list(csv.reader(io.StringIO(text)))
    exercise = standings[0].result.exercise
    ordered = sorted(standings, key=lambda s: s.result.student)
    extra = [[_term_cells(s)[2], _number(s.penalty), _number(s.final)] for s in ordered]
    head = 2 if name == "canvas.csv" else 1
    if len(rows) != head + len(extra):  # not the layout this function knows: leave the export as it was
        return text
    rows[0] += [f"{exercise} late days", f"{exercise} late penalty", f"{exercise} final"]
    if head == 2:
        rows[1] += ["", "", str(standings[0].result.max_points)]
    for row, cells in zip(rows[head:], extra):
        row += [str(c) for c in cells]
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
