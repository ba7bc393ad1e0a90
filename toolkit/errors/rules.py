"""The rules named in ``families.FAMILIES``: from the message's groups and the context to a sentence's fields.

Each takes the pattern's named groups and the :class:`ErrorContext`, and returns ``(message key, fields)``, or
None when the error is not the family's after all (the doctor then tries the next row).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from toolkit.errors.families import MESSAGES, NODE_API
from toolkit.errors.records import ErrorContext
from toolkit.i18n import tr

Shape = tuple[int | None, ...]
Result = tuple[str, dict[str, Any]] | None


def parse_shape(text: str) -> Shape:
    """``"(None, 28, 28)"`` -> ``(None, 28, 28)``."""
    return tuple(None if item.strip() == "None" else int(item) for item in re.findall(r"None|-?\d+", text))


def show(shape: Shape) -> str:
    """``(None, 28, 28)``, ``(784,)``: a shape as Python prints a tuple."""
    return str(tuple(shape))


def names(text: str) -> list[str]:
    """``"['image', 'meta']"`` -> ``['image', 'meta']``."""
    return re.findall(r"['\"]([^'\"]*)['\"]", text)


def _word(key: str) -> str:
    """A stand-in for what the traceback did not show, in the learner's language."""
    return tr(MESSAGES[key])


def _layer(ctx: ErrorContext, fallback: str) -> str:
    return ctx.layer.label if ctx.layer else fallback


def _model(ctx: ErrorContext, fallback: str = "") -> str:
    if ctx.model:
        return f"'{ctx.model.name}'"
    return f"'{fallback}'" if fallback else _word("fallback_model")


def _output_layer(ctx: ErrorContext) -> str:
    if ctx.model and ctx.model.last_layer:
        return ctx.model.last_layer
    return _word("fallback_last_layer")


def toolkit_own(groups: dict[str, str], ctx: ErrorContext) -> Result:
    return ("", {}) if ctx.raised_by_toolkit and ctx.message.strip() else None


def concatenate(groups: dict[str, str], ctx: ErrorContext) -> Result:
    shapes = [parse_shape(s) for s in re.findall(r"\([^()]*\)", groups["shapes"])]
    axis = ctx.layer.axis if ctx.layer and ctx.layer.axis is not None else -1
    return "concatenate_shapes", {
        "layer": _layer(ctx, "Concatenate"),
        "shapes": ", ".join(show(s) for s in shapes),
        "axis": axis,
    }


def merge(groups: dict[str, str], ctx: ErrorContext) -> Result:
    a, b = parse_shape(groups["a"]), parse_shape(groups["b"])
    if ctx.layer is None or ctx.layer.cls not in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
        # the message names no batch axis; a merge layer's shapes always lack it
        return None if ctx.layer is not None else _merge_fields(a, b, _word("fallback_merge_layer"))
    return _merge_fields(a, b, ctx.layer.label)


def _merge_fields(a: Shape, b: Shape, layer: str) -> Result:
    return "merge_shapes", {"layer": layer, "a": show((None, *a)), "b": show((None, *b)), "units": a[-1] if a else "n"}


def dot(groups: dict[str, str], ctx: ErrorContext) -> Result:
    return "dot_shapes", {
        "layer": _layer(ctx, "Dot"),
        "a": groups["a"] and show(parse_shape(groups["a"])),
        "b": show(parse_shape(groups["b"])),
        "axis_a": groups["axis_a"],
        "axis_b": groups["axis_b"],
        "size_a": groups["size_a"],
        "size_b": groups["size_b"],
    }


def input_shape(groups: dict[str, str], ctx: ErrorContext) -> Result:
    expected, received = parse_shape(groups["expected"]), parse_shape(groups["received"])
    if len(expected) == len(received) + 1 and len(expected) >= 3 and expected[2:] == received[1:]:
        declared, fixed = expected[1:], expected[2:]
        layer = ctx.model.first_layer if ctx.model and ctx.model.first_layer else _word("fallback_first_layer")
        return "batch_in_input", {
            "layer": layer,
            "declared": show(declared),
            "expected": show(expected),
            "received": show(received),
            "first": declared[0],
            "fixed": show(fixed),
        }
    want, got = expected[1:], received[1:]
    fields = {
        "model": _model(ctx),
        "expected": show(expected),
        "received": show(received),
        "want": show(want),
        "got": show(got),
    }
    known = all(isinstance(n, int) for n in want + got)
    if known and want and got and math.prod(want) == math.prod(got):  # type: ignore[arg-type]
        return "input_shape_reshape", {**fields, "flat": ", ".join(str(n) for n in want)}
    return "input_shape_other", fields


def _named(name: str, ctx: ErrorContext) -> str:
    """``'conv' (Conv2D)``: the layer the message names, with its class when the traceback shows it."""
    if ctx.layer and ctx.layer.name == name:
        return ctx.layer.label
    return ctx.model.member_label(name) if ctx.model else f"'{name}'"


def input_rank(groups: dict[str, str], ctx: ErrorContext) -> Result:
    expected, found = int(groups["expected"]), int(groups["found"])
    received = parse_shape(groups["received"])
    layer = _named(groups["layer"], ctx)
    fields = {"layer": layer, "expected": expected, "found": found, "received": show(received)}
    if found == expected - 1:
        return "missing_channel", {**fields, "fixed": show((*received[1:], 1))}
    return "input_rank", {**fields, "sample_axes": expected - 1}


def feature_size(groups: dict[str, str], ctx: ErrorContext) -> Result:
    return "feature_size", {
        "layer": _named(groups["layer"], ctx),
        "axis": groups["axis"],
        "value": groups["value"],
        "received": show(parse_shape(groups["received"])),
    }


