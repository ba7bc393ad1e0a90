"""Issue 10: summary(), diagram() and the node inspectors on models nobody in this project wrote.

Every graph model of the zoo (ours, the operation families, three keras.applications models) is checked
against Keras itself: parameter totals, one row per Keras node with that node's index, shapes equal to what a
concrete batch really produces, Dense/Conv MACs equal to their formula, one diagram box per call.
"""

from __future__ import annotations

import re
from functools import cache
from math import prod
from typing import Any

import numpy as np
import pytest
import zoo

import toolkit
from toolkit._keras import keras
from toolkit.render.dot import build_dot

L = keras.layers
ALL_GRAPH = {**zoo.GRAPH_MODELS, **zoo.OPERATION_MODELS, **zoo.APPLICATIONS}


@cache
def _built(name: str) -> Any:
    return ALL_GRAPH[name]()


@cache
def _summary(name: str) -> Any:
    return toolkit.summary(_built(name))


def _graph(model: Any) -> Any:
    return model._functional if isinstance(model, keras.Sequential) else model


def _keras_nodes(model: Any) -> list[tuple[Any, int, Any]]:
    """(operation, Keras node index, node) of every non-input node of the model's own graph."""
    graph = _graph(model)
    out = []
    for op in graph._operations:
        for index, node in enumerate(op._inbound_nodes):
            if f"{id(op)}_ib-{index}" in graph._nodes and not node.is_input:
                out.append((op, index, node))
    return out


def _batch(model: Any) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = []
    for t in model.inputs:
        shape = (2,) + tuple(int(d) if d is not None else 5 for d in t.shape[1:])
        if "int" in str(t.dtype):
            arrays.append(rng.integers(1, 10, shape).astype("int32"))
        else:
            arrays.append(rng.random(shape, dtype="float32"))
    return arrays


@pytest.mark.parametrize("name", sorted(ALL_GRAPH))
def test_totals_equal_keras(name: str) -> None:
    model, s = _built(name), _summary(name)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert (s.total_params, s.trainable_params) == (model.count_params(), trainable)
    assert all(r.params >= 0 and r.trainable_params >= 0 for r in s.rows)
    assert sum(r.params for r in s.rows if r.depth == 0) == model.count_params()


@pytest.mark.parametrize("name", sorted(ALL_GRAPH))
def test_one_row_per_keras_node_with_keras_node_index(name: str) -> None:
    model, s = _built(name), _summary(name)
    top = {r.address: r for r in s.rows if r.depth == 0 and r.called}
    expected = {f"{op.name}[{index}]": node for op, index, node in _keras_nodes(model)}
    inputs = {a for a, r in top.items() if r.class_name == "InputLayer"}
    assert set(top) - inputs == set(expected)
    for address, node in expected.items():
        assert top[address].output_shapes == tuple(tuple(t.shape) for t in node.output_tensors), address
        assert top[address].input_shapes == tuple(tuple(t.shape) for t in node.input_tensors), address
        op = node.operation
        assert top[address].is_operation == (not isinstance(op, L.Layer)), address


@pytest.mark.parametrize("name", sorted(ALL_GRAPH))
def test_row_shapes_equal_a_concrete_batch(name: str) -> None:
    model, s = _built(name), _summary(name)
    fx = toolkit.feature_extractor(model)
    batch = _batch(model)
    out = fx(batch[0] if len(batch) == 1 else batch)
    rows = {r.address: r for r in s.rows if r.depth == 0 and r.called and r.class_name != "InputLayer"}
    singles = {k: v for k, v in out.items() if "." not in k}
    assert set(singles) | {k.split(".")[0] for k in out} == set(rows)
    for key, value in out.items():
        address, _, part = key.partition(".")
        shape = rows[address].output_shapes[int(part or 0)]
        assert tuple(value.shape)[1:] == shape[1:] or None in shape, key


def _expected_macs(r: Any) -> int | None:
    x, y = r.input_shapes[0], r.output_shapes[0]
    if r.class_name == "Dense":
        return prod(y[1:]) * x[-1]
    return None


@pytest.mark.parametrize("name", sorted(ALL_GRAPH))
def test_dense_and_conv_macs_equal_the_formula(name: str) -> None:
    model, s = _built(name), _summary(name)
    layers = {lay.name: lay for lay in model.layers}
    for r in s.rows:
        if r.depth or not r.called or r.is_operation:
            continue
        if r.class_name == "Dense" and None not in r.output_shapes[0]:
            assert r.macs == _expected_macs(r), r.address
        if r.class_name == "Conv2D":
            conv = layers[r.name]
            c_in = r.input_shapes[0][-1]
            assert r.macs == prod(r.output_shapes[0][1:]) * prod(conv.kernel_size) * c_in // conv.groups
        if r.class_name == "DepthwiseConv2D":
            conv = layers[r.name]
            assert r.macs == prod(r.output_shapes[0][1:]) * prod(conv.kernel_size)


