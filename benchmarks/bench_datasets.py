"""Time the data loaders: first load into an empty cache, then cached loads, against the targets.

Run: ``KERAS_COURSE_DATA=/path/to/data .venv/bin/python benchmarks/bench_datasets.py [--repeat 3]``.
It reports and never asserts (exit status 0); a missed target is marked MISSED. "First" means the loader's
cache folder is empty (a fresh temporary one): MNIST is hashed, CIFAR-10 is hashed, decoded and cached.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from toolkit.data import loaders as datasets  # noqa: E402

Row = tuple[str, str, float, float | None]


def _seconds(load: Callable[[], object]) -> float:
    start = time.perf_counter()
    load()
    return time.perf_counter() - start


def measure(repeat: int) -> list[Row]:
    """``(data set, load, seconds, target seconds or None)`` for each measured load."""
    rows: list[Row] = []
    loaders = (("MNIST", datasets.load_mnist, None), ("CIFAR-10", datasets.load_cifar10, 30.0))
    for name, load, first_target in loaders:
        rows.append((name, "first (empty cache)", _seconds(load), first_target))
        cached = statistics.median(_seconds(load) for _ in range(repeat))
        rows.append((name, f"cached (median of {repeat})", cached, 1.0))
        subset = statistics.median(
            _seconds(lambda load=load: load(limit=(5000, 1000))) for _ in range(repeat)
        )
        rows.append((name, f"cached, limit=(5000, 1000) (median of {repeat})", subset, 1.0))
    return rows


def render(rows: list[Row]) -> str:
    header = ("data set", "load", "time", "target", "")
    lines = [
        (name, load, f"{seconds:.2f} s", f"< {target:g} s" if target else "-", _verdict(seconds, target))
        for name, load, seconds, target in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    return "\n".join(
        "  ".join(f"{cell:<{w}}" for cell, w in zip(line, widths)).rstrip() for line in [header, *lines]
    )


def _verdict(seconds: float, target: float | None) -> str:
    if target is None:
        return ""
    return "ok" if seconds < target else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="cached loads to time (the median is shown)")
    args = parser.parse_args(argv)
    folder = datasets.data_dir()
    if folder is None or not all((folder / entry.name).is_file() for entry in datasets.FILES.values()):
        print(
            f"Set {datasets.DATA_ENV} to the folder holding mnist.npz and cifar10-jpeg.tar.gz.",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="keras-course-bench-") as cache:
        os.environ[datasets.CACHE_ENV] = cache
        rows = measure(max(1, args.repeat))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"data loaders on {os.cpu_count()} CPUs; 1-minute load average {load:.1f} (other work inflates times)"
    )
    print(render(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
