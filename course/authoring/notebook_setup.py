"""The first cells of every notebook (a first line and a setup cell) and the README's lesson table, generated from
ONE setting: where the course is published, ``[tool.keras-course]`` in pyproject.toml (:func:`read_publication`).

While the setting is empty (the course has no public repository yet) nothing points at one: each notebook's first
cell says how to run the course locally (``make start``), the setup cell installs nothing but what
``KERAS_COURSE_INSTALL`` names, and the README's table has no "open" column. ``course publish --repository
OWNER/NAME`` fills the setting in and rewrites them all: an "Open in Colab" badge for that very notebook, a setup cell
that pip-installs the toolkit from the repository, a badge per lesson in the README. ``course sync-notebooks``
rewrites them from the setting; ``--check`` (and a test) fails when a notebook or the README is out of date. Only
these cells' sources change: no stored output does.

Lessons (``notebooks/``) and solutions (``course/solutions/``) are edited in place; the starters in ``exercises/``
are then regenerated from the solutions (``course starters``), which keeps both cells and points the badge at
the starter. In exercises the setup cell is a locked cell (``course.locked``), so the grader restores the
instructor's copy and never counts it as the student's code.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

SETTING = "keras-course"  # the table [tool.keras-course] in pyproject.toml
BRANCH = "main"
DISTRIBUTION = "keras-course"  # the pip name; the importable package is `toolkit`
INSTALL_ENV = "KERAS_COURSE_INSTALL"  # overrides the install source (CI: a built wheel)

ROOT = Path(__file__).resolve().parents[2]
BADGE_ID, SETUP_ID = "course-badge", "course-setup"  # the first cell keeps its id whether it is a badge or not
SETUP_LOCK = "course_setup"  # the lock id in exercises (GUIDE.md: locked cells come from the instructor)
# edited in place (the Chinese edition in zh/); exercises/ is generated from the solutions
FOLDERS = ("notebooks", "course/solutions", "notebooks/zh", "course/solutions/zh")
BADGE_SVG = "https://colab.research.google.com/assets/colab-badge.svg"
README_START, README_END = "<!-- lessons:start -->", "<!-- lessons:end -->"
# The first cell of an unpublished notebook, per edition (a path under a zh/ folder is the Chinese edition's).
RUN_LOCALLY = {
    "en": "Run it on your computer: `make start` in the course's folder sets everything up and opens JupyterLab "
    '(README, "Two commands").',
    "zh": "在自己的电脑上运行：在课程文件夹中执行 `make start`，它会装好所需的一切并打开 JupyterLab（见 README 的 "
    '"Two commands"）。',
}
# The setup cell's two comment lines, per edition and publication state (its code is the same in every edition).
SETUP_COMMENTS = {
    ("en", True): (
        "# Setup: on Colab or Kaggle this installs the course toolkit (TensorFlow and Keras stay as they are);",
        "# on a computer with the course installed it does nothing.",
    ),
    ("en", False): (
        "# Setup: on a computer with the course installed (`make start`) this does nothing; elsewhere it",
        f"# installs the course toolkit from {INSTALL_ENV} (a keras-course wheel or folder), TensorFlow untouched.",
    ),
    ("zh", True): (
        "# 设置：在 Colab 或 Kaggle 上，这一格安装课程工具包（TensorFlow 和 Keras 保持原样）；",
        "# 在已装好课程的电脑上，它什么也不做。",
    ),
    ("zh", False): (
        "# 设置：在已装好课程的电脑上（`make start`），这一格什么也不做；在别处，它从",
        f"# {INSTALL_ENV}（keras-course 的 wheel 或文件夹）安装课程工具包，TensorFlow 不受影响。",
    ),
}
README_RUN_LOCALLY = "Run the lessons on your computer with `make start` (above): it opens them in JupyterLab."
_REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")
_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}")
_COLAB_LINK = re.compile(
    r"https://colab\.research\.google\.com/github/([^/\s]+/[^/\s]+)/blob/(\S+?)/"
    r"(?:notebooks|course|exercises)/"
)


@dataclass(frozen=True)
class Publication:
    """Where the course is published: ``repository`` (``owner/name`` on GitHub, "" while there is none), ``branch``."""

    repository: str = ""
    branch: str = BRANCH

    @property
    def published(self) -> bool:
        return bool(self.repository)


UNPUBLISHED = Publication()


def check_publication(
    repository: str, branch: str = BRANCH, names: tuple[str, str] = ("--repository", "--branch")
) -> Publication:
    """The publication, or ValueError with one sentence; ``names`` say where the values came from."""
    if "placeholder" in repository.lower():
        raise ValueError(
            f"{names[0]} {repository!r} is a placeholder, not a repository: give the course's GitHub "
            "repository as OWNER/NAME, or '' while it has none."
        )
    if repository and not _REPOSITORY.fullmatch(repository):
        raise ValueError(
            f"{names[0]} must be a GitHub repository written OWNER/NAME (got {repository!r}), "
            "or '' while the course has none."
        )
    if not _BRANCH.fullmatch(branch) or ".." in branch:
        raise ValueError(f"{names[1]} must be a branch name such as main (got {branch!r}).")
    return Publication(repository, branch)


def _pyproject(root: Path) -> Path:
    path = root / "pyproject.toml"
    if not path.is_file():
        raise ValueError(
            f"no pyproject.toml in {root}: run this in the course's checkout, where the setting [tool.{SETTING}] lives."
        )
    return path


def read_publication(root: Path = ROOT) -> Publication:
    """The setting ``[tool.keras-course]`` of ``root``'s pyproject.toml (no table: unpublished)."""
    path = _pyproject(root)
    table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get(SETTING, {})
    values = {key: table.get(key, default) for key, default in (("repository", ""), ("branch", BRANCH))}
    for key, value in values.items():
        if not isinstance(value, str):
            raise ValueError(f'[tool.{SETTING}] {key} must be a string (got {value!r} in {path}), e.g. {key} = "".')
    names = (f"[tool.{SETTING}] repository in {path}", f"[tool.{SETTING}] branch in {path}")
    return check_publication(values["repository"], values["branch"], names)


