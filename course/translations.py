"""Bookkeeping for the Chinese edition: which English cell each translated cell came from, and whether it is current.

A translated notebook (``notebooks/zh/X.ipynb`` for ``notebooks/X.ipynb``, ``course/solutions/zh/X.ipynb`` for a
solution) has the same cells as its English source, in the same order and with the same ids:

- code cells are the same code; only comments may differ (``# NBVAL_...`` markers may not);
- each markdown cell records in ``metadata.translation.source_sha256`` the SHA-256 of the English cell it was
  translated from, so a change to the English markdown shows up as a stale translation;
- the notebook records ``metadata.lang`` (``zh-CN``) and ``metadata.translation.source`` (the English path) and
  ``source_markdown_sha256`` (all the English markdown it was translated from: the version of its source).

``course translations check`` lists every problem; ``course translations stamp NB`` records the hashes once a
translator has updated the cells (it refuses a markdown cell that is still the English text).
"""

from __future__ import annotations

import hashlib
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat

LANG = "zh-CN"
EDITIONS = (("notebooks", "notebooks/zh"), ("course/solutions", "course/solutions/zh"))
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN_WORDS = re.compile(r"[A-Za-z]{3,}(?:\s+[A-Za-z]{3,}){3,}")  # four English words in a row


class TranslationError(ValueError):
    """A translated notebook cannot be stamped (the message says which cell and why)."""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _source(cell: Any) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def code_without_comments(source: str) -> list[str]:
    """The tokens of ``source`` minus its comments (``# NBVAL_...`` markers kept): what must match across editions."""
    if source.lstrip().startswith(("%", "!")):
        return [line.split("#")[0].rstrip() for line in source.splitlines()]
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return [source]
    kept = []
    for tok in tokens:
        if tok.type in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        if tok.type == tokenize.COMMENT and not tok.string.lstrip("# ").startswith("NBVAL"):
            continue
        kept.append(tok.string)
    return kept


def pairs(root: Path) -> Iterator[tuple[Path, Path]]:
    """(English notebook, translated notebook) for every English notebook of both editions under ``root``."""
    for english_dir, zh_dir in EDITIONS:
        for english in sorted((root / english_dir).glob("*.ipynb")):
            yield english, root / zh_dir / english.name


def _markdown_digest(nb: Any) -> str:
    # the badge is generated (`course publish`), not translated: publishing must not make a translation look stale
    return sha("\n\x00".join(_source(c) for c in nb.cells if c.cell_type == "markdown" and not _generated(c)))


def _generated(cell: Any) -> bool:
    return "badge" in cell.get("metadata", {}).get("tags", [])


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def problems(english_path: Path, zh_path: Path) -> list[str]:
    """Everything that keeps ``zh_path`` from being an up-to-date translation of ``english_path``."""
    name = _shown(zh_path)
    if not zh_path.exists():
        return [f"{name}: missing; create it with `course translations new {_shown(english_path)}`"]
    english, zh = nbformat.read(english_path, as_version=4), nbformat.read(zh_path, as_version=4)
    found: list[str] = []
    if zh.metadata.get("lang") != LANG:
        found.append(f"{name}: metadata.lang must be {LANG!r} (found {zh.metadata.get('lang')!r})")
    if len(english.cells) != len(zh.cells):
        return [
            *found,
            f"{name}: has {len(zh.cells)} cells, its English source {len(english.cells)}; "
            "add or remove the same cells as in the English notebook",
        ]
    for i, (en_cell, zh_cell) in enumerate(zip(english.cells, zh.cells)):
        where = f"{name}, cell {i}"
        if en_cell.cell_type != zh_cell.cell_type or en_cell.get("id") != zh_cell.get("id"):
            found.append(
                f"{where}: is a {zh_cell.cell_type} cell with id {zh_cell.get('id')!r}, the English cell a "
                f"{en_cell.cell_type} cell with id {en_cell.get('id')!r}; keep the cells in step"
            )
        elif en_cell.cell_type == "code":
            if code_without_comments(_source(en_cell)) != code_without_comments(_source(zh_cell)):
                found.append(f"{where}: the code differs from the English cell (only comments may be translated)")
            if en_cell.metadata.get("course") != zh_cell.metadata.get("course"):
                found.append(f"{where}: its 'course' metadata differs from the English cell")
        elif en_cell.cell_type == "markdown" and "badge" not in en_cell.metadata.get("tags", []):
            recorded = zh_cell.metadata.get("translation", {}).get("source_sha256")
            if recorded is None:
                found.append(f"{where}: not translated yet; translate it, then `course translations stamp {name}`")
            elif recorded != sha(_source(en_cell)):
                found.append(
                    f"{where}: the English cell changed since it was translated; update the translation, "
                    f"then `course translations stamp {name}`"
                )
    return found