BOX = re.compile(r'^\s*"[^"]+" \[label=', re.M)


@pytest.mark.parametrize("name", sorted(ALL_GRAPH))
def test_one_diagram_box_per_call(name: str) -> None:
    s = _summary(name)
    dot = build_dot(s.record)
    drawn = [r for r in s.rows if r.called and not r.is_container]
    assert len(BOX.findall(dot)) == len(drawn)


def test_real_graphviz_draws_operations_and_applications() -> None:
    d = toolkit.diagram(_built("residual_plus"))
    assert d.svg.count('class="node"') == len([r for r in _summary("residual_plus").rows if r.called])
    assert "Add" in d.svg
    big = toolkit.diagram(_built("MobileNetV3Small"))
    assert big.svg.count('class="node"') == len([r for r in _summary("MobileNetV3Small").rows if r.called])


# --- defect 1: operations that are not layers ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["scaled_input", "sliced_input", "keras_ops_model", "residual_plus",
                                  "masked_bilstm", "transformer_functional", "MobileNetV3Small", "ConvNeXtTiny"])
def test_operations_are_rows_fed_and_feeding(name: str) -> None:
    s = _summary(name)
    ops = [r for r in s.rows if r.is_operation]
    assert ops, "expected operation rows"
    for r in ops:
        assert r.params == 0 and r.parents, r.address
    text = str(s)
    assert "(op)" in text


def test_scaled_input_row_by_row() -> None:
    s = _summary("scaled_input")
    names = [(r.class_name, r.is_operation, r.parents) for r in s.rows]
    mult = [r for r in s.rows if r.class_name == "Multiply"][0]
    assert names[0] == ("InputLayer", False, ())
    assert mult.is_operation and mult.parents == ("x[0]",) and mult.macs == 4
    assert s.row("dense[0]").parents == (mult.address,) and s.row("dense[0]").macs == 8


def test_operation_macs_where_there_is_a_formula() -> None:
    s = _summary("keras_ops_model")
    by_class = {r.class_name: r for r in s.rows if r.is_operation}
    assert by_class["Transpose"].macs == 0 and by_class["Relu"].macs == 0
    assert by_class["Matmul"].macs == 8 * 3 * 6
    assert by_class["Mean"].macs is None and by_class["Mean"].address in s.unknown_macs


def test_mask_op_feeds_the_lstm() -> None:
    s = _summary("masked_bilstm")
    bilstm = s.row("bilstm[0]")
    mask = [r for r in s.rows if r.class_name == "NotEqual"][0]
    assert mask.is_operation and mask.parents == ("tokens[0]",)
    assert set(bilstm.parents) == {"embed[0]", mask.address}
    assert bilstm.macs == 2 * 4 * 12 * 6 * (8 + 6)


def test_feature_extractor_includes_operations() -> None:
    fx = toolkit.feature_extractor(_built("residual_plus"))
    assert any(k.startswith("add") for k in fx.output)


# --- defect 2: call numbers follow call order ---------------------------------------------------------------


def test_call_numbers_follow_keras_node_order() -> None:
    model, s = _built("call_order_conv"), _summary("call_order_conv")
    conv = model.get_layer("conv")
    assert toolkit.output_shape_at(conv, 0) == (None, 14, 14, 4)
    assert s.row("conv[0]").input_shapes == ((None, 16, 16, 1),)
    assert s.row("conv[1]").input_shapes == ((None, 32, 32, 1),)
    fx = toolkit.feature_extractor(model, layers=["conv"])
    assert tuple(fx.output["conv[0]"].shape) == (None, 14, 14, 4)
    assert [r.node_index for r in toolkit.calls(conv).rows] == [0, 1]
    dot = build_dot(s.record)
    assert '"conv[0]" [label="conv[0] : Conv2D\\nin: (None, 16, 16, 1)' in dot


# --- defect 3: a layer inside a nested model and outside it; tied weights -------------------------------------


def test_layer_shared_between_nested_model_and_parent() -> None:
    model, s = _built("nested_shared_embedding"), _summary("nested_shared_embedding")
    assert not [r for r in s.rows if r.class_name == "Weights"]
    emb = model.get_layer("emb")
    table = toolkit.calls(emb)
    direct = [r for r in s.rows if r.name == "emb" and r.depth == 0][0]
    inner = [r for r in s.rows if r.name == "emb" and r.depth == 1][0]
    by_inbound = {r.inbound: r.node_index for r in table.rows}
    assert direct.node_index == by_inbound[("p[0]",)] and inner.node_index == by_inbound[("enc_in[0]",)]
    assert direct.params + inner.params == 400 and s.total_params == 400


def test_tied_weights_counted_once() -> None:
    model, s = _built("tied_weights"), _summary("tied_weights")
    assert s.total_params == model.count_params() == 50 * 8 + 8 * 8 + 8
    assert s.row("decoder[0]").params == 0 and s.row("decoder[0]").macs is None
    assert not [r for r in s.rows if r.class_name == "Weights"]


