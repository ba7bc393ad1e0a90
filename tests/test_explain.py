"""summary(model).explain(row): every number of a row as a formula with the layer's values, checked against Keras.

Invariants on every zoo model: the parameter formula gives Keras's own ``count_params()`` (or says honestly that it
has no formula, for a short listed set of classes), the MACs formula gives toolkit/macs.py's number, the derived
output shape is the row's shape, every "values" expression evaluates to its result, the forward activation memory
is the real ``nbytes`` of the outputs on a concrete batch, and the receptive field agrees with a hand count and with
the nonzero region of a real gradient.
"""

from __future__ import annotations

import ast
import operator
import time
from functools import cache
from typing import Any

import numpy as np
import pytest
import zoo

import toolkit
from toolkit._keras import keras, tf
from toolkit.i18n import catalog

L = keras.layers


# --- models the zoo lacks: every layer family with a formula ---------------------------------------------------


def conv_family() -> Any:
    x0 = keras.Input((32, 32, 3), name="img")
    x = L.Conv2D(16, 3, strides=2, padding="same", name="conv_s2")(x0)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, name="dw")(x)
    x = L.SeparableConv2D(8, 3, dilation_rate=2, padding="same", name="sep")(x)
    x = L.Conv2D(8, 3, groups=2, use_bias=False, name="grouped")(x)
    x = L.BatchNormalization(center=False, name="bn_no_center")(x)
    x = L.MaxPooling2D(3, strides=2, padding="same", name="pool_same")(x)
    x = L.Conv2DTranspose(6, 3, strides=2, name="up_conv")(x)
    x = L.ZeroPadding2D(((1, 2), (0, 1)), name="pad")(x)
    x = L.Cropping2D(((0, 1), (1, 1)), name="crop")(x)
    x = L.UpSampling2D(2, name="upsample")(x)
    x = L.AveragePooling2D(2, name="avg")(x)
    x = L.Conv2DTranspose(4, 3, strides=2, padding="same", name="up_same")(x)
    x = L.LayerNormalization(name="ln")(x)
    x = L.Activation("relu", name="act")(x)
    a = L.GlobalMaxPooling2D(name="gmp")(x)
    b = L.Flatten(name="flat")(x)
    x = L.Concatenate(name="cat")([a, b])
    return keras.Model(x0, L.Dense(5, name="head")(x), name="conv_family")


def sequence_family() -> Any:
    tokens = keras.Input((12,), dtype="int32", name="tokens")
    x = L.Embedding(50, 6, name="embed")(tokens)
    x = L.Conv1D(8, 3, padding="causal", dilation_rate=2, name="causal")(x)
    x = L.Conv1D(8, 3, strides=2, name="strided")(x)
    x = L.MaxPooling1D(2, padding="same", name="pool1d")(x)
    x = L.GRU(5, return_sequences=True, name="gru")(x)
    x = L.GRU(5, return_sequences=True, reset_after=False, name="gru_v1")(x)
    x = L.SimpleRNN(4, return_sequences=True, name="rnn")(x)
    x = L.LSTM(3, return_sequences=True, name="lstm")(x)
    x = L.Bidirectional(L.LSTM(2, return_sequences=True, name="inner"), name="bi")(x)
    x = L.TimeDistributed(L.Dense(3, name="step"), name="per_step")(x)
    x = L.Dense(7, name="dense_3d")(x)
    att = L.MultiHeadAttention(2, 4, value_dim=3, output_shape=5, name="mha")(x, x)
    plain = L.MultiHeadAttention(3, 2, use_bias=False, name="mha_plain")(x, att)
    x = L.Permute((2, 1), name="perm")(plain)
    x = L.Reshape((-1,), name="reshape")(x)
    x = L.RepeatVector(2, name="repeat")(x)
    return keras.Model(tokens, L.GlobalAveragePooling1D(name="gap")(x), name="sequence_family")


