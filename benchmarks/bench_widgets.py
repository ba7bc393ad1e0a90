"""How long a LayerTuner takes from a control change to the re-rendered panel, for the lesson-sized models.

Measured headlessly, as a learner gets it (``background=True``): the clock starts when a control's value is set
and stops when the new rendering (rebuild + summary + diagram + HTML) is in the panel's ``Output`` widget.
Targets: median under 300 ms, worst under 1 s. The last columns split the median into its three stages.

Run:  .venv/bin/python benchmarks/bench_widgets.py [--changes 20] [--strict]
(--strict exits with status 1 when a target is missed.) Timings on a shared, busy machine are inflated.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from toolkit._keras import keras
from toolkit.inspection.diagram import diagram
from toolkit.inspection.summary import summary
from toolkit.widgets.tuner import LayerTuner

L = keras.layers
MEDIAN_TARGET_MS, WORST_TARGET_MS = 300.0, 1000.0


def build_mlp(units: int = 64, depth: int = 1) -> Any:
    model = keras.Sequential([keras.Input((28, 28)), L.Flatten()], name="mlp")
    for _ in range(depth):
        model.add(L.Dense(units, activation="relu"))
    model.add(L.Dense(10))
    return model


def build_convnet(filters: int = 16, kernel_size: int = 3) -> Any:
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            L.Conv2D(filters, kernel_size, activation="relu"),
            L.MaxPooling2D(),
            L.Conv2D(2 * filters, kernel_size, activation="relu"),
            L.MaxPooling2D(),
            L.Flatten(),
            L.Dense(10),
        ],
        name="convnet",
    )


def build_resnet(filters: int = 32, blocks: int = 2) -> Any:
    x0 = keras.Input((32, 32, 3))
    x = L.Conv2D(filters, 3, padding="same", activation="relu")(x0)
    for _ in range(blocks):
        y = L.Conv2D(filters, 3, padding="same", activation="relu")(x)
        y = L.BatchNormalization()(L.Conv2D(filters, 3, padding="same")(y))
        x = L.Activation("relu")(L.Add()([x, y]))
    return keras.Model(x0, L.Dense(10)(L.GlobalAveragePooling2D()(x)), name="toy_resnet")


# (name, build function, controls, the changes made, in a cycle)
CASES: list[tuple[str, Callable[..., Any], dict[str, Any], list[tuple[str, Any]]]] = [
    (
        "MLP (units, depth)",
        build_mlp,
        {"units": (8, 256, 8), "depth": (1, 3)},
        [("units", 128), ("units", 32), ("depth", 2), ("units", 256), ("depth", 3), ("units", 64), ("depth", 1)],
    ),
    (
        "convnet (filters, kernel)",
        build_convnet,
        {"filters": (4, 64, 4), "kernel_size": (1, 7, 2)},
        [("filters", 32), ("kernel_size", 5), ("filters", 8), ("kernel_size", 3), ("filters", 64), ("filters", 16)],
    ),
    (
        "toy ResNet (filters, blocks)",
        build_resnet,
        {"filters": (8, 64, 8), "blocks": (1, 4)},
        [("blocks", 3), ("filters", 48), ("blocks", 1), ("filters", 16), ("blocks", 4), ("filters", 32), ("blocks", 2)],
    ),
]


def time_changes(
    build: Callable[..., Any], controls: dict[str, Any], changes: list[tuple[str, Any]], n: int
) -> list[float]:
    """Milliseconds from each control change to the re-rendered panel."""
    tuner = LayerTuner(build, background=True, **controls)
    times = []
    for name, value in itertools.islice(itertools.cycle(changes), n):
        before = tuner.output.outputs
        start = time.perf_counter()
        tuner.controls[name].value = value
        tuner.wait(timeout=60)
        times.append((time.perf_counter() - start) * 1000)
        assert tuner.output.outputs is not before and tuner.state.ok, tuner.state.error
    return times


def stage_medians(build: Callable[..., Any], changes: list[tuple[str, Any]], n: int) -> tuple[float, float, float]:
    """Median milliseconds of the three stages (build, summary, diagram), measured on their own."""
    stages: list[list[float]] = [[], [], []]
    values: dict[str, Any] = {}
    for name, value in itertools.islice(itertools.cycle(changes), n):
        values[name] = value
        t0 = time.perf_counter()
        model = build(**values)
        t1 = time.perf_counter()
        summary(model)
        t2 = time.perf_counter()
        diagram(model)
        t3 = time.perf_counter()
        for stage, seconds in zip(stages, (t1 - t0, t2 - t1, t3 - t2)):
            stage.append(seconds * 1000)
    b, s, d = (statistics.median(x) for x in stages)
    return b, s, d


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20, help="control changes per model (default 20)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    header = (
        f"{'model':<30} {'changes':>7} {'median ms':>10} {'worst ms':>9}  {'targets':<27}"
        f" {'build':>6} {'summary':>8} {'diagram':>8}"
    )
    print(
        f"LayerTuner: control change -> re-rendered panel (targets: median < {MEDIAN_TARGET_MS:.0f} ms, "
        f"worst < {WORST_TARGET_MS:.0f} ms)"
    )
    cores, load = os.cpu_count(), os.getloadavg()[0]
    print(f"machine: {cores} CPU cores, load average {load:.1f} (a load above the core count inflates every figure)")
    print(header)
    print("-" * len(header))
    missed = 0
    for name, build, controls, changes in CASES:
        times = time_changes(build, controls, changes, args.changes)
        median, worst = statistics.median(times), max(times)
        ok = median < MEDIAN_TARGET_MS and worst < WORST_TARGET_MS
        missed += not ok
        verdict = (
            f"{'met' if ok else 'MISSED'} (median {'ok' if median < MEDIAN_TARGET_MS else 'slow'}, "
            f"worst {'ok' if worst < WORST_TARGET_MS else 'slow'})"
        )
        b, s, d = stage_medians(build, changes, min(args.changes, 10))
        print(f"{name:<30} {len(times):>7} {median:>10.0f} {worst:>9.0f}  {verdict:<27} {b:>6.0f} {s:>8.0f} {d:>8.0f}")
    print(f"\n{len(CASES) - missed} of {len(CASES)} models meet both targets.")
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
