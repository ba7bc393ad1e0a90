"""Grade copies of exercise 1's solution and print submissions per minute and where the time goes.

    KERAS_COURSE_DATA=/path/to/data .venv/bin/python benchmarks/bench_grader.py [--copies 20] [--workers 2]
        [--variant build-only|full|both] [--baseline] [--compare-sandbox] [--compare-fork-server]

``--baseline`` also times the naive way an instructor would grade (``pytest --nbval-lax`` on each notebook, one
after another) on the same copies; ``--compare-sandbox`` also grades them with ``--unsafe-no-sandbox``, to print
what the sandbox costs per submission; ``--compare-fork-server`` also grades them with a new sandbox and Python per
kernel (``Limits(fork_server=False)``), to print what the fork server (course/sandbox/forkserver.py) saves. The load
average is printed beside every absolute time.

``full`` is exercise 1 as written (it trains an MLP on 2,000 MNIST images for 5 epochs); ``build-only`` is the same
solution without the training task (the cells that load data, fit or check accuracy are removed), which is what the
issue's target (>= 10 submissions per minute on 2 cores) is about. The "kernel start" share is the time from
pytest's start to the first cell (starting Python, importing TensorFlow through the toolkit, starting ipykernel)
over the time each submission took.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course.authoring.notebook_format import load_exercise  # noqa: E402
from course.grading.batch import Job, default_threads, grade_jobs  # noqa: E402
from course.sandbox.limits import Limits  # noqa: E402
from course.verification.plan import KERNEL, CheckPlan, VerificationPlan  # noqa: E402

SOLUTION = ROOT / "course" / "solutions" / "ex01_sequential.ipynb"
TRAINING = ("load_mnist", ".fit(", "check_accuracy")


def build_only(path: Path, folder: Path) -> Path:
    """A copy of the solution without the cells that load data, train or measure accuracy."""
    nb = nbformat.read(str(path), as_version=4)
    nb.cells = [c for c in nb.cells if c.cell_type != "code" or not any(t in c.source for t in TRAINING)]
    target = folder / f"{path.stem}_build_only.ipynb"
    nbformat.write(nb, str(target))
    return target


def import_seconds() -> float:
    """Starting Python and importing the toolkit (and so TensorFlow) once, with nothing else running."""
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", "import tensorflow, toolkit"], cwd=ROOT, check=True, capture_output=True)
    return time.monotonic() - start


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def baseline(source: Path, copies: int) -> float:
    """Wall seconds of ``pytest --nbval-lax`` on each copy, one after another (no isolation, no rebuild)."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.monotonic()
        for i in range(copies):
            path = Path(tmp) / f"student{i:02d}.ipynb"
            path.write_bytes(source.read_bytes())
            cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider", str(path)]
            subprocess.run(cmd, cwd=tmp, capture_output=True)
        wall = time.monotonic() - start
    print(f"\n== naive baseline: pytest --nbval-lax on {copies} copies of {source.name}, one after another ==")
    print(f"wall time:                {wall:.1f} s ({load()})")
    print(f"submissions per minute:   {copies / wall * 60:.1f}")
    return wall


def bench(
    source: Path,
    copies: int,
    workers: int,
    label: str,
    *,
    sandbox: bool = True,
    verify: bool = True,
    fork_server: bool = True,
) -> float:
    exercise = load_exercise(source)
    plan = None
    if not verify:  # every check left to the kernel: graded by its in-kernel checks only
        plan = VerificationPlan(tuple(CheckPlan(c.id, KERNEL, why="benchmark") for c in exercise.checks))
    with tempfile.TemporaryDirectory() as tmp:
        subs = Path(tmp)
        for i in range(copies):
            (subs / f"student{i:02d}.ipynb").write_bytes(source.read_bytes())
        jobs = [Job(exercise, p, plan=plan) for p in sorted(subs.glob("*.ipynb"))]
        limits = Limits(cell_timeout=120, timeout=600, threads=default_threads(workers), sandbox=sandbox,
                        fork_server=fork_server)  # fmt: skip
        start = time.monotonic()
        results = grade_jobs(jobs, limits, workers=workers, progress=False)
        wall = time.monotonic() - start
    full = sum(r.total == r.max_points for r in results)
    ready = [r.kernel_ready_s for r in results if r.kernel_ready_s is not None]
    seconds = [r.seconds for r in results]
    mode = f"sandbox {'on' if sandbox else 'OFF'}, trusted verification {'on' if verify else 'OFF'}"
    if sandbox:
        mode += ", kernels " + ("forked from a server per slot" if fork_server else "each in a new sandbox")
    print(f"\n== {label}: {copies} copies of {source.name}, {workers} workers, {mode} ==")
    print(f"full marks:               {full}/{copies} (statuses: {sorted({str(r.status) for r in results})})")
    print(f"wall time:                {wall:.1f} s ({load()})")
    print(f"submissions per minute:   {copies / wall * 60:.1f}")
    print(f"per submission:           mean {statistics.mean(seconds):.1f} s, max {max(seconds):.1f} s")
    if ready:
        share = sum(ready) / sum(seconds)
        print(f"kernel start + TF import: mean {statistics.mean(ready):.1f} s = {share:.0%} of each submission's time")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--variant", choices=["build-only", "full", "both"], default="both")
    parser.add_argument("--baseline", action="store_true", help="also time pytest --nbval-lax, one after another")
    parser.add_argument("--compare-sandbox", action="store_true", help="also grade without the sandbox")
    parser.add_argument(
        "--compare-fork-server", action="store_true", help="also grade with a new sandbox (and Python) per kernel"
    )
    args = parser.parse_args()
    if not os.environ.get("KERAS_COURSE_DATA"):
        sys.exit("set KERAS_COURSE_DATA to the folder holding mnist.npz (exercise 1 trains on MNIST)")
    print(f"python + import toolkit (TensorFlow), alone: {import_seconds():.1f} s")
    print(f"cpu cores seen: {os.cpu_count()}; note: timings on a shared machine are inflated by other load")
    with tempfile.TemporaryDirectory() as tmp:
        if args.variant in ("build-only", "both"):
            bench(build_only(SOLUTION, Path(tmp)), args.copies, args.workers, "build-only")
        if args.variant in ("full", "both"):
            wall = bench(SOLUTION, args.copies, args.workers, "full (with training)")
            if args.compare_fork_server:
                own = bench(SOLUTION, args.copies, args.workers, "full (with training)", fork_server=False)
                saved = (own - wall) * args.workers / args.copies
                print(f"\nfork server saves per submission:         {saved:+.2f} s of wall time per worker; "
                      f"{own / wall:.2f}x the throughput ({load()})")  # fmt: skip
            if args.compare_sandbox:
                unverified = bench(SOLUTION, args.copies, args.workers, "full (with training)", verify=False)
                bare = bench(SOLUTION, args.copies, args.workers, "full", sandbox=False, verify=False)
                per = args.workers / args.copies
                sandbox_cost, verify_cost = (unverified - bare) * per, (wall - unverified) * per
                print(f"\nsandbox (and its fork server) cost per submission: {sandbox_cost:+.2f} s ({load()})")
                print(f"trusted verification cost per submission:          {verify_cost:+.2f} s ({load()})")
            if args.baseline:
                naive = baseline(SOLUTION, args.copies)
                print(f"\nspeed-up over the naive baseline, sandbox on: {naive / wall:.2f}x ({load()})")


if __name__ == "__main__":
    main()
