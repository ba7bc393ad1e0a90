"""The course as a static book (Jupyter Book 2 / MyST): one site per edition, lessons with their stored outputs.

Editions: the English lessons in ``notebooks/*.ipynb``; any other language in ``notebooks/<lang>/*.ipynb``
(e.g. ``notebooks/zh/``). Each edition is its own MyST project, built into ``artifacts/book/<lang>/``; its top bar
links to every edition found, so a new language folder appears in the switch without code changes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = {"en": "English", "zh": "简体中文"}
TITLES = {"en": "Building tf.keras models, one call at a time", "zh": "逐次调用构建 tf.keras 模型"}
EXERCISES = {"en": "Exercises", "zh": "练习"}
TEMPLATE_ENV = "KERAS_COURSE_BOOK_TEMPLATE"
BOOK_URL = os.environ.get("KERAS_COURSE_BOOK_URL", "http://127.0.0.1:8000")


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


def myst_config(edition: Edition, all_editions: list[Edition], template: str) -> str:
    """The edition's ``myst.yml`` (JSON is valid YAML): its table of contents and the language switch."""
    config = {
        "version": 1,
        "project": {
            "title": TITLES.get(edition.lang, TITLES["en"]),
            "toc": [{"file": "index.md"}]
            + [{"file": f"lessons/{p.name}"} for p in edition.lessons]
            + [{"file": "exercises.md"}],
        },
        "site": {
            "template": template,
            # MyST accepts only full URLs or page slugs here: the editions are sibling sites under BOOK_URL.
            "nav": [{"title": e.label, "url": f"{BOOK_URL}/{e.lang}/"} for e in all_editions]
            if len(all_editions) > 1 else [],
        },
    }
    return json.dumps(config, ensure_ascii=False, indent=2) + "\n"


def exercises_page(edition: Edition) -> str:
    """A page linking each exercise starter as a download."""
    lines = [f"# {EXERCISES.get(edition.lang, EXERCISES['en'])}", ""]
    lines += [f"- {{download}}`{p.stem} <exercises/{p.name}>`" for p in edition.exercises]
    return "\n".join(lines) + "\n"


def index_page(edition: Edition) -> str:
    lines = [f"# {TITLES.get(edition.lang, TITLES['en'])}", ""]
    lines += [f"- [{p.stem}](lessons/{p.name})" for p in edition.lessons]
    lines += ["", f"[{EXERCISES.get(edition.lang, EXERCISES['en'])}](exercises.md)"]
    return "\n".join(lines) + "\n"


def stage(edition: Edition, all_editions: list[Edition], source: Path, template: str) -> Path:
    """Write the edition's MyST project under ``source/<lang>/`` (copies: the notebooks are never touched)."""
    folder = source / edition.lang
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "lessons").mkdir(parents=True)
    (folder / "exercises").mkdir()
    for path in edition.lessons:
        shutil.copy2(path, folder / "lessons" / path.name)
    for path in edition.exercises:
        shutil.copy2(path, folder / "exercises" / path.name)
    (folder / "myst.yml").write_text(myst_config(edition, all_editions, template))
    (folder / "index.md").write_text(index_page(edition))
    (folder / "exercises.md").write_text(exercises_page(edition))
    return folder


def template_source() -> str:
    """A local book-theme folder from $KERAS_COURSE_BOOK_TEMPLATE, else MyST's name (fetched over the network)."""
    local = os.environ.get(TEMPLATE_ENV)
    if local and not (Path(local) / "template.yml").is_file():
        raise BookError(f"{TEMPLATE_ENV}={local} has no template.yml: point it at an unpacked MyST book-theme folder.")
    return str(Path(local).resolve()) if local else "book-theme"


def build(out: Path = ROOT / "artifacts" / "book", root: Path = ROOT, html: bool = True) -> list[Path]:
    """Build every edition into ``out/<lang>/`` plus ``out/index.html``; returns the edition folders.

    ``html=False`` stops at MyST's content (``_build/site``: page JSON with the stored outputs), which needs no
    network; the HTML needs the book theme (downloaded by MyST, or the local copy in $KERAS_COURSE_BOOK_TEMPLATE)."""
    found, template = editions(root), template_source()
    source = out.parent / "book-src"
    jb = Path(sys.executable).with_name("jupyter-book")
    if not jb.exists():
        raise BookError("jupyter-book is not installed: pip install -c .ci/constraints-py311.txt -e '.[dev]'.")
    built = []
    for edition in found:
        folder = stage(edition, found, source, template)
        env = {**os.environ, "BASE_URL": f"/{edition.lang}"}
        result = subprocess.run([str(jb), "build", "--html" if html else "--site"], cwd=folder, env=env,
                                capture_output=True, text=True)
        made = folder / "_build" / ("html" if html else "site")
        # Without network MyST exits non-zero for the Colab badge image it cannot fetch; the content is still made.
        if (result.returncode != 0 and html) or not (made / ("index.html" if html else "content")).exists():
            log = (result.stdout + result.stderr)[-3000:]
            if "templates/site" in log and ("ENOTFOUND" in log or "failed" in log) and html:
                raise BookError(f"MyST could not download its book theme (no network?): set {TEMPLATE_ENV} to a "
                                f"local copy of the book-theme template. Its log:\n{log}")
            raise BookError(f"jupyter-book failed for the {edition.label} edition; its log:\n{log}")
        target = out / edition.lang
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(made, target)
        built.append(target)
    links = "".join(f'<li><a href="{e.lang}/">{e.label}</a></li>' for e in found)
    (out / "index.html").write_text(f'<!doctype html><meta charset="utf-8"><title>{TITLES["en"]}</title>'
                                    f"<ul>{links}</ul>\n")
    return built


def main() -> int:
    try:
        for path in build():
            print(f"built {path}")
    except BookError as error:
        print(error, file=sys.stderr)
        return 1
    return 0
