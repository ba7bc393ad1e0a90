"""The ``course`` command: ``starters``, ``sync-notebooks``, ``publish``, ``grade`` and ``hash`` (see GUIDE.md)."""

from __future__ import annotations

import argparse
import ast
import os
import sys
from collections import Counter
from pathlib import Path

from course.authoring.notebook_format import SOLUTIONS_DIR, FormatError, resolve_exercise
from course.authoring.starters import EXERCISES_DIR, editions, sync_starters
from course.grading.batch import default_threads, grade_folder
from course.reports.analysis import REPORT_FILES, read_roster
from course.reports.gradebook import render_only
from course.sandbox.limits import Limits
from course.term.prepare import Options as TermOptions
from course.term.prepare import prepare as prepare_term


def _starters(args: argparse.Namespace) -> int:
    statuses = [
        status
        for pair in editions(Path(args.solutions), Path(args.exercises))
        for status in sync_starters(*pair, check=args.check)
    ]
    bad = [s for s in statuses if s.state in ("stale", "missing", "orphan")]
    for s in statuses:
        if s.state != "unchanged" or args.verbose:
            print(f"{s.state:9} {s.path}")
    if args.check and bad:
        print(f"{len(bad)} starter(s) differ from their solution; run `python -m course starters`.", file=sys.stderr)
        return 1
    return 0


def _sync_all(root: Path, solutions: Path, exercises: Path, check: bool) -> int:
    """First cells and README from ``root``'s setting, then the starters; print what is (or would be) rewritten."""
    from course.authoring.notebook_setup import sync_notebooks

    # the lessons, solutions and README first; then the starters, regenerated from the solutions just written
    states = [(s.state, s.path) for s in sync_notebooks(root, check=check)]
    for pair in editions(solutions, exercises):
        states += [(s.state, s.path) for s in sync_starters(*pair, check=check)]
    bad = [path for state, path in states if state in ("stale", "missing", "orphan")]
    for state, path in states:
        if state != "unchanged":
            print(f"{state:9} {path}")
    if check and bad:
        print(f"{len(bad)} file(s) lack the current setup cell or badge; run `course sync-notebooks`.", file=sys.stderr)
        return 1
    return 0


def _sync_notebooks(args: argparse.Namespace) -> int:
    from course.authoring.notebook_setup import ROOT

    return _sync_all(ROOT, Path(args.solutions), EXERCISES_DIR, args.check)


def _publish(args: argparse.Namespace) -> int:
    """Store where the course is published (checked first: bad input changes nothing), then rewrite every notebook."""
    from course.authoring.notebook_setup import ROOT, check_publication, write_publication

    root = Path(args.root).resolve() if args.root else ROOT
    publication = check_publication(args.repository.strip(), args.branch)
    if write_publication(root, publication):
        shown = publication.repository or "(none: every notebook says how to run it locally)"
        print(f"set [tool.keras-course] in {root / 'pyproject.toml'}: repository {shown}, branch {publication.branch}")
    return _sync_all(root, root / "course" / "solutions", root / "exercises", check=False)


def _check(args: argparse.Namespace) -> int:
    """Lint an exercise: inconsistent declarations are errors (exit 1); each check's verification is listed."""
    from course.verification import calibration
    from course.verification.plan import problems

    exercise = resolve_exercise(args.exercise, Path(args.solutions))
    found = problems(exercise)
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    stored = calibration.stored(exercise)
    plan = calibration.plan_of(exercise, stored)
    print(f"{exercise.name}: {len(plan.checks)} checks, {len(plan.verified)} verified outside the student's notebook")
    for check in plan.checks:
        print(f"  {check.check}: {check.describe()}")
    if stored is None:
        print(f"  (not calibrated: `course calibrate {args.exercise}` measures its time limits and default probes; "
              "`course grade` does it when needed)")  # fmt: skip
    else:
        print(f"  calibrated {stored.measured}: {stored.total_cpu_s:g} CPU seconds for the reference solution")
    return 1 if found else 0