def merge_family() -> Any:
    a = keras.Input((4, 1), name="a")
    b = keras.Input((1, 5), name="b")
    c = keras.Input((4, 5), name="c")
    summed = L.Add(name="plus")([c, L.Multiply(name="mul")([c, c])])
    broadcast = a + b  # an Add operation: (4, 1) + (1, 5) -> (4, 5)
    x = L.Concatenate(axis=1, name="cat_rows")([summed, broadcast, L.Subtract(name="sub")([c, summed])])
    x = L.Average(name="avg")([x, x])
    x = keras.ops.matmul(x, keras.ops.ones((5, 2)))
    x = L.Dense(3, name="dense")(L.Flatten(name="flat")(x))
    return keras.Model([a, b, c], x, name="merge_family")


def volume_family() -> Any:
    x0 = keras.Input((8, 8, 8, 2), name="volume")
    x = L.Conv3D(4, 3, name="conv3d")(x0)
    x = L.MaxPooling3D(2, name="pool3d")(x)
    return keras.Model(x0, L.GlobalAveragePooling3D(name="gap3d")(x), name="volume_family")


class Scale(L.Layer):
    """A custom layer with one weight: no formula is known for it."""

    def build(self, input_shape: Any) -> None:
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, x: Any) -> Any:
        return x * self.w


def custom_layer_model() -> Any:
    x0 = keras.Input((6,), name="x")
    return keras.Model(x0, Scale(name="scale")(L.Dense(6, name="dense")(x0)), name="custom_layer")


EXTRA = {
    "conv_family": conv_family,
    "sequence_family": sequence_family,
    "merge_family": merge_family,
    "volume_family": volume_family,
    "custom_layer": custom_layer_model,
}
GRAPH = {**zoo.GRAPH_MODELS, **zoo.OPERATION_MODELS, **EXTRA}
SLOW = dict(zoo.APPLICATIONS)
# Classes whose parameters have no formula here: their explanation says so and shows Keras's count.
NO_FORMULA = {"Scale", "TiedDecoder", "LayerScale", "Normalization"}


@cache
def _model(name: str) -> Any:
    if name in zoo.SUBCLASSED_ZOO or name in zoo.SUBCLASSED:
        build, shape = {**zoo.SUBCLASSED, **zoo.SUBCLASSED_ZOO}[name]
        model = build()
        return model, toolkit.summary(model, input_shape=shape)
    model = {**GRAPH, **SLOW}[name]()
    return model, toolkit.summary(model)


def _layer_at(model: Any, address: str) -> Any:
    """The layer object of a row, found independently of the toolkit (by names along the address)."""
    obj = model
    for part in address.split("/"):
        name = part.rsplit("[", 1)[0]
        if isinstance(obj, keras.Model):
            obj = obj.get_layer(name)
        elif isinstance(getattr(obj, "layer", None), keras.layers.Layer):
            obj = obj.layer
            assert obj.name == name
        else:
            obj = next(sub for sub in obj._flatten_layers(include_self=False) if sub.name == name)
    return obj


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv}


def _evaluate(expression: str) -> int:
    """An arithmetic expression of integers (+ - * // and brackets), as the explanation writes its values."""

    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "max":
            return max(ev(a) for a in node.args)
        raise AssertionError(f"not plain arithmetic: {ast.dump(node)} in {expression!r}")

    return ev(ast.parse(expression.replace(",", ""), mode="eval"))


def _check_rows(name: str) -> set[str]:
    model, s = _model(name)
    unsupported: set[str] = set()
    for row in s.rows:
        if row.class_name == "Weights":
            continue
        e = s.explain(row.address)
        params = e.term("params")
        for term in e.terms:  # every "values" expression evaluates to its result
            if term.arithmetic and term.value is not None:
                assert _evaluate(term.values) == term.value, (row.address, term)
        if row.is_operation:
            assert params.value == 0, row.address
        else:
            layer = _layer_at(model, row.address)
            if not layer.built:  # a layer a subclassed model never called: no weights yet
                assert not row.called and params.value == 0, row.address
            elif params.known:
                assert params.value == layer.count_params(), (name, row.address, params)
            else:
                unsupported.add(row.class_name)
                assert params.value == layer.count_params() and "no formula" in str(e), row.address
        macs = e.term("macs")
        assert macs.value == row.macs, (name, row.address, macs, row.macs)
        assert macs.arithmetic or not row.macs, (name, row.address, macs)  # every nonzero count has its formula
        shape = e.find("shape")
        if row.called and shape is not None and shape.known:
            assert shape.value == row.output_shapes, (name, row.address, shape)
    return unsupported


