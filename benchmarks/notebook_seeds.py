"""Run whole lessons and solutions with other seeds, and read back the value behind every accuracy threshold.

``bench_lessons.py --notebook-seeds N`` executes each notebook that asserts or checks an accuracy N times, with
the seed offset k = 0..N-1 added to every ``toolkit.seed(S)`` / ``keras.utils.set_random_seed(S)`` literal (k = 0
is the stored run: the reference environment reproduces its recorded values). Probe cells are inserted right
after each threshold's cell; they copy the asserted value (or, for ``checks.check_accuracy``, the accuracy it
measured) and the last cell prints them as one ``BENCH-VALUES {json}`` line. Cells run with errors allowed, so a
failed assert is reported with its value instead of stopping the notebook.

The notebook transformations here are plain JSON (no Keras, no kernel), so tests can check them; ``run`` needs
nbclient and a kernel of the interpreter that runs it; it also returns what the notebook's ``toolkit.record_result``
calls recorded (e.g. lesson 1's ``convnet_train_s``), under ``"recorded"``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from asserts import Threshold, thresholds

MARKER = "BENCH-VALUES "
# toolkit.seed(42), toolkit.seed(42, threads=2), keras.utils.set_random_seed(0): the literal seed, not a variable
SEED_CALL = re.compile(r"\b((?:toolkit\.)?seed|set_random_seed)\((\d+)")

_WRAP_CHECK = """\
# inserted by benchmarks/notebook_seeds.py: remember the accuracy each check_accuracy call measures
import numpy as _bench_np
from toolkit import checks as _bench_checks
from toolkit._keras import keras as _bench_keras
_bench_values, _bench_measured = {}, []
_bench_check_accuracy = _bench_checks.check_accuracy
def _bench_wrapped(model, x, y, at_least, hint=None):
    probs = _bench_np.asarray(_bench_keras.Model.predict(model, x, verbose=0))
    _bench_measured.append(float(_bench_np.mean(_bench_np.argmax(probs, axis=1) == _bench_np.asarray(y).reshape(-1))))
    return _bench_check_accuracy(model, x, y, at_least, hint)
_bench_checks.check_accuracy = _bench_wrapped
"""


def key(t: Threshold) -> str:
    return f"cell {t.cell}: {t.variable}"


def reseed(notebook: dict[str, Any], offset: int) -> tuple[dict[str, Any], int]:
    """A copy of ``notebook`` with ``offset`` added to every literal seed; also the number of seeds changed."""
    out = copy.deepcopy(notebook)
    changed = 0
    for cell in out["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        new, n = SEED_CALL.subn(lambda m: f"{m.group(1)}({int(m.group(2)) + offset}", source)
        cell["source"], changed = new, changed + n
    return out, changed


def _code(source: str) -> dict[str, Any]:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}


def instrument(notebook: dict[str, Any], found: list[Threshold]) -> dict[str, Any]:
    """A copy of ``notebook`` with a probe cell after each threshold's cell and a final cell printing the values."""
    if not found:
        raise ValueError("this notebook asserts no accuracy: there is nothing for the seed benchmark to read")
    out = copy.deepcopy(notebook)
    cells: list[dict[str, Any]] = []
    by_cell: dict[int, list[Threshold]] = {}
    for t in found:
        by_cell.setdefault(t.cell, []).append(t)
    first = min(by_cell)
    checks = any(t.variable == "check_accuracy" for t in found)
    for index, cell in enumerate(out["cells"]):
        if index == first:
            cells.append(_code(_WRAP_CHECK if checks else "_bench_values = {}  # inserted by notebook_seeds.py\n"))
        cells.append(cell)
        for t in by_cell.get(index, []):
            if t.variable == "check_accuracy":
                read = "_bench_measured[-1] if _bench_measured else None"
            else:
                read = f"float({t.variable})"
            cells.append(_code(f"try:\n    _bench_values[{key(t)!r}] = {read}\nexcept Exception as _bench_err:\n"
                               f"    _bench_values[{key(t)!r}] = repr(_bench_err)\n"))
    cells.append(_code("import json as _bench_json, sys as _bench_sys\n"
                       "_bench_values['python'] = _bench_sys.executable\n"
                       f"print({MARKER!r} + _bench_json.dumps(_bench_values))\n"))
    out["cells"] = cells
    return out


def read_values(executed: dict[str, Any]) -> dict[str, Any]:
    """The ``BENCH-VALUES`` line the last cell printed (a clear error when the notebook never got there)."""
    last = executed["cells"][-1]
    for output in last.get("outputs", []):
        text = output.get("text", "")
        text = "".join(text) if isinstance(text, list) else text
        for line in text.splitlines():
            if line.startswith(MARKER):
                return dict(json.loads(line[len(MARKER):]))
    raise RuntimeError(f"the notebook's last cell printed no {MARKER.strip()} line; its outputs: {last.get('outputs')}")


def run(path: Path, offset: int, timeout: int = 1800) -> tuple[float, dict[str, Any]]:
    """Execute ``path`` with its seeds moved by ``offset``; return (seconds, {threshold key: value})."""
    import nbformat
    from nbclient import NotebookClient

    notebook = json.loads(path.read_text(encoding="utf-8"))
    found = thresholds(path)
    seeded, changed = reseed(notebook, offset)
    if not changed:
        raise ValueError(f"{path} calls no toolkit.seed(N) with a literal N, so its seed cannot be varied; "
                         "seed it in its first cell, e.g. toolkit.seed(42).")
    nb = nbformat.from_dict(instrument(seeded, found))
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout, allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    with tempfile.TemporaryDirectory() as tmp:
        recorded = Path(tmp) / "results.jsonl"  # what the lesson's toolkit.record_result calls write (times too)
        env = {**os.environ, "JPY_SESSION_NAME": str(path.resolve()), "KERAS_COURSE_RESULTS": str(recorded)}
        start = time.perf_counter()
        client.execute(env=env)
        seconds = time.perf_counter() - start
        values = read_values(nb)
        values["recorded"] = {}
        for line in recorded.read_text().splitlines() if recorded.exists() else []:
            row = json.loads(line)
            row.pop("notebook", None)
            values["recorded"].update(row)
    if values.pop("python") != sys.executable:
        raise RuntimeError(f"the kernel ran another Python than {sys.executable}: install ipykernel in this venv")
    return seconds, values
