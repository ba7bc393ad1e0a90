"""The summary view: a ModelSummary holds one walk's records and renders them as text and HTML. No TensorFlow."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from toolkit.records import CallRecord, ModelRecord, Shape
from toolkit.render.tables import fmt_int, fmt_shapes, html_table, text_table

HEADERS = ("Layer (call)", "Type", "Input shape", "Output shape", "Params", "MACs", "Fed by")
REPEAT_MARK = " *"
REPEAT_NOTE = "* another call of a layer listed above: same weights, so its params are counted at its first call."
NEVER_CALLED = "(never called)"
OPERATION_MARK = " (op)"  # after the type of an operation that is not a layer: x + y, x[:, 0], keras.ops.*
SPEC_MARK = " !"  # after a shape a real pass gave where Keras's own symbolic shape said something else


@dataclass(frozen=True)
class ModelSummary:
    """The result of ``summary()``: rows of call records, totals, and text/HTML renderings."""

    record: ModelRecord
    expand_nested: bool = True

    @property
    def rows(self) -> tuple[CallRecord, ...]:
        if self.expand_nested:
            return self.record.rows
        return tuple(r for r in self.record.rows if r.depth == 0)

    @property
    def total_params(self) -> int:
        return self.record.total_params

    @property
    def trainable_params(self) -> int:
        return self.record.trainable_params

    @property
    def non_trainable_params(self) -> int:
        return self.record.non_trainable_params

    @property
    def total_macs(self) -> int:
        """MACs per sample of every call whose MACs are known (see ``unknown_macs`` for the rest)."""
        return sum(r.macs or 0 for r in self.record.rows if r.depth == 0)

    @property
    def unknown_macs(self) -> tuple[str, ...]:
        """Addresses of top-level calls whose MACs are unknown (never guessed)."""
        return tuple(r.address for r in self.record.rows if r.depth == 0 and r.macs is None and r.called)

    def row(self, address: str) -> CallRecord:
        """The row with this address, e.g. ``s.row("dense_1[0]")``."""
        for r in self.record.rows:
            if r.address == address:
                return r
        known = ", ".join(r.address for r in self.record.rows[:12])
        raise KeyError(f"no call {address!r} in this summary; addresses look like: {known} ...")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.record.name, "kind": self.record.kind, "rows": [r.to_dict() for r in self.rows],
            "total_params": self.total_params, "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params, "total_macs": self.total_macs,
        }

    def table_rows(self) -> list[list[str]]:
        return [_cells(r) for r in self.rows]

    def footer(self) -> list[str]:
        lines = [
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
            f"MACs per sample: {self.total_macs:,}",
        ]
        if self.unknown_macs:
            lines[-1] += f" (plus unknown MACs in {', '.join(self.unknown_macs)})"
        if any(r.is_repeat_call for r in self.rows):
            lines.append(REPEAT_NOTE)
        lines += [_spec_note(r) for r in self.rows if r.keras_shapes is not None]
        lines += [f"Note: {n}" for n in self.record.notes]
        return lines

    def title(self) -> str:
        calls = sum(1 for r in self.rows if r.called)
        layers = len({r.layer_id for r in self.rows if r.layer_id >= 0 and not r.is_operation})
        ops = len({r.layer_id for r in self.rows if r.is_operation})
        also = f" and {ops} operation{'s' if ops != 1 else ''}" if ops else ""
        return f'Model "{self.record.name}" ({self.record.kind}): {calls} calls of {layers} layers{also}'

    def __str__(self) -> str:
        table = text_table(HEADERS, self.table_rows(), right=(4, 5))
        width = max(len(line) for line in table.splitlines())
        return "\n".join([self.title(), table, "=" * width, *self.footer()])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        styles = [_row_style(r) for r in self.rows]
        table = html_table(HEADERS, self.table_rows(), right=(4, 5), row_styles=styles, caption=self.title(),
                           css_class="toolkit-summary")
        foot = "<br>".join(html.escape(line) for line in self.footer())
        return f'<div class="toolkit-summary">{table}<p style="font-family:monospace;font-size:12px">{foot}</p></div>'


def _label(r: CallRecord) -> str:
    mark = REPEAT_MARK if r.is_repeat_call else ""
    suffix = f" {NEVER_CALLED}" if not r.called and r.class_name != "Weights" else ""
    name = r.name if not r.called else f"{r.name}[{r.node_index}]"
    return "  " * r.depth + name + mark + suffix


def _short(address: str) -> str:
    return address.rsplit("/", 1)[-1]


def _shape_cell(shapes: tuple[Shape, ...], keras_said: tuple[Shape, ...] | None) -> str:
    return fmt_shapes(shapes) + (SPEC_MARK if keras_said is not None and keras_said != shapes else "")


def _spec_note(r: CallRecord) -> str:
    said_in, said_out = r.keras_shapes or ((), ())
    return (f"{SPEC_MARK.strip()} {r.address}: Keras's own symbolic shapes say {fmt_shapes(said_in)} -> "
            f"{fmt_shapes(said_out)}, but a real pass gives {fmt_shapes(r.input_shapes)} -> "
            f"{fmt_shapes(r.output_shapes)} (shown); layers Keras built on its shape may fail on real data.")


def _cells(r: CallRecord) -> list[str]:
    said_in, said_out = r.keras_shapes if r.keras_shapes is not None else (None, None)
    return [
        _label(r), r.class_name + (OPERATION_MARK if r.is_operation else ""),
        _shape_cell(r.input_shapes, said_in), _shape_cell(r.output_shapes, said_out), fmt_int(r.params),
        fmt_int(r.macs) if r.called else "-", ", ".join(_short(p) for p in r.parents) or "-",
    ]


def _row_style(r: CallRecord) -> str:
    if r.is_repeat_call:
        return "background:#fff6e0;font-style:italic"
    if not r.called:
        return "color:#888"
    if r.is_container:
        return "font-weight:bold"
    return ""
