"""The first cells of every notebook (Colab badge, setup cell), generated from one setting by `course sync-notebooks`.

The setup cell is run for real here, twice: where ``toolkit`` imports (it must print nothing, so the stored
outputs stay valid) and where it does not (it must pip-install with --no-deps, never TensorFlow or Keras).
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from course.authoring import notebook_setup as ns
from course.authoring.notebook_format import load_exercise
from course.authoring.starters import editions, make_starter, sync_starters
from course.grading.rebuild import rebuild

ROOT = Path(__file__).resolve().parents[1]
# A publication for these tests only (the course has no public repository; tests/test_publish.py covers "none").
PUBLISHED = ns.Publication("test-owner/test-repo")


def run_cell(source: str) -> str:
    """Run a cell's source as a fresh namespace would, returning what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "<setup cell>", "exec"), {"__name__": "__main__"})
    return out.getvalue()


def test_every_notebook_and_the_readme_are_in_sync_with_the_setting() -> None:
    stale = [s.path.relative_to(ROOT) for s in ns.sync_notebooks(ROOT, check=True) if s.state != "unchanged"]
    # The repository's own folders: in the matrix `course` is imported from an installed wheel, not from ROOT.
    starters = [
        s
        for pair in editions(ROOT / "course" / "solutions", ROOT / "exercises")
        for s in sync_starters(*pair, check=True)
    ]
    stale += [s.path.relative_to(ROOT) for s in starters if s.state != "unchanged"]
    assert not stale, f"out of date: {stale}; run `.venv/bin/course sync-notebooks` (then re-execute the notebooks)"


def test_the_generator_inserts_both_cells_once_and_is_idempotent(tmp_path: Path) -> None:
    for folder in ("notebooks", "course/solutions"):
        (tmp_path / folder).mkdir(parents=True)
    for rel in ("notebooks/01_sequential.ipynb", "course/solutions/ex01_sequential.ipynb"):
        old = nbformat.read(ROOT / rel, as_version=4)  # as it was before the generator ran
        old.cells = [c for c in old.cells if c.get("id") not in (ns.BADGE_ID, ns.SETUP_ID)]
        nbformat.write(old, tmp_path / rel)
    readme = (ROOT / "README.md").read_text()
    (tmp_path / "README.md").write_text(readme)
    before = nbformat.read(tmp_path / "notebooks" / "01_sequential.ipynb", as_version=4)

    first = ns.sync_notebooks(tmp_path, publication=PUBLISHED)
    assert [s.state for s in first] == ["written"] * 3
    assert [s.state for s in ns.sync_notebooks(tmp_path, publication=PUBLISHED)] == ["unchanged"] * 3  # idempotent
    assert [s.state for s in ns.sync_notebooks(tmp_path, check=True, publication=PUBLISHED)] == ["unchanged"] * 3

    after = nbformat.read(tmp_path / "notebooks" / "01_sequential.ipynb", as_version=4)
    assert len(after.cells) == len(before.cells) + 2
    badge, setup = after.cells[0], next(c for c in after.cells if c.cell_type == "code")
    assert badge.id == ns.BADGE_ID and setup.id == ns.SETUP_ID and setup.outputs == []
    assert f"github/{PUBLISHED.repository}/blob/{ns.BRANCH}/notebooks/01_sequential.ipynb" in badge.source
    assert "nbval-ignore-output" in setup.metadata["tags"] and "course" not in setup.metadata  # a lesson: not locked
    assert [c.source for c in after.cells if c.id not in (ns.BADGE_ID, ns.SETUP_ID)] == [c.source for c in before.cells]

    sol = nbformat.read(tmp_path / "course" / "solutions" / "ex01_sequential.ipynb", as_version=4)
    sol.cells[0].source = "[![Open In Colab](old)](https://example.org/old)"  # a stale badge is rewritten
    nbformat.write(sol, tmp_path / "course" / "solutions" / "ex01_sequential.ipynb")
    states = [s.state for s in ns.sync_notebooks(tmp_path, check=True, publication=PUBLISHED)]
    assert states == ["unchanged", "stale", "unchanged"]
    table = (tmp_path / "README.md").read_text()
    assert table.count("colab-badge.svg") == 1 and "what the learner builds | open |" in table  # one lesson here


