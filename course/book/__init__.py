"""The course as a static book (Jupyter Book 1 stack: Sphinx + MyST-NB + sphinx-book-theme), offline, stored outputs.

Editions: the English lessons in ``notebooks/*.ipynb``; any other language in ``notebooks/<lang>/*.ipynb``
(e.g. ``notebooks/zh/``). Each edition is its own Sphinx project, staged from copies of the notebooks (never
executed: ``nb_execution_mode = "off"``) and built into ``artifacts/book/<lang>/``; every page's header links to the
same page in each other edition found, so a new language folder appears in the switch without code changes.
Titles and the author come from ``[tool.keras-course]`` in pyproject.toml (:mod:`course.book.settings`); the root
page ``artifacts/book/index.html`` is rendered from a template (:mod:`course.book.root_page`).
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from course.book.root_page import door, render
from course.book.settings import DEFAULT, BookSettings, read_settings
from course.book.switch import TEMPLATE

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = {"en": "English", "zh": "简体中文"}
EXERCISES = {"en": "Exercises", "zh": "练习"}
LESSONS = {"en": "Lessons", "zh": "课程"}
CODES = {"en": "en", "zh": "zh-CN"}
CSS = "book.css"  # this package's stylesheet, added to every page after the theme's


class BookError(RuntimeError):
    """The book could not be built; the message says why and how to fix it."""


@dataclass(frozen=True)
class Edition:
    lang: str
    lessons: tuple[Path, ...]
    exercises: tuple[Path, ...]

    @property
    def label(self) -> str:
        return LANGUAGES.get(self.lang, self.lang)

    @property
    def code(self) -> str:
        """The edition's language tag (``zh-CN``): the first lesson's ``metadata.lang``, else the folder's default."""
        meta = _notebook(self.lessons[0]).get("metadata", {}) if self.lessons else {}
        return str(meta.get("lang") or CODES.get(self.lang, self.lang))


def editions(root: Path = ROOT) -> list[Edition]:
    """Every edition that exists: English first, then each ``notebooks/<lang>/`` holding lessons."""
    found = [Edition("en", _lessons(root / "notebooks"), _exercises(root / "exercises"))]
    for folder in sorted(p for p in (root / "notebooks").iterdir() if p.is_dir() and not p.name.startswith(".")):
        if _lessons(folder):
            own = _exercises(root / "exercises" / folder.name)
            found.append(Edition(folder.name, _lessons(folder), own or found[0].exercises))
    return found


def _lessons(folder: Path, pattern: str = "[0-9][0-9]_*.ipynb") -> tuple[Path, ...]:
    return tuple(sorted(folder.glob(pattern))) if folder.is_dir() else ()


def _exercises(folder: Path) -> tuple[Path, ...]:
    return _lessons(folder, "ex[0-9][0-9]_*.ipynb")


