"""The first cells of every notebook (an "Open in Colab" badge and a setup cell) and the README's lesson table,
generated from ONE setting: :data:`REPOSITORY`. ``course sync-notebooks`` writes them; ``--check`` (and a test)
fails when a notebook or the README is out of date.

Lessons (``notebooks/``) and solutions (``course/solutions/``) are edited in place; the starters in ``exercises/``
are then regenerated from the solutions (``course starters``), which keeps both cells and points the badge at
the starter. In exercises the setup cell is a locked cell (``course.locked``), so the grader restores the
instructor's copy and never counts it as the student's code.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

# The ONE setting: where the course is published. A placeholder until the repository exists: replace it with
# "owner/name" on GitHub, then run `course sync-notebooks` to rewrite every badge, setup cell and the README table.
REPOSITORY = "PLACEHOLDER-OWNER/PLACEHOLDER-REPO"
BRANCH = "main"
DISTRIBUTION = "keras-course"  # the pip name; the importable package is `toolkit`
INSTALL_ENV = "KERAS_COURSE_INSTALL"  # overrides the install source (CI: a built wheel)

ROOT = Path(__file__).resolve().parent.parent
BADGE_ID, SETUP_ID = "course-badge", "course-setup"
SETUP_LOCK = "course_setup"  # the lock id in exercises (GUIDE.md: locked cells come from the instructor)
# edited in place (the Chinese edition in zh/); exercises/ is generated from the solutions
FOLDERS = ("notebooks", "course/solutions", "notebooks/zh", "course/solutions/zh")
BADGE_SVG = "https://colab.research.google.com/assets/colab-badge.svg"
README_START, README_END = "<!-- lessons:start -->", "<!-- lessons:end -->"


def install_source(repository: str = REPOSITORY, branch: str = BRANCH) -> str:
    """The pip requirement the setup cell installs: ``keras-course @ git+https://github.com/owner/name@main``."""
    return f"{DISTRIBUTION} @ git+https://github.com/{repository}@{branch}"


def colab_url(path: str, repository: str = REPOSITORY, branch: str = BRANCH) -> str:
    """The Colab address of the notebook at ``path`` (relative to the repository root, with forward slashes)."""
    return f"https://colab.research.google.com/github/{repository}/blob/{branch}/{path}"


def badge_markdown(path: str) -> str:
    return f"[![Open In Colab]({BADGE_SVG})]({colab_url(path)})"


def setup_source() -> str:
    """The setup cell: a no-op where ``toolkit`` imports; elsewhere pip --no-deps, leaving TensorFlow/Keras alone.

    ``--ignore-requires-python``: the course pins Python 3.11 for its reference environment, while Colab runs
    3.12/3.13; the toolkit itself runs on all three.
    """
    from toolkit.notebook_setup import LIGHT_DEPENDENCIES

    light = ", ".join(repr(d) for d in LIGHT_DEPENDENCIES)
    return "\n".join([
        "# Setup: on Colab or Kaggle this installs the course toolkit (TensorFlow and Keras stay as they are);",
        "# on a computer with the course installed it does nothing.",
        "_installed = ''",
        "try:",
        "    import toolkit",
        "except ImportError:",
        "    import importlib, os, subprocess, sys",
        f"    _installed = os.environ.get({INSTALL_ENV!r}) or {install_source()!r}",
        "    _pip = [sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--ignore-requires-python',",
        f"            _installed, {light}]",
        "    _run = subprocess.run(_pip, capture_output=True, text=True)",
        "    if _run.returncode:",
        "        _said = (_run.stderr.strip().splitlines() or ['no message'])[-1]",
        "        raise SystemExit(f'pip could not install {_installed} ({_said}): check the internet connection and '",
        f"                         'run this cell again, or set {INSTALL_ENV} to a keras-course wheel or folder.')",
        "    importlib.invalidate_caches()",
        "    import toolkit",
        "toolkit.setup_notebook(_installed)",
    ])


