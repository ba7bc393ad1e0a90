"""toolkit.profile(model, batch): a measured forward time per summary row, and an epoch forecast (issue 24, item 2).

Measured times vary with the machine and its load, so the checks are invariants: one record per summary row, the
summary's MACs, positive times where a row computes, shares that add up, the forecast's arithmetic, the model left
as it was. Renderers are checked on hand-made records (no timing at all).
"""

from __future__ import annotations

import ast
import math
import string
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zoo

import toolkit
from toolkit._keras import keras
from toolkit.profiling.measure import profile
from toolkit.profiling.records import LayerTime, StepTime
from toolkit.render.profile_view import Profile

L = keras.layers
ROOT = Path(__file__).resolve().parents[1]
BATCH = 32
# layers_ms / whole_ms measured on a shared 2-core CPU (load 2-3, batch 32, 6 runs each): 1.7-2.2 for the CNN, 2.5-5.1
# for the two-branch model (each call pays TensorFlow's dispatch once; the whole model pays it once for all). The
# bound leaves room for a busy machine; below 1/2 would mean rows were missed, above 8 that the method broke.
SUM_BOUND = (0.5, 8.0)


def two_branch() -> Any:
    """A functional model with two branches on one image, merged: lesson 2's shape of model."""
    image = keras.Input((28, 28, 1), name="image")
    a = L.Conv2D(8, 3, activation="relu", name="conv")(image)
    a = L.GlobalAveragePooling2D(name="gap")(a)
    b = L.Flatten(name="flat")(image)
    b = L.Dense(16, activation="relu", name="dense")(b)
    merged = L.Concatenate(name="merge")([a, b])
    return keras.Model(image, L.Dense(10, name="logits")(merged), name="two_branch")


def mnist_like(n: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((n, 28, 28, 1), dtype="float32"), rng.integers(0, 10, n)


def compiled(model: Any) -> Any:
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


MODELS = {"cnn": zoo.cnn_sequential, "two_branch": two_branch}


@pytest.fixture(scope="module")
def profiled() -> dict[str, tuple[Any, Profile, float]]:
    toolkit.seed(0)
    x, y = mnist_like()
    out = {}
    for name, build in MODELS.items():
        model = compiled(build())
        start = time.perf_counter()
        p = profile(model, x, y, samples=10_000, runs=3)
        out[name] = (model, p, time.perf_counter() - start)
    return out


@pytest.mark.parametrize("name", MODELS)
def test_one_record_per_summary_row_with_the_summarys_macs(profiled: dict[str, Any], name: str) -> None:
    model, p, _ = profiled[name]
    rows = toolkit.summary(model).rows
    assert [r.address for r in p.rows] == [r.address for r in rows]
    assert [r.class_name for r in p.rows] == [r.class_name for r in rows]
    assert [r.macs for r in p.rows] == [r.macs for r in rows]
    for ours, theirs in zip(p.rows, rows):
        if theirs.class_name == "InputLayer":
            assert ours.forward_ms is None
        elif theirs.params or theirs.macs or theirs.called:
            assert ours.forward_ms is not None and ours.forward_ms > 0, ours
        assert ours.batch_size == BATCH


@pytest.mark.parametrize("name", MODELS)
def test_layer_times_add_up_to_about_the_whole_model(profiled: dict[str, Any], name: str) -> None:
    _, p, _ = profiled[name]
    assert p.whole_ms is not None and p.whole_ms > 0
    ratio = p.layers_ms / p.whole_ms
    assert SUM_BOUND[0] <= ratio <= SUM_BOUND[1], f"sum of layers {p.layers_ms:.3f} ms, whole {p.whole_ms:.3f} ms"


@pytest.mark.parametrize("name", MODELS)
def test_shares_and_rates_follow_from_the_times(profiled: dict[str, Any], name: str) -> None:
    _, p, _ = profiled[name]
    top = [r for r in p.rows if r.depth == 0 and r.forward_ms is not None]
    assert math.isclose(sum(r.share or 0 for r in top), 1.0, rel_tol=1e-9)
    for r in top:
        assert math.isclose(r.share or 0, (r.forward_ms or 0) / p.layers_ms)
        if r.macs:
            assert math.isclose(r.macs_per_second or 0, r.macs * BATCH / ((r.forward_ms or 0) / 1000))


@pytest.mark.parametrize("name", MODELS)
def test_forecast_is_steps_times_the_measured_step(profiled: dict[str, Any], name: str) -> None:
    _, p, _ = profiled[name]
    assert p.step is not None and p.step.method == "fit" and p.step.batch_size == BATCH and p.step.seconds > 0
    f = p.forecast()
    assert (f.samples, f.batch_size, f.steps) == (10_000, BATCH, math.ceil(10_000 / BATCH))
    assert f.epoch_s == pytest.approx(f.steps * p.step.seconds)
    assert p.forecast(60_000).epoch_s == pytest.approx(1875 * p.step.seconds)
    assert "313 steps" in str(p)


def test_profile_of_a_lesson_model_takes_at_most_10_s(profiled: dict[str, Any]) -> None:
    for name, (_, _, seconds) in profiled.items():
        assert seconds <= 10.0, f"profile() of {name} took {seconds:.1f} s"


def test_the_model_is_left_as_it_was() -> None:
    toolkit.seed(1)
    model = compiled(two_branch())
    x, y = mnist_like(8)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)  # optimizer built, moments non-zero
    before = [v.numpy().copy() for v in model.variables + model.optimizer.variables]
    p = profile(model, x, y, batch_size=4, runs=2)
    assert p.step is not None and p.step.method == "fit"
    after = [v.numpy() for v in model.variables + model.optimizer.variables]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    assert int(model.optimizer.iterations.numpy()) == 2