def write_publication(root: Path, publication: Publication) -> bool:
    """Store ``publication`` in ``root``'s pyproject.toml (its table, else a new one); True if the file changed."""
    path = _pyproject(root)
    text = path.read_text(encoding="utf-8")
    header = f"[tool.{SETTING}]\n"
    if header not in text:
        text = text.rstrip("\n") + f"\n\n{header}"
    start = text.index(header) + len(header)
    end = next((m.start() for m in re.finditer(r"^\[", text[start:], re.MULTILINE)), len(text) - start) + start
    table = text[start:end]
    for key, value in (("repository", publication.repository), ("branch", publication.branch)):
        line = f"{key} = {json.dumps(value)}"  # a TOML basic string: the checked values need no escapes
        pattern = re.compile(rf"^{key}\s*=.*$", re.MULTILINE)
        table = pattern.sub(line, table, count=1) if pattern.search(table) else table.rstrip("\n") + f"\n{line}\n"
    new = text[:start] + table + text[end:]
    if new == path.read_text(encoding="utf-8"):
        return False
    from course.atomic_write import write_atomically

    write_atomically(path, new)
    if read_publication(root) != publication:  # the edit above is textual: make sure TOML reads it back
        raise ValueError(f"could not store the setting in {path}: edit its [tool.{SETTING}] table by hand.")
    return True


def install_source(publication: Publication) -> str:
    """The pip requirement the setup cell installs: ``keras-course @ git+https://github.com/owner/name@main``."""
    return f"{DISTRIBUTION} @ git+https://github.com/{publication.repository}@{publication.branch}"


def colab_url(path: str, publication: Publication) -> str:
    """The Colab address of the notebook at ``path`` (relative to the repository root, with forward slashes)."""
    return f"https://colab.research.google.com/github/{publication.repository}/blob/{publication.branch}/{path}"


def badge_markdown(path: str, publication: Publication = UNPUBLISHED) -> str:
    """The first cell's text: an "Open in Colab" badge when published, else how to run the notebook locally."""
    if not publication.published:
        return RUN_LOCALLY[edition_of(path)]
    return f"[![Open In Colab]({BADGE_SVG})]({colab_url(path, publication)})"


def publication_of(nb: Any) -> Publication:
    """The publication a notebook's badge points at (none: unpublished), so that a starter keeps its solution's."""
    for cell in nb.cells:
        if cell.get("id") == BADGE_ID:
            found = _COLAB_LINK.search(cell.source)
            return Publication(found.group(1), found.group(2)) if found else UNPUBLISHED
    return UNPUBLISHED


def edition_of(path: str) -> str:
    """``zh`` for a notebook under a ``zh/`` folder (the Chinese edition), else ``en``."""
    return "zh" if "/zh/" in f"/{path}" else "en"


def setup_source(publication: Publication = UNPUBLISHED, lang: str = "en") -> str:
    """The setup cell: a no-op where ``toolkit`` imports; elsewhere pip --no-deps, leaving TensorFlow/Keras alone.

    Unpublished, it installs only what ``KERAS_COURSE_INSTALL`` names and otherwise says how to run the course
    locally. ``--ignore-requires-python``: the course pins Python 3.11 for its reference environment, while Colab
    runs 3.12/3.13; the toolkit itself runs on all three.
    """
    from toolkit.notebook_setup import LIGHT_DEPENDENCIES

    light = ", ".join(repr(d) for d in LIGHT_DEPENDENCIES)
    comments = list(SETUP_COMMENTS[(lang, publication.published)])
    if publication.published:
        head = [
            *comments,
            "_installed = ''",
            "try:",
            "    import toolkit",
            "except ImportError:",
            "    import importlib, os, subprocess, sys",
            f"    _installed = os.environ.get({INSTALL_ENV!r}) or {install_source(publication)!r}",
        ]
    else:
        head = [
            *comments,
            "_installed = ''",
            "try:",
            "    import toolkit",
            "except ImportError:",
            "    import importlib, os, subprocess, sys",
            f"    _installed = os.environ.get({INSTALL_ENV!r}, '')",
            "    if not _installed:",
            "        raise SystemExit('The course toolkit is not installed here: run the course from its folder '",
            f"                         'with `make start` (README), or set {INSTALL_ENV} to a keras-course wheel.')",
        ]
    return "\n".join(
        [
            *head,
            "    _pip = [sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--ignore-requires-python',",
            f"            _installed, {light}]",
            "    _run = subprocess.run(_pip, capture_output=True, text=True)",
            "    if _run.returncode:",
            "        _said = (_run.stderr.strip().splitlines() or ['no message'])[-1]",
            "        raise SystemExit(f'pip could not install {_installed} ({_said}): check the internet connection and '",  # noqa: E501
            f"                         'run this cell again, or set {INSTALL_ENV} to a keras-course wheel or folder.')",
            "    importlib.invalidate_caches()",
            "    import toolkit",
            "toolkit.setup_notebook(_installed)",
        ]
    )


