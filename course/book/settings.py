"""The book's title and author, set in ONE place: ``[tool.keras-course]`` in pyproject.toml.

``title`` is the English edition's title, ``title-<lang>`` another edition's (``title-zh`` for ``notebooks/zh/``),
``author`` the name each page's footer shows ("By ..."); with no author set the footer has no author line at all.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from course.authoring.notebook_setup import SETTING

TITLES = {"en": "Building tf.keras models, one call at a time", "zh": "逐次调用构建 tf.keras 模型"}
EXAMPLES = {"title": '"Building tf.keras models"', "author": '"Ada Lovelace" (or "" for no author line)'}


@dataclass(frozen=True)
class BookSettings:
    """Each edition's title (by its folder: ``en``, ``zh``) and the author ("": none)."""

    titles: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(dict(TITLES)))
    author: str = ""

    def title(self, lang: str) -> str:
        """The edition's title; an edition with none of its own gets the English one."""
        return self.titles.get(lang) or self.titles.get("en") or TITLES["en"]


DEFAULT = BookSettings()


def read_settings(root: Path) -> BookSettings:
    """The book's settings in ``root``'s pyproject.toml (no file or no table: the defaults); ValueError says the fix."""
    path = root / "pyproject.toml"
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get(SETTING, {})
    except FileNotFoundError:
        return DEFAULT
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"{path} is not readable TOML ({error}): fix the file, then build the book again.") from None
    titles = dict(TITLES)
    for key, value in table.items():
        if key == "title" or key.startswith("title-"):
            titles[key.removeprefix("title").removeprefix("-") or "en"] = _string(path, key, value, empty=False)
    return BookSettings(MappingProxyType(titles), _string(path, "author", table.get("author", ""), empty=True))


def _string(path: Path, key: str, value: object, empty: bool) -> str:
    if isinstance(value, str) and (empty or value.strip()):
        return value.strip()
    what = "a string" if empty else "a non-empty string"
    example = EXAMPLES["author" if key == "author" else "title"]
    raise ValueError(f"[tool.{SETTING}] {key} must be {what} (got {value!r} in {path}): write it as {key} = {example}.")
