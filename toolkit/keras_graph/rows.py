"""Accumulates call records while a model is walked: call numbering, first sightings, weights, MACs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from toolkit.keras_graph.basics import is_layer, mac_class_and_facts, variables_of
from toolkit.macs import layer_macs, operation_macs
from toolkit.records import CallRecord, Shape


@dataclass
class Walk:
    """Accumulates rows while a model is walked; counts calls and first sightings per layer."""

    rows: list[CallRecord | None] = field(default_factory=list)
    calls: dict[int, int] = field(default_factory=dict)  # id(layer) -> calls seen so far
    layer_ids: dict[int, int] = field(default_factory=dict)  # id(layer) -> small stable id
    keep_alive: list[Any] = field(default_factory=list)  # layers whose id() we keyed on
    variables: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)  # address -> (id, size)

    def reserve(self) -> int:
        self.rows.append(None)
        return len(self.rows) - 1

    def record(
        self,
        layer: Any,
        *,
        depth: int,
        container: str,
        inputs: Sequence[Shape],
        outputs: Sequence[Shape],
        parents: Sequence[str],
        children: Sequence[CallRecord] | None = None,
        slot: int | None = None,
        called: bool = True,
        index: int | None = None,
        operands: Sequence[Shape] | None = None,
        own_code_multiplies: bool | None = False,
        keras_shapes: tuple[tuple[Shape, ...], tuple[Shape, ...]] | None = None,
    ) -> CallRecord:
        """One row. ``index`` is the Keras node index when known (graph models); traces count calls."""
        key = id(layer)
        first = key not in self.layer_ids
        count = self.calls.get(key, 0)
        self.calls[key] = count + (1 if called else 0)
        if first:
            self.layer_ids[key] = len(self.layer_ids)
            self.keep_alive.append(layer)
        node_index = count if index is None else index
        name = layer.name
        address = f"{container}/{name}[{node_index}]" if container else f"{name}[{node_index}]"
        operation = not is_layer(layer)
        if not called:
            macs: int | None = 0
        elif operation:
            macs = operation_macs(type(layer).__name__, operands if operands is not None else inputs, outputs)
        elif children is None:
            class_name, facts = mac_class_and_facts(layer)
            macs = layer_macs(class_name, facts, inputs, outputs)
        else:
            macs = _container_macs(layer, children, inputs, own_code_multiplies)
        self.variables[address] = variables_of(layer)
        row = CallRecord(
            address=address, name=name, class_name=type(layer).__name__, node_index=node_index, depth=depth,
            input_shapes=tuple(inputs), output_shapes=tuple(outputs), params=0, trainable_params=0,
            parents=tuple(dict.fromkeys(p for p in parents if p)), macs=macs, container=container,
            is_container=children is not None, called=called, layer_id=self.layer_ids[key],
            is_operation=operation, keras_shapes=keras_shapes,
        )
        if slot is None:
            self.rows.append(row)
        else:
            self.rows[slot] = row
        return row

    def address_for(self, layer: Any, container: str, index: int | None = None) -> str:
        index = self.calls.get(id(layer), 0) if index is None else index
        return f"{container}/{layer.name}[{index}]" if container else f"{layer.name}[{index}]"

    def finish(self, trainable: frozenset[int]) -> tuple[list[CallRecord], set[int]]:
        """Rows with params filled in (each variable once) and repeat calls marked; also the ids counted."""
        rows = [r for r in self.rows if r is not None]
        counted: set[int] = set()
        sizes: dict[int, int] = {}
        out: list[CallRecord] = []
        seen_layers: set[int] = set()
        closing: list[tuple[str, tuple[tuple[int, int], ...]]] = []  # open containers and their variables

        def close_until(container: str) -> None:
            while closing and not (container == closing[-1][0] or container.startswith(closing[-1][0] + "/")):
                _, variables = closing.pop()
                counted.update(v for v, _ in variables)

        for r in rows:
            close_until(r.container)
            variables = self.variables.get(r.address, ())
            sizes.update(variables)
            new = [(v, n) for v, n in variables if v not in counted]
            params = sum(n for _, n in new)
            trainable_params = sum(n for v, n in new if v in trainable)
            if r.is_container:
                closing.append((r.address, variables))  # counted once its calls are listed
            else:
                counted.update(v for v, _ in variables)
            out.append(replace(r, params=params, trainable_params=trainable_params,
                               repeat=r.called and r.layer_id in seen_layers))
            if r.called:
                seen_layers.add(r.layer_id)
        close_until("")
        return out, counted


def _container_macs(
    layer: Any, children: Sequence[CallRecord], inputs: Sequence[Shape], own_code_multiplies: bool | None
) -> int | None:
    direct = [c.macs for c in children]
    if any(m is None for m in direct) or own_code_multiplies is not False:
        return None
    total = sum(int(m) for m in direct if m is not None)
    if type(layer).__name__ == "TimeDistributed":
        steps = inputs[0][1] if inputs and len(inputs[0]) > 1 else None
        return None if steps is None else int(steps) * total
    return total


def direct_children(walk: Walk, start: int, container: str) -> list[CallRecord]:
    return [r for r in walk.rows[start:] if r is not None and r.container == container]
