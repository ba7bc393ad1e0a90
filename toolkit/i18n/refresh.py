"""Refresh the message catalog with Babel (a dev tool; the toolkit itself reads the .mo with ``gettext``).

``python -m toolkit.i18n.refresh`` (from the repository root) runs, in order:

1. ``pybabel extract`` with ``babel.cfg`` and the toolkit's keywords -> ``toolkit/i18n/toolkit.pot``;
2. ``pybabel update`` of each language's ``.po`` from that template (new messages arrive untranslated, messages
   the code dropped are removed);
3. the compilation of each ``.po`` to its ``.mo`` (Babel's ``write_mo``), after checking that every message is
   translated and keeps its ``{fields}``.

``--check`` runs only step 3's checks and says what is missing. Babel's own ``pybabel compile`` would do step 3
too, but it reads ``%`` in a text ("70% of the digits") as a printf placeholder; the toolkit formats with
``str.format``, so the brace fields are what must match.
"""

from __future__ import annotations

import argparse
import os
import string
import sys
from pathlib import Path

try:
    from babel.messages.frontend import CommandLineInterface
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
except ImportError:  # a dev tool: the toolkit itself reads the .mo with the standard library
    raise SystemExit("python -m toolkit.i18n.refresh needs Babel: pip install 'keras-course[dev]'") from None

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DOMAIN = "toolkit"
KEYWORDS = ("tr", "msg", "ntr:1,2", "N_")  # toolkit.i18n.tr/ntr/N_ and toolkit.explain.records.msg
POT = HERE / f"{DOMAIN}.pot"
LOCALES = HERE / "locale"


def _fields(text: str) -> list[tuple[str, str, str]]:
    return sorted((name, conv or "", spec or "") for _, name, spec, conv in string.Formatter().parse(text) if name)


def problems(po_path: Path) -> list[str]:
    """What keeps a ``.po`` from compiling: untranslated or fuzzy messages, fields that differ from the msgid."""
    with po_path.open("rb") as f:
        catalog = read_po(f)
    found = []
    for m in catalog:
        if not m.id:
            continue
        ids = [str(i) for i in (m.id if isinstance(m.id, tuple | list) else (m.id,))]
        strings = [str(s or "") for s in (m.string if isinstance(m.string, tuple | list) else (m.string,))]
        if m.fuzzy or not all(strings):
            found.append(f"{po_path.name}:{m.lineno}: {'fuzzy' if m.fuzzy else 'untranslated'}: {ids[0]!r}")
        elif any(_fields(s) != _fields(ids[0]) for s in strings):
            found.append(f"{po_path.name}:{m.lineno}: the translation's {{fields}} differ from {ids[0]!r}")
    return found


def compile_po(po_path: Path) -> Path:
    """Write the ``.mo`` beside ``po_path``."""
    with po_path.open("rb") as f:
        catalog = read_po(f)
    mo_path = po_path.with_suffix(".mo")
    with mo_path.open("wb") as f:
        write_mo(f, catalog)
    return mo_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m toolkit.i18n.refresh", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the .po files; write nothing")
    args = parser.parse_args(argv)
    if not args.check:
        os.chdir(ROOT)  # the template names files relative to the repository root
        babel = CommandLineInterface()
        keywords = [a for k in KEYWORDS for a in ("-k", k)]
        babel.run(
            [
                "pybabel",
                "-q",
                "extract",
                "-F",
                str(HERE / "babel.cfg"),
                *keywords,
                "--add-location=file",
                "--sort-output",
                "--project=keras-course",
                "--copyright-holder=keras-course authors",
                "-o",
                str(POT),
                ".",
            ]
        )
        for po in sorted(LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            babel.run(
                [
                    "pybabel",
                    "-q",
                    "update",
                    "-i",
                    str(POT),
                    "-o",
                    str(po),
                    "-l",
                    po.parts[-3],
                    "--no-fuzzy-matching",
                    "--ignore-obsolete",
                ]
            )
    found = []
    for po in sorted(LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        trouble = problems(po)
        found += trouble
        if not trouble and not args.check:
            print(f"compiled {compile_po(po).relative_to(ROOT)}")
    for line in found:
        print(line, file=sys.stderr)
    if found:
        print(f"{len(found)} messages to translate or fix; edit the .po, then run this again", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
