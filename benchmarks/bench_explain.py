"""Benchmark summary(model).explain(row) and print the figures.

Target (issue 24): explain() of one row <= 50 ms. Measured on keras.applications models (the largest graphs a
learner meets) and on a lesson-sized CNN: the first explain() of a fresh summary (it reads the facts of every
layer on the row's conv chain and the receptive fields once) and a warm one (median of 5), the totals, and the
summary's HTML with one expandable explanation per row. Each line shows the load average (1 min) when it was
measured: the machine may be shared.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import toolkit
from toolkit._keras import keras

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import zoo  # noqa: E402  the test zoo's lesson-sized models

sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_toolkit  # noqa: E402

TARGET_S = 0.05
APPLICATIONS = ("MobileNetV3Small", "EfficientNetB0", "ConvNeXtTiny", "ResNet50")


def timed(fn: Callable[[], Any], repeat: int = 5) -> float:
    return bench_toolkit.timed(fn, repeat)  # the median of ``repeat`` runs, as the toolkit's other benchmarks time


def once(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def cases() -> list[tuple[str, Any]]:
    out = [("toy_resnet (lesson-sized)", zoo.toy_resnet())]
    out += [(name, getattr(keras.applications, name)(weights=None)) for name in APPLICATIONS]
    return out


def main() -> None:
    rows: list[tuple[str, float, str, bool, str]] = []
    for name, model in cases():
        s = toolkit.summary(model)
        last_conv = [r.address for r in s.rows if "Conv" in r.class_name][-1]
        t_first = once(lambda s=s, a=last_conv: s.explain(a))  # fresh summary: facts + receptive fields read once
        rows.append(
            (
                f"{name}: first explain({last_conv!r})",
                t_first,
                f"<= {TARGET_S * 1000:.0f} ms",
                t_first <= TARGET_S,
                load(),
            )
        )
        t_warm = timed(lambda s=s, a=last_conv: s.explain(a))
        rows.append((f"{name}: explain() again", t_warm, f"<= {TARGET_S * 1000:.0f} ms", t_warm <= TARGET_S, load()))
        t_total = timed(lambda s=s: s.explain(), repeat=3)
        rows.append((f"{name}: explain() of the totals", t_total, "", True, load()))
        t_html = timed(lambda s=s: s._repr_html_(), repeat=1)
        rows.append((f"{name}: summary HTML, {len(s.rows)} rows with details", t_html, "", True, load()))
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'time':>10}  {'target':<9}  met     load avg")
    for case, t, target, ok, load_s in rows:
        print(f"{case:<{width}}  {t * 1000:>7.1f} ms  {target:<9}  {('yes' if ok else 'MISSED'):<6}  {load_s}")


if __name__ == "__main__":
    main()
