"""Multiply-accumulate counts for one sample, from a layer's class, config and call shapes. No TensorFlow.

Known formulas only: a layer class (or an operation such as ``x * 2.0`` or ``keras.ops.matmul``) not listed
here gets ``None`` ("unknown"), never a guess. Layers that
multiply nothing (pooling, reshaping, activations, additions, dropout, embedding look-ups) get 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import prod
from typing import Any

from toolkit.records import Shape

# Layers whose forward pass multiplies nothing. Embedding reads rows of a table: a look-up, not a product.
ZERO_MAC_CLASSES = frozenset(
    {
        "InputLayer", "Flatten", "Reshape", "Permute", "RepeatVector", "Activation", "ReLU", "LeakyReLU",
        "ELU", "Softmax", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
        "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Masking", "Identity",
        "Concatenate", "Add", "Subtract", "Maximum", "Minimum", "Average",
        "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
        "AveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
        "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
        "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D",
        "UpSampling1D", "UpSampling2D", "UpSampling3D", "Embedding",
    }
)
# A Lambda runs arbitrary code (a matrix product, say): its MACs are unknown, never assumed to be 0.
# One multiply-add per output element (inference form: scale and shift folded together).
PER_ELEMENT_CLASSES = frozenset({"BatchNormalization", "Rescaling"})
CONV_CLASSES = frozenset({"Conv1D", "Conv2D", "Conv3D"})
CONV_TRANSPOSE_CLASSES = frozenset({"Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"})
RNN_GATES = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}


def _known(shape: Shape) -> bool:
    return all(d is not None for d in shape[1:])


def _elements(shape: Shape) -> int:
    return prod(int(d) for d in shape[1:] if d is not None)


def _channels(shape: Shape, config: Mapping[str, Any]) -> int:
    return int(shape[1] if config.get("data_format") == "channels_first" else shape[-1])  # type: ignore[arg-type]


def _spatial(shape: Shape, config: Mapping[str, Any]) -> int:
    dims = shape[2:] if config.get("data_format") == "channels_first" else shape[1:-1]
    return prod(int(d) for d in dims if d is not None)


def _kernel(config: Mapping[str, Any]) -> int:
    return prod(int(k) for k in config["kernel_size"])


def layer_macs(
    class_name: str,
    config: Mapping[str, Any],
    input_shapes: Sequence[Shape],
    output_shapes: Sequence[Shape],
) -> int | None:
    """MACs of one call for one sample, or None when the class or a shape is unknown."""
    if class_name in ZERO_MAC_CLASSES:
        return 0
    if not input_shapes or not output_shapes:
        return None
    x, y = input_shapes[0], output_shapes[0]
    if not (_known(x) and _known(y)):
        return None
    if class_name == "Dense":
        return _elements(y) * int(x[-1])  # type: ignore[arg-type]
    if class_name in PER_ELEMENT_CLASSES:
        return _elements(y)
    if class_name == "Multiply":
        return (len(input_shapes) - 1) * _elements(y)
    if class_name in CONV_CLASSES:
        return _elements(y) * _kernel(config) * _channels(x, config) // int(config.get("groups", 1))
    if class_name in CONV_TRANSPOSE_CLASSES:
        return _elements(x) * _kernel(config) * int(config["filters"])
    if class_name in ("DepthwiseConv1D", "DepthwiseConv2D"):
        return _elements(y) * _kernel(config)
    if class_name in ("SeparableConv1D", "SeparableConv2D"):
        depthwise = _spatial(y, config) * _channels(x, config) * int(config["depth_multiplier"])
        return depthwise * _kernel(config) + depthwise * int(config["filters"])
    if class_name in RNN_GATES:
        steps, features, units = x[1], x[-1], int(config["units"])
        return RNN_GATES[class_name] * int(steps) * units * (int(features) + units)  # type: ignore[arg-type]
    if class_name == "Bidirectional":
        inner = config["layer"]
        one_way = layer_macs(inner["class_name"], inner["config"], input_shapes, [x[:-1] + (0,)])
        return None if one_way is None else 2 * one_way
    if class_name == "TimeDistributed":
        inner = config["layer"]
        step_in, step_out = (x[:1] + x[2:],), (y[:1] + y[2:],)
        per_step = layer_macs(inner["class_name"], inner["config"], step_in, step_out)
        return None if per_step is None else int(x[1]) * per_step  # type: ignore[arg-type]
    return None


# Operations that are not layers (Keras's ``keras.ops`` classes, made by ``x + y``, ``x[:, 0]``, ``keras.ops.*``).
# Their class names overlap with layer names (Add, Multiply), so they have their own table.
ZERO_MAC_OPERATIONS = frozenset(
    {
        "Add", "Subtract", "Negative", "Absolute", "Abs", "Maximum", "Minimum", "GetItem", "Reshape", "Transpose",
        "ExpandDims", "Squeeze", "Concatenate", "Stack", "Cast", "BroadcastTo", "Tile", "Repeat", "Flatten",
        "Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual", "LogicalAnd", "LogicalOr",
        "LogicalNot", "Where", "Take", "Slice", "Pad", "Relu", "Relu6", "Sigmoid", "HardSigmoid", "Tanh",
        "Softmax", "Gelu", "Silu", "Swish", "HardSwish", "HardSilu", "Elu", "Selu", "LeakyRelu", "Clip",
        "Split", "Roll", "Flip", "Identity", "StopGradient", "ZerosLike", "OnesLike", "Copy", "Any", "All",
        "Argmax", "Argmin", "OneHot",
    }
)


def operation_macs(class_name: str, operand_shapes: Sequence[Shape], output_shapes: Sequence[Shape]) -> int | None:
    """MACs of one operation for one sample, or None where there is no formula (Mean, Exp, Divide, ...).

    ``operand_shapes`` are the shapes of every array argument in order (constants included), so that a
    matrix product knows its contracted dimension.
    """
    if class_name in ZERO_MAC_OPERATIONS:
        return 0
    if not output_shapes or not _known(output_shapes[0]):
        return None
    y = output_shapes[0]
    if class_name == "Multiply":  # one product per output element
        return _elements(y)
    if class_name == "Matmul" and len(operand_shapes) == 2:
        a = operand_shapes[0]
        if len(a) < 1 or a[-1] is None:
            return None
        return _elements(y) * int(a[-1]) if len(y) > 1 else int(a[-1])
    return None
