"""The profile view: a Profile holds the measured records and renders them as text and HTML. No TensorFlow.

The HTML is sanitizer-safe (a table with inline styles, bars drawn with block characters: no scripts, no SVG, no
ids); the text has a fixed width, whatever the terminal.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass
from typing import Any

from toolkit.i18n import tr
from toolkit.profiling.records import Forecast, LayerTime, StepTime
from toolkit.render.tables import fmt_int, html_table, text_table


def headers() -> list[str]:
    """The column headers in the current language."""
    return [tr("Layer (call)"), tr("Type"), tr("MACs"), tr("Forward ms"), tr("Share"), tr("MACs/s")]


RIGHT = (2, 3, 5)
BAR_WIDTH = 20  # block characters for a 100 % share


@dataclass(frozen=True)
class Profile:
    """The result of ``toolkit.profile()``: one record per summary row, the whole model's time, a training step."""

    name: str
    kind: str
    rows: tuple[LayerTime, ...]
    whole_ms: float | None  # the whole model's forward on the batch, timed like the rows (None: could not run)
    step: StepTime | None  # None when no training step could be timed
    device: str  # "CPU (2 cores)", "GPU (NVIDIA T4)"
    runs: int
    samples: int | None = None  # the data set size the forecast was asked for
    notes: tuple[str, ...] = ()

    @property
    def batch_size(self) -> int:
        """Samples in the batch the rows were timed on."""
        return self.rows[0].batch_size if self.rows else 0

    @property
    def layers_ms(self) -> float:
        """The sum of the timed depth-0 rows (nested rows are inside their container's time)."""
        return sum(r.forward_ms for r in self.rows if r.depth == 0 and r.forward_ms is not None)

    def forecast(self, samples: int | None = None) -> Forecast:
        """Seconds of one training epoch of ``samples`` samples (default: the size given to profile())."""
        n = self.samples if samples is None else samples
        if n is None:
            raise ValueError(
                tr("Say how many samples an epoch has, e.g. p.forecast(len(x_train)), or pass samples= to profile().")
            )
        if self.step is None:
            raise ValueError(
                tr("No training step could be timed for this model (see the notes), so there is no forecast.")
            )
        return Forecast(samples=n, batch_size=self.step.batch_size, step_s=self.step.seconds)

    def row(self, address: str) -> LayerTime:
        for r in self.rows:
            if r.address == address:
                return r
        raise KeyError(
            tr(
                "no row '{address}' in this profile; rows look like: {known}",
                address=address,
                known=", ".join(r.address for r in self.rows[:8]),
            )
        )

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "rows"}
        out["rows"] = [r.to_dict() for r in self.rows]
        out["layers_ms"] = self.layers_ms
        if self.samples is not None and self.step is not None:
            f = self.forecast()
            out["forecast"] = {"samples": f.samples, "steps": f.steps, "epoch_s": f.epoch_s}
        return out

    def title(self) -> str:
        return tr(
            'Profile of model "{name}" ({kind}) on {device}, batch of {batch}: forward times, median of {runs} runs',
            name=self.name,
            kind=self.kind,
            device=self.device,
            batch=self.batch_size,
            runs=self.runs,
        )

    def table_rows(self) -> list[list[str]]:
        return [_cells(r) for r in self.rows]

    def footer(self) -> list[str]:
        return footer_lines(self)

    def __str__(self) -> str:
        table = text_table(headers(), self.table_rows(), right=RIGHT)
        width = max(len(line) for line in table.splitlines())
        return "\n".join([self.title(), table, "=" * width, *self.footer()])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        styles = ["color:#888" if r.forward_ms is None else "" for r in self.rows]
        table = html_table(
            headers(),
            self.table_rows(),
            right=RIGHT,
            row_styles=styles,
            caption=self.title(),
            css_class="toolkit-profile",
        )
        foot = "<br>".join(html.escape(line) for line in self.footer())
        return f'<div class="toolkit-profile">{table}<p style="font-family:monospace;font-size:12px">{foot}</p></div>'


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "-"
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.3f}" if ms < 1 else f"{ms:.2f}"


def fmt_seconds(s: float) -> str:
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:,.1f} s"


def fmt_rate(per_second: float | None) -> str:
    if per_second is None:
        return "-"
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if per_second >= size:
            return f"{per_second / size:.1f} {unit}"
    return f"{per_second:.0f}"


def bar(share: float | None) -> str:
    if share is None:
        return "-"
    return f"{share * 100:5.1f} % " + "\u2588" * round(share * BAR_WIDTH)


def _cells(r: LayerTime) -> list[str]:
    label = "  " * r.depth + r.address.rsplit("/", 1)[-1]
    return [label, r.class_name, fmt_int(r.macs), fmt_ms(r.forward_ms), bar(r.share), fmt_rate(r.macs_per_second)]


def footer_lines(p: Profile) -> list[str]:
    """The whole model against the rows, the training step, the forecast, how it was measured, notes."""
    lines = [
        tr(
            "Whole model, one forward call: {whole} ms; sum of the per-layer times: {layers} ms ({ratio}x "
            "the whole model)",
            whole=fmt_ms(p.whole_ms),
            layers=fmt_ms(p.layers_ms),
            ratio=f"{p.layers_ms / p.whole_ms:.2f}" if p.whole_ms else "?",
        )
    ]
    step = p.step
    if step is not None:
        how = tr("a short real fit") if step.method == "fit" else tr("forward and backward only")
        lines.append(
            tr(
                "Training step ({how}, batch of {batch}): {step}, median of the last {kept} of {n} steps; the "
                "first step, with tracing, took {first}",
                how=how,
                batch=step.batch_size,
                step=fmt_seconds(step.seconds),
                kept=step.steps_kept,
                n=step.steps_timed,
                first=fmt_seconds(step.first_step_s),
            )
        )
    if p.samples is not None and step is not None:
        f = p.forecast()
        lines.append(
            tr(
                "Forecast of one epoch of {samples} samples: {steps} steps x {step} = {epoch} (validation "
                "and the first epoch's tracing not included)",
                samples=f"{f.samples:,}",
                steps=f"{f.steps:,}",
                step=fmt_seconds(f.step_s),
                epoch=fmt_seconds(f.epoch_s),
            )
        )
    lines.append(
        tr(
            "How: each call is compiled (tf.function) and timed alone on the inputs it gets from this batch; "
            "on tiny layers most of the time is TensorFlow's own overhead per call."
        )
    )
    lines += [tr("Note: {note}", note=n) for n in p.notes]
    return lines