def _loss_fields(target: Shape, output: Shape, ctx: ErrorContext) -> dict[str, Any]:
    return {"layer": _output_layer(ctx), "target": show(target), "output": show(output)}


def _missing_flatten(target: Shape, output: Shape, ctx: ErrorContext) -> Result:
    return "missing_flatten", {**_loss_fields(target, output, ctx), "extra": show(output[1:-1])}


def sparse_loss(groups: dict[str, str], ctx: ErrorContext) -> Result:
    target, output = parse_shape(groups["target"]), parse_shape(groups["output"])
    if len(output) > len(target) + 1 and len(output) >= 3:
        return _missing_flatten(target, output, ctx)
    if len(target) >= 2 and target[-1] != 1:
        return "one_hot_labels_sparse_loss", _loss_fields(target, output, ctx)
    return None


def categorical_loss(groups: dict[str, str], ctx: ErrorContext) -> Result:
    target, output = parse_shape(groups["target"]), parse_shape(groups["output"])
    classes = output[-1] if output else "n"
    if len(output) > len(target) and len(output) >= 3 and len(target) >= 1 and (len(target) > 1 or output[-1] != 1):
        if len(target) == 1 and len(output) == 2:
            return "sparse_labels_categorical_loss", {**_loss_fields(target, output, ctx), "classes": classes}
        return _missing_flatten(target, output, ctx)
    if len(target) == len(output) - 1 or (len(target) == len(output) and target[-1] == 1 and output[-1] != 1):
        return "sparse_labels_categorical_loss", {**_loss_fields(target, output, ctx), "classes": classes}
    if len(target) == len(output) and target[:-1] == output[:-1] and target[-1] != output[-1]:
        return "class_count_one_hot", {
            **_loss_fields(target, output, ctx),
            "label_classes": target[-1],
            "classes": output[-1],
        }
    return None


def label_range(groups: dict[str, str], ctx: ErrorContext) -> Result:
    label, classes = int(groups["label"]), int(groups["classes"])
    return "class_count_sparse", {
        "layer": _output_layer(ctx),
        "label": label,
        "classes": classes,
        "last": classes - 1,
        "needed": max(label + 1, classes),
    }


def _expected_outputs(ctx: ErrorContext) -> str:
    return str(list(ctx.model.output_names)) if ctx.model and ctx.model.output_names else _word("fallback_output_names")


def input_keys(groups: dict[str, str], ctx: ErrorContext) -> Result:
    return "dict_input_keys", {
        "model": _model(ctx),
        "missing": groups["missing"],
        "given": str(names(groups["given"])),
        "expected": str(names(groups["expected"])),
    }


def loss_keys(groups: dict[str, str], ctx: ErrorContext) -> Result:
    expected = str(names(groups["expected"])) if groups.get("expected") else _expected_outputs(ctx)
    return "dict_loss_keys", {"model": _model(ctx), "given": str(names(groups["given"])), "expected": expected}


def label_keys(groups: dict[str, str], ctx: ErrorContext) -> Result:
    if ctx.model is None or len(ctx.model.output_names) < 2:
        return None  # a string label of a one-output model is another mistake
    return "dict_label_keys", {"model": _model(ctx), "expected": _expected_outputs(ctx), "value": groups["value"]}


def input_count(groups: dict[str, str], ctx: ErrorContext) -> Result:
    listed = names(groups["names"]) if groups.get("names") else list(ctx.model.input_names if ctx.model else ())
    return "input_count", {
        "model": f"'{groups['model']}'",
        "expected": groups["expected"],
        "names": str(listed) if listed else "",
        "received": groups["received"],
    }


def node_api(groups: dict[str, str], ctx: ErrorContext) -> Result:
    cls, attr = groups["cls"], groups["attr"]
    layer = ctx.receiver.label if ctx.receiver and ctx.receiver.cls == cls else cls
    return "keras2_node_api", {"layer": layer, "attr": attr, "replacement": NODE_API[attr]}


def never_called(groups: dict[str, str], ctx: ErrorContext) -> Result:
    name = groups["layer"]
    layer = ctx.receiver.label if ctx.receiver and ctx.receiver.name == name else f"'{name}'"
    return "never_called", {"layer": layer, "what": groups["what"].lower()}


def unbuilt(groups: dict[str, str], ctx: ErrorContext) -> Result:
    found = ctx.layer or ctx.model or ctx.receiver
    if groups.get("layer"):
        label = found.label if found and found.name == groups["layer"] else f"'{groups['layer']}'"
    else:
        label = found.label if found else _word("fallback_layer")
    return "unbuilt", {"layer": label, "action": groups["action"]}


def not_compiled(groups: dict[str, str], ctx: ErrorContext) -> Result:
    return "not_compiled", {"model": _model(ctx)}


RULES: dict[str, Callable[[dict[str, str], ErrorContext], Result]] = {
    "toolkit_own": toolkit_own,
    "concatenate": concatenate,
    "merge": merge,
    "dot": dot,
    "input_shape": input_shape,
    "input_rank": input_rank,
    "feature_size": feature_size,
    "sparse_loss": sparse_loss,
    "categorical_loss": categorical_loss,
    "label_range": label_range,
    "input_keys": input_keys,
    "loss_keys": loss_keys,
    "label_keys": label_keys,
    "input_count": input_count,
    "node_api": node_api,
    "never_called": never_called,
    "unbuilt": unbuilt,
    "not_compiled": not_compiled,
}
