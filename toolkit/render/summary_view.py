"""The summary view: a ModelSummary holds one walk's records and renders them as text and HTML. No TensorFlow."""

from __future__ import annotations

import html
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from toolkit.explain.records import msg
from toolkit.i18n import N_, ntr, tr
from toolkit.records import CallRecord, ModelRecord, Shape
from toolkit.render.explanation_view import Explanation, details_html
from toolkit.render.tables import fmt_int, fmt_shapes, html_table, text_table, width

# the English texts are the catalog's keys (N_ marks them for extraction); tr() translates them when rendering
HEADERS = (N_("Layer (call)"), N_("Type"), N_("Input shape"), N_("Output shape"), N_("Params"), N_("MACs"),
           N_("Fed by"))
REPEAT_MARK = " *"
REPEAT_NOTE = N_("* another call of a layer listed above: same weights, so its params are counted at its first call.")
NEVER_CALLED = N_("(never called)")
OPERATION_MARK = N_(" (op)")  # after the type of an operation that is not a layer: x + y, x[:, 0], keras.ops.*
SPEC_MARK = " !"  # after a shape a real pass gave where Keras's own symbolic shape said something else
DETAILS_BATCH = 32  # the batch size the HTML summary's per-row explanations assume


class RowExplainer(Protocol):
    """What ``summary()`` attaches so that rows can be explained (``toolkit.explain.explainer.Explainer``)."""

    def explain(self, row: str | None = None, batch_size: int = 32) -> Explanation: ...


@dataclass(frozen=True)
class ModelSummary:
    """The result of ``summary()``: rows of call records, totals, and text/HTML renderings."""

    record: ModelRecord
    expand_nested: bool = True
    explainer: RowExplainer | None = field(default=None, compare=False, repr=False)
    details: bool = field(default=False, compare=False)  # the HTML view explains each row (with_details())

    def with_details(self) -> ModelSummary:
        """The same summary, whose HTML view has an expandable explanation under its table for each row and the
        totals (about 1.5 KB per row, so not by default); ``s.explain(row)`` shows one."""
        return replace(self, details=True)

    def explain(self, row: str | None = None, *, batch_size: int = 32) -> Explanation:
        """Where each number of a row comes from, e.g. ``s.explain("conv2d_1[0]")``; no row: the totals.

        Each term shows the rule, the rule with the layer's values, and the result: parameters, output shape,
        MACs, parameter memory, activation memory for ``batch_size`` samples, and on conv/pool chains the
        receptive field and effective stride.
        """
        if self.explainer is None:
            raise ValueError(tr("This summary was made without its model, so its rows cannot be explained: make "
                                "it with toolkit.summary(model), then call .explain(row) on the result."))
        return self.explainer.explain(row, batch_size)

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
        raise KeyError(tr("no call {address!r} in this summary; addresses look like: {known} ...", address=address,
                          known=known))

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
            tr("Total params: {n}", n=fmt_int(self.total_params)),
            tr("Trainable params: {n}", n=fmt_int(self.trainable_params)),
            tr("Non-trainable params: {n}", n=fmt_int(self.non_trainable_params)),
            tr("MACs per sample: {n}", n=fmt_int(self.total_macs)),
        ]
        if self.unknown_macs:
            lines[-1] += tr(" (plus unknown MACs in {calls})", calls=", ".join(self.unknown_macs))
        if any(r.is_repeat_call for r in self.rows):
            lines.append(tr(REPEAT_NOTE))
        lines += [_spec_note(r) for r in self.rows if r.keras_shapes is not None]
        lines += [tr("Note: {note}", note=n) for n in self.record.notes]
        return lines

    def title(self) -> str:
        calls = sum(1 for r in self.rows if r.called)
        layers = len({r.layer_id for r in self.rows if r.layer_id >= 0 and not r.is_operation})
        ops = len({r.layer_id for r in self.rows if r.is_operation})
        also = ntr(" and {n} operation", " and {n} operations", ops) if ops else ""
        return tr('Model "{name}" ({kind}): {calls} calls of {layers} layers{also}', name=self.record.name,
                  kind=self.record.kind, calls=calls, layers=layers, also=also)

    def __str__(self) -> str:
        table = text_table([tr(h) for h in HEADERS], self.table_rows(), right=(4, 5))
        columns = max(width(line) for line in table.splitlines())
        return "\n".join([self.title(), table, "=" * columns, *self.footer()])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        styles = [_row_style(r) for r in self.rows]
        table = html_table([tr(h) for h in HEADERS], self.table_rows(), right=(4, 5), row_styles=styles,
                           caption=self.title(), css_class="toolkit-summary")
        foot = "<br>".join(html.escape(line) for line in self.footer())
        return (f'<div class="toolkit-summary">{table}<p style="font-family:monospace;font-size:12px">{foot}</p>'
                f"{self._details_html()}</div>")

    def _details_html(self) -> str:
        """One expandable explanation per row, then the totals' (none for a summary made without its model)."""
        if self.explainer is None or not self.details:
            return ""
        items = [(_label(r).strip() + f" ({r.class_name})", self.explainer.explain(r.address, DETAILS_BATCH))
                 for r in self.rows]
        total = tr("Total params: {n}", n=fmt_int(self.total_params))
        items.append((total, self.explainer.explain(None, DETAILS_BATCH)))
        caption = msg("Where each number comes from (batch size {batch}): open a row", batch=DETAILS_BATCH)
        return details_html(items, caption)


def _label(r: CallRecord) -> str:
    mark = REPEAT_MARK if r.is_repeat_call else ""
    suffix = f" {tr(NEVER_CALLED)}" if not r.called and r.class_name != "Weights" else ""
    name = r.name if not r.called else f"{r.name}[{r.node_index}]"
    return "  " * r.depth + name + mark + suffix


def _short(address: str) -> str:
    return address.rsplit("/", 1)[-1]


def _shape_cell(shapes: tuple[Shape, ...], keras_said: tuple[Shape, ...] | None) -> str:
    return fmt_shapes(shapes) + (SPEC_MARK if keras_said is not None and keras_said != shapes else "")


def _spec_note(r: CallRecord) -> str:
    said_in, said_out = r.keras_shapes or ((), ())
    return tr("{mark} {address}: Keras's own symbolic shapes say {said_in} -> {said_out}, but a real pass gives "
              "{real_in} -> {real_out} (shown); layers Keras built on its shape may fail on real data.",
              mark=SPEC_MARK.strip(), address=r.address, said_in=fmt_shapes(said_in), said_out=fmt_shapes(said_out),
              real_in=fmt_shapes(r.input_shapes), real_out=fmt_shapes(r.output_shapes))


def _cells(r: CallRecord) -> list[str]:
    said_in, said_out = r.keras_shapes if r.keras_shapes is not None else (None, None)
    return [
        _label(r), r.class_name + (tr(OPERATION_MARK) if r.is_operation else ""),
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
