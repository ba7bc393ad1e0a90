"""The doctor's records and their rendering: fixed-width text for a shell, a deterministic HTML table."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, whether it is fine, what was found and how to fix it."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class DoctorReport:
    """The checks in order; prints as fixed-width text and displays as an HTML table in a notebook."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.ok)

    def __iter__(self) -> Iterator[Check]:
        return iter(self.checks)

    def __len__(self) -> int:
        return len(self.checks)

    def __getitem__(self, name: str) -> Check:
        for check in self.checks:
            if check.name == name:
                return check
        names = ", ".join(check.name for check in self.checks)
        raise KeyError(f"no check named {name!r}; the checks are: {names}")

    def summary(self) -> str:
        failed = len(self.failures)
        if not failed:
            return f"All {len(self)} checks passed."
        return f"{failed} of {len(self)} checks need a fix (see FIX lines)."

    def __str__(self) -> str:
        width = max((len(check.name) for check in self.checks), default=0)
        lines = ["keras-course environment check"]
        for check in self.checks:
            lines.append(f"{'OK ' if check.ok else 'FIX'}  {check.name:<{width}}  {check.detail}")
            if not check.ok and check.fix:
                lines.append(f"{'':3}  {'':<{width}}  fix: {check.fix}")
        lines.append(self.summary())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = []
        for check in self.checks:
            status, colour = ("OK", "#1a7f37") if check.ok else ("FIX", "#cf222e")
            cells = (
                f'<td style="color:{colour};font-weight:bold">{status}</td>',
                f"<td>{html.escape(check.name)}</td>",
                f"<td>{html.escape(check.detail)}</td>",
                f"<td><code>{html.escape(check.fix)}</code></td>" if check.fix else "<td></td>",
            )
            rows.append("<tr>" + "".join(cells) + "</tr>")
        head = "<tr><th>status</th><th>check</th><th>found</th><th>fix</th></tr>"
        return (
            '<table class="keras-course-doctor">'
            f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
            f"<p>{html.escape(self.summary())}</p>"
        )
