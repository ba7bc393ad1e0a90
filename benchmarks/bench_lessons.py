"""Print each lesson's run time and key results from the last `make notebooks` run.

`make notebooks` runs every notebook under nbval with --junitxml=artifacts/notebooks.xml (cell times) and
KERAS_COURSE_RESULTS=artifacts/results.jsonl (the metrics each lesson records with toolkit.record_result).
Target (issue 4): all six lessons together in at most 15 minutes on 2 cores.
"""

from __future__ import annotations

import json
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


def main() -> int:
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
