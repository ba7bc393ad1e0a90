"""benchmarks/asserts.py reads every accuracy threshold from the notebooks; the seed benchmark uses those numbers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from asserts import course_thresholds, thresholds  # noqa: E402


def _notebook(tmp_path: Path, *sources: str) -> Path:
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "source": s} for s in sources]
    path = tmp_path / "07_demo.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_reads_asserts_their_recorded_metric_and_check_accuracy(tmp_path: Path) -> None:
    path = _notebook(
        tmp_path,
        "%time x = 1\nassert acc >= 0.9, acc\ntoolkit.record_result('07', demo_accuracy=acc)",
        "assert scores['auc'] > 0.5\nassert len(x) == 3",
        "checks.check_accuracy(model, x, y, at_least=0.3, hint='h')",
        "this is not python (",
    )
    found = [(t.cell, t.variable, t.at_least, t.metric) for t in thresholds(path)]
    assert found == [
        (0, "acc", 0.9, "demo_accuracy"),
        (1, "scores['auc']", 0.5, None),
        (2, "check_accuracy", 0.3, None),
    ]


def test_the_course_thresholds_include_the_issue_13_targets() -> None:
    by_key = {(t.notebook, t.variable): t for t in course_thresholds()}
    assert by_key[("01_sequential", "convnet_acc")].at_least <= 0.99  # the target is 0.992: keep a margin
    assert by_key[("06_resnet_cifar10", "tta_acc")].at_least == 0.80
    assert by_key[("06_resnet_cifar10", "tta_acc")].metric == "tta_accuracy"
    assert by_key[("ex06_resnet_cifar10", "check_accuracy")].at_least == 0.30


@pytest.mark.parametrize("folder", ["notebooks", "course/solutions"])
def test_the_chinese_edition_asserts_the_same_thresholds(folder: str) -> None:
    for english in sorted((ROOT / folder).glob("*.ipynb")):
        chinese = ROOT / folder / "zh" / english.name
        key = [(t.cell, t.variable, t.at_least, t.metric) for t in thresholds(english)]
        assert key == [(t.cell, t.variable, t.at_least, t.metric) for t in thresholds(chinese)], english.name


def test_every_seed_recipe_names_exactly_one_threshold() -> None:
    from lesson_recipes import RECIPES, threshold

    assert RECIPES, "the seed benchmark has no recipes"
    for _name, (_recipe, notebook, variable) in RECIPES.items():
        assert 0.0 < threshold(notebook, variable) < 1.0
    with pytest.raises(LookupError, match="update RECIPES"):
        threshold("01_sequential", "no_such_variable")


def test_notebook_seeds_moves_every_literal_seed_and_nothing_else() -> None:
    from notebook_seeds import reseed

    notebook = {"cells": [
        {"cell_type": "code", "source": "toolkit.seed(42, threads=2)  # seed(42) in a comment moves too"},
        {"cell_type": "markdown", "source": "call toolkit.seed(0) first"},
        {"cell_type": "code", "source": ["for opt in opts:\n", "    toolkit.seed(0)\n", "    seed(n)\n"]},
        {"cell_type": "code", "source": "keras.utils.set_random_seed(7); rng = np.random.default_rng(seed=3)"},
    ]}
    moved, changed = reseed(notebook, 3)
    assert changed == 4
    assert [c["source"] for c in moved["cells"]] == [
        "toolkit.seed(45, threads=2)  # seed(45) in a comment moves too",
        "call toolkit.seed(0) first",
        "for opt in opts:\n    toolkit.seed(3)\n    seed(n)\n",
        "keras.utils.set_random_seed(10); rng = np.random.default_rng(seed=3)",
    ]
    assert notebook["cells"][0]["source"].startswith("toolkit.seed(42")  # the input is not changed
    assert reseed(notebook, 0)[0] == {**notebook, "cells": [
        {**c, "source": "".join(c["source"])} if c["cell_type"] == "code" else c for c in notebook["cells"]]}


def test_notebook_seeds_reads_each_asserted_value_even_when_its_assert_fails(tmp_path: Path) -> None:
    import contextlib
    import io

    from notebook_seeds import instrument, key, read_values

    path = _notebook(
        tmp_path,
        "toolkit_seed = 1",
        "acc = 0.93\nassert acc >= 0.9",
        "acc = 0.5  # the name is reused later: the probe must read it right after its own cell",
        "scores = {'auc': 0.4}\nassert scores['auc'] >= 0.6, 'too low'",
    )
    found = thresholds(path)
    notebook = instrument(json.loads(path.read_text()), found)
    namespace: dict[str, object] = {}
    printed = io.StringIO()
    for cell in notebook["cells"]:  # what a kernel with allow_errors does: a failing cell does not stop the rest
        with contextlib.redirect_stdout(printed), contextlib.suppress(AssertionError):
            exec(cell["source"], namespace)
    notebook["cells"][-1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": printed.getvalue()}]
    values = read_values(notebook)
    assert values.pop("python") == sys.executable
    assert values == {key(found[0]): 0.93, key(found[1]): 0.4}
    assert [t.variable for t in found] == ["acc", "scores['auc']"]
    notebook["cells"][-1]["outputs"] = []
    with pytest.raises(RuntimeError, match="printed no BENCH-VALUES line"):
        read_values(notebook)
    with pytest.raises(ValueError, match="asserts no accuracy"):
        instrument({"cells": []}, [])