def badge_cell(path: str, publication: Publication = UNPUBLISHED) -> Any:
    cell = nbformat.v4.new_markdown_cell(badge_markdown(path, publication), metadata={"tags": ["badge"]})
    cell.id = BADGE_ID
    return cell


def setup_cell(locked: bool, publication: Publication = UNPUBLISHED, lang: str = "en") -> Any:
    # nbval-ignore-output: the cell prints a line on Colab only; nbval must never compare it
    metadata: dict[str, Any] = {"tags": ["setup", "nbval-ignore-output"]}
    if locked:
        metadata["course"] = {"locked": SETUP_LOCK}
    cell = nbformat.v4.new_code_cell(setup_source(publication, lang), metadata=metadata)
    cell.id = SETUP_ID
    return cell


def with_first_cells(nb: Any, path: str, publication: Publication = UNPUBLISHED) -> Any:
    """A copy of ``nb`` with the first line (badge) first and the setup cell before its first code cell.

    Existing copies (found by cell id) are replaced, so running it twice changes nothing. Solutions and
    exercises get the locked setup cell. An existing setup cell keeps its outputs, execution count and metadata
    whatever its new source: it prints nothing where the course is installed and nbval ignores its output, so
    publishing changes no stored output.
    """
    nb = copy.deepcopy(nb)
    old_setup = next((c for c in nb.cells if c.get("id") == SETUP_ID), None)
    cells = [c for c in nb.cells if c.get("id") not in (BADGE_ID, SETUP_ID)]
    setup = setup_cell(locked=not path.startswith("notebooks/"), publication=publication, lang=edition_of(path))
    if old_setup is not None:
        setup.outputs, setup.execution_count = old_setup.outputs, old_setup.execution_count
        setup.metadata = {**old_setup.metadata, **setup.metadata}  # keep e.g. execution timings of a real run
    first_code = next((i for i, c in enumerate(cells) if c.cell_type == "code"), len(cells))
    nb.cells = [badge_cell(path, publication), *cells[:first_code], setup, *cells[first_code:]]
    return nb


def retarget_badge(nb: Any, path: str) -> None:
    """Point ``nb``'s first line at ``path`` (a starter made from a solution keeps the solution's publication)."""
    publication = publication_of(nb)
    for cell in nb.cells:
        if cell.get("id") == BADGE_ID:
            cell.source = badge_markdown(path, publication)


def notebook_paths(root: Path = ROOT) -> list[Path]:
    return [p for folder in FOLDERS for p in sorted((root / folder).glob("*.ipynb"))]


def readme_table(readme: str, root: Path = ROOT, publication: Publication = UNPUBLISHED) -> str:
    """The README with its lesson table (between the markers) rebuilt: one row per lesson, with its badge when
    published, else a line on running the lessons locally above the table.

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
    if publication.published:
        lines = [README_START, "| notebook | what the learner builds | open |", "|---|---|---|"]
    else:
        lines = [README_START, README_RUN_LOCALLY, "", "| notebook | what the learner builds |", "|---|---|"]
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        badge = f" {badge_markdown(path.relative_to(root).as_posix(), publication)} |" if publication.published else ""
        lines.append(f"| `{path.stem}` | {rows.get(path.stem, '')} |{badge}")
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
    from course.atomic_write import write_atomically

    write_atomically(path, text)
    return SyncStatus(path, "written")


def sync_notebooks(
    root: Path = ROOT, *, check: bool = False, publication: Publication | None = None
) -> list[SyncStatus]:
    """First line and setup cell in every lesson and solution, and the README's lesson table, for ``publication``
    (default: ``root``'s setting); ``check`` writes nothing.

    The caller regenerates ``exercises/`` afterwards (``course starters``), as ``course sync-notebooks`` does.
    """
    publication = read_publication(root) if publication is None else publication
    statuses = []
    for path in notebook_paths(root):
        nb = nbformat.read(str(path), as_version=4)
        text = nbformat.writes(with_first_cells(nb, path.relative_to(root).as_posix(), publication)) + "\n"
        statuses.append(_sync(path, text, check))
    readme = root / "README.md"
    statuses.append(_sync(readme, readme_table(readme.read_text(encoding="utf-8"), root, publication), check))
    return statuses