# --- defect 4: the summary never needs a layer's config ----------------------------------------------------


def test_custom_layer_without_get_config() -> None:
    s = _summary("no_config_layer")
    assert s.row("scale[0]").output_shapes == ((None, 4),) and s.row("scale[0]").macs is None
    assert s.row("dense[0]").macs == 16
    toolkit.diagram(_built("no_config_layer"))


# --- defect 5: subclassed traces keep "Fed by" through operations --------------------------------------------


def test_subclassed_fed_by_survives_an_operation() -> None:
    s = toolkit.summary(zoo.SubclassedResidual(), input_shape=(8,))
    assert s.row("a[0]").parents == ("inputs",)
    assert set(s.row("b[0]").parents) == {"a[0]", "inputs"}
    dot = build_dot(s.record)
    assert '"a[0]" -> "b[0]"' in dot and '"inputs" -> "b[0]"' in dot


def test_subclassed_transformer_blocks_are_connected() -> None:
    s = toolkit.summary(zoo.SubclassedTransformer(2), input_shape=(10, 12))
    for r in s.rows:
        if r.called and r.class_name != "Weights":
            assert r.parents, f"{r.address} is drawn unconnected"
    assert s.row("block1[0]").parents == ("block0[0]",)
    assert set(s.row("block0[0]/ln1[0]").parents) == {"proj[0]", "block0[0]/att[0]"}


# --- defect 6: an RNN inside a subclassed model is one row, as in a functional model -------------------------


def test_rnn_in_subclassed_model_is_one_row_with_macs() -> None:
    s = toolkit.summary(zoo.SubclassedLSTM(), input_shape=(9, 5))
    assert [r.address for r in s.rows] == ["gru[0]", "lstm[0]", "head[0]"]
    assert s.row("gru[0]").macs == 3 * 9 * 4 * (5 + 4)
    assert s.row("lstm[0]").macs == 4 * 9 * 8 * (4 + 8)
    assert not s.row("lstm[0]").is_container and not s.unknown_macs


# --- defect 7: unknown MACs stay unknown ---------------------------------------------------------------------


def test_lambda_matmul_macs_are_unknown() -> None:
    s = _summary("lambda_matmul")
    assert s.row("square[0]").macs is None and "square[0]" in s.unknown_macs


def test_custom_layer_with_its_own_matmul_has_unknown_macs() -> None:
    s = toolkit.summary(zoo.WithMatmulBlock(), input_shape=(4, 6))
    assert s.row("matmul_block[0]/q[0]").macs == 4 * 8 * 6
    assert s.row("matmul_block[0]").macs is None and "matmul_block[0]" in s.unknown_macs
    plain = toolkit.summary(zoo.residual_subclassed(), input_shape=(8,))
    assert plain.row("block0[0]").macs == 16 * 16 * 2  # only an addition besides its Dense layers: known


# --- subclassed zoo: totals, shapes and connections ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(zoo.SUBCLASSED_ZOO))
def test_subclassed_zoo(name: str) -> None:
    build, shape = zoo.SUBCLASSED_ZOO[name]
    model = build()
    s = toolkit.summary(model, input_shape=shape)
    assert s.total_params == model.count_params()
    assert all(r.params >= 0 for r in s.rows)
    out = model(zoo.sample_batch(shape))
    last = [r for r in s.rows if r.called and r.depth == 0][-1]
    assert last.output_shapes[0][1:] == tuple(out.shape[1:])
    assert all(r.parents for r in s.rows if r.called)
    dot = build_dot(s.record)
    assert len(BOX.findall(dot)) == len([r for r in s.rows if r.called and not r.is_container])


class _MatmulInCall(keras.Model):
    def __init__(self) -> None:
        super().__init__(name="matmul_in_call")
        self.q = L.Dense(4, name="q")

    def call(self, x: Any) -> Any:
        q = self.q(x)
        return keras.ops.matmul(q, keras.ops.transpose(q, (0, 2, 1)))


def test_a_subclassed_model_multiplying_in_its_own_call_says_so() -> None:
    s = toolkit.summary(_MatmulInCall(), input_shape=(3, 5))
    assert any("multiplies tensors outside its layers" in n for n in s.record.notes)
    plain = toolkit.summary(zoo.SubclassedResidual(), input_shape=(8,))
    assert not plain.record.notes


def test_rnn_rows_are_the_same_traced_and_functional() -> None:
    x = keras.Input((9, 5), name="x")
    y = L.Dense(2, name="head")(L.LSTM(8, name="lstm")(L.GRU(4, return_sequences=True, name="gru")(x)))
    functional = toolkit.summary(keras.Model(x, y, name="fn_lstm"))
    traced = toolkit.summary(zoo.SubclassedLSTM(), input_shape=(9, 5))
    for address in ("gru[0]", "lstm[0]", "head[0]"):
        a, b = functional.row(address), traced.row(address)
        assert (a.macs, a.params, a.output_shapes, a.is_container) == (b.macs, b.params, b.output_shapes, False)
