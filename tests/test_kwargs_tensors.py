"""Issue 24, item 5: tensors passed by keyword are inputs; a real pass corrects Keras's wrong symbolic shapes.

Defect 1: ``self.mha(query=x, value=x)``, ``self.dec(y, initial_state=[h, c])``, ``attention_mask=...``: every
tensor a layer call receives, by position or by keyword, nested in lists or dicts, is one of the row's input
shapes, feeds its "Fed by" and draws an edge, in traced (subclassed) and functional models alike.

Defect 2: ``MultiHeadAttention(return_attention_scores=True)`` with a key longer than the query: Keras's own
symbolic spec says scores (None, heads, 6, 6); the real output is (batch, heads, 6, 9). Rows show the shape a
real pass gives and mark where Keras disagreed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import zoo

import toolkit
from toolkit._keras import keras
from toolkit.render.dot import build_dot

L = keras.layers


class KeywordAttention(keras.Model):
    """Self-attention called with keywords only: ``mha(query=h, value=h)``."""

    def __init__(self) -> None:
        super().__init__(name="kw_attention")
        self.proj = L.Dense(8, name="proj")
        self.mha = L.MultiHeadAttention(2, 4, name="mha")

    def call(self, x: Any) -> Any:
        h = self.proj(x)
        return self.mha(query=h, value=h)


class EncoderDecoder(keras.Model):
    """A seq2seq LSTM: the encoder's states reach the decoder only through ``initial_state=[h, c]``."""

    def __init__(self) -> None:
        super().__init__(name="enc_dec")
        self.enc = L.LSTM(8, return_state=True, name="enc")
        self.dec = L.LSTM(8, return_sequences=True, name="dec")

    def call(self, inputs: Any) -> Any:
        _, h, c = self.enc(inputs["src"])
        return self.dec(inputs["tgt"], initial_state=[h, c])


class MaskedCrossAttention(keras.Model):
    """A dict input (``mask``) used ONLY as a keyword argument: it must still be an input with an edge."""

    def __init__(self) -> None:
        super().__init__(name="masked_cross")
        self.mha = L.MultiHeadAttention(2, 4, name="mha")

    def call(self, inputs: Any) -> Any:
        return self.mha(inputs["q"], inputs["kv"], attention_mask=inputs["mask"])


class Gate(L.Layer):
    """A custom layer taking a dict of tensors by keyword: ``gate(x, context={"a": a, "b": b})``."""

    def call(self, x: Any, context: Any = None) -> Any:
        return x * keras.ops.sigmoid(context["a"] + context["b"])


class NestedKeywordDict(keras.Model):
    def __init__(self) -> None:
        super().__init__(name="nested_kw")
        self.a = L.Dense(4, name="a")
        self.b = L.Dense(4, name="b")
        self.x = L.Dense(4, name="x")
        self.gate = Gate(name="gate")

    def call(self, inputs: Any) -> Any:
        return self.gate(self.x(inputs), context={"a": self.a(inputs), "b": self.b(inputs)})


def _functional_keyword_attention() -> Any:
    x = keras.Input((6, 5), name="x")
    h = L.Dense(8, name="proj")(x)
    return keras.Model(x, L.MultiHeadAttention(2, 4, name="mha")(query=h, value=h), name="kw_attention_fn")


def _functional_encoder_decoder() -> Any:
    src, tgt = keras.Input((7, 3), name="src"), keras.Input((5, 4), name="tgt")
    _, h, c = L.LSTM(8, return_state=True, name="enc")(src)
    out = L.LSTM(8, return_sequences=True, name="dec")(tgt, initial_state=[h, c])
    return keras.Model({"src": src, "tgt": tgt}, out, name="enc_dec_fn")


def _functional_masked_cross() -> Any:
    q, kv, mask = keras.Input((6, 8), name="q"), keras.Input((9, 8), name="kv"), keras.Input((6, 9), name="mask")
    out = L.MultiHeadAttention(2, 4, name="mha")(q, kv, attention_mask=mask)
    return keras.Model({"q": q, "kv": kv, "mask": mask}, out, name="masked_cross_fn")


def _edge(dot: str, source: str, target: str) -> bool:
    return f'"{source}" -> "{target}"' in dot


# --- defect 1, traced (subclassed) models ------------------------------------------------------------------------


