"""The layout rules the code relies on: one adapter owns Keras internals; renderers need no TensorFlow."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRIVATE = re.compile(r"\._inbound_nodes|\._keras_history|\._nodes_by_depth|\._functional\b|Layer\.__call__\s*=")


def test_only_keras_graph_touches_keras_internals() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for folder in ("toolkit", "course")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "keras_graph" not in path.parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATE.search(line)
    ]
    assert not offenders, f"Keras internals used outside toolkit/keras_graph/: {offenders}"


def test_records_and_renderers_import_without_tensorflow() -> None:
    code = (
        "import sys; import toolkit.records, toolkit.macs, toolkit.tables; "
        "assert 'tensorflow' not in sys.modules, 'a renderer imported TensorFlow'"
    )
    # toolkit/__init__ imports TensorFlow, so load the modules by path without the package's __init__
    loader = (
        "import importlib.util, sys, types; pkg = types.ModuleType('toolkit'); pkg.__path__ = ['toolkit']; "
        "sys.modules['toolkit'] = pkg; " + code
    )
    subprocess.run([sys.executable, "-c", loader], cwd=ROOT, check=True)


def _notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "course" / "solutions").glob("*.ipynb"))


def test_every_stored_output_comes_from_an_executed_cell() -> None:
    import json

    bad = []
    for path in _notebooks():
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == "code" and cell.get("outputs") and cell.get("execution_count") is None:
                bad.append(f"{path.relative_to(ROOT)} cell {i}")
    assert not bad, f"outputs without an execution count (not produced by a run): {bad}"


def test_each_lesson_points_to_an_existing_exercise() -> None:
    for path in sorted((ROOT / "notebooks").glob("0[1-9]_*.ipynb")):
        refs = set(re.findall(r"exercises/[\w.]+\.ipynb", path.read_text()))
        assert refs, f"{path.name} does not point to its exercise"
        missing = [r for r in refs if not (ROOT / r).exists()]
        assert not missing, f"{path.name} points to missing exercises: {missing}"
