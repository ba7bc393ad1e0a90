"""The class report (``report.html``): one standalone page per run for the instructor, drawn from result records.

Collect, then render. course/reports/analysis.py gathers a :class:`ClassReport` (the results as counted, which of
them ran, the per-check statistics, the status counts, and a :class:`ReportContext`: term standings, feedback file
names, similar pairs); :func:`student_rows` turns it into one :class:`StudentRow` per result; :func:`render` is a pure
function of those records. The pictures are matplotlib PNGs inlined as data URIs: the page needs no network and runs
no script. No check message reaches the page (a hidden check's least of all): only check ids, points, statuses, the
grader's notes and review flags, and the similarity check's spans of student code.
"""

from __future__ import annotations

import io
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from course.grading.files import display_name
from course.reports import html_page as h
from course.reports.records import SubmissionResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from course.reports.analysis import ItemStats
    from course.reports.similarity import SimilarityReport, Span
    from course.term.assess import Standing

FILE = "report.html"
SPANS_SHOWN = 50  # pairs whose shared lines the page shows (the page stays small when a whole class pairs)


@dataclass(frozen=True)
class ReportContext:
    """What the page shows beyond the results; each part optional (None: that part is not known in this run)."""

    standings: tuple[Standing, ...] | None = None  # one per result, in the results' order (course/term/assess.py)
    feedback: tuple[str, ...] | None = None  # each result's feedback file name under feedback/, in the same order
    similarity: SimilarityReport | None = None


@dataclass(frozen=True)
class ClassReport:
    """Everything the page is drawn from."""

    results: tuple[SubmissionResult, ...]  # with each check's points as counted (overrides included)
    ran: tuple[bool, ...]  # per result: did its notebook run (an attempt the statistics count)
    items: tuple[ItemStats, ...]
    statuses: dict[str, int]
    context: ReportContext = field(default_factory=ReportContext)


@dataclass(frozen=True)
class StudentRow:
    """One row of the student table."""

    student: str  # as the gradebook shows the name
    status: str
    points: float  # the checks' points, overrides included, before any late penalty
    max_points: int
    seen: tuple[str, ...]  # the grader's notes, then "review: ..." flags
    feedback: str | None  # file name under feedback/
    submitted: str = ""
    due: str = ""
    late_days: str = ""  # a number, "unknown" (a due date but no submission time), or "" (no due date)
    penalty: float | None = None
    final: float | None = None
    overrides: tuple[str, ...] = ()  # "check: grader's points -> yours (reason)"
    pending: tuple[str, ...] = ()  # answers graded by hand not graded yet: no total is final while any waits


def student_rows(report: ClassReport) -> list[StudentRow]:
    """One row per result, sorted by the name shown."""
    from course.term.due import show_time

    context = report.context
    standings = context.standings or (None,) * len(report.results)
    feedback = context.feedback or (None,) * len(report.results)
    rows = []
    for r, s, name in zip(report.results, standings, feedback):
        seen = (*r.notes, *(f"review: {f}" for f in r.flags))
        row = StudentRow(display_name(r.student), str(r.status), r.total, r.max_points, seen, name)
        if s is not None:
            changed = tuple(f"{c.result.id}: {c.result.points} -> {c.points} ({c.override.reason})"
                            for c in s.checks if c.override is not None)  # fmt: skip
            late = "unknown" if s.days_late is None else str(s.days_late) if s.due is not None else ""
            row = replace(row, points=s.points, max_points=s.max_points,
                          submitted=show_time(s.submitted.time) if s.submitted else "",
                          due=show_time(s.due) if s.due else "", late_days=late, penalty=s.penalty, final=s.final,
                          overrides=changed, pending=tuple(m.question.id for m in s.pending))  # fmt: skip
        rows.append(row)
    return sorted(rows, key=lambda row: (row.student, row.feedback or ""))


def render(report: ClassReport) -> str:
    """The whole page."""
    rows = student_rows(report)
    exercise = report.results[0].exercise if report.results else ""
    similarity = report.context.similarity
    parts = [
        _overview(report, rows),
        _scores(report),
        _checks(report),
        _flagged(rows),
        _similarity(similarity),
        _students(rows, term=report.context.standings is not None),
    ]
    contents = [("scores", "Scores"), ("checks", "Checks"), ("flagged", "Flagged"), ("similarity", "Similarity"),
                ("students", "Students")]  # fmt: skip
    lead = ("Written by course grade from the records in this folder, and rewritten on every run. For you only: "
            "it holds no check's message, and hidden checks appear by id alone.")  # fmt: skip
    return h.page(f"Class report: {exercise}", parts, lead=lead, contents=contents)


