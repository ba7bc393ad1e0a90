"""Print each lesson's run time and key results from the last `make notebooks` run.

`make notebooks` runs every notebook under nbval with --junitxml=artifacts/notebooks.xml (cell times) and
KERAS_COURSE_RESULTS=artifacts/results.jsonl (the metrics each lesson records with toolkit.record_result).
Target (issue 4): all six lessons together in at most 15 minutes on 2 cores.

With --seeds N it also retrains the recipes behind the accuracy asserts (benchmarks/lesson_recipes.py) with
seeds 0..N-1 and prints, per assert, the fit wall time, the accuracy, the threshold, the margin and the minimum
over the seeds, with the device and the load average beside the times. --only NAME picks recipes by substring.

With --notebook-seeds N it executes every lesson and solution that asserts an accuracy, whole, N times with its
seeds moved by 0..N-1 (benchmarks/notebook_seeds.py), and prints every threshold's value per run, its minimum over
the runs and the margin: the check that each assert holds whatever the seed, in whichever venv runs this script.
--only NAME picks notebooks by substring (e.g. --only 0 for the lessons, --only ex for the exercises).
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


def notebook_seeds(n_seeds: int, only: str | None) -> int:
    """Execute each notebook with seed offsets 0..n_seeds-1; return 1 when any value misses its threshold."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import platform

    from asserts import ROOT, course_thresholds
    from notebook_seeds import key, run

    from toolkit._keras import device, keras

    by_notebook: dict[str, list] = defaultdict(list)
    for t in course_thresholds():
        by_notebook[t.notebook].append(t)
    folders = [ROOT / "notebooks", ROOT / "course" / "solutions"]
    paths = {p.stem: p for folder in folders for p in folder.glob("*.ipynb")}
    names = [n for n in sorted(by_notebook) if not only or only in n]
    if not names:
        print(f"no notebook with an accuracy threshold matches --only {only!r}; "
              f"they are: {', '.join(sorted(by_notebook))}")
        return 1
    print(f"device: {device()}; Python {platform.python_version()}, Keras {keras.__version__}; {sys.executable}")
    print(f"{'notebook':<20} {'threshold':<36} {'seed+':>5} {'run s':>6} {'load':>5} {'value':>7} {'thresh':>6} "
          f"{'margin':>7}")
    failed = 0
    for name in names:
        values: dict[str, list[float]] = defaultdict(list)
        for offset in range(n_seeds):
            seconds, found = run(paths[name], offset)
            for t in by_notebook[name]:
                value = found.get(key(t))
                if not isinstance(value, float):
                    print(f"{name:<20} {key(t):<36} {offset:>5} {seconds:>6.0f} {load():>5}  no value: {value}")
                    values[key(t)].append(float("nan"))
                    failed = 1
                    continue
                values[key(t)].append(value)
                print(f"{name:<20} {key(t):<36} {offset:>5} {seconds:>6.0f} {load():>5} {value:>7.4f} "
                      f"{t.at_least:>6.3f} {value - t.at_least:>+7.4f}", flush=True)
            times = {k: v for k, v in found.get("recorded", {}).items() if k.endswith("_s")}
            if times:
                print(f"{'':<20} recorded times: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(times.items())))
        for t in by_notebook[name]:
            worst = min(values[key(t)])
            ok = worst >= t.at_least  # (False for nan)
            failed |= not ok
            print(f"{name:<20} {key(t):<36} min over {n_seeds} runs {worst:.4f}, "
                  f"margin {100 * (worst - t.at_least):+.2f} points{'' if ok else '  FAILS'}", flush=True)
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
    parser.add_argument("--notebook-seeds", type=int, default=0, metavar="N",
                        help="execute every notebook with an accuracy threshold N times, seeds moved by 0..N-1")
    parser.add_argument("--only", help="only the recipes (with --notebook-seeds: notebooks) whose name has this")
    parser.add_argument("--ablation", action="store_true", help="lesson 6's ablation table (about 20 min on 2 cores)")
    args = parser.parse_args()
    if args.seeds < 0:
        parser.error(f"--seeds must be 0 or more (got {args.seeds}); e.g. --seeds 2.")
    if args.notebook_seeds < 0:
        parser.error(f"--notebook-seeds must be 0 or more (got {args.notebook_seeds}); e.g. --notebook-seeds 5.")
    if args.notebook_seeds:
        return notebook_seeds(args.notebook_seeds, args.only)
    if args.ablation:
        return ablation(max(args.seeds, 1), args.only)
    if args.seeds:
        return seed_robustness(args.seeds, args.only)
    junits, metrics_file = sorted(ARTIFACTS.glob("notebooks*.xml")), ARTIFACTS / "results.jsonl"
    if not junits:
        print(f"{ARTIFACTS / 'notebooks.xml'} not found: run `make notebooks` first (it writes the timings this script "
              "reads).")  # fmt: skip
        return 1
    times, metrics = {}, results(metrics_file)
    for junit in junits:  # notebooks.xml, and notebooks-long.xml: the longest lesson, run beside the others
        times.update(notebook_times(junit))
    if len(junits) > 1:
        print("the longest lesson ran beside the others (two lanes on the cores): each time below was measured on a "
              "machine busy with the other lane, so their sum overstates the time on an idle machine")  # fmt: skip
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