def test_keyword_only_attention_is_fed_and_drawn() -> None:
    s = toolkit.summary(KeywordAttention(), input_shape=(6, 5))
    mha = s.row("mha[0]")
    assert mha.input_shapes == ((None, 6, 8), (None, 6, 8))
    assert mha.parents == ("proj[0]",)
    assert _edge(build_dot(s.record), "proj[0]", "mha[0]")
    assert "proj[0]" in str(s).splitlines()[3]  # the text row's "Fed by" cell


def test_initial_state_by_keyword_feeds_the_decoder() -> None:
    s = toolkit.summary(EncoderDecoder(), input_shape={"src": (7, 3), "tgt": (5, 4)})
    dec = s.row("dec[0]")
    assert dec.input_shapes == ((None, 5, 4), (None, 8), (None, 8))
    assert dec.parents == ("inputs['tgt']", "enc[0]")
    dot = build_dot(s.record)
    assert _edge(dot, "enc[0]", "dec[0]") and _edge(dot, "inputs['tgt']", "dec[0]")


def test_a_dict_input_used_only_by_keyword_gets_an_oval_and_an_edge() -> None:
    s = toolkit.summary(MaskedCrossAttention(), input_shape={"q": (6, 8), "kv": (9, 8), "mask": (6, 9)})
    mha = s.row("mha[0]")
    assert mha.input_shapes == ((None, 6, 8), (None, 9, 8), (None, 6, 9))
    assert mha.parents == ("inputs['q']", "inputs['kv']", "inputs['mask']")
    dot = build_dot(s.record)
    assert "\"inputs['mask']\" [shape=oval" in dot and _edge(dot, "inputs['mask']", "mha[0]")


def test_tensors_nested_in_a_keyword_dict_are_inputs() -> None:
    s = toolkit.summary(NestedKeywordDict(), input_shape=(3,))
    gate = s.row("gate[0]")
    assert len(gate.input_shapes) == 3 and set(gate.parents) == {"x[0]", "a[0]", "b[0]"}
    dot = build_dot(s.record)
    assert all(_edge(dot, p, "gate[0]") for p in ("x[0]", "a[0]", "b[0]"))


def test_training_flag_is_not_an_input() -> None:
    s = toolkit.summary(zoo.SubclassedMLP(True, False), input_shape=(784,))
    assert s.row("dropout[0]").input_shapes == ((None, 32),)


def test_a_failing_keyword_call_names_the_keyword_tensors_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(None, 4, 3\), \(None, 5\), \(None, 5\)|\(2, 4, 3\), \(2, 5\), \(2, 5\)"):
        toolkit.summary(zoo.BadInitialState(), input_shape=(4, 3))


# --- defect 1, functional models: the same rows as the traced ones ------------------------------------------------


@pytest.mark.parametrize(("functional", "traced", "shape", "address"), [
    (_functional_keyword_attention, KeywordAttention, (6, 5), "mha[0]"),
    (_functional_encoder_decoder, EncoderDecoder, {"src": (7, 3), "tgt": (5, 4)}, "dec[0]"),
    (_functional_masked_cross, MaskedCrossAttention, {"q": (6, 8), "kv": (9, 8), "mask": (6, 9)}, "mha[0]"),
])
def test_functional_and_traced_rows_agree(functional: Any, traced: Any, shape: Any, address: str) -> None:
    fn = toolkit.summary(functional())
    tr = toolkit.summary(traced(), input_shape=shape)
    a, b = fn.row(address), tr.row(address)
    assert sorted(a.input_shapes, key=str) == sorted(b.input_shapes, key=str)
    assert a.output_shapes == b.output_shapes and a.params == b.params
    assert len(a.parents) == len(b.parents) == len(set(a.input_shapes)) or address == "dec[0]"
    assert len(a.parents) == len(b.parents)
    dot = build_dot(fn.record)
    assert all(_edge(dot, p, address) for p in a.parents)


def test_functional_keyword_inputs_are_rows_parents() -> None:
    model = _functional_masked_cross()
    s = toolkit.summary(model)
    assert set(s.row("mha[0]").parents) == {"q[0]", "kv[0]", "mask[0]"}
    calls = toolkit.calls(model.get_layer("mha"))
    assert set(calls.rows[0].inbound) == {"q[0]", "kv[0]", "mask[0]"}


# --- defect 2: Keras's wrong symbolic shape is corrected by a real pass, and marked --------------------------------


def _scores_functional(heads: int = 2) -> Any:
    q, kv = keras.Input((6, 8), name="q"), keras.Input((9, 8), name="kv")
    out, scores = L.MultiHeadAttention(heads, 4, name="mha")(q, kv, return_attention_scores=True)
    return keras.Model([q, kv], [out, scores], name="scores_fn")


