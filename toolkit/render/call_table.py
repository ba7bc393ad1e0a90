"""The call table of one layer (Keras 2's get_*_at family as a table): text and HTML. No TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.i18n import N_, ntr, tr
from toolkit.records import NodeRecord
from toolkit.render.tables import fmt_shapes, html_table, text_table

CALL_HEADERS = (N_("Node"), N_("Input shape"), N_("Output shape"), N_("Fed by"), N_("Model"))


@dataclass(frozen=True)
class CallTable:
    """The calls of one layer; prints as a fixed-width table and displays as HTML in Jupyter."""

    layer: str
    rows: tuple[NodeRecord, ...]

    def __len__(self) -> int:
        return len(self.rows)

    def _cells(self) -> list[list[str]]:
        return [
            [str(r.node_index), fmt_shapes(r.input_shapes), fmt_shapes(r.output_shapes),
             ", ".join(r.inbound) or "-", ", ".join(r.models) or tr("(no model)")]
            for r in self.rows
        ]

    def title(self) -> str:
        return ntr('Layer "{layer}": {n} call', 'Layer "{layer}": {n} calls', len(self.rows), layer=self.layer)

    def __str__(self) -> str:
        return self.title() + "\n" + text_table([tr(h) for h in CALL_HEADERS], self._cells(), right=(0,))

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return html_table([tr(h) for h in CALL_HEADERS], self._cells(), right=(0,), caption=self.title(),
                          css_class="toolkit-calls")