def test_an_uncompiled_model_times_forward_and_backward_and_says_so() -> None:
    toolkit.seed(2)
    model = two_branch()
    x, _ = mnist_like(8)
    p = profile(model, x, runs=2)
    assert p.step is not None and p.step.method == "gradient"
    assert any("forward and backward only" in n for n in p.notes)


def test_a_subclassed_model_is_timed_row_by_row_from_its_trace() -> None:
    model = zoo.residual_subclassed()
    x = np.random.default_rng(0).random((16, 8), dtype="float32")
    p = profile(model, x, runs=2)
    rows = toolkit.summary(model).rows
    assert [r.address for r in p.rows] == [r.address for r in rows]
    assert "block0[0]/a[0]" in [r.address for r in p.rows]
    assert all(r.forward_ms and r.forward_ms > 0 for r in p.rows)
    assert any("call()" in n for n in p.notes)


def _one_sentence(err: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(err.value)
    assert "\n" not in text and text.endswith(".") and len(text) < 400, text
    return text


def test_a_batch_of_the_wrong_shape_gets_one_sentence() -> None:
    model = zoo.cnn_sequential()
    with pytest.raises(
        ValueError,
        match=r"samples have shape \(32, 32, 3\), but model 'cnn' takes inputs of shape "
        r"\(28, 28, 1\)",
    ) as err:
        profile(model, np.zeros((4, 32, 32, 3), "float32"))
    assert "x_train[:128]" in _one_sentence(err)


def test_data_that_is_no_batch_gets_one_sentence() -> None:
    model = zoo.cnn_sequential()
    with pytest.raises(TypeError, match="an array of real samples") as not_data:
        profile(model, [1, 2, 3])
    _one_sentence(not_data)
    with pytest.raises(ValueError, match="labels has 3 rows but the batch has 4") as short_labels:
        profile(model, np.zeros((4, 28, 28, 1), "float32"), np.zeros(3))
    _one_sentence(short_labels)
    with pytest.raises(ValueError, match="runs must be a positive whole number") as no_runs:
        profile(model, np.zeros((4, 28, 28, 1), "float32"), runs=0)
    _one_sentence(no_runs)
    with pytest.raises(TypeError, match="needs a Keras model"):
        profile(np.zeros((4, 28, 28, 1)), np.zeros((4, 28, 28, 1)))


def test_labels_that_do_not_fit_the_loss_say_so_before_fit_would() -> None:
    model = compiled(zoo.cnn_sequential())
    model.compile(optimizer="adam", loss="categorical_crossentropy")  # wants one-hot labels
    with pytest.raises(ValueError, match="failed, as model.fit\\(\\) would") as err:
        profile(model, np.zeros((4, 28, 28, 1), "float32"), np.zeros(4, "int64"), runs=1)
    assert "\n" not in str(err.value)


def test_toolkit_profile_is_the_public_name() -> None:
    assert toolkit.profile is profile
    assert "profile" in toolkit.__all__


# --- renderers: pure functions of records ---------------------------------------------------------------------------


def hand_made(name: str = "cnn") -> Profile:
    rows = (
        LayerTime("conv[0]", "Conv2D", 0, 48_672, 0.5, 0.625, 32),
        LayerTime("flat[0]", "Flatten", 0, 0, 0.1, 0.125, 32),
        LayerTime("logits[0]", "Dense", 0, 27_040, 0.2, 0.25, 32),
    )
    step = StepTime(seconds=0.004, batch_size=128, steps_timed=5, steps_kept=3, method="fit", first_step_s=0.6)
    return Profile(
        name=name,
        kind="Sequential",
        rows=rows,
        whole_ms=0.4,
        step=step,
        device="CPU (2 cores)",
        runs=5,
        samples=10_000,
        notes=("a note",),
    )


def test_text_rendering() -> None:
    text = str(hand_made())
    assert text.splitlines()[0] == (
        'Profile of model "cnn" (Sequential) on CPU (2 cores), batch of 32: forward times, median of 5 runs'
    )
    lines = text.splitlines()
    assert (
        lines[3] == "conv[0]       Conv2D   48,672       0.500   62.5 % " + "\u2588" * 12 + "   3.1 G"
    )  # 48,672 x 32 / 0.5 ms
    assert lines[4] == "flat[0]       Flatten       0       0.100   12.5 % " + "\u2588" * 2 + "                 0"
    assert "sum of the per-layer times: 0.800 ms (2.00x the whole model)" in text
    assert "Training step (a short real fit, batch of 128): 4.0 ms, median of the last 3 of 5 steps" in text
    assert "Forecast of one epoch of 10,000 samples: 79 steps x 4.0 ms = 316.0 ms" in text
    assert text.endswith("Note: a note")


def test_html_rendering_is_safe_and_deterministic() -> None:
    p = hand_made('<b>"x"</b>')
    page = p._repr_html_()
    assert page == hand_made('<b>"x"</b>')._repr_html_()
    assert "<script" not in page and "<svg" not in page and " id=" not in page and "<b>" not in page
    assert "&lt;b&gt;" in page and page.count("<tr") == 4
    assert p.to_dict()["forecast"] == {"samples": 10_000, "steps": 79, "epoch_s": pytest.approx(0.316)}


def test_a_forecast_needs_a_size() -> None:
    p = Profile(name="m", kind="Functional", rows=(), whole_ms=None, step=None, device="CPU", runs=1)
    with pytest.raises(ValueError, match="how many samples"):
        p.forecast()
    with pytest.raises(ValueError, match="no forecast"):
        p.forecast(100)
    assert "Whole model, one forward call: - ms" in str(p)


# --- translations: every message has a Chinese text waiting to be merged --------------------------------------------

SOURCES = [ROOT / "toolkit" / "profiling" / f for f in ("measure.py", "train_step.py", "timing.py", "records.py")]
SOURCES += [ROOT / "toolkit" / "render" / "profile_view.py"]


def _messages() -> list[str]:
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "tr":
                first = node.args[0] if node.args else None
                assert isinstance(first, ast.Constant) and isinstance(first.value, str), (
                    f"{path.name}: tr() of a non-literal"
                )
                found.append(first.value)
    return found


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_every_message_has_a_chinese_translation_in_the_catalog() -> None:
    import gettext

    catalog = gettext.GNUTranslations(
        (ROOT / "toolkit" / "i18n" / "locale" / "zh_CN" / "LC_MESSAGES" / "toolkit.mo").open("rb")
    )
    messages = _messages()
    assert len(messages) > 20
    missing = [m for m in messages if catalog.gettext(m) == m]
    assert not missing, f"no Chinese text for: {missing} (python -m toolkit.i18n.refresh)"
    for english in messages:
        assert _fields(english) == _fields(catalog.gettext(english)), english