@pytest.mark.parametrize("name", sorted(GRAPH) + sorted(zoo.SUBCLASSED_ZOO) + sorted(zoo.SUBCLASSED))
def test_every_row_agrees_with_keras_and_macs(name: str) -> None:
    unsupported = _check_rows(name)
    assert unsupported <= NO_FORMULA, f"{name}: classes without a parameter formula: {unsupported - NO_FORMULA}"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW))
def test_every_row_of_keras_applications(name: str) -> None:
    assert _check_rows(name) <= NO_FORMULA


def test_formula_families_are_covered() -> None:
    """The extra models really exercise every formula the issue names (none falls back to 'no formula')."""
    seen: dict[str, bool] = {}
    no_shape: set[str] = set()
    for name in ("conv_family", "sequence_family", "merge_family", "volume_family"):
        _, s = _model(name)
        for row in s.rows:
            e = s.explain(row.address)
            seen[row.class_name] = e.term("params").known
            if not e.term("shape").known:
                no_shape.add(row.class_name)
    assert not no_shape, f"no output-shape derivation for {no_shape}"
    for cls in (
        "Conv1D",
        "Conv2D",
        "Conv3D",
        "DepthwiseConv2D",
        "SeparableConv2D",
        "Conv2DTranspose",
        "Dense",
        "BatchNormalization",
        "LayerNormalization",
        "Embedding",
        "LSTM",
        "GRU",
        "SimpleRNN",
        "MultiHeadAttention",
        "Bidirectional",
        "TimeDistributed",
    ):
        assert seen.get(cls) is True, cls


def test_conv_parameter_formula_reads_like_the_lesson() -> None:
    x0 = keras.Input((16, 16, 64), name="x")
    model = keras.Model(x0, L.Conv2D(128, 3, name="conv2d_1")(x0))
    e = toolkit.summary(model).explain("conv2d_1[0]")
    assert e.term("params").values == "(3*3*64 + 1) * 128" and e.term("params").value == 73_856
    assert "(3*3*64 + 1) * 128 = 73,856" in str(e)
    assert e.term("shape").value == ((None, 14, 14, 128),)


def test_batchnorm_splits_trainable_and_non_trainable() -> None:
    model, s = _model("toy_resnet")
    e = s.explain("bn[0]")
    assert e.term("params.trainable").value == 2 * 64 and e.term("params.non_trainable").value == 2 * 64
    assert "moving" in str(e)


def test_lstm_shows_four_gates_and_shared_weights_once() -> None:
    _, s = _model("shared_lstm")
    first, again = s.explain("shared_lstm[0]"), s.explain("shared_lstm[1]")
    assert first.term("params").values == "4 * (64 * (256 + 64) + 64)"
    assert "shared_lstm[0]" in str(again) and again.term("params").value == first.term("params").value
    total = s.explain()
    assert total.term("params").value == s.total_params
    assert total.term("params").owners == ("shared_lstm[0]", "same_author[0]")
    assert total.term("params").values == "82,176 + 129"


@pytest.mark.parametrize(
    "name",
    [
        "toy_resnet",
        "shared_lstm",
        "nested_shared_embedding",
        "tied_weights",
        "autoencoder",
        "twice_nested",
        "own_weights",
        "conv_family",
    ],
)
def test_totals_are_sums_of_the_rows_that_own_weights(name: str) -> None:
    model, s = _model(name)
    e = s.explain()
    assert e.term("params").value == s.total_params == model.count_params()
    assert _evaluate(e.term("params").values) == s.total_params
    owners = [r.address for r in s.rows if r.depth == 0 and r.params]
    assert e.term("params").owners == tuple(owners)
    assert e.term("params.trainable").value == s.trainable_params
    memory = e.term("param_memory")
    assert memory.value == sum(w.numpy().nbytes for w in model.weights)