def _calibrate(args: argparse.Namespace) -> int:
    from course.verification import calibrate, calibration
    from course.verification.plan import problems

    exercise = resolve_exercise(args.exercise, Path(args.solutions))
    found = problems(exercise)
    if found:
        for problem in found:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    limits = Limits(threads=default_threads(1))
    try:
        measured = calibrate.measure(exercise, limits)
    except calibration.CalibrationError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    written = calibration.store(exercise, measured, into_notebook=not args.no_write)
    slowest = max(measured.cell_cpu_s.items(), key=lambda kv: kv[1], default=("-", 0.0))
    print(f"{exercise.name}: reference solution {measured.total_cpu_s:g} CPU seconds ({measured.wall_s:g} s wall); "
          f"slowest cell {slowest[0]} {slowest[1]:g} CPU s; limits then: "
          f"{calibration.Calibration.limits(measured, limits).cell_timeout:g} s per cell")  # fmt: skip
    for name, calls in measured.usage.items():
        print(f"  class {name}: {len([c for c in calls if c])} recorded calls for its default probe")
    for check, why in measured.failed.items():
        print(f"  check {check}: its reference answer did not pass outside the kernel: {why[:200]}")
    print("written: " + ", ".join(str(p) for p in written))
    return 0


def _grade(args: argparse.Namespace) -> int:
    exercise = resolve_exercise(args.exercise, Path(args.solutions))
    workers = args.workers or os.cpu_count() or 1
    limits = Limits(
        cell_timeout=args.cell_timeout,
        timeout=args.timeout,
        wall_factor=args.wall_factor,
        user=args.user,
        threads=default_threads(workers),
        keep_work=args.keep_work,
        sandbox=not args.unsafe_no_sandbox,
        memory_mb=args.memory_mb,
        max_processes=args.max_processes,
        disk_mb=args.disk_mb,
        tmp_mb=args.tmp_mb,
    )
    out = Path(args.out) if args.out else Path("grades") / exercise.name
    # the term first (course/term/): a bad date, policy, roster or overrides file stops here, before any grading
    term = prepare_term(exercise, Path(args.submissions), out, TermOptions(
        due=args.due, late=args.late, release=args.release, overrides=_path(args.overrides),
        submitted_times=_path(args.submitted_times), times_from_files=args.times_from_files, roster=_path(args.roster),
    ))  # fmt: skip
    roster = read_roster(Path(args.roster)) if args.roster else None
    if args.render_only:
        book = render_only(exercise, out, roster, term)
    else:
        book = grade_folder(
            exercise,
            Path(args.submissions),
            out,
            limits=limits,
            workers=workers,
            progress=True,
            roster=roster,
            scheduler=args.scheduler,
            only=args.only,
            term=term,
            calibrate=not args.no_calibrate,
            require_verified=args.require_verified,
        )
    unknown = [s.result.student for s in book.standings() or () if s.days_late is None]
    if unknown:
        print(
            f"{len(unknown)} submissions have a due date but no known submission time ({', '.join(unknown[:5])}"
            f"{', ...' if len(unknown) > 5 else ''}): their rows keep the raw points (late_days 'unknown'); give "
            "the times with --submitted-times or the roster's submitted column and run again with --render-only"
        )
    counts = Counter(r.status for r in book.results)
    missing = sum(r.status == "missing" for r in book.results)
    now = sum(1 for r in book.results if r.student in book.updated and r.status != "missing")
    print(f"wrote {out / 'gradebook.csv'}: {len(book.results)} students ({now} graded now, "
          f"{len(book.results) - now - missing} kept from earlier runs, {missing} missing) and their feedback files "
          f"in {out / 'feedback'}")  # fmt: skip
    print(f"reports: {', '.join(str(out / name) for name in REPORT_FILES)}")
    print(
        f"kept: {out / 'records'} (every result), {out / 'submitted'} (the graded files, read-only), "
        f"{out / 'runs.jsonl'} (who graded what, when)"
    )
    for status, n in sorted(counts.items()):
        print(f"  {status}: {n}")
    return 0


def _path(name: str | None) -> Path | None:
    return Path(name) if name else None