def new(english_path: Path, zh_path: Path) -> None:
    """A translation skeleton: the English notebook without outputs, every markdown cell marked untranslated."""
    if zh_path.exists():
        raise TranslationError(f"{zh_path} exists already; edit it, or delete it first to start again")
    nb = nbformat.read(english_path, as_version=4)
    nb.metadata["lang"] = LANG
    nb.metadata["translation"] = {"source": _shown(english_path), "source_markdown_sha256": None}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        elif cell.cell_type == "markdown":
            cell.metadata["translation"] = {"source_sha256": None}
    zh_path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, zh_path)


def untranslated(text: str) -> bool:
    """True for prose that is still English: no Chinese character but a run of English words."""
    return not _CJK.search(text) and bool(_LATIN_WORDS.search(re.sub(r"`[^`]*`|\(http[^)]*\)", "", text)))


def stamp(english_path: Path, zh_path: Path) -> int:
    """Record the English cells' hashes in the translation; the number of markdown cells stamped."""
    english, zh = nbformat.read(english_path, as_version=4), nbformat.read(zh_path, as_version=4)
    structural = [p for p in problems(english_path, zh_path) if "not translated yet" not in p and "changed" not in p]
    if structural:
        raise TranslationError(structural[0])
    count = 0
    for i, (en_cell, zh_cell) in enumerate(zip(english.cells, zh.cells)):
        if en_cell.cell_type != "markdown" or "badge" in en_cell.metadata.get("tags", []):
            continue  # the badge is generated by `course sync-notebooks`
        text = _source(zh_cell)
        if untranslated(text):
            raise TranslationError(
                f"{zh_path}, cell {i}: still reads as English ({text.strip()[:60]!r}); translate it before stamping"
            )
        zh_cell.metadata["translation"] = {"source_sha256": sha(_source(en_cell))}
        count += 1
    zh.metadata["lang"] = LANG
    zh.metadata["translation"] = {"source": _shown(english_path), "source_markdown_sha256": _markdown_digest(english)}
    nbformat.write(zh, zh_path)
    return count


def english_for(zh_path: Path, root: Path) -> Path:
    """The English source of a translated notebook (``.../zh/X.ipynb`` -> ``.../X.ipynb``)."""
    zh_path = zh_path.resolve()
    if zh_path.parent.name != "zh":
        raise TranslationError(
            f"{zh_path} is not in a zh/ folder; translated notebooks live in notebooks/zh/ and course/solutions/zh/"
        )
    return zh_path.parent.parent / zh_path.name


def _literals_in_calls(tree: Any, wanted: Any) -> Iterator[str]:
    import ast

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and wanted(node.func):
            values = [*node.args, *(kw.value for kw in node.keywords)]
            for value in values:
                for part in value.values if isinstance(value, ast.BoolOp) else [value]:
                    if isinstance(part, ast.Constant) and isinstance(part.value, str) and " " in part.value:
                        yield part.value


def message_ids(root: Path) -> set[str]:
    """Every English learner-facing text the toolkit's catalogs must translate.

    The literal texts of ``tr(...)``, ``msg(...)``, ``N_(...)`` and ``CheckFailure(...)`` calls in
    ``toolkit/``, and the literal texts (``what`` and ``hint``) that check cells of the English solutions and
    lessons pass to ``checks.check_*``. (The catalog itself is made by Babel's extraction, ``toolkit/i18n/``;
    this is an independent reading of the same code.)
    """
    import ast

    def toolkit_call(func: Any) -> bool:
        return isinstance(func, ast.Name) and func.id in {"tr", "msg", "N_", "CheckFailure"}

    def check_call(func: Any) -> bool:
        return isinstance(func, ast.Attribute) and func.attr.startswith("check_")

    found: set[str] = set()
    for path in sorted((root / "toolkit").rglob("*.py")):
        found.update(_literals_in_calls(ast.parse(path.read_text(encoding="utf-8")), toolkit_call))
    for english_dir, _ in EDITIONS:
        for path in sorted((root / english_dir).glob("*.ipynb")):
            for cell in nbformat.read(path, as_version=4).cells:
                if cell.cell_type == "code" and not _source(cell).lstrip().startswith(("%", "!")):
                    try:
                        tree = ast.parse(_source(cell))
                    except SyntaxError:
                        continue
                    found.update(_literals_in_calls(tree, check_call))
    return found
