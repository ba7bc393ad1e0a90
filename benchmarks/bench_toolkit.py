"""Benchmark the toolkit's summary() and diagram() against Keras's own summary, and print the figures.

Targets (issue 10): summary() at most 0.5x Keras's model.summary() on keras.applications models; a traced
subclassed transformer block under 300 ms; ``import toolkit.checks`` under 0.5 s in a fresh interpreter.
Earlier targets kept: a 300-layer functional model at most 1.5x Keras; diagram() of ResNet50 under 3 s.
Each line shows the load average (1 min) when it was measured: the machine may be shared.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import toolkit
from toolkit._keras import keras

L = keras.layers
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import zoo  # noqa: E402  the test zoo's subclassed transformer block

APPLICATIONS = ("MobileNetV3Small", "EfficientNetB0", "ConvNeXtTiny", "ResNet50")


def timed(fn: Callable[[], Any], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def deep_functional(n: int = 300) -> Any:
    x = inp = keras.Input((32,))
    for i in range(n):
        x = L.Dense(32, name=f"d{i}")(x)
    return keras.Model(inp, x, name="deep300")


def keras_summary(model: Any) -> None:
    model.summary(print_fn=lambda *args, **kwargs: None)


def import_checks_time() -> float:
    code = "import time; t = time.perf_counter(); import toolkit.checks; print(time.perf_counter() - t)"
    times = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip()))
    return statistics.median(times)


def main() -> None:
    rows = []
    for name in APPLICATIONS:
        model = getattr(keras.applications, name)(weights=None)
        toolkit.summary(model)  # first call pays for imports
        ours, theirs = timed(lambda m=model: toolkit.summary(m)), timed(lambda m=model: keras_summary(m))
        ratio = ours / theirs
        rows.append((f"summary {name} ({len(model.layers)} layers)", f"{ours:.3f} s",
                     f"{ratio:.2f}x Keras ({theirs:.3f} s)", "<= 0.5x", ratio <= 0.5, load()))
        if name == "ResNet50":
            t = timed(lambda m=model: toolkit.diagram(m), repeat=1)
            rows.append(("diagram ResNet50", f"{t:.3f} s", "", "< 3 s", t < 3, load()))
    deep = deep_functional()
    ours, theirs = timed(lambda: toolkit.summary(deep)), timed(lambda: keras_summary(deep))
    rows.append(("summary 300 Dense", f"{ours:.3f} s", f"{ours / theirs:.2f}x Keras ({theirs:.3f} s)", "<= 1.5x",
                 ours / theirs <= 1.5, load()))
    block = zoo.SubclassedTransformer(1)
    block(keras.ops.zeros((1, 10, 12)))
    t = timed(lambda: toolkit.summary(block, input_shape=(10, 12)), repeat=5)
    rows.append(("summary subclassed transformer block (trace)", f"{t * 1000:.0f} ms", "", "< 300 ms", t < 0.3,
                 load()))
    t = import_checks_time()
    rows.append(("import toolkit.checks (fresh process)", f"{t:.3f} s", "", "< 0.5 s", t < 0.5, load()))
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'time':>9}  {'ratio':<28}  {'target':<8}  met     load avg")
    for case, t_s, ratio_s, target, ok, load_s in rows:
        print(f"{case:<{width}}  {t_s:>9}  {ratio_s:<28}  {target:<8}  {'yes' if ok else 'MISSED':<6}  {load_s}")


if __name__ == "__main__":
    main()
