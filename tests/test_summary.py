"""summary(): invariants checked against Keras itself, plus golden text/HTML renderings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zoo

import toolkit
from toolkit._keras import keras

GOLDEN = Path(__file__).parent / "golden"


def _check_golden(name: str, text: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"golden file {path} is missing: run pytest --update-goldens and review it"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; if intended, rerun with --update-goldens"


@pytest.fixture(params=sorted(zoo.GRAPH_MODELS))
def graph_model(request: pytest.FixtureRequest) -> tuple[str, object]:
    return request.param, zoo.GRAPH_MODELS[request.param]()


@pytest.fixture(params=sorted(zoo.SUBCLASSED))
def subclassed(request: pytest.FixtureRequest) -> tuple[str, object, tuple[int, ...]]:
    build, shape = zoo.SUBCLASSED[request.param]
    return request.param, build(), shape


def test_param_totals_equal_keras(graph_model: tuple[str, keras.Model]) -> None:
    _, model = graph_model
    s = toolkit.summary(model)
    assert s.total_params == model.count_params()
    assert sum(r.params for r in s.rows if r.depth == 0) == model.count_params()
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert s.trainable_params == trainable
    assert s.non_trainable_params == model.count_params() - trainable


def test_one_row_per_call_with_keras_shapes(graph_model: tuple[str, keras.Model]) -> None:
    _, model = graph_model
    s = toolkit.summary(model)
    graph = model._functional if isinstance(model, keras.Sequential) else model
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        nodes = [n for n in layer._inbound_nodes if f"{id(layer)}_ib-{layer._inbound_nodes.index(n)}" in graph._nodes]
        rows = [r for r in s.rows if r.depth == 0 and r.name == layer.name]
        assert len(rows) == len(nodes), layer.name
        for row, node in zip(rows, nodes):
            assert row.input_shapes == tuple(tuple(t.shape) for t in node.input_tensors)
            assert row.output_shapes == tuple(tuple(t.shape) for t in node.output_tensors)


def test_rows_are_in_execution_order(graph_model: tuple[str, keras.Model]) -> None:
    _, model = graph_model
    rows = toolkit.summary(model).rows
    position = {r.address: i for i, r in enumerate(rows)}
    for i, r in enumerate(rows):
        for p in r.parents:
            assert position[p] < i, f"{r.address} listed before its parent {p}"


def test_shared_layer_counts_weights_once_and_marks_repeat_calls() -> None:
    s = toolkit.summary(zoo.shared_lstm())
    calls = [r for r in s.rows if r.name == "shared_lstm"]
    assert [r.node_index for r in calls] == [0, 1]
    assert calls[0].params == 4 * 64 * (256 + 64 + 1) and calls[1].params == 0
    assert calls[0].parents == ("tweet_a[0]",) and calls[1].parents == ("tweet_b[0]",)
    assert "shared_lstm[1] *" in str(s) and "another call of a layer" in str(s)


def test_shared_conv_two_shapes() -> None:
    s = toolkit.summary(zoo.shared_conv())
    conv = [r for r in s.rows if r.name == "conv"]
    assert [r.output_shapes for r in conv] == [((None, 32, 32, 16),), ((None, 64, 64, 16),)]
    assert [r.macs for r in conv] == [32 * 32 * 16 * 9 * 3, 64 * 64 * 16 * 9 * 3]


def test_dense_and_conv_macs_match_closed_form() -> None:
    s = toolkit.summary(zoo.cnn_sequential())
    conv1, conv2, logits = s.row("conv1[0]"), s.row("conv2[0]"), s.row("logits[0]")
    assert conv1.macs == 26 * 26 * 8 * (3 * 3 * 1)
    assert conv2.macs == 13 * 13 * 16 * (3 * 3 * 8)
    assert logits.macs == 13 * 13 * 16 * 10
    assert s.row("pool1[0]").macs == 0
    assert s.total_macs == conv1.macs + conv2.macs + logits.macs


def test_rnn_macs_and_unknown_stays_unknown() -> None:
    s = toolkit.summary(zoo.headline())
    assert s.row("lstm[0]").macs == 4 * 100 * 32 * (64 + 32)
    assert s.row("embedding[0]").macs == 0
    t = toolkit.summary(zoo.ticket_routing())  # variable-length text: MACs of the LSTMs are unknown
    assert t.row("title_lstm[0]").macs is None
    assert "title_lstm[0]" in t.unknown_macs and "unknown MACs" in str(t)


def test_nested_model_called_twice_shows_both_calls() -> None:
    s = toolkit.summary(zoo.twice_nested())
    assert [r.address for r in s.rows if r.name in ("encoder", "embed")] == [
        "encoder[0]", "encoder[0]/embed[0]", "encoder[1]", "encoder[1]/embed[1]"]
    assert s.row("encoder[1]/embed[1]").depth == 1 and s.row("encoder[1]").params == 0
    top = toolkit.summary(zoo.twice_nested(), expand_nested=False)
    assert all(r.depth == 0 for r in top.rows) and top.total_params == s.total_params


def test_time_distributed_model_multiplies_macs_by_steps() -> None:
    s = toolkit.summary(zoo.time_distributed_model())
    wrapper = s.row("per_step[0]")
    model_row = s.row("per_step[0]/digit_model[0]")
    inner = s.row("per_step[0]/digit_model[0]/digit_logits[0]")
    assert (wrapper.depth, model_row.depth, inner.depth) == (0, 1, 2)
    assert model_row.input_shapes == inner.input_shapes == ((None, 784),)
    assert wrapper.output_shapes == ((None, 20, 10),) and model_row.output_shapes == ((None, 10),)
    assert wrapper.macs == 20 * model_row.macs == 20 * inner.macs == 20 * 7840
    assert s.total_params == wrapper.params == model_row.params == 7850


def test_unbuilt_sequential_with_input_shape() -> None:
    model = zoo.unbuilt_sequential()
    s = toolkit.summary(model, input_shape=(20,))
    assert [r.output_shapes for r in s.rows] == [((None, 32),), ((None, 4),)]
    assert s.total_params == model.count_params() == 20 * 32 + 32 + 32 * 4 + 4


def test_subclassed_totals_and_shapes(subclassed: tuple[str, keras.Model, tuple[int, ...]]) -> None:
    _, model, shape = subclassed
    s = toolkit.summary(model, input_shape=shape)
    assert s.total_params == model.count_params()
    out = model(zoo.sample_batch(shape))
    last = [r for r in s.rows if r.called and r.depth == 0 and r.class_name != "Weights"][-1]
    assert last.output_shapes[0][1:] == tuple(out.shape[1:])


def test_subclassed_skipped_layers_are_listed_as_never_called() -> None:
    s = toolkit.summary(zoo.SubclassedMLP(), input_shape=(784,))
    assert [(r.name, r.called) for r in s.rows] == [
        ("dense1", True), ("dense2", True), ("dropout", False), ("bn", False)]
    full = toolkit.summary(zoo.SubclassedMLP(True, True), input_shape=(784,))
    assert [r.name for r in full.rows] == ["dense1", "dropout", "bn", "dense2"]
    assert full.row("bn[0]").params == 4 * 32 and full.row("bn[0]").trainable_params == 2 * 32
    assert full.row("dense2[0]").parents == ("bn[0]",)


def test_value_branching_model_falls_back_to_a_concrete_batch() -> None:
    s = toolkit.summary(zoo.ValueBranching(), input_shape=(3,))
    assert any("traced eagerly" in n for n in s.record.notes)
    assert s.row("negative[0]").output_shapes == ((None, 4),)  # zeros: sum is 0, so the else branch
    real = toolkit.summary(zoo.ValueBranching(), sample=np.ones((2, 3), "float32"))
    assert [r.name for r in real.rows if r.called] == ["positive"]


def test_nested_layers_of_subclassed_blocks_and_tf_ops_as_parents() -> None:
    s = toolkit.summary(zoo.residual_subclassed(), input_shape=(8,))
    assert [r.address for r in s.rows] == [
        "stem[0]", "block0[0]", "block0[0]/a[0]", "block0[0]/b[0]", "block1[0]", "block1[0]/a[0]",
        "block1[0]/b[0]", "head[0]"]
    assert s.row("block1[0]").parents == ("block0[0]",)  # x + b(a(x)) is a TF op, looked through
    assert s.row("block0[0]").macs == 16 * 16 * 2


def test_own_weights_row_keeps_the_total() -> None:
    model = zoo.WithOwnWeights()
    s = toolkit.summary(model, input_shape=(5,))
    assert s.total_params == model.count_params() == 5 * 3 + 3 + 3
    assert s.rows[-1].class_name == "Weights" and s.rows[-1].params == 3


GOLDEN_CASES = {
    "functional_mlp": lambda: toolkit.summary(zoo.functional_mlp()),
    "shared_lstm": lambda: toolkit.summary(zoo.shared_lstm()),
    "autoencoder": lambda: toolkit.summary(zoo.autoencoder()),
    "headline": lambda: toolkit.summary(zoo.headline()),
    "subclassed_mlp": lambda: toolkit.summary(zoo.SubclassedMLP(True, False), input_shape=(784,)),
    # issue 10: call numbers follow Keras's node order; a layer inside a nested model and outside it
    "call_order": lambda: toolkit.summary(zoo.call_order_conv()),
    "nested_shared": lambda: toolkit.summary(zoo.nested_shared_embedding()),
    "sub_residual": lambda: toolkit.summary(zoo.SubclassedResidual(), input_shape=(8,)),
}


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden_text_and_html(case: str, update_goldens: bool) -> None:
    s = GOLDEN_CASES[case]()
    _check_golden(f"summary_{case}.txt", str(s) + "\n", update_goldens)
    _check_golden(f"summary_{case}.html", s._repr_html_() + "\n", update_goldens)
    assert s._repr_html_() == GOLDEN_CASES[case]()._repr_html_()  # deterministic: no ids, no timestamps


def test_tracing_leaves_keras_own_build_shapes_with_a_none_batch() -> None:
    model = zoo.SubclassedMLP()
    toolkit.summary(model, input_shape=(784,))
    assert model._build_shapes_dict == {"input_shape": (None, 784)}  # keras's summary would show (None, ...)