def test_starters_keep_the_setup_cell_locked_and_the_badge_points_at_the_starter(tmp_path: Path) -> None:
    solution = tmp_path / "ex01_sequential.ipynb"
    nb = nbformat.read(ROOT / "course" / "solutions" / "ex01_sequential.ipynb", as_version=4)
    nbformat.write(ns.with_first_cells(nb, "course/solutions/ex01_sequential.ipynb", PUBLISHED), solution)
    exercise = load_exercise(solution)
    assert ns.SETUP_LOCK in exercise.trusted_positions()  # graded like every locked cell: the instructor's copy runs
    starter = make_starter(exercise)
    assert "/exercises/ex01_sequential.ipynb" in starter.cells[0].source
    setup = next(c for c in starter.cells if c.get("id") == ns.SETUP_ID)
    assert setup.source == ns.setup_source(PUBLISHED)
    setup.source = "print('my own code')"  # a student edits it: the grader restores the original
    rebuilt = rebuild(exercise, starter)
    restored = [c for c in rebuilt.notebook.cells if c.source == ns.setup_source(PUBLISHED)]
    assert len(restored) == 1 and not any(c.source == "print('my own code')" for c in rebuilt.notebook.cells)


def test_on_a_local_install_the_setup_cell_prints_nothing_and_installs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: calls.append(a))
    assert run_cell(ns.setup_source()) == "" and calls == []


def test_where_toolkit_is_missing_it_installs_without_touching_tensorflow(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def fake_pip(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        monkeypatch.delitem(sys.modules, "toolkit")  # "installed": import toolkit works again
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setitem(sys.modules, "toolkit", None)  # None in sys.modules: `import toolkit` raises ImportError
    monkeypatch.setattr(subprocess, "run", fake_pip)
    monkeypatch.setenv(ns.INSTALL_ENV, "/tmp/keras_course-0.1.0-py3-none-any.whl")
    printed = run_cell(ns.setup_source(PUBLISHED))
    assert len(calls) == 1 and calls[0][:4] == [sys.executable, "-m", "pip", "install"]
    assert "--no-deps" in calls[0] and "--ignore-requires-python" in calls[0]
    assert calls[0][-2:] == ["/tmp/keras_course-0.1.0-py3-none-any.whl", "pydot"]
    assert not any(name in arg for arg in calls[0] for name in ("tensorflow", "keras=="))
    assert printed.count("\n") == 1 and "installed the course toolkit from /tmp/keras_course-0.1.0" in printed
    assert "with --no-deps, keeping TensorFlow" in printed

    monkeypatch.delenv(ns.INSTALL_ENV)
    monkeypatch.setitem(sys.modules, "toolkit", None)
    run_cell(ns.setup_source(PUBLISHED))
    assert calls[1][-2] == ns.install_source(PUBLISHED) == "keras-course @ git+https://github.com/test-owner/test-repo@main"


def test_a_failed_install_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ns.INSTALL_ENV, raising=False)  # the matrix sets it for the notebooks it runs
    monkeypatch.setitem(sys.modules, "toolkit", None)
    monkeypatch.setattr(subprocess, "run", lambda cmd, **k: subprocess.CompletedProcess(cmd, 1, "", "no network"))
    with pytest.raises(SystemExit, match=r"^pip could not install keras-course @ git\+.*check the internet"):
        run_cell(ns.setup_source(PUBLISHED))


def test_on_colab_it_enables_the_custom_widget_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    import toolkit

    enabled: list[bool] = []
    output = types.SimpleNamespace(enable_custom_widget_manager=lambda: enabled.append(True))
    colab = types.ModuleType("google.colab")
    colab.output = output  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        toolkit.setup_notebook()
    assert enabled == [True] and printed.getvalue() == "Setup: enabled Colab's custom widget manager for the panels.\n"


def test_setup_notebook_does_not_start_tensorflow() -> None:
    code = "import sys, toolkit; toolkit.setup_notebook(); assert 'tensorflow' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == "", result.stderr[-2000:]


@pytest.mark.parametrize("publication", [ns.Publication(), PUBLISHED], ids=["unpublished", "published"])
def test_the_chinese_editions_setup_cell_has_chinese_comments_and_the_same_code(publication: ns.Publication) -> None:
    from course.translations import code_without_comments

    english, chinese = ns.setup_source(publication, "en"), ns.setup_source(publication, "zh")
    comments = [line for line in chinese.splitlines() if line.lstrip().startswith("#")]
    assert comments and all(any("\u4e00" <= ch <= "\u9fff" for ch in line) for line in comments), comments
    assert code_without_comments(chinese) == code_without_comments(english)  # only the comments differ
    for path in [*(ROOT / "notebooks" / "zh").glob("*.ipynb"), *(ROOT / "course" / "solutions" / "zh").glob("*.ipynb")]:
        setup = next(c for c in nbformat.read(path, as_version=4).cells if c.get("id") == ns.SETUP_ID)
        assert setup.source == ns.setup_source(ns.publication_of(nbformat.read(path, as_version=4)), "zh"), path
