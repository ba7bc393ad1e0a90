"""The layout rules the code relies on: one adapter owns Keras internals; renderers need no TensorFlow."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRIVATE = re.compile(
    r"\._inbound_nodes|\._keras_history|\._nodes_by_depth|\._functional\b|\._operations\b|\._nodes\b"
    r"|\._build_shapes_dict|Layer\.__call__\s*=|getattr\([^,()]+,\s*[\"']_(?!_)"
)


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


def test_the_private_pattern_catches_each_form() -> None:
    for line in ("m._operations", "graph._nodes[k]", 'getattr(model, "_build_shapes_dict", None)',
                 "op._inbound_nodes", "Layer.__call__ = f"):
        assert PRIVATE.search(line), line
    for line in ('getattr(build, "__name__", "build")', "self._nodes_cache", "model.nodes"):
        assert not PRIVATE.search(line), line


RENDERERS = sorted((ROOT / "toolkit" / "render").glob("*.py")) + [ROOT / "toolkit" / "records.py",
                                                                   ROOT / "toolkit" / "macs.py"]
NOT_IN_RENDERERS = re.compile(r"^\s*(from|import)\s+(tensorflow|keras|toolkit\._keras|toolkit\.keras_graph|"
                              r"toolkit\.inspection)\b", re.M)


@pytest.mark.parametrize("path", RENDERERS, ids=lambda p: p.name)
def test_renderers_are_pure_functions_of_records(path: Path) -> None:
    source = path.read_text()
    assert not NOT_IN_RENDERERS.search(source), f"{path.name} imports Keras or the walk"
    offenders = [n for n, line in enumerate(source.splitlines(), 1) if PRIVATE.search(line)]
    assert not offenders, f"{path.name} touches Keras internals at lines {offenders}"


PURE = ["toolkit.records", "toolkit.macs"] + [
    f"toolkit.render.{p.stem}" for p in sorted((ROOT / "toolkit" / "render").glob("*.py")) if p.stem != "__init__"
]
NO_TF_ON_IMPORT = ["toolkit", "toolkit.checks", "toolkit.data", "toolkit.doctor"]


@pytest.mark.parametrize("module", PURE + NO_TF_ON_IMPORT)
def test_module_imports_without_tensorflow(module: str) -> None:
    code = f"import sys, {module}; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"importing {module} started TensorFlow or Keras:\n{result.stderr[-2000:]}"


def test_public_names_resolve_and_match_all() -> None:
    import toolkit

    assert sorted(toolkit._PUBLIC) == sorted(toolkit.__all__)
    code = "import toolkit; [getattr(toolkit, n) for n in toolkit.__all__]; print(toolkit.doctor.doctor.__name__)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "doctor", result.stderr[-2000:]


def test_no_module_is_named_like_the_standard_library() -> None:
    clashing = [p.relative_to(ROOT) for p in (ROOT / "toolkit").rglob("*.py")
                if p.stem in sys.stdlib_module_names and p.stem != "__init__"]
    assert not clashing, f"modules named like the standard library: {clashing}"


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


# ---------------------------------------------------------------- course/: laid out by job, no import cycle


def _course_imports() -> dict[str, set[str]]:
    """course module -> the course modules it imports when it runs (function-level imports included; imports
    under ``if TYPE_CHECKING:`` left out, since they never run)."""
    import ast

    modules = {}
    for path in (ROOT / "course").rglob("*.py"):
        if "solutions" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        typing_only = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for node in ast.walk(block)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("course"):
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            edges[name] |= {t for t in targets if t in modules and t != name and t != "course"}
    return edges


def test_course_has_no_import_cycle() -> None:
    edges = _course_imports()
    cycles = []
    for start in edges:  # a module that can reach itself through the modules it imports
        seen, todo = set(), list(edges[start])
        while todo:
            module = todo.pop()
            if module == start:
                cycles.append(start)
                break
            if module not in seen:
                seen.add(module)
                todo.extend(edges[module])
    assert not cycles, f"modules of course/ in an import cycle: {sorted(cycles)}"


def test_kernel_side_scripts_import_only_the_standard_library_and_their_neighbours() -> None:
    """What runs beside the student's code (course/kernel_side/) never imports ``course``: the sandbox has no copy."""
    import ast

    allowed_third_party = {"pytest", "nbval", "ipykernel", "numpy", "IPython", "jupyter_client", "zmq"}
    neighbours = {p.stem for p in (ROOT / "course" / "kernel_side").glob("*.py")}
    offenders = []
    for path in sorted((ROOT / "course" / "kernel_side").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0
                else [a.name for a in node.names] if isinstance(node, ast.Import) else []
            )  # fmt: skip
            for name in names:
                top = name.split(".")[0]
                stdlib = top in sys.stdlib_module_names or top == "__future__"
                if top == "course" or not (stdlib or top in neighbours or top in allowed_third_party):
                    offenders.append(f"{path.name}: {name}")
    assert not offenders, offenders


def test_course_is_laid_out_by_job() -> None:
    top = sorted(p.stem for p in (ROOT / "course").glob("*.py"))
    assert top == ["__init__", "__main__", "atomic_write", "cli", "nbval_lang", "translations"], top
    for package in ("authoring", "grading", "verification", "sandbox", "kernel_side", "reports", "term"):
        assert (ROOT / "course" / package / "__init__.py").is_file(), package
    from course.grading.pipeline import STEPS

    assert [name for name, _ in STEPS] == ["read", "rebuild", "instrument", "run", "probe", "verify", "score"]