def _ran_points(report: ClassReport) -> list[float]:
    return [r.total for r, ran in zip(report.results, report.ran) if ran]


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _overview(report: ClassReport, rows: list[StudentRow]) -> str:
    points = _ran_points(report)
    most = report.results[0].max_points if report.results else 0
    numbers = [
        ("students", str(len(rows))),
        ("notebooks that ran", str(len(points))),
        ("mean points", _number(round(statistics.fmean(points), 2)) if points else "-"),
        ("median points", _number(statistics.median(points)) if points else "-"),
        ("max points", str(most)),
        ("flagged", str(sum(bool(r.seen) for r in rows))),
        ("similar pairs", str(len(report.context.similarity.pairs)) if report.context.similarity else "-"),
    ]
    return h.summary(numbers)


def _scores(report: ClassReport) -> str:
    points = _ran_points(report)
    most = report.results[0].max_points if report.results else 0
    picture = h.figure(
        histogram_png(points, most),
        "histogram of the points of the notebooks that ran",
        "Points (overrides included, before any late penalty) of the notebooks that ran.",
    )
    statuses = h.table(["status", "submissions"], [[s, n] for s, n in report.statuses.items()], numeric={1},
                       caption="Submissions per status")  # fmt: skip
    return h.section("Scores", "scores", picture, statuses)


def _checks(report: ClassReport) -> str:
    items = report.items
    rows: list[list[h.Cell]] = [
        [i.check, "hidden" if i.hidden else "visible", i.points, i.attempted, i.passed, f"{i.pass_rate:.0%}",
         f"{i.mean_points:.2f}", "-" if i.discrimination is None else f"{i.discrimination:+.2f}"]
        for i in items
    ]  # fmt: skip
    header = ["check", "visibility", "points", "attempted", "passed", "pass rate", "mean points", "discrimination"]
    explain = h.paragraph(
        "Pass rate and mean points are over the notebooks that ran. Discrimination is the item-rest correlation: "
        "Pearson's r between a check's points and each student's points on the other checks (the point-biserial "
        "correlation for an all-or-nothing check), over the notebooks that ran. Near +1: the check separates "
        "stronger from weaker submissions; near 0 or below: it does not (too easy, too hard, or testing something "
        "else); '-' where it cannot be computed (fewer than 3 notebooks, or everyone got the same points).",
        "note",
    )
    picture = h.figure(pass_rate_png([(i.check, i.pass_rate) for i in items]), "pass rate of each check",
                       "Share of the notebooks that ran passing each check.")  # fmt: skip
    return h.section("Checks", "checks", picture, h.table(header, rows, numeric={2, 3, 4, 5, 6, 7}), explain)


def _feedback_cell(row: StudentRow) -> h.Cell:
    return h.Link(row.student, f"feedback/{row.feedback}") if row.feedback else row.student


def _flagged(rows: list[StudentRow]) -> str:
    flagged = [[_feedback_cell(r), r.status, h.bullets(list(r.seen))] for r in rows if r.seen]
    if not flagged:
        return h.section("Flagged", "flagged", h.paragraph("No notes and nothing to review in any row."))
    intro = h.paragraph("Rows whose notes say something happened to the exercise's own cells, or whose calls are "
                        "worth a look ('review: ...'). None of this changed any points.", "note")  # fmt: skip
    return h.section("Flagged", "flagged", intro, h.table(["student", "status", "what was seen"], flagged))


def _spans(spans: Sequence[Span]) -> h.Cell:
    return h.code_blocks([(f"cell {s.cell}, lines {s.first_line}-{s.last_line}", s.code) for s in spans])


