"""The explainer a summary keeps: finds a row by the name the summary shows and explains it.

Facts are read from Keras (through ``toolkit.keras_graph``) the first time a row needs them, then kept; the
receptive fields of all rows are computed once, on the first explanation.
"""

from __future__ import annotations

import difflib
from typing import Any

from toolkit.explain.build import Context, explain_row, explain_totals
from toolkit.explain.receptive import Step, receptive_steps
from toolkit.explain.records import LayerFacts
from toolkit.i18n import tr
from toolkit.keras_graph.layer_facts import layer_facts, layers_by_address, own_weight_facts
from toolkit.records import CallRecord, ModelRecord
from toolkit.render.explanation_view import Explanation


class Explainer:
    """Explains the rows of one walked model; ``explain(None)`` explains the totals."""

    def __init__(self, model: Any, record: ModelRecord) -> None:
        self.model = model
        self.record = record
        self._layers: dict[str, Any] | None = None
        self._facts: dict[str, LayerFacts] = {}
        self._steps: dict[str, Step] | None = None

    def facts(self, address: str) -> LayerFacts:
        found = self._facts.get(address)
        if found is not None:
            return found
        if self._layers is None:
            self._layers = layers_by_address(self.model, self.record.rows)
        row = self.row(address)
        layer = self._layers.get(address)
        if row.class_name == "Weights":
            found = own_weight_facts(self.model)
        elif layer is None:  # not found by name: say what is known, never guess
            found = LayerFacts(class_name=row.class_name, builtin=False, is_layer=not row.is_operation)
        else:
            found = layer_facts(layer)
        self._facts[address] = found
        return found

    def row(self, address: str) -> CallRecord:
        return next(r for r in self.record.rows if r.address == address)

    def steps(self) -> dict[str, Step]:
        if self._steps is None:
            self._steps = receptive_steps(self.record.rows, self.facts)
        return self._steps

    def resolve(self, name: str) -> CallRecord:
        """The row called ``name``: its address, its short address (``dense[0]``), or a layer called once."""
        rows = self.record.rows
        for r in rows:
            if r.address == name:
                return r
        short = [r for r in rows if r.address.rsplit("/", 1)[-1] == name]
        if len(short) == 1:
            return short[0]
        by_layer = [r for r in rows if r.name == name and r.called]
        if "[" not in name and len(by_layer) == 1:
            return by_layer[0]
        raise ValueError(self._no_row(name, short or by_layer))

    def _no_row(self, name: str, several: list[CallRecord]) -> str:
        if several:
            return tr(
                "{name!r} names {n} rows of model {model!r}: pass one of {rows}, e.g. s.explain({first!r}).",
                name=name,
                n=len(several),
                model=self.record.name,
                rows=", ".join(r.address for r in several),
                first=several[0].address,
            )
        names = [r.address for r in self.record.rows] + [r.address.rsplit("/", 1)[-1] for r in self.record.rows]
        close = sorted(set(difflib.get_close_matches(name, names, n=5)))
        shown = ", ".join(close or [r.address for r in self.record.rows[:5]])
        return tr(
            "Model {model!r} has no row {name!r}; close names: {close}. Pass a row name as the summary shows "
            "it, e.g. s.explain({example!r}).",
            model=self.record.name,
            name=name,
            close=shown,
            example=(close or [self.record.rows[0].address])[0],
        )

    def explain(self, row: str | None = None, batch_size: int = 32) -> Explanation:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                tr(
                    "batch_size must be a whole number of samples, 1 or more (got {got!r}), e.g. batch_size=32.",
                    got=batch_size,
                )
            )
        if row is not None and not isinstance(row, str):
            raise TypeError(
                tr("explain() takes a row name as the summary shows it, e.g. 'dense[0]' (got {got!r}).", got=row)
            )
        ctx = Context(self.record, self.facts, self.steps(), batch_size)
        if row is None:
            return explain_totals(ctx)
        return explain_row(self.resolve(row), ctx)
