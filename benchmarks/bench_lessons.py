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
    from lesson_recipes import RECIPES, threshold  # imports Keras: only when asked

    from toolkit._keras import device, keras

    print(f"device: {device()}")
    print(f"{'assert':<18} {'seed':>4} {'fit s':>7} {'load':>5} {'acc':>7} {'thresh':>6} {'margin':>7}")
    failed = 0
    for name, (recipe, notebook, variable) in RECIPES.items():
        if only and only not in name:
            continue
        at_least = threshold(notebook, variable)
        accs = []
        for seed in range(n_seeds):
            keras.utils.set_random_seed(seed)
            seconds, acc = recipe()
            accs.append(acc)
            row = f"{name:<18} {seed:>4} {seconds:>7.1f} {load():>5} {acc:>7.4f} {at_least:>6.2f}"
            print(f"{row} {acc - at_least:>+7.4f}", flush=True)
        worst = min(accs)
        failed |= worst < at_least
        print(f"{name:<18}  min over {n_seeds} seeds {worst:.4f}, margin {100 * (worst - at_least):+.2f} points")
    return int(failed)


def ablation(n_seeds: int, only: str | None) -> int:
    """Lesson 6's table: the recipe, then one trick off at a time (fit wall time, accuracy, with flip TTA)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from lesson_recipes import ABLATION, lesson6_fast_resnet  # imports Keras: only when asked

    from toolkit._keras import device, keras

    print(f"lesson 6 ablation on {device()}, seeds 0..{n_seeds - 1}")
    print(f"{'variant':<36} {'seed':>4} {'fit s':>7} {'load':>5} {'test acc':>8} {'+ flip TTA':>10}")
    for label, overrides in ABLATION.items():
        if only and only not in label:
            continue
        for seed in range(n_seeds):
            keras.utils.set_random_seed(seed)
            found = lesson6_fast_resnet(**overrides)  # type: ignore[arg-type]
            print(f"{label:<36} {seed:>4} {found['fit_s']:>7.1f} {load():>5} {found['accuracy']:>8.4f} "
                  f"{found['tta_accuracy']:>10.4f}", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=0, help="retrain the assert recipes with this many seeds")
    parser.add_argument("--only", help="only the recipes whose name contains this text")
    parser.add_argument("--ablation", action="store_true", help="lesson 6's ablation table (about 20 min on 2 cores)")
    args = parser.parse_args()
    if args.seeds < 0:
        parser.error(f"--seeds must be 0 or more (got {args.seeds}); e.g. --seeds 2.")
    if args.ablation:
        return ablation(max(args.seeds, 1), args.only)
    if args.seeds:
        return seed_robustness(args.seeds, args.only)
    junit, metrics_file = ARTIFACTS / "notebooks.xml", ARTIFACTS / "results.jsonl"
    if not junit.exists():
        print(f"{junit} not found: run `make notebooks` first (it writes the timings this script reads).")
        return 1
    times, metrics = notebook_times(junit), results(metrics_file)
    lessons = sorted(n for n in times if n[:2].isdigit())
    print(f"load average now {load()} (1 min); {os.cpu_count()} CPU cores; each lesson prints its own device")
    print(f"{'notebook':<32} {'time':>8}  results")
    for name in sorted(times):
        found = metrics.get(Path(name).stem, {})
        shown = ", ".join(f"{k} {v:.4f}" for k, v in sorted(found.items())) or "-"
        print(f"{name:<32} {times[name]:>7.1f}s  {shown}")
    total = sum(times[n] for n in lessons)
    verdict = "yes" if total <= BUDGET_S else "MISSED"
    print(f"lessons total: {total:.0f} s (target <= {BUDGET_S} s): {verdict}")
    print(assert_margins(metrics))
    return 0


def assert_margins(metrics: dict[str, dict[str, float]]) -> str:
    """Each asserted threshold beside the value this run recorded for it, and the margin (in points)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from asserts import course_thresholds

    lines = [f"{'assert':<52} {'value':>7} {'thresh':>7} {'margin':>7}"]
    for t in course_thresholds():
        label = f"{t.notebook} cell {t.cell}: {t.variable}"
        value = metrics.get(t.notebook, {}).get(t.metric) if t.metric else None
        if value is None:
            why = f"{t.metric} is not in results.jsonl" if t.metric else "the notebook records no value for it"
            lines.append(f"{label:<52} {'-':>7} {t.at_least:>7.3f} {'-':>7}  ({why})")
        else:
            flag = "" if value - t.at_least >= 0.01 else "  UNDER 1 POINT"
            lines.append(f"{label:<52} {value:>7.4f} {t.at_least:>7.3f} {100 * (value - t.at_least):>+6.2f}p{flag}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
