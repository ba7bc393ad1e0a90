"""Accumulates call records while a model is walked: call numbering, first sightings, MACs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit.keras_graph.basics import weight_counts
from toolkit.macs import layer_macs
from toolkit.records import CallRecord, Shape


@dataclass
class Walk:
    """Accumulates rows while a model is walked; counts calls and first sightings per layer."""

    rows: list[CallRecord | None] = field(default_factory=list)
    calls: dict[int, int] = field(default_factory=dict)  # id(layer) -> calls seen so far
    layer_ids: dict[int, int] = field(default_factory=dict)  # id(layer) -> small stable id
    keep_alive: list[Any] = field(default_factory=list)  # layers whose id() we keyed on

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
    ) -> CallRecord:
        key = id(layer)
        first = key not in self.calls
        index = self.calls.get(key, 0)
        self.calls[key] = index + (1 if called else 0)
        if first:
            self.layer_ids[key] = len(self.layer_ids)
            self.keep_alive.append(layer)
        params, trainable = weight_counts(layer) if first else (0, 0)
        name = layer.name
        address = f"{container}/{name}[{index}]" if container else f"{name}[{index}]"
        if children is None:
            config = layer.get_config() if called and _needs_config(layer) else {}
            macs = layer_macs(type(layer).__name__, config, inputs, outputs) if called else 0
        else:
            macs = _container_macs(layer, children, inputs)
        row = CallRecord(
            address=address, name=name, class_name=type(layer).__name__, node_index=index, depth=depth,
            input_shapes=tuple(inputs), output_shapes=tuple(outputs), params=params,
            trainable_params=trainable, parents=tuple(dict.fromkeys(p for p in parents if p)), macs=macs,
            container=container, is_container=children is not None, called=called,
            layer_id=self.layer_ids[key],
        )
        if slot is None:
            self.rows.append(row)
        else:
            self.rows[slot] = row
        return row

    def address_for(self, layer: Any, container: str) -> str:
        index = self.calls.get(id(layer), 0)
        return f"{container}/{layer.name}[{index}]" if container else f"{layer.name}[{index}]"


def _needs_config(layer: Any) -> bool:
    # get_config() of a Lambda or of a custom layer without get_config may raise; only formula layers need it
    return type(layer).__name__ not in ("Lambda",)


def _container_macs(layer: Any, children: Sequence[CallRecord], inputs: Sequence[Shape]) -> int | None:
    direct = [c.macs for c in children]
    if any(m is None for m in direct):
        return None
    total = sum(int(m) for m in direct if m is not None)
    if type(layer).__name__ == "TimeDistributed":
        steps = inputs[0][1] if inputs and len(inputs[0]) > 1 else None
        return None if steps is None else int(steps) * total
    return total


def direct_children(walk: Walk, start: int, container: str) -> list[CallRecord]:
    return [r for r in walk.rows[start:] if r is not None and r.container == container]
