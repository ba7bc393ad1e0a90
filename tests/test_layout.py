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
