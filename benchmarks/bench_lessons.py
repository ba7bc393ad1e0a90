"""Print each lesson's run time and key results from the last `make notebooks` run.

`make notebooks` runs every notebook under nbval with --junitxml=artifacts/notebooks.xml (cell times) and
KERAS_COURSE_RESULTS=artifacts/results.jsonl (the metrics each lesson records with toolkit.record_result).
Target (issue 4): all six lessons together in at most 15 minutes on 2 cores.

With --seeds N it also retrains the recipes behind the accuracy asserts (benchmarks/lesson_recipes.py) with
seeds 0..N-1 and prints, per assert, the fit wall time, the accuracy, the threshold, the margin and the minimum
over the seeds, with the device and the load average beside the times. --only NAME picks recipes by substring.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
BUDGET_S = 15 * 60


def notebook_times(junit: Path) -> dict[str, float]:
    times: dict[str, float] = defaultdict(float)
    for case in ET.parse(junit).iter("testcase"):
        name = case.get("file") or case.get("classname", "")
        times[Path(name.replace(".", "/") if not name.endswith(".ipynb") else name).name] += float(case.get("time", 0))
    return dict(times)


def results(path: Path) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = defaultdict(dict)
    if path.exists():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            out[row.pop("notebook")].update(row)
    return dict(out)


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


def seed_robustness(n_seeds: int, only: str | None) -> int:
    """Train each recipe with seeds 0..n_seeds-1; return 1 when any seed misses its assert."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from lesson_recipes import RECIPES  # imports Keras: only when asked

    from toolkit._keras import keras, tf

    device = "GPU" if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    print(f"device: {device}")
    print(f"{'assert':<18} {'seed':>4} {'fit s':>7} {'load':>5} {'acc':>7} {'thresh':>6} {'margin':>7}")
    failed = 0
    for name, (recipe, threshold) in RECIPES.items():
        if only and only not in name:
            continue
        accs = []
        for seed in range(n_seeds):
            keras.utils.set_random_seed(seed)
            seconds, acc = recipe()
            accs.append(acc)
            row = f"{name:<18} {seed:>4} {seconds:>7.1f} {load():>5} {acc:>7.4f} {threshold:>6.2f}"
            print(f"{row} {acc - threshold:>+7.4f}", flush=True)
        worst = min(accs)
        failed |= worst < threshold
        print(f"{name:<18}  min over {n_seeds} seeds {worst:.4f}, margin {worst - threshold:+.4f}")
    return int(failed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=0, help="retrain the assert recipes with this many seeds")
    parser.add_argument("--only", help="only the recipes whose name contains this text")
    args = parser.parse_args()
    if args.seeds < 0:
        parser.error(f"--seeds must be 0 or more (got {args.seeds}); e.g. --seeds 2.")
    if args.seeds:
        return seed_robustness(args.seeds, args.only)
    junit, metrics_file = ARTIFACTS / "notebooks.xml", ARTIFACTS / "results.jsonl"
    if not junit.exists():
        print(f"{junit} not found: run `make notebooks` first (it writes the timings this script reads).")
        return 1
    times, metrics = notebook_times(junit), results(metrics_file)
    lessons = sorted(n for n in times if n[:2].isdigit())
    print(f"{'notebook':<32} {'time':>8}  results")
    for name in sorted(times):
        found = metrics.get(Path(name).stem, {})
        shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(found.items())) or "-"
        print(f"{name:<32} {times[name]:>7.1f}s  {shown}")
    total = sum(times[n] for n in lessons)
    verdict = "yes" if total <= BUDGET_S else "MISSED"
    print(f"lessons total: {total:.0f} s (target <= {BUDGET_S} s): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
