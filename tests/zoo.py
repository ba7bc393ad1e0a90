"""The model zoo shared by unit tests, golden files and benchmarks: one builder per named case.

Every layer and model gets an explicit name so that rendered summaries do not depend on Keras's global
name counters (and so on which tests ran before).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from toolkit._keras import keras, tf

L = keras.layers


def mlp_sequential() -> Any:
    return keras.Sequential(
        [keras.Input((784,), name="pixels"), L.Dense(64, activation="relu", name="hidden"),
         L.Dense(10, activation="softmax", name="probs")], name="mlp")


def cnn_sequential() -> Any:
    return keras.Sequential(
        [keras.Input((28, 28, 1), name="image"), L.Conv2D(8, 3, activation="relu", name="conv1"),
         L.MaxPooling2D(name="pool1"), L.Conv2D(16, 3, padding="same", name="conv2"), L.Flatten(name="flat"),
         L.Dense(10, name="logits")], name="cnn")


def unbuilt_sequential() -> Any:
    return keras.Sequential([L.Dense(32, name="d1"), L.Dense(4, name="d2")], name="unbuilt")


def functional_mlp() -> Any:
    x = keras.Input((784,), name="digits")
    h = L.Dense(64, activation="relu", name="dense_a")(x)
    h = L.Dense(64, activation="relu", name="dense_b")(h)
    return keras.Model(x, L.Dense(10, activation="softmax", name="predictions")(h), name="functional_mlp")


def headline() -> Any:
    """Main text input + auxiliary input -> main and auxiliary outputs (the classic multi-IO example)."""
    main = keras.Input((100,), dtype="int32", name="main_input")
    x = L.Embedding(10000, 64, name="embedding")(main)
    lstm = L.LSTM(32, name="lstm")(x)
    aux_out = L.Dense(1, activation="sigmoid", name="aux_output")(lstm)
    aux_in = keras.Input((5,), name="aux_input")
    x = L.Concatenate(name="merge")([lstm, aux_in])
    x = L.Dense(64, activation="relu", name="dense_1")(x)
    out = L.Dense(1, activation="sigmoid", name="main_output")(x)
    return keras.Model([main, aux_in], [out, aux_out], name="headline")


def ticket_routing() -> Any:
    title = keras.Input((None,), name="title")
    body = keras.Input((None,), name="body")
    tags = keras.Input((12,), name="tags")
    t = L.LSTM(16, name="title_lstm")(L.Embedding(1000, 32, name="title_embed")(title))
    b = L.LSTM(8, name="body_lstm")(L.Embedding(1000, 32, name="body_embed")(body))
    x = L.Concatenate(name="features")([t, b, tags])
    priority = L.Dense(1, name="priority")(x)
    department = L.Dense(4, name="department")(x)
    return keras.Model([title, body, tags], [priority, department], name="ticket_routing")


def shared_lstm() -> Any:
    """Two tweets through one LSTM: a shared layer with two calls."""
    a = keras.Input((280, 256), name="tweet_a")
    b = keras.Input((280, 256), name="tweet_b")
    shared = L.LSTM(64, name="shared_lstm")
    merged = L.Concatenate(name="merged")([shared(a), shared(b)])
    return keras.Model([a, b], L.Dense(1, activation="sigmoid", name="same_author")(merged), name="tweets")


def shared_conv() -> Any:
    """One Conv2D applied to (32, 32, 3) and (64, 64, 3) inputs: two calls, two different shapes."""
    small = keras.Input((32, 32, 3), name="small")
    large = keras.Input((64, 64, 3), name="large")
    conv = L.Conv2D(16, 3, padding="same", name="conv")
    a = L.GlobalAveragePooling2D(name="gap_small")(conv(small))
    b = L.GlobalAveragePooling2D(name="gap_large")(conv(large))
    return keras.Model([small, large], L.Add(name="sum")([a, b]), name="shared_conv")


def toy_resnet() -> Any:
    x0 = keras.Input((32, 32, 3), name="img")
    x = L.Conv2D(32, 3, activation="relu", name="conv_a")(x0)
    x = L.Conv2D(64, 3, activation="relu", name="conv_b")(x)
    block_1 = L.MaxPooling2D(3, name="pool")(x)
    x = L.Conv2D(64, 3, activation="relu", padding="same", name="conv_c")(block_1)
    x = L.Conv2D(64, 3, activation="relu", padding="same", name="conv_d")(x)
    block_2 = L.Add(name="add_1")([x, block_1])
    x = L.Conv2D(64, 3, activation="relu", padding="same", name="conv_e")(block_2)
    x = L.BatchNormalization(name="bn")(x)
    block_3 = L.Add(name="add_2")([x, block_2])
    x = L.GlobalAveragePooling2D(name="gap")(block_3)
    x = L.Dropout(0.5, name="drop")(x)
    return keras.Model(x0, L.Dense(10, name="logits")(x), name="toy_resnet")


def autoencoder() -> Any:
    """A nested encoder/decoder: models used as layers."""
    img = keras.Input((28, 28, 1), name="enc_in")
    x = L.Flatten(name="enc_flat")(img)
    encoder = keras.Model(img, L.Dense(16, activation="relu", name="code")(x), name="encoder")
    code = keras.Input((16,), name="dec_in")
    y = L.Dense(784, activation="sigmoid", name="recon")(code)
    decoder = keras.Model(code, L.Reshape((28, 28, 1), name="to_image")(y), name="decoder")
    inp = keras.Input((28, 28, 1), name="image")
    return keras.Model(inp, decoder(encoder(inp)), name="autoencoder")


def ensemble() -> Any:
    inp = keras.Input((784,), name="x")
    members = []
    for i in range(3):
        m_in = keras.Input((784,), name=f"m{i}_in")
        members.append(keras.Model(m_in, L.Dense(10, name=f"m{i}_dense")(m_in), name=f"member_{i}"))
    return keras.Model(inp, L.Average(name="average")([m(inp) for m in members]), name="ensemble")


def twice_nested() -> Any:
    """A nested model called twice (siamese style): both calls must show."""
    e_in = keras.Input((784,), name="e_in")
    encoder = keras.Model(e_in, L.Dense(32, name="embed")(e_in), name="encoder")
    a, b = keras.Input((784,), name="left"), keras.Input((784,), name="right")
    return keras.Model([a, b], L.Subtract(name="diff")([encoder(a), encoder(b)]), name="siamese")


def time_distributed_model() -> Any:
    """TimeDistributed over a whole model: 20 digits in a row."""
    d_in = keras.Input((784,), name="digit")
    digit = keras.Model(d_in, L.Dense(10, name="digit_logits")(d_in), name="digit_model")
    seq = keras.Input((20, 784), name="sequence")
    return keras.Model(seq, L.TimeDistributed(digit, name="per_step")(seq), name="video")


class SubclassedMLP(keras.Model):
    """The MLP with optional dropout and batch-norm: layers made in __init__ may be skipped in call()."""

    def __init__(self, use_dropout: bool = False, use_bn: bool = False, name: str = "sub_mlp") -> None:
        super().__init__(name=name)
        self.use_dropout, self.use_bn = use_dropout, use_bn
        self.dense1 = L.Dense(32, activation="relu", name="dense1")
        self.dropout = L.Dropout(0.5, name="dropout")
        self.bn = L.BatchNormalization(name="bn")
        self.dense2 = L.Dense(10, activation="softmax", name="dense2")

    def call(self, inputs: Any, training: bool = False) -> Any:
        x = self.dense1(inputs)
        if self.use_dropout:
            x = self.dropout(x, training=training)
        if self.use_bn:
            x = self.bn(x, training=training)
        return self.dense2(x)


class ValueBranching(keras.Model):
    """call() branches on tensor values: a symbolic pass cannot follow it."""

    def __init__(self) -> None:
        super().__init__(name="value_branching")
        self.positive = L.Dense(4, name="positive")
        self.negative = L.Dense(4, name="negative")

    def call(self, inputs: Any) -> Any:
        if tf.reduce_sum(inputs) > 0:
            return self.positive(inputs)
        return self.negative(inputs)


class WithOwnWeights(keras.Model):
    """A subclassed model that creates a weight itself (add_weight) besides its sublayers."""

    def __init__(self) -> None:
        super().__init__(name="own_weights")
        self.dense = L.Dense(3, name="dense")

    def build(self, input_shape: Any) -> None:
        self.scale = self.add_weight(shape=(3,), initializer="ones", name="scale")
        self.dense.build(input_shape)

    def call(self, inputs: Any) -> Any:
        return self.dense(inputs) * self.scale


def residual_subclassed(blocks: int = 2) -> Any:
    class Block(L.Layer):
        def __init__(self, n: int) -> None:
            super().__init__(name=f"block{n}")
            self.a = L.Dense(16, activation="relu", name="a")
            self.b = L.Dense(16, name="b")

        def call(self, x: Any) -> Any:
            return x + self.b(self.a(x))

    class Net(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="res_net")
            self.stem = L.Dense(16, name="stem")
            self.blocks = [Block(i) for i in range(blocks)]
            self.head = L.Dense(2, name="head")

        def call(self, x: Any) -> Any:
            x = self.stem(x)
            for block in self.blocks:
                x = block(x)
            return self.head(x)

    return Net()


GRAPH_MODELS: dict[str, Callable[[], Any]] = {
    "mlp_sequential": mlp_sequential, "cnn_sequential": cnn_sequential, "functional_mlp": functional_mlp,
    "headline": headline, "ticket_routing": ticket_routing, "shared_lstm": shared_lstm,
    "shared_conv": shared_conv, "toy_resnet": toy_resnet, "autoencoder": autoencoder, "ensemble": ensemble,
    "twice_nested": twice_nested, "time_distributed_model": time_distributed_model,
}
SUBCLASSED: dict[str, tuple[Callable[[], Any], tuple[int, ...]]] = {
    "subclassed_mlp": (lambda: SubclassedMLP(), (784,)),
    "subclassed_mlp_dropout_bn": (lambda: SubclassedMLP(True, True), (784,)),
    "value_branching": (ValueBranching, (3,)),
    "own_weights": (WithOwnWeights, (5,)),
    "residual_subclassed": (residual_subclassed, (8,)),
}


def sample_batch(shape: tuple[int, ...], n: int = 2) -> np.ndarray:
    return np.ones((n,) + shape, "float32")


# --- Models nobody in this project wrote, or ordinary Keras 3 code that uses operations (issue 10) -------------
# Operations that are not layers (``x * 2.0``, ``x[:, 0]``, ``keras.ops.*``, ``x + y``, the NotEqual of
# ``mask_zero=True``) are named by Keras's global counters; tests address them by class, never by name.


def scaled_input() -> Any:
    """``x * 2.0`` in front of a Dense: a Multiply operation."""
    i = keras.Input((4,), name="x")
    return keras.Model(i, L.Dense(2, name="dense")(i * 2.0), name="scaled_input")


def sliced_input() -> Any:
    """``x[:, 0]`` picks the first step of a sequence: a GetItem operation."""
    i = keras.Input((5, 3), name="seq")
    first = i[:, 0]
    return keras.Model(i, L.Dense(2, name="dense")(first), name="sliced_input")


def keras_ops_model() -> Any:
    """keras.ops calls between layers: mean, transpose, matmul with a constant, relu."""
    i = keras.Input((6, 4), name="x")
    h = L.Dense(8, name="proj")(i)
    h = keras.ops.relu(keras.ops.transpose(h, (0, 2, 1)))
    h = keras.ops.matmul(h, keras.ops.ones((6, 3)))
    h = keras.ops.mean(h, axis=-1)
    return keras.Model(i, L.Dense(2, name="head")(h), name="keras_ops_model")


def residual_plus() -> Any:
    """A residual written as ``x + y`` (an Add operation, not an Add layer)."""
    i = keras.Input((16,), name="x")
    h = L.Dense(16, activation="relu", name="a")(i)
    h = L.Dense(16, name="b")(h)
    return keras.Model(i, L.Dense(3, name="head")(i + h), name="residual_plus")


def masked_bilstm() -> Any:
    """Embedding(mask_zero=True) then a Bidirectional LSTM: Keras adds a NotEqual operation for the mask."""
    i = keras.Input((12,), dtype="int32", name="tokens")
    x = L.Embedding(100, 8, mask_zero=True, name="embed")(i)
    x = L.Bidirectional(L.LSTM(6, name="lstm"), name="bilstm")(x)
    return keras.Model(i, L.Dense(2, name="head")(x), name="masked_bilstm")


def transformer_block_functional() -> Any:
    """A transformer encoder block written functionally with keras.ops (attention by hand, residuals as +)."""
    i = keras.Input((10, 16), name="tokens")
    q, k, v = (L.Dense(16, name=n)(i) for n in ("q", "k", "v"))
    scores = keras.ops.matmul(q, keras.ops.transpose(k, (0, 2, 1))) / 4.0
    att = keras.ops.matmul(keras.ops.softmax(scores, axis=-1), v)
    x = L.LayerNormalization(name="ln1")(i + L.Dense(16, name="out")(att))
    ff = L.Dense(16, name="ff2")(L.Dense(32, activation="relu", name="ff1")(x))
    x = L.LayerNormalization(name="ln2")(x + ff)
    return keras.Model(i, L.Dense(2, name="head")(x[:, 0]), name="transformer_functional")


def call_order_conv() -> Any:
    """One Conv2D called on (16, 16, 1) first, then on (32, 32, 1); outputs listed large branch first."""
    small = keras.Input((16, 16, 1), name="small")
    large = keras.Input((32, 32, 1), name="large")
    conv = L.Conv2D(4, 3, name="conv")
    s = L.GlobalAveragePooling2D(name="gap_s")(conv(small))
    big = L.MaxPooling2D(name="pool_l")(conv(large))
    big = L.GlobalAveragePooling2D(name="gap_l")(L.Conv2D(4, 3, name="conv_l")(big))
    return keras.Model([small, large], [big, s], name="call_order")


def nested_shared_embedding() -> Any:
    """One Embedding inside a nested encoder and also applied directly to another input of the parent."""
    emb = L.Embedding(100, 4, name="emb")
    i = keras.Input((6,), dtype="int32", name="enc_in")
    enc = keras.Model(i, L.GlobalAveragePooling1D(name="enc_gap")(emb(i)), name="enc")
    p = keras.Input((6,), dtype="int32", name="p")
    q = keras.Input((6,), dtype="int32", name="q")
    direct = L.GlobalAveragePooling1D(name="gap_p")(emb(p))
    return keras.Model([p, q], L.Concatenate(name="cat")([direct, enc(q)]), name="nested_shared")


class TiedDecoder(L.Layer):
    """Output projection tied to an Embedding's table; the constructor takes a layer, and no get_config."""

    def __init__(self, embedding: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.embedding = embedding

    def call(self, x: Any) -> Any:
        return keras.ops.matmul(x, keras.ops.transpose(self.embedding.embeddings))


def tied_weights() -> Any:
    i = keras.Input((7,), dtype="int32", name="tokens")
    emb = L.Embedding(50, 8, name="tied_embed")
    h = L.Dense(8, name="mix")(emb(i))
    return keras.Model(i, TiedDecoder(emb, name="decoder")(h), name="tied_weights")


class NoConfigScale(L.Layer):
    """A custom layer whose constructor takes a plain callable and that defines no get_config()."""

    def __init__(self, fn: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fn = fn

    def call(self, x: Any) -> Any:
        return self.fn(x)


def no_config_layer() -> Any:
    i = keras.Input((4,), name="x")
    h = NoConfigScale(lambda t: t * 3.0, name="scale")(L.Dense(4, name="dense")(i))
    return keras.Model(i, h, name="no_config")


def lambda_matmul() -> Any:
    """A Lambda doing a matrix product: its MACs are not known, so they must say unknown."""
    i = keras.Input((4, 4), name="m")
    out = L.Lambda(lambda t: keras.ops.matmul(t, t), name="square")(i)
    return keras.Model(i, L.Flatten(name="flat")(out), name="lambda_matmul")


def mobilenet_v3_small() -> Any:
    return keras.applications.MobileNetV3Small(weights=None, input_shape=(64, 64, 3))


def convnext_tiny() -> Any:
    return keras.applications.ConvNeXtTiny(weights=None, input_shape=(64, 64, 3))


def efficientnet_b0() -> Any:
    return keras.applications.EfficientNetB0(weights=None, input_shape=(64, 64, 3))


class SubclassedResidual(keras.Model):
    """``h = self.a(x); return self.b(h + x)``: b is fed through an operation."""

    def __init__(self) -> None:
        super().__init__(name="sub_residual")
        self.a = L.Dense(8, name="a")
        self.b = L.Dense(3, name="b")

    def call(self, x: Any) -> Any:
        h = self.a(x)
        return self.b(h + x)


class TransformerBlock(L.Layer):
    """The Keras guide's transformer block: attention, two residuals, layer norms, a feed-forward net."""

    def __init__(self, dim: int = 16, heads: int = 2, name: str = "block") -> None:
        super().__init__(name=name)
        self.att = L.MultiHeadAttention(heads, dim // heads, name="att")
        self.ff1 = L.Dense(2 * dim, activation="relu", name="ff1")
        self.ff2 = L.Dense(dim, name="ff2")
        self.ln1 = L.LayerNormalization(name="ln1")
        self.ln2 = L.LayerNormalization(name="ln2")

    def call(self, x: Any) -> Any:
        x = self.ln1(x + self.att(x, x))
        return self.ln2(x + self.ff2(self.ff1(x)))


class SubclassedTransformer(keras.Model):
    def __init__(self, blocks: int = 1) -> None:
        super().__init__(name="sub_transformer")
        self.proj = L.Dense(16, name="proj")
        self.blocks = [TransformerBlock(name=f"block{i}") for i in range(blocks)]
        self.pool = L.GlobalAveragePooling1D(name="pool")
        self.head = L.Dense(2, name="head")

    def call(self, x: Any) -> Any:
        x = self.proj(x)
        for block in self.blocks:
            x = block(x)
        return self.head(self.pool(x))


class SubclassedLSTM(keras.Model):
    def __init__(self) -> None:
        super().__init__(name="sub_lstm")
        self.lstm = L.LSTM(8, name="lstm")
        self.gru = L.GRU(4, return_sequences=True, name="gru")
        self.head = L.Dense(2, name="head")

    def call(self, x: Any) -> Any:
        return self.head(self.lstm(self.gru(x)))


class MatmulBlock(L.Layer):
    """A custom layer with its own matrix product besides its Dense sublayers: its MACs are unknown."""

    def __init__(self, name: str = "matmul_block") -> None:
        super().__init__(name=name)
        self.q = L.Dense(8, name="q")
        self.k = L.Dense(8, name="k")

    def call(self, x: Any) -> Any:
        return keras.ops.matmul(self.q(x), keras.ops.transpose(self.k(x), (0, 2, 1)))


class WithMatmulBlock(keras.Model):
    def __init__(self) -> None:
        super().__init__(name="with_matmul_block")
        self.block = MatmulBlock()
        self.flat = L.Flatten(name="flat")

    def call(self, x: Any) -> Any:
        return self.flat(self.block(x))


class DictInputs(keras.Model):
    """A subclassed model called on a dict of inputs."""

    def __init__(self) -> None:
        super().__init__(name="dict_inputs")
        self.a = L.Dense(4, name="from_a")
        self.b = L.Dense(4, name="from_b")

    def call(self, inputs: Any) -> Any:
        return self.a(inputs["image"]) + self.b(inputs["meta"])


# The issue-10 zoo: graph models checked by every invariant in tests/test_zoo_models.py
OPERATION_MODELS: dict[str, Callable[[], Any]] = {
    "scaled_input": scaled_input, "sliced_input": sliced_input, "keras_ops_model": keras_ops_model,
    "residual_plus": residual_plus, "masked_bilstm": masked_bilstm,
    "transformer_functional": transformer_block_functional, "call_order_conv": call_order_conv,
    "nested_shared_embedding": nested_shared_embedding, "tied_weights": tied_weights,
    "no_config_layer": no_config_layer, "lambda_matmul": lambda_matmul,
}
APPLICATIONS: dict[str, Callable[[], Any]] = {
    "MobileNetV3Small": mobilenet_v3_small, "ConvNeXtTiny": convnext_tiny, "EfficientNetB0": efficientnet_b0,
}
SUBCLASSED_ZOO: dict[str, tuple[Callable[[], Any], tuple[int, ...]]] = {
    "sub_residual": (SubclassedResidual, (8,)),
    "sub_transformer": (lambda: SubclassedTransformer(2), (10, 12)),
    "sub_lstm": (SubclassedLSTM, (9, 5)),
    "with_matmul_block": (WithMatmulBlock, (4, 6)),
}


class BadInitialState(keras.Model):
    """An LSTM given initial states of width 5 (by keyword) for its 8 units: Keras refuses the call."""

    def __init__(self) -> None:
        super().__init__(name="bad_state")
        self.dec = L.LSTM(8, name="dec")
        self.h = L.Dense(5, name="h")

    def call(self, x: Any) -> Any:
        h = self.h(x[:, 0])
        return self.dec(x, initial_state=[h, h])
