"""A LayerTuner under a fast drag: 20 slider steps in quick succession (keyboard arrows held down, or a front end
that reports every step), then the slider settles.

Reported per setting of the tuner's ``debounce`` (seconds of quiet before a rebuild starts; 0 = start at once):
- rebuild ms: one isolated slider step, change -> re-rendered panel (median; what a single click costs);
- latency p50/p95 ms: the last step of a drag -> its rendering in the panel (the target: p95 <= 300 ms);
- rebuilds per drag: how many times the model was rebuilt for the 20 steps (1 is ideal);
- queued: rebuilds still started after the final rendering (the target: 0).
The load average is printed beside the times: on a busy machine every figure is inflated.

Run:  .venv/bin/python benchmarks/bench_tuner.py [--drags 10] [--steps 20] [--interval-ms 30] [--debounce 0 0.3]
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import sys
import time
from typing import Any

from toolkit.widgets.tuner import LayerTuner

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_widgets import build_mlp  # noqa: E402  the same model the panels' benchmark rebuilds

LATENCY_TARGET_MS = 300.0




class Counting:
    """The build function, counting its calls (one per rebuild)."""

    def __init__(self) -> None:
        self.calls = 0
        self.__signature__ = inspect.signature(build_mlp)
        self.__name__ = "build_mlp"

    def __call__(self, **values: Any) -> Any:
        self.calls += 1
        return build_mlp(**values)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wait_for(tuner: LayerTuner, units: int, timeout: float = 60.0) -> float:
    """Seconds (perf_counter) at which the panel shows ``units``; polls like a browser would see it."""
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        state = getattr(tuner, "state", None)
        if state is not None and state.values.get("units") == units and tuner.output.outputs:
            text = tuner.output.outputs[0]["data"]["text/plain"]
            if f"units={units}" in text:
                return time.perf_counter()
        time.sleep(0.002)
    raise TimeoutError(f"the tuner did not show units={units} within {timeout:g} s")


def make_tuner(build: Counting, debounce: float) -> LayerTuner:
    kwargs: dict[str, Any] = {"units": (8, 512, 8), "depth": (1, 3)}
    if "debounce" in inspect.signature(LayerTuner).parameters:
        kwargs["debounce"] = debounce
    elif debounce:
        raise SystemExit("this LayerTuner has no debounce parameter; run with --debounce 0")
    return LayerTuner(build, background=True, **kwargs)


def run(debounce: float, drags: int, steps: int, interval: float) -> dict[str, float]:
    build = Counting()
    tuner = make_tuner(build, debounce)
    slider = tuner.controls["units"]
    # isolated steps: the cost of one rebuild as a learner clicking once sees it
    single = []
    for units in (16, 24, 16, 24, 16):
        start = time.perf_counter()
        slider.value = units
        single.append((wait_for(tuner, units) - start) * 1000)
        tuner.wait(60)
    latencies, rebuilds, queued = [], [], []
    for drag in range(drags):
        up = drag % 2 == 0
        values = [16 + 8 * (k + 1) for k in range(steps)] if up else [16 + 8 * (steps - k - 1) for k in range(steps)]
        before = build.calls
        for units in values:
            slider.value = units
            time.sleep(interval)
        released = time.perf_counter() - interval  # the last step was set one interval ago
        shown = wait_for(tuner, values[-1])
        calls_when_shown = build.calls
        tuner.wait(60)
        time.sleep(max(0.05, 2 * debounce))  # anything still queued would start here
        latencies.append((shown - released) * 1000)
        rebuilds.append(build.calls - before)
        queued.append(build.calls - calls_when_shown)
    return {
        "rebuild": statistics.median(single),
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "rebuilds": statistics.mean(rebuilds),
        "queued": float(sum(queued)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drags", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--interval-ms", type=float, default=30.0, help="time between two steps of a drag")
    parser.add_argument("--debounce", type=float, nargs="+", default=[0.0, 0.1, 0.3])
    parser.add_argument("--strict", action="store_true", help="exit 1 if the last setting misses a target")
    args = parser.parse_args(argv)
    print(
        f"LayerTuner, MLP (units slider): {args.drags} drags of {args.steps} steps, one step every "
        f"{args.interval_ms:g} ms (targets: latency p95 <= {LATENCY_TARGET_MS:.0f} ms, nothing queued)"
    )
    header = (
        f"{'debounce s':>10} {'rebuild ms':>10} {'latency p50':>11} {'p95':>6} {'rebuilds/drag':>13} "
        f"{'queued':>6}  load average"
    )
    print(f"machine: {os.cpu_count()} CPU cores\n{header}\n{'-' * len(header)}")
    missed = False
    for debounce in args.debounce:
        load_before = os.getloadavg()[0]
        r = run(debounce, args.drags, args.steps, args.interval_ms / 1000)
        missed = r["p95"] > LATENCY_TARGET_MS or r["queued"] > 0
        print(
            f"{debounce:>10g} {r['rebuild']:>10.0f} {r['p50']:>11.0f} {r['p95']:>6.0f} {r['rebuilds']:>13.1f} "
            f"{r['queued']:>6.0f}  {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
        )
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