def _similarity(found: SimilarityReport | None) -> str:
    if found is None:
        return h.section("Similarity", "similarity", h.paragraph("The similarity check was not run.", "note"))
    if found.note:
        return h.section("Similarity", "similarity", h.paragraph(found.note, "warn"))
    typical = "-" if found.typical is None else f"{found.typical:.0%}"
    intro = h.paragraph(
        f"Pairs in which at least {found.threshold:.0%} of one student's own code (the lines they wrote: the "
        "starter's code and the exercise's own cells left out, and code that most of the class wrote alike) is "
        f"also in the other's, by {found.engine}. Names, strings, comments and spacing do not count. "
        f"{len(found.compared)} students compared; the median pair shares {typical}. A pair is something to look "
        "at, not a verdict: points are never changed.",
        "note",
    )  # fmt: skip
    rows: list[list[h.Cell]] = [
        [f"{display_name(p.first)} / {display_name(p.second)}", f"{p.first_share:.0%} / {p.second_share:.0%}",
         _spans(p.first_spans) if k < SPANS_SHOWN else "", _spans(p.second_spans) if k < SPANS_SHOWN else ""]
        for k, p in enumerate(found.pairs)
    ]  # fmt: skip
    header = ["students", "shared (of each one's own code)", "first student's shared lines", "second's"]
    pairs = h.table(header, rows) if rows else h.paragraph("No pair is above the threshold.")
    if len(rows) > SPANS_SHOWN:
        pairs += h.paragraph(f"The shared lines are shown for the first {SPANS_SHOWN} pairs only.", "note")
    left = [h.paragraph("Not compared:"), h.cell_html(h.bullets(list(found.left_out)))] if found.left_out else []
    return h.section("Similarity", "similarity", intro, pairs, *left)


def _students(rows: list[StudentRow], *, term: bool) -> str:
    header = ["student", "status", "points", "max"]
    late = term and any(r.due for r in rows)
    header += (["submitted", "due", "late days", "penalty"] if late else []) + (["final", "overrides"] if term else [])
    table_rows: list[list[h.Cell]] = []
    for r in rows:
        waiting = f"pending ({', '.join(r.pending)})" if r.pending else None  # graded by hand: not yet
        cells: list[h.Cell] = [_feedback_cell(r), r.status, waiting or r.points, r.max_points]
        if late:
            cells += [r.submitted, r.due, r.late_days, "pending" if waiting else _number(r.penalty or 0)]
        if term:
            final = waiting or _number(r.final if r.final is not None else r.points)
            cells += [final, h.bullets(list(r.overrides))]
        table_rows.append(cells)
    numeric = {2, 3} | ({4, 5, 6, 7} if late else set()) | ({8 if late else 4} if term else set())
    note = h.paragraph("Each name opens that student's feedback file.", "note")
    return h.section("Students", "students", note, h.table(header, table_rows, numeric=numeric))


def histogram_png(points: Sequence[float], max_points: int) -> bytes:
    """A histogram of ``points`` (0 to ``max_points``): one bar per point, or per band of points when there are many."""
    step = max(1, math.ceil((max_points + 1) / 25))
    edges = [e - 0.5 for e in range(0, max_points + step + 1, step)]
    from matplotlib.ticker import MaxNLocator

    fig, ax = _figure(6.0, 3.2)
    ax.hist(list(points), bins=edges, color="#1f6feb", edgecolor="white")
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xticks(range(0, max_points + 1, step * max(1, math.ceil((max_points + 1) / step / 13))))
    ax.set_xlabel("points")
    ax.set_ylabel("notebooks")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if not points:
        ax.text(0.5, 0.5, "no notebook ran", transform=ax.transAxes, ha="center", va="center")
    return _png(fig)


def pass_rate_png(rates: Sequence[tuple[str, float]]) -> bytes:
    """Horizontal bars: the share passing each check, in the exercise's order from the top."""
    fig, ax = _figure(6.0, 0.9 + 0.32 * max(len(rates), 1))
    labels = [check for check, _ in rates][::-1]
    values = [100 * rate for _, rate in rates][::-1]
    bars = ax.barh(range(len(values)), values, color="#2da44e")
    ax.bar_label(bars, fmt="%.0f%%", padding=3, fontsize=8)
    ax.set_yticks(range(len(values)), labels)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of the notebooks that ran passing")
    return _png(fig)


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure  # a Figure without pyplot: no global state, no window

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig, fig.add_subplot()


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})  # no version stamp: the same records, the same bytes
    return buffer.getvalue()
