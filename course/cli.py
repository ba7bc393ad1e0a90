"""The ``course`` command: ``starters``, ``sync-notebooks``, ``publish``, ``grade`` and ``hash`` (see GUIDE.md)."""

from __future__ import annotations

import argparse
import ast
import os
import sys
from collections import Counter
from pathlib import Path

from course.grading import default_threads, grade_folder
from course.notebook_format import SOLUTIONS_DIR, FormatError, resolve_exercise
from course.reports import REPORT_FILES, read_roster
from course.sandbox import Limits
from course.starters import EXERCISES_DIR, editions, sync_starters


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
    from course.notebook_setup import sync_notebooks

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
    from course.notebook_setup import ROOT

    return _sync_all(ROOT, Path(args.solutions), EXERCISES_DIR, args.check)


def _publish(args: argparse.Namespace) -> int:
    """Store where the course is published (checked first: bad input changes nothing), then rewrite every notebook."""
    from course.notebook_setup import ROOT, check_publication, write_publication

    root = Path(args.root).resolve() if args.root else ROOT
    publication = check_publication(args.repository.strip(), args.branch)
    if write_publication(root, publication):
        shown = publication.repository or "(none: every notebook says how to run it locally)"
        print(f"set [tool.keras-course] in {root / 'pyproject.toml'}: repository {shown}, branch {publication.branch}")
    return _sync_all(root, root / "course" / "solutions", root / "exercises", check=False)


def _grade(args: argparse.Namespace) -> int:
    exercise = resolve_exercise(args.exercise, Path(args.solutions))
    workers = args.workers or os.cpu_count() or 1
    limits = Limits(
        cell_timeout=args.cell_timeout,
        timeout=args.timeout,
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
    roster = read_roster(Path(args.roster)) if args.roster else None
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

    p = sub.add_parser("sync-notebooks", help="write the first line (badge) and setup cell into every notebook, and "
                       "README, from the setting [tool.keras-course]")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything is out of date")
    p.set_defaults(run=_sync_notebooks)

    p = sub.add_parser("publish", help="set where the course is published ([tool.keras-course] in pyproject.toml) "
                       "and rewrite every notebook's badge and setup cell, the starters and README")
    p.add_argument("--repository", required=True, metavar="OWNER/NAME",
                   help="the course's GitHub repository; '' while it has none (no badges, a local-run line instead)")
    p.add_argument("--branch", default="main", help="the branch Colab opens the notebooks from (default main)")
    p.add_argument("--root", help="the course's checkout (default: the one this `course` package lies in)")
    p.set_defaults(run=_publish)

    p = sub.add_parser("grade", help="grade a folder of submissions")
    p.add_argument("exercise", help="exercise stem or prefix (ex01) or path to a solution notebook")
    p.add_argument("submissions", help="folder with one .ipynb per student")
    p.add_argument("--out", help="output folder (default grades/<exercise>)")
    p.add_argument("--workers", type=int, default=None, help="submissions at a time (default: CPU cores)")
    p.add_argument("--cell-timeout", type=float, default=60.0, help="seconds per cell (default 60)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per notebook (default 600)")
    p.add_argument("--user", help="run kernels as this unprivileged user (grader must run as root)")
    p.add_argument("--keep-work", action="store_true", help="keep the temporary folders, for debugging")
    p.add_argument("--scheduler", help="grade on a Dask cluster, e.g. tcp://host:8786 (see GUIDE.md)")
    p.add_argument("--roster", help="CSV mapping each file stem (column 'student') to LMS ids, see GUIDE.md")
    p.add_argument(
        "--only",
        action="append",
        metavar="NAMES",
        help="regrade only these students of the folder, e.g. --only alice,bob (names as in the student column); "
        "the other rows in --out stay",
    )
    p.add_argument("--memory-mb", type=int, default=6144, help="memory limit per kernel in MB (default 6144)")
    p.add_argument(
        "--max-processes", type=int, default=512,
        help="processes and threads one kernel may run at once (default 512; a TensorFlow kernel uses about 30)",
    )
    p.add_argument(
        "--disk-mb", type=int, default=1024,
        help="files one submission may write, in MB (default 1024); past it the run is stopped ('disk limit')",
    )
    p.add_argument(
        "--tmp-mb", type=int, default=256,
        help="size of the sandbox's /tmp in MB (default 256; /dev/shm gets half), counted in --memory-mb",
    )
    p.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="run kernels without bubblewrap: a submission can then harm others; every row is marked unsandboxed",
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