def _outputs_model(model: Any, rows: list[Any]) -> Any:
    graph = model._functional if isinstance(model, keras.Sequential) else model
    return keras.Model(graph.inputs, [_layer_at(model, r.address).output for r in rows])


def _concrete_batch(model: Any, n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    graph = model._functional if isinstance(model, keras.Sequential) else model
    out = []
    for t in graph.inputs:
        shape = (n,) + tuple(int(d) for d in t.shape[1:])
        out.append(
            rng.integers(1, 9, shape).astype(t.dtype) if "int" in str(t.dtype) else rng.random(shape).astype(t.dtype)
        )
    return out


@pytest.mark.parametrize(
    "name",
    [
        "cnn_sequential",
        "toy_resnet",
        "headline",
        "conv_family",
        "sequence_family",
        "merge_family",
        "volume_family",
        "masked_bilstm",
    ],
)
def test_forward_activation_memory_is_the_real_nbytes(name: str) -> None:
    model, s = _model(name)
    rows = [
        r
        for r in s.rows
        if r.depth == 0
        and not r.is_operation
        and r.class_name != "InputLayer"
        and len(_layer_at(model, r.address)._inbound_nodes) == 1
    ]
    batch = _concrete_batch(model, 3)
    real = _outputs_model(model, rows)(batch if len(batch) > 1 else batch[0])
    real = real if isinstance(real, list) else [real]
    for row, value in zip(rows, real):
        term = s.explain(row.address, batch_size=3).term("activations")
        assert term.value == np.asarray(value).nbytes, (row.address, term)
        training = s.explain(row.address, batch_size=3).term("activations.training")
        assert training.value == 2 * term.value
    inputs = [r for r in s.rows if r.class_name == "InputLayer"]
    for row, array in zip(inputs, batch):
        assert s.explain(row.address, batch_size=3).term("activations").value == array.nbytes


def chain() -> Any:
    """Hand count: conv3 (rf 3) -> pool2 (4, stride 2) -> conv3 dilation 2 (4 + 4*2 = 12) -> conv5 stride 2 (20, 4)."""
    x0 = keras.Input((64, 64, 1), name="img")
    x = L.Conv2D(2, 3, name="c1")(x0)
    x = L.MaxPooling2D(2, name="p1")(x)
    x = L.Conv2D(2, 3, dilation_rate=2, name="c2")(x)
    x = L.Conv2D(2, 5, strides=2, name="c3")(x)
    return keras.Model(x0, L.GlobalAveragePooling2D(name="gap")(x), name="chain")


def test_receptive_field_by_hand() -> None:
    s = toolkit.summary(chain())
    expected = {"c1[0]": (3, 1), "p1[0]": (4, 2), "c2[0]": (12, 2), "c3[0]": (20, 4)}
    for address, (rf, stride) in expected.items():
        e = s.explain(address)
        assert e.term("receptive_field").value == (rf, rf), address
        assert e.term("effective_stride").value == (stride, stride), address
    assert "whole input" in str(s.explain("gap[0]"))
    assert s.explain("img[0]").find("receptive_field") is None


def test_receptive_field_equals_the_nonzero_region_of_a_gradient() -> None:
    x0 = keras.Input((41, 41, 1), name="img")
    ones = {"kernel_initializer": "ones", "bias_initializer": "zeros"}
    x = L.Conv2D(1, 3, name="c1", **ones)(x0)
    x = L.AveragePooling2D(2, name="p1")(x)
    x = L.Conv2D(1, 3, dilation_rate=2, name="c2", **ones)(x)
    x = L.DepthwiseConv2D(3, strides=2, name="c3", depthwise_initializer="ones")(x)
    model = keras.Model(x0, x, name="gradient_chain")
    rf = toolkit.summary(model).explain("c3[0]").term("receptive_field").value
    image = tf.Variable(np.random.default_rng(0).random((1, 41, 41, 1), "float32"))
    with tf.GradientTape() as tape:
        out = model(image)
        centre = out[0, out.shape[1] // 2, out.shape[2] // 2, 0]
    grad = tape.gradient(centre, image).numpy()[0, :, :, 0]
    rows, cols = np.nonzero(grad)
    assert (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) == rf


def test_bad_row_name_lists_close_names() -> None:
    _, s = _model("cnn_sequential")
    with pytest.raises(ValueError, match=r"no row 'conv3\[0\]'.*close names: conv1\[0\], conv2\[0\]") as info:
        s.explain("conv3[0]")
    assert "\n" not in str(info.value)
    assert s.explain("conv2").address == "conv2[0]"  # a layer called once may be named without its call


def test_nested_rows_by_address_or_short_name() -> None:
    model, s = _model("autoencoder")
    e = s.explain("decoder[0]/recon[0]")
    assert e.term("params").value == 16 * 784 + 784
    assert s.explain("recon[0]").address == "decoder[0]/recon[0]"
    container = s.explain("encoder[0]")
    assert container.term("params").value == _layer_at(model, "encoder[0]").count_params()


def test_custom_layer_says_no_formula_and_shows_keras_count() -> None:
    _, s = _model("custom_layer")
    e = s.explain("scale[0]")
    assert not e.term("params").known and e.term("params").value == 6
    assert "no formula" in str(e) and "Keras" in str(e)


def test_explanation_renders_as_text_html_and_markdown() -> None:
    _, s = _model("cnn_sequential")
    e = s.explain("conv1[0]")
    text, page, md = str(e), e._repr_html_(), e._repr_markdown_()
    assert "conv1[0]" in text and "Conv2D" in text and "\n" in text
    assert page == s.explain("conv1[0]")._repr_html_()  # deterministic
    for forbidden in ("<script", "<svg", "onclick", 'style="position'):
        assert forbidden not in page
    assert md.count("|") > 10 and "conv1[0]" in md
    assert e.to_dict()["terms"][0]["kind"] == "params"


def test_summary_html_has_one_details_per_row() -> None:
    _, s = _model("cnn_sequential")
    assert "<details" not in s._repr_html_()  # off by default: a notebook's stored summaries stay small
    page = s.with_details()._repr_html_()
    assert page.count("<details") == len(s.rows) + 1  # one per row and one for the totals
    assert "<script" not in page and "<svg" not in page
    assert "(3*3*1 + 1) * 8" in page


def test_chinese_explanations(monkeypatch: pytest.MonkeyPatch) -> None:
    _, s = _model("sequence_family")
    toolkit.set_language("zh-CN")
    try:
        texts = [str(s.explain(r.address)) for r in s.rows] + [str(s.explain())]
        e = s.explain("lstm[0]")
        assert "参数" in str(e) and "参数" in e._repr_html_()
        keys = {m.text for r in s.rows for m in s.explain(r.address).messages()}
    finally:
        toolkit.set_language(None)
    assert texts and all(t for t in texts)
    missing = sorted(k for k in keys if k not in catalog("zh-CN"))
    assert not missing, f"explanation texts without a Chinese translation: {missing}"


def test_every_explanation_text_is_translated() -> None:
    keys: set[str] = set()
    for name in (
        "conv_family",
        "merge_family",
        "toy_resnet",
        "autoencoder",
        "custom_layer",
        "shared_lstm",
        "tied_weights",
        "residual_subclassed",
    ):
        _, s = _model(name)
        for r in s.rows:
            keys |= {m.text for m in s.explain(r.address).messages()}
        keys |= {m.text for m in s.explain().messages()}
    keys |= {m.text for m in toolkit.summary(chain()).explain("gap[0]").messages()}
    missing = sorted(k for k in keys if k not in catalog("zh-CN"))
    assert not missing, f"explanation texts without a Chinese translation: {missing}"


def test_explain_one_row_is_fast() -> None:
    """The benchmark (benchmarks/bench_explain.py) holds the 50 ms target; this only catches a gross slowdown."""
    _, s = _model("conv_family")
    s.explain("sep[0]")
    start = time.perf_counter()
    for _ in range(5):
        s.explain("head[0]")
    assert (time.perf_counter() - start) / 5 < 0.25