class ScoresTraced(keras.Model):
    def __init__(self) -> None:
        super().__init__(name="scores_traced")
        self.mha = L.MultiHeadAttention(2, 4, name="mha")

    def call(self, inputs: Any) -> Any:
        return self.mha(query=inputs["q"], value=inputs["kv"], return_attention_scores=True)


def _real_shapes(model: Any, batch: Any) -> list[tuple[int, ...]]:
    return [tuple(t.shape) for t in keras.tree.flatten(model(batch))]


def test_functional_attention_scores_show_the_real_shape() -> None:
    model = _scores_functional()
    real = _real_shapes(model, [np.zeros((2, 6, 8), "float32"), np.zeros((2, 9, 8), "float32")])
    assert real[1] == (2, 2, 6, 9)
    s = toolkit.summary(model)
    row = s.row("mha[0]")
    assert [shape[1:] for shape in row.output_shapes] == [shape[1:] for shape in real]
    assert row.keras_shapes is not None and row.keras_shapes[1] == ((None, 6, 8), (None, 2, 6, 6))
    text = str(s)
    assert "(None, 2, 6, 9)] !" in text and "(None, 2, 6, 6)" in text
    dot = build_dot(s.record)
    assert "(None, 2, 6, 9)" in dot and "Keras says" in dot


def test_agreeing_shapes_are_not_marked() -> None:
    for build in (zoo.functional_mlp, zoo.headline, zoo.autoencoder, zoo.twice_nested, zoo.masked_bilstm,
                  zoo.transformer_block_functional):
        s = toolkit.summary(build())
        assert all(r.keras_shapes is None for r in s.rows), build.__name__
        assert not s.record.notes and " !" not in str(s)


def test_attention_scores_in_a_nested_model_are_corrected() -> None:
    inner = _scores_functional(heads=3)
    q, kv = keras.Input((6, 8), name="outer_q"), keras.Input((9, 8), name="outer_kv")
    out, scores = inner([q, kv])
    model = keras.Model([q, kv], [out, L.Flatten(name="flat")(scores)], name="outer")
    s = toolkit.summary(model)
    assert s.row("scores_fn[0]/mha[0]").output_shapes[1] == (None, 3, 6, 9)
    assert s.row("scores_fn[0]").output_shapes[1] == (None, 3, 6, 9)


def test_a_model_that_cannot_really_run_says_its_shapes_are_unchecked() -> None:
    q, kv = keras.Input((6, 8), name="q"), keras.Input((9, 8), name="kv")
    _, scores = L.MultiHeadAttention(2, 4, name="mha")(q, kv, return_attention_scores=True)
    flat = L.Flatten(name="flat")(scores)  # Keras builds the Dense for 2*6*6 features; really there are 2*6*9
    model = keras.Model([q, kv], L.Dense(3, name="head")(flat), name="cannot_run")
    s = toolkit.summary(model)
    assert any("real pass" in n and "head" in n for n in s.record.notes), s.record.notes


def test_traced_attention_scores_are_real() -> None:
    s = toolkit.summary(ScoresTraced(), input_shape={"q": (6, 8), "kv": (9, 8)})
    row = s.row("mha[0]")
    assert row.output_shapes == ((None, 6, 8), (None, 2, 6, 9))
    assert row.parents == ("inputs['q']", "inputs['kv']")


class _ActivityLoss(keras.Model):
    def __init__(self) -> None:
        super().__init__(name="activity_loss")
        self.dense = L.Dense(3, activity_regularizer="l2", name="dense")

    def call(self, x: Any) -> Any:
        return self.dense(x)


def _regularised_functional() -> Any:  # with attention: the real pass runs (real_shapes.UNRELIABLE_SPECS)
    x = keras.Input((4,), name="x")
    seq = L.Reshape((2, 2), name="seq")(L.Dense(4, activity_regularizer="l2", name="dense")(x))
    out = L.Flatten(name="flat")(L.MultiHeadAttention(1, 2, name="mha")(seq, seq))
    return keras.Model(x, out, name="regularised")


@pytest.mark.parametrize("build", [_regularised_functional, _ActivityLoss])
def test_the_passes_leave_the_model_losses_as_they_were(build: Any) -> None:
    model = build()
    model(np.ones((2, 4), "float32"))
    before = [float(v) for v in model.losses]
    toolkit.summary(model, input_shape=None if build is _regularised_functional else (4,))
    assert [float(v) for v in model.losses] == before  # a graph tensor left behind cannot be read: float() fails