def _hash(args: argparse.Namespace) -> int:
    from toolkit.checks import hash_answer

    try:
        value = ast.literal_eval(args.value)
    except (ValueError, SyntaxError):
        print(f"VALUE must be a Python literal such as 12345 or '(None, 10)' (got {args.value!r})", file=sys.stderr)
        return 2
    print(hash_answer(args.question_id, value))
    return 0


def _translations(args: argparse.Namespace) -> int:
    from course import translations

    root = Path(args.root).resolve()
    if args.action == "check":
        found = [p for en, zh in translations.pairs(root) for p in translations.problems(en, zh)]
        for line in found:
            print(line)
        print(f"{len(found)} translation problem(s)" if found else "every translation is up to date")
        return 1 if found else 0
    if not args.notebooks:
        raise ValueError(f"`course translations {args.action}` needs the notebooks to work on")
    for name in args.notebooks:
        path = Path(name)
        if args.action == "new":
            zh = path.parent / "zh" / path.name
            translations.new(path, zh)
            print(f"wrote {zh}: translate its markdown cells and comments, then `course translations stamp {zh}`")
        else:
            count = translations.stamp(translations.english_for(path, root), path)
            print(f"{path}: {count} markdown cells stamped as translations of the current English")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course", description="Exercises, starters and grading for the course.")
    parser.add_argument("--solutions", default=str(SOLUTIONS_DIR), help="folder of solution notebooks")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("starters", help="generate exercises/ from course/solutions/")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if a starter is stale or missing")
    p.add_argument("--exercises", default=str(EXERCISES_DIR), help="where the starters go")
    p.add_argument("-v", "--verbose", action="store_true", help="also list unchanged starters")
    p.set_defaults(run=_starters)

    p = sub.add_parser(
        "sync-notebooks",
        help="write the first line (badge) and setup cell into every notebook, and "
        "README, from the setting [tool.keras-course]",
    )
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything is out of date")
    p.set_defaults(run=_sync_notebooks)

    p = sub.add_parser(
        "publish",
        help="set where the course is published ([tool.keras-course] in pyproject.toml) "
        "and rewrite every notebook's badge and setup cell, the starters and README",
    )
    p.add_argument(
        "--repository",
        required=True,
        metavar="OWNER/NAME",
        help="the course's GitHub repository; '' while it has none (no badges, a local-run line instead)",
    )
    p.add_argument("--branch", default="main", help="the branch Colab opens the notebooks from (default main)")
    p.add_argument("--root", help="the course's checkout (default: the one this `course` package lies in)")
    p.set_defaults(run=_publish)

    p = sub.add_parser("check", help="lint an exercise and say how each of its checks is verified")
    p.add_argument("exercise", help="exercise stem or prefix (ex01) or path to a solution notebook")
    p.add_argument("--solutions", default=str(SOLUTIONS_DIR), help=argparse.SUPPRESS)
    p.set_defaults(run=_check)

    p = sub.add_parser("calibrate", help="grade an exercise's reference solution once: default probes, time limits")
    p.add_argument("exercise", help="exercise stem or prefix (ex01) or path to a solution notebook")
    p.add_argument("--solutions", default=str(SOLUTIONS_DIR), help=argparse.SUPPRESS)
    p.add_argument("--no-write", action="store_true", help="keep it in the cache only, not in the notebook")
    p.set_defaults(run=_calibrate)

    p = sub.add_parser("grade", help="grade a folder of submissions")
    p.add_argument("exercise", help="exercise stem or prefix (ex01) or path to a solution notebook")
    p.add_argument("submissions", help="folder with one .ipynb per student")
    p.add_argument("--out", help="output folder (default grades/<exercise>)")
    p.add_argument("--workers", type=int, default=None, help="submissions at a time (default: CPU cores)")
    p.add_argument(
        "--cell-timeout",
        type=float,
        default=60.0,
        help="CPU seconds one cell may use, its own and its processes' (default 60), whatever the load",
    )
    p.add_argument("--timeout", type=float, default=600.0, help="CPU seconds one notebook may use (default 600)")
    p.add_argument(
        "--wall-factor",
        type=float,
        default=5.0,
        help="backstop for cells that wait or sleep: a cell (a notebook) is stopped after this many times its CPU "
        "limit in wall-clock seconds (default 5)",
    )
    p.add_argument("--user", help="run kernels as this unprivileged user (grader must run as root)")
    p.add_argument("--keep-work", action="store_true", help="keep the temporary folders, for debugging")
    p.add_argument(
        "--require-verified",
        action="store_true",
        help="refuse an exercise with a check that can only be graded inside the student's notebook (course check)",
    )
    p.add_argument(
        "--no-calibrate",
        action="store_true",
        help="do not grade the reference solution first when the exercise has no calibration (course calibrate)",
    )
    p.add_argument("--scheduler", help="grade on a Dask cluster, e.g. tcp://host:8786 (see GUIDE.md)")
    p.add_argument(
        "--roster",
        help="CSV mapping each file stem (column 'student') to LMS ids, extensions and submission times, see "
        "GUIDE.md section 4.6",
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="NAMES",
        help="regrade only these students of the folder, e.g. --only alice,bob (names as in the student column); "
        "the other rows in --out stay",
    )
    p.add_argument("--memory-mb", type=int, default=6144, help="memory limit per kernel in MB (default 6144)")
    p.add_argument(
        "--max-processes",
        type=int,
        default=512,
        help="processes and threads one kernel may run at once (default 512; a TensorFlow kernel uses about 30)",
    )
    p.add_argument(
        "--disk-mb",
        type=int,
        default=1024,
        help="files one submission may write, in MB (default 1024); past it the run is stopped ('disk limit')",
    )
    p.add_argument(
        "--tmp-mb",
        type=int,
        default=256,
        help="size of the sandbox's /tmp in MB (default 256; /dev/shm gets half), counted in --memory-mb",
    )
    p.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="run kernels without bubblewrap: a submission can then harm others; every row is marked unsandboxed",
    )
    p.add_argument(
        "--due",
        metavar="WHEN",
        help="due date, ISO 8601: 2026-12-01T23:59 (this machine's time zone) or 2026-12-01T23:59+01:00; kept in "
        "--out for later runs (GUIDE.md section 4.2)",
    )
    p.add_argument(
        "--late",
        metavar="POLICY",
        help="late policy: '10%%/day, max 50%%', 'not accepted' or 'none' (the default); kept in --out",
    )
    p.add_argument(
        "--submitted-times",
        metavar="FILE",
        help="CSV with columns student,submitted (e.g. from the LMS download): when each submission was handed in",
    )
    p.add_argument(
        "--times-from-files",
        action="store_true",
        help="use each file's modification time as its submission time when no other time is given (copying and "
        "unzipping change it: a last resort)",
    )
    p.add_argument(
        "--overrides",
        metavar="FILE",
        help="CSV student,check,points,reason: points set by hand, kept as --out/overrides.csv and applied on every "
        "later run (GUIDE.md section 4.3)",
    )
    p.add_argument(
        "--release",
        action="store_true",
        help="show checks marked release 'after_due' in the feedback now, before the due date (and from then on)",
    )
    p.add_argument(
        "--render-only",
        action="store_true",
        help="grade nobody: rewrite the gradebook, feedback and reports from --out's records with the current due "
        "date, submission times, overrides and release",
    )
    p.set_defaults(run=_grade)

    p = sub.add_parser("translations", help="check the Chinese edition, or start or stamp a translation")
    p.add_argument("action", choices=["check", "new", "stamp"])
    p.add_argument("notebooks", nargs="*", help="new: English notebooks; stamp: translated notebooks")
    p.add_argument("--root", default=".", help="repository root (default: here)")
    p.set_defaults(run=_translations)

    p = sub.add_parser("hash", help="digest of an answer, for checks.check_hashed")
    p.add_argument("question_id", help="course-wide unique question id, e.g. ex01_q2")
    p.add_argument("value", help="the answer as a Python literal, e.g. '(None, 10)' or 25450")
    p.set_defaults(run=_hash)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (FormatError, FileNotFoundError, ValueError) as err:  # TranslationError is a ValueError
        print(f"course {args.command}: {err}", file=sys.stderr)
        return 2