def badge_cell(path: str) -> Any:
    cell = nbformat.v4.new_markdown_cell(badge_markdown(path), metadata={"tags": ["badge"]})
    cell.id = BADGE_ID
    return cell


def setup_cell(locked: bool) -> Any:
    # nbval-ignore-output: the cell prints a line on Colab only; nbval must never compare it
    metadata: dict[str, Any] = {"tags": ["setup", "nbval-ignore-output"]}
    if locked:
        metadata["course"] = {"locked": SETUP_LOCK}
    cell = nbformat.v4.new_code_cell(setup_source(), metadata=metadata)
    cell.id = SETUP_ID
    return cell


def with_first_cells(nb: Any, path: str) -> Any:
    """A copy of ``nb`` with the badge as its first cell and the setup cell before its first code cell.

    Existing copies (found by cell id) are replaced, so running it twice changes nothing. Solutions and
    exercises get the locked setup cell; an existing setup cell keeps its outputs and execution count.
    """
    nb = copy.deepcopy(nb)
    old_setup = next((c for c in nb.cells if c.get("id") == SETUP_ID), None)
    cells = [c for c in nb.cells if c.get("id") not in (BADGE_ID, SETUP_ID)]
    setup = setup_cell(locked=not path.startswith("notebooks/"))
    if old_setup is not None and old_setup.source == setup.source:
        setup.outputs, setup.execution_count = old_setup.outputs, old_setup.execution_count
        setup.metadata = {**old_setup.metadata, **setup.metadata}  # keep e.g. execution timings of a real run
    first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    nb.cells = [badge_cell(path), *cells[:first_code], setup, *cells[first_code:]]
    return nb


def retarget_badge(nb: Any, path: str) -> None:
    """Point ``nb``'s badge at ``path`` (a starter made from a solution keeps the solution's cells)."""
    for cell in nb.cells:
        if cell.get("id") == BADGE_ID:
            cell.source = badge_markdown(path)


def notebook_paths(root: Path = ROOT) -> list[Path]:
    return [p for folder in FOLDERS for p in sorted((root / folder).glob("*.ipynb"))]


def readme_table(readme: str, root: Path = ROOT) -> str:
    """The README with its lesson table (between the markers) rebuilt: one row per lesson with its badge.

    The "what the learner builds" texts are kept from the current table; a new lesson gets an empty one.
    """
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"README.md needs the lesson table between {README_START} and {README_END} lines.")
    rows = {}
    for line in readme[start:end].splitlines():
        match = re.match(r"^\|\s*`([^`]+)`\s*\|\s*(.*?)\s*\|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    lines = [README_START, "| notebook | what the learner builds | open |", "|---|---|---|"]
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        rel = path.relative_to(root).as_posix()
        lines.append(f"| `{path.stem}` | {rows.get(path.stem, '')} | {badge_markdown(rel)} |")
    return readme[:start] + "\n".join(lines) + "\n" + readme[end:]


@dataclass(frozen=True)
class SyncStatus:
    path: Path
    state: str  # "written", "unchanged", "stale"


def _sync(path: Path, text: str, check: bool) -> SyncStatus:
    current = path.read_text(encoding="utf-8")
    if current == text:
        return SyncStatus(path, "unchanged")
    if check:
        return SyncStatus(path, "stale")
    from course.starters import write_atomically

    write_atomically(path, text)
    return SyncStatus(path, "written")


def sync_notebooks(root: Path = ROOT, *, check: bool = False) -> list[SyncStatus]:
    """Badge and setup cell in every lesson and solution, and the README's lesson table; ``check`` writes nothing.

    The caller regenerates ``exercises/`` afterwards (``course starters``), as ``course sync-notebooks`` does.
    """
    statuses = []
    for path in notebook_paths(root):
        nb = nbformat.read(str(path), as_version=4)
        text = nbformat.writes(with_first_cells(nb, path.relative_to(root).as_posix())) + "\n"
        statuses.append(_sync(path, text, check))
    readme = root / "README.md"
    statuses.append(_sync(readme, readme_table(readme.read_text(encoding="utf-8"), root), check))
    return statuses