def _notebook(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BookError(f"{path} is not a readable notebook ({error}): restore it from git.") from error
    return data if isinstance(data, dict) else {}


def _heading(path: Path) -> str:
    for cell in _notebook(path).get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def _check(path: Path) -> None:
    """Sphinx renders a broken notebook as an empty page: refuse it instead."""
    import nbformat

    try:
        nbformat.validate(json.loads(path.read_text(encoding="utf-8")))  # as stored, not upgraded
    except (OSError, ValueError, nbformat.ValidationError, nbformat.reader.NotJSONError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise BookError(f"{path} is not a valid notebook ({first}): restore it from git or re-save it.") from error


def pages(edition: Edition) -> list[str]:
    return ["index"] + [f"lessons/{p.stem}" for p in edition.lessons] + ["exercises"]


def sphinx_config(edition: Edition, all_editions: list[Edition], settings: BookSettings = DEFAULT) -> str:
    """The edition's ``conf.py``: MyST-NB on the stored outputs, the book theme, the language switch, our CSS."""
    others = [
        {"dir": e.lang, "label": e.label, "code": e.code, "pages": pages(e)}
        for e in all_editions
        if e.lang != edition.lang
    ]
    title = settings.title(edition.lang)
    config = {
        "project": title,
        "html_title": title,
        "author": settings.author,  # "": the theme's footer has no "By ..." line (Sphinx's default is a placeholder)
        "html_show_copyright": False,  # no copyright holder is configured: no "© Copyright" line either
        "language": edition.code.replace("-", "_"),
        "extensions": ["myst_nb", "course.book.switch"],
        "exclude_patterns": ["_build", "starters", "**.ipynb_checkpoints"],
        "nb_execution_mode": "off",  # the stored outputs, as committed
        "nb_ipywidgets_js": {},  # no widget scripts from a CDN: the book is offline
        # no live kernel behind a widget: show its stored static copy (text/html: the tuner's table and diagram)
        "nb_mime_priority_overrides": [("html", "application/vnd.jupyter.widget-view+json", None)],
        "templates_path": ["_templates"],
        "html_static_path": ["_static"],
        "html_css_files": [CSS],
        "html_theme": "sphinx_book_theme",
        "html_theme_options": {
            "article_header_end": ["language-switch.html", "article-header-buttons.html"],
            "home_page_in_toc": True,
            # the footer's items, the author's only when one is set (the theme's default list has all four)
            "footer_content_items": (["author.html"] if settings.author else [])
            + ["copyright.html", "last-updated.html", "extra-footer.html"],
        },
        "book_switch": others,
    }
    return "".join(f"{key} = {value!r}\n" for key, value in config.items())


def exercises_page(edition: Edition) -> str:
    """A page linking each exercise starter as a download."""
    lines = [f"# {EXERCISES.get(edition.lang, EXERCISES['en'])}", ""]
    lines += [f"- {{download}}`{p.name} <starters/{p.name}>`: {_heading(p)}" for p in edition.exercises]
    return "\n".join(lines) + "\n"


def index_page(edition: Edition, settings: BookSettings = DEFAULT) -> str:
    lines = [
        f"# {settings.title(edition.lang)}",
        "",
        "```{toctree}",
        ":maxdepth: 1",
        f":caption: {LESSONS.get(edition.lang, LESSONS['en'])}",
        "",
    ]
    lines += [f"lessons/{p.stem}" for p in edition.lessons]
    lines += ["```", "", "```{toctree}", ":maxdepth: 1", "", "exercises", "```"]
    return "\n".join(lines) + "\n"


def stage(edition: Edition, all_editions: list[Edition], source: Path, settings: BookSettings = DEFAULT) -> Path:
    """Write the edition's Sphinx project under ``source/<lang>/`` (copies: the notebooks are never touched)."""
    folder = source / edition.lang
    shutil.rmtree(folder, ignore_errors=True)
    for sub in ("lessons", "starters", "_templates", "_static"):
        (folder / sub).mkdir(parents=True)
    for path in edition.lessons:
        _check(path)
        shutil.copy2(path, folder / "lessons" / path.name)
    for path in edition.exercises:
        shutil.copy2(path, folder / "starters" / path.name)
    (folder / "conf.py").write_text(sphinx_config(edition, all_editions, settings), encoding="utf-8")
    (folder / "index.md").write_text(index_page(edition, settings), encoding="utf-8")
    (folder / "exercises.md").write_text(exercises_page(edition), encoding="utf-8")
    (folder / "_templates" / "language-switch.html").write_text(TEMPLATE, encoding="utf-8")
    (folder / "_static" / CSS).write_bytes(resources.files(__package__).joinpath(CSS).read_bytes())
    return folder


@dataclass(frozen=True)
class Built:
    lang: str
    path: Path
    warnings: tuple[str, ...]


def _sphinx(folder: Path, label: str) -> tuple[Path, tuple[str, ...]]:
    try:  # the book is built by instructors and CI: Sphinx comes with the [dev] extra, not with [course]
        from sphinx.cmd.build import build_main
    except ImportError:
        raise BookError(
            "building the book needs Sphinx, MyST-NB and sphinx-book-theme: "
            "pip install -e '.[dev]' (or run `make book`, which sets that up)"
        ) from None

    made, log = folder / "_build" / "html", folder / "_build" / "warnings.txt"
    code = build_main(
        ["-b", "html", "-E", "-q", "-w", str(log), "-d", str(folder / "_build" / "doctrees"), str(folder), str(made)]
    )
    lines = tuple(line for line in log.read_text(encoding="utf-8").splitlines() if line.strip()) if log.exists() else ()
    errors = [line for line in lines if "ERROR:" in line or "CRITICAL:" in line or "SEVERE:" in line]
    if code != 0 or errors or not (made / "index.html").exists():
        raise BookError(
            f"Sphinx failed for the {label} edition (exit {code}); fix these in the notebooks:\n"
            + "\n".join((errors or list(lines))[-40:])
        )
    return made, tuple(line for line in lines if "WARNING:" in line)


def build(out: Path = ROOT / "artifacts" / "book", root: Path = ROOT) -> list[Built]:
    """Build every edition into ``out/<lang>/`` plus ``out/index.html`` linking each; errors raise BookError."""
    try:
        settings = read_settings(root)
    except ValueError as error:
        raise BookError(str(error)) from None
    found = editions(root)
    if not found[0].lessons:
        raise BookError(f"no lessons in {root / 'notebooks'}: the book needs notebooks/NN_*.ipynb.")
    source = out.parent / f"{out.name}-src"
    built = []
    for edition in found:
        made, warnings = _sphinx(stage(edition, found, source, settings), edition.label)
        target = out / edition.lang
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(made, target)
        built.append(Built(edition.lang, target, warnings))
    doors = [door(e.lang, e.code, e.label, settings.title(e.lang)) for e in found]
    (out / "index.html").write_text(render(doors, settings.title("en"), found[0].code), encoding="utf-8")
    return built


def main() -> int:
    try:
        for edition in build():
            print(f"built {edition.path} ({len(edition.warnings)} warnings)")
            for line in edition.warnings:
                print(f"  {line}")
    except BookError as error:
        print(error, file=sys.stderr)
        return 1
    return 0
