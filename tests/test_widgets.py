"""The widget panels, driven headlessly: change control values in Python and read the Output widgets.

Expected numbers are never typed in: they come from ``toolkit.summary`` of an independently built model, from
``toolkit.feature_extractor``, or from the data set itself.
"""

from __future__ import annotations

import inspect
import re
import time
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import nbformat
import numpy as np
import pytest

import toolkit
from toolkit._keras import keras
from toolkit.data import loaders as datasets
from toolkit.widgets.controls import build_defaults, make_control
from toolkit.widgets.explorer import ActivationExplorer, call_options, explore
from toolkit.widgets.panel_base import LatestOnly
from toolkit.widgets.panel_data import fit_to_input
from toolkit.widgets.panel_output import texts
from toolkit.widgets.pictures import (
    PICTURE_DPI,
    activation_bars_figure,
    feature_grid,
    probabilities,
    probability_bars_figure,
)
from toolkit.widgets.training_panel import CURVES_DPI, TrainingPanel, curves_figure
from toolkit.widgets.tuner import LayerTuner, render_state

L = keras.layers
REPO = Path(__file__).resolve().parents[1]


def build_cnn(filters: int = 8, kernel_size: int = 3, pool: bool = True) -> Any:
    layers = [keras.Input((28, 28, 1)), L.Conv2D(filters, kernel_size, activation="relu", name="conv_1")]
    if pool:
        layers.append(L.MaxPooling2D(name="pool"))
    layers += [L.Conv2D(2 * filters, kernel_size, name="conv_2"), L.Flatten(name="flat"), L.Dense(10, name="out")]
    return keras.Sequential(layers, name="cnn")


def build_mlp(units: int = 32, activation: str = "relu") -> Any:
    return keras.Sequential(
        [
            keras.Input((28, 28)),
            L.Flatten(name="flat"),
            L.Dense(units, activation=activation, name="hidden"),
            L.Dense(10, name="out"),
        ],
        name="mlp",
    )


class Recorder:
    """A build function that remembers the values it was called with (and can be slow)."""

    def __init__(self, build: Any, delay: float = 0.0) -> None:
        self.build, self.delay = build, delay
        self.calls: list[dict[str, Any]] = []
        self.__signature__ = inspect.signature(build)
        self.__name__ = build.__name__

    def __call__(self, **values: Any) -> Any:
        self.calls.append(values)
        time.sleep(self.delay)
        return self.build(**values)


def one_text(tuner: LayerTuner) -> str:
    found = texts(tuner.output)
    assert len(found) == 1, found
    return found[0]


# --- controls ---------------------------------------------------------------------------------------------


def test_specs_become_the_right_controls() -> None:
    slider = make_control("units", (8, 256, 8), 64)
    assert isinstance(slider, widgets.IntSlider)
    assert (slider.min, slider.max, slider.step, slider.value, slider.continuous_update) == (8, 256, 8, 64, False)
    rate = make_control("rate", (0.0, 0.5))
    assert isinstance(rate, widgets.FloatSlider) and rate.continuous_update is False and rate.value == 0.25
    choice = make_control("act", ["relu", "tanh"], "tanh")
    assert isinstance(choice, widgets.Dropdown) and choice.value == "tanh"
    assert isinstance(make_control("bn", True), widgets.Checkbox)
    given = widgets.IntSlider(continuous_update=True)
    assert make_control("k", given) is given and given.continuous_update is False and given.description == "k"


def test_bad_specs_and_signatures_say_how_to_fix() -> None:
    with pytest.raises(ValueError, match=r"cannot move.*use a list: k=\[3, 5, 7\]"):
        make_control("k", (3, 5, 7))
    with pytest.raises(TypeError, match="control 'units' must be"):
        make_control("units", "64")
    with pytest.raises(ValueError, match="has no parameter named 'unit'.*units, activation"):
        build_defaults(build_mlp, ["unit"])
    with pytest.raises(ValueError, match="parameter 'units' has no default and no control"):
        build_defaults(lambda units, act="relu": None, ["act"])
    with pytest.raises(TypeError, match="must be a build function"):
        LayerTuner(42, units=(1, 4))  # type: ignore[arg-type]


# --- the tuner --------------------------------------------------------------------------------------------


def test_moving_a_slider_rebuilds_and_updates_summary_and_totals() -> None:
    build = Recorder(build_mlp)
    tuner = LayerTuner(build, units=(8, 128, 8), activation=["relu", "tanh"], background=False)
    before = one_text(tuner)
    assert build.calls == [{"units": 32, "activation": "relu"}]
    tuner.controls["units"].value = 96
    assert build.calls[-1] == {"units": 96, "activation": "relu"}
    after = one_text(tuner)
    expected = toolkit.summary(build_mlp(units=96)).total_params
    old = toolkit.summary(build_mlp(units=32)).total_params
    assert tuner.state.total_params == expected != old
    assert f"Params: {expected:,} ({expected - old:+,})" in after and "since units=32" in after
    assert after != before and str(toolkit.summary(tuner.model)).splitlines()[1] in after  # the summary table
    html = tuner.output.outputs[0]["data"]["text/html"]
    assert f'class="toolkit-total-params">{expected:,}<' in html and "<svg" in html and "<?xml" not in html


def test_a_setting_that_cannot_build_shows_one_sentence_and_the_panel_keeps_working() -> None:
    tuner = LayerTuner(build_cnn, filters=(4, 16, 4), kernel_size=(1, 15, 2), background=False)
    good = tuner.state.total_params
    assert good is not None
    tuner.controls["kernel_size"].value = 15
    message = one_text(tuner)
    assert message.startswith("With filters=8, kernel_size=15 the model cannot be built")
    assert "move kernel_size back toward 3" in message and "Traceback" not in message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    assert 'class="toolkit-build-error"' in tuner.output.outputs[0]["data"]["text/html"]
    assert tuner.model is not None and tuner.model.count_params() == good  # the last model that built
    tuner.controls["kernel_size"].value = 5
    assert tuner.state.ok
    assert tuner.state.total_params == toolkit.summary(build_cnn(kernel_size=5)).total_params
    assert tuner.state.params_change == tuner.state.total_params - good  # compared with the last good setting


@pytest.mark.parametrize(
    ("build", "values", "pattern"),
    [
        (
            lambda units=-1: keras.Sequential([keras.Input((4,)), L.Dense(units)]),
            {"units": -1},
            "positive whole number; move units to a setting",
        ),
        (lambda units=3: None, {"units": 3}, r"returned NoneType, not a Keras model; end it with `return model`"),
        (lambda units=3: keras.Sequential([L.Dense(units)]), {"units": 3}, "has no Input.*input_shape="),
        (lambda units=3: 1 / 0, {"units": 3}, r"raised ZeroDivisionError \(division by zero\)"),
    ],
)
def test_render_state_turns_failures_into_a_sentence(build: Any, values: dict[str, Any], pattern: str) -> None:
    state = render_state(build, values)
    assert not state.ok and state.summary is None
    assert state.error is not None and "Traceback" not in state.error
    assert re.search(pattern, state.error), state.error


def test_render_state_is_pure_and_keeps_one_step_of_history() -> None:
    first = render_state(build_mlp, {"units": 16})
    second = render_state(build_mlp, {"units": 48}, first)
    third = render_state(build_mlp, {"units": 8}, second)
    assert second.params_change == second.total_params - first.total_params  # type: ignore[operator]
    assert third.previous is not None and third.previous.previous is None
    assert third.since() == "units=48" and third.diagram is not None and "<svg" in third.diagram.svg
    no_shape = render_state(lambda units=4: keras.Sequential([L.Dense(units)]), {"units": 4}, input_shape=(3,))
    assert no_shape.ok and no_shape.total_params == 3 * 4 + 4


def test_missing_graphviz_keeps_the_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dot(*args: Any, **kwargs: Any) -> None:
        raise toolkit.GraphvizMissing("diagram() needs Graphviz's `dot` program; install graphviz.")

    monkeypatch.setattr("toolkit.widgets.tuner.diagram", no_dot)
    state = render_state(build_mlp, {"units": 16})
    assert state.ok and state.diagram is None and "install graphviz" in state._repr_html_()


def test_without_graphviz_a_learner_sees_the_calls_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    import functools

    monkeypatch.setattr("toolkit.inspection.diagram.shutil.which", lambda name: None)
    monkeypatch.setattr("toolkit.widgets.tuner.diagram", functools.partial(toolkit.diagram, strict=False))
    page = render_state(build_mlp, {"units": 16})._repr_html_()
    assert "brew install graphviz" in page and "hidden[0] : Dense -&gt; (None, 16)  &lt;- flat[0]" in page


def test_quick_changes_never_pile_up() -> None:
    build = Recorder(build_mlp, delay=0.3)
    tuner = LayerTuner(build, units=(8, 128, 8), background=True)
    for value in range(16, 128, 8):  # 14 changes while the first rebuild is still sleeping
        tuner.controls["units"].value = value
    tuner.wait(timeout=60)
    assert len(build.calls) <= 3, build.calls  # the initial build, the one in progress, one with the newest value
    assert build.calls[-1]["units"] == 120 == tuner.state.values["units"]
    assert tuner._runner.requests == 14 and f"{toolkit.summary(build_mlp(120)).total_params:,}" in one_text(tuner)


def test_a_fast_drag_is_coalesced_into_one_rebuild_after_the_slider_settles() -> None:
    build = Recorder(build_mlp)
    tuner = LayerTuner(build, units=(8, 256, 8), background=True, debounce=0.15)
    for value in range(16, 176, 8):  # 20 steps, 10 ms apart: faster than the debounce
        tuner.controls["units"].value = value
        time.sleep(0.01)
    tuner.wait(timeout=60)
    assert [c["units"] for c in build.calls] == [32, 168], build.calls  # the first rendering, then the last step
    assert tuner.state.values["units"] == 168 and "units=168" in one_text(tuner)
    time.sleep(0.3)
    assert len(build.calls) == 2  # nothing left queued after the release


def test_debounce_waits_for_quiet_then_runs_the_newest_item_once() -> None:
    seen: list[int] = []
    runner: LatestOnly[int] = LatestOnly(seen.append, background=True, delay=0.1)
    for item in range(10):
        runner.request(item)
        time.sleep(0.01)
    assert seen == []  # still within the quiet period
    runner.wait(10)
    assert seen == [9] and runner.runs == 1 and runner.requests == 10
    with pytest.raises(ValueError, match="delay must be 0 when background=False"):
        LatestOnly(seen.append, background=False, delay=0.1)


def test_a_rebuild_overtaken_by_a_newer_setting_skips_its_drawing(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[str] = []

    def counting_diagram(model: Any, *args: Any, **kwargs: Any) -> Any:
        drawn.append(str(model.layers[-2].units))
        return toolkit.diagram(model, *args, **kwargs)

    monkeypatch.setattr("toolkit.widgets.tuner.diagram", counting_diagram)
    build = Recorder(build_mlp, delay=0.3)
    tuner = LayerTuner(build, units=(8, 128, 8), background=True, debounce=0)
    tuner.controls["units"].value = 64  # starts at once, sleeps in build
    time.sleep(0.1)
    tuner.controls["units"].value = 96  # arrives while 64 is still building: 64 is stale
    tuner.wait(timeout=60)
    assert [c["units"] for c in build.calls] == [32, 64, 96]
    assert drawn == ["32", "96"]  # no summary or diagram for the stale setting
    assert tuner.state.values["units"] == 96 and "units=96" in one_text(tuner)


def test_a_request_made_during_a_run_waits_for_it_instead_of_recursing() -> None:
    depth, seen = [0], []

    def work(item: int) -> None:
        depth[0] += 1
        assert depth[0] == 1, "work() was entered again while running"
        seen.append(item)
        if item == 1:
            runner.request(2)
            runner.request(3)
        depth[0] -= 1

    runner: LatestOnly[int] = LatestOnly(work, background=False)
    runner.request(1)
    assert seen == [1, 3] and runner.runs == 2


def test_an_exception_escaping_the_work_is_reported_by_wait() -> None:
    runner: LatestOnly[int] = LatestOnly(lambda item: None if 1 / item else None, background=True)
    runner.request(0)
    with pytest.raises(ZeroDivisionError):
        runner.wait(10)
    runner.request(1)
    runner.wait(10)  # still working


def test_snapshot_and_display_bundle_keep_a_static_copy(tmp_path: Path) -> None:
    tuner = LayerTuner(build_mlp, units=(8, 64, 8), background=False)
    tuner.set(units=64)
    snap = tuner.snapshot()
    params = f"{toolkit.summary(build_mlp(64)).total_params:,}"
    assert "static copy" in snap._repr_html_() and params in snap._repr_html_() and "units=64" in str(snap)
    saved = snap.save(tmp_path / "tuner.html").read_text()
    assert saved.startswith("<!DOCTYPE html>") and params in saved and "<script" not in saved
    with pytest.raises(ValueError, match="ending in .html"):
        snap.save(tmp_path / "tuner.png")
    bundle = tuner._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == tuner.widget.model_id
    assert params in bundle["text/html"] and params in bundle["text/plain"]
    build = Recorder(build_mlp)
    two = LayerTuner(build, units=(8, 64, 8), activation=["relu", "tanh"], background=False)
    two.set(units=16, activation="tanh")  # two controls, one rebuild
    assert build.calls == [{"units": 32, "activation": "relu"}, {"units": 16, "activation": "tanh"}]
    two.set(units=16)  # no change, no rebuild
    assert len(build.calls) == 2
    with pytest.raises(KeyError, match="no control named 'unit'"):
        tuner.set(unit=3)


def test_the_stored_copy_of_a_tuner_shows_its_diagram_as_a_png() -> None:
    """Untrusted JupyterLab and GitHub strip an SVG inside HTML (leaving its labels as run-on text) but keep an
    <img> with a data: URI, so the static copy stored in the notebook carries the diagram as a PNG."""
    import base64
    import io

    from nbval.plugin import get_sanitize_patterns
    from PIL import Image

    tuner = LayerTuner(build_mlp, units=(8, 64, 8), background=False)
    stored = tuner._repr_mimebundle_()["text/html"]
    assert "<svg" not in stored
    found = re.findall(r'<img class="toolkit-diagram" alt="([^"]*)" src="data:image/png;base64,([^"]+)"', stored)
    assert len(found) == 1 and "diagram of mlp" in found[0][0]
    png = base64.b64decode(found[0][1])
    assert Image.open(io.BytesIO(png)).format == "PNG" and len(png) < 60_000
    assert "<svg" in tuner.output.outputs[0]["data"]["text/html"]  # the live panel (trusted) keeps the SVG
    # nbval compares only that a diagram picture is there: its pixels differ between Graphviz versions
    rules = get_sanitize_patterns((REPO / "tests" / "nbval_sanitize.cfg").read_text())
    other = '<img src="data:image/png;base64,iVBORw0KGgo=" alt="loss and accuracy curves">'
    sanitized = stored + other
    for regex, replace in rules:
        sanitized = re.sub(regex, replace, sanitized)
    assert "toolkit-diagram" in sanitized and found[0][1] not in sanitized
    assert other in sanitized  # other pictures (matplotlib curves) are left alone


def panel_of(kind: str) -> Any:
    """One panel of each kind, small and synchronous (real MNIST for the two that need images)."""
    if kind == "tuner":
        return LayerTuner(build_mlp, units=(8, 64, 8), background=False)
    if kind == "training":
        return TrainingPanel(build_mlp(), "mnist", n_train=32, n_test=16, background=False)
    (_, _), (x_test, y_test) = datasets.load_mnist(limit=(10, 8))
    return ActivationExplorer(build_cnn(), x_test, y_test, background=False)


@pytest.mark.parametrize("kind", ["tuner", "training", "explorer"])
def test_every_panel_displays_live_and_static_on_this_ipywidgets_generation(kind: str, real_data: None) -> None:
    """What Jupyter does with a panel, through IPython's own formatter: on ipywidgets 7.7 (Colab's) and 8.x the
    bundle holds the live widget view and the static copy (run this file in both environments)."""
    from IPython.core.formatters import DisplayFormatter

    panel = panel_of(kind)
    data, _ = DisplayFormatter().format(panel)
    view = data["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == panel.widget.model_id and view["version_major"] == 2
    assert data["text/html"] == panel.snapshot()._repr_html_() and data["text/plain"] == str(panel.snapshot())


def test_missing_ipywidgets_is_one_sentence_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    for name in [m for m in sys.modules if m == "ipywidgets" or m.startswith(("ipywidgets.", "toolkit.widgets"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # None in sys.modules: `import ipywidgets` fails
    monkeypatch.delitem(toolkit.__dict__, "LayerTuner", raising=False)
    with pytest.raises(ImportError, match=r"need ipywidgets, which is not installed.*%pip install ipywidgets") as err:
        toolkit.LayerTuner  # noqa: B018
    assert err.value.__cause__ is None and err.value.__suppress_context__  # no chained ModuleNotFoundError


# --- data shaping -----------------------------------------------------------------------------------------


def test_fit_to_input_shapes_and_scales_images() -> None:
    images = np.full((2, 28, 28), 255, dtype=np.uint8)
    conv = build_cnn()
    assert fit_to_input(images, conv).shape == (2, 28, 28, 1) and fit_to_input(images, conv).max() == 1.0
    flat = keras.Sequential([keras.Input((784,)), L.Dense(2)])
    assert fit_to_input(images, flat).shape == (2, 784)
    raw = keras.Sequential([keras.Input((28, 28)), L.Rescaling(1 / 255), L.Flatten(), L.Dense(2)])
    assert fit_to_input(images, raw).max() == 255.0  # the model rescales itself
    with pytest.raises(ValueError, match=r"expects inputs of shape \(32, 32, 3\).*images are \(28, 28\)"):
        fit_to_input(images, keras.Sequential([keras.Input((32, 32, 3)), L.Flatten(), L.Dense(2)]))


# --- the training panel (real MNIST) ----------------------------------------------------------------------


@pytest.fixture
def real_data(data_dir: Path, cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(datasets.DATA_ENV, str(data_dir))
    monkeypatch.setenv(datasets.CACHE_ENV, str(cache_root))


class ButtonSpy(keras.callbacks.Callback):
    def __init__(self, panel: TrainingPanel) -> None:
        super().__init__()
        self.panel = panel
        self.seen: list[tuple[bool, bool]] = []

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.seen.append((self.panel.train_button.disabled, self.panel.stop_button.disabled))


@pytest.mark.slow
def test_training_panel_trains_on_real_mnist_with_live_curves(real_data: None) -> None:
    toolkit.seed(1)
    tuner = LayerTuner(build_mlp, units=(8, 64, 8), background=False)
    panel = TrainingPanel(tuner, "mnist", epochs=2, n_train=256, n_test=64, batch_size=32, background=False)
    spy = ButtonSpy(panel)
    panel.callbacks.append(spy)
    (x_train, y_train), _ = datasets.load_mnist(limit=(256, 64), seed=0)
    assert np.array_equal(panel.x_train, x_train) and np.array_equal(panel.y_train, y_train)
    panel.train_button.click()
    assert spy.seen == [(True, False), (True, False)]  # disabled while training, Stop enabled
    assert (panel.train_button.disabled, panel.stop_button.disabled) == (False, True)
    assert {k: len(v) for k, v in panel.history.items()} == {"loss": 2, "accuracy": 2, "val_loss": 2, "val_accuracy": 2}
    curves = panel.output.outputs[0]["data"]
    assert curves["image/png"] and curves["text/plain"].startswith("epoch 2: accuracy")
    assert panel.status.value.startswith("done: epoch 2") and panel.model is tuner.model
    panel.train(epochs=1)  # the same model: the curves continue
    assert len(panel.history["loss"]) == 3 and "<img" in panel.snapshot()._repr_html_()
    tuner.set(units=16)  # a new model: new curves
    panel.train(epochs=1)
    assert len(panel.history["loss"]) == 1 and panel.model is tuner.model


READABLE_PX = 12  # 9 pt on a 96-dpi screen: the smallest text a chart may show


def rendered_px(text: Any, dpi: float) -> float:
    """How many pixels tall a matplotlib Text is drawn in a PNG saved at ``dpi``."""
    return float(text.get_fontsize()) * dpi / 72


@pytest.mark.parametrize("epochs", [1, 2, 7, 40])
def test_the_curves_have_integer_epoch_ticks_that_do_not_run_together(epochs: int) -> None:
    history = {k: list(np.linspace(1, 0.1, epochs)) for k in ("loss", "accuracy", "val_loss", "val_accuracy")}
    fig = curves_figure(history)
    fig.canvas.draw()
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        labels = [t.get_text() for t in ax.get_xticklabels() if lo <= t.get_position()[0] <= hi]  # drawn ones
        assert labels and all(re.fullmatch(r"\d+", x) for x in labels), labels
        assert 1 <= len(labels) <= 10 and int(labels[0]) >= 0 and int(labels[-1]) <= epochs + 1, labels
        assert ax.get_title() and all(rendered_px(t, CURVES_DPI) >= READABLE_PX for t in ax.get_yticklabels())


def test_the_probability_chart_has_a_title_and_readable_ticks() -> None:
    p = np.array([0.05, 0.7, 0.05, 0.2])
    fig = probability_bars_figure(p, ["zero", "one", "two", "three"])
    fig.canvas.draw()
    (ax,) = fig.axes
    assert "probabilit" in ax.get_title().lower()
    ticks = [t for t in ax.get_xticklabels() + ax.get_yticklabels() if t.get_text()]
    assert {t.get_text() for t in ax.get_yticklabels()} == {"zero", "one", "two", "three"}
    small = [(t.get_text(), rendered_px(t, PICTURE_DPI)) for t in ticks if rendered_px(t, PICTURE_DPI) < READABLE_PX]
    assert not small, f"tick labels smaller than 9 pt: {small}"
    bars = activation_bars_figure(np.linspace(-1, 1, 64))
    bars.canvas.draw()
    assert bars.axes[0].get_title()
    assert all(rendered_px(t, PICTURE_DPI) >= READABLE_PX for t in bars.axes[0].get_xticklabels())


@pytest.mark.slow
def test_pressing_train_on_a_new_model_clears_the_old_curves_at_once(real_data: None) -> None:
    models = iter([build_mlp(16), build_mlp(24)])
    panel = TrainingPanel(
        lambda: next(models), "mnist", epochs=2, n_train=64, n_test=16, batch_size=32, background=False
    )
    panel.train()
    assert texts(panel.output) == [panel.summary_line()] and panel.summary_line().startswith("epoch 2")
    seen: list[list[str]] = []

    class AtStart(keras.callbacks.Callback):
        def on_train_begin(self, logs: Any = None) -> None:
            seen.append(texts(panel.output))

    panel.callbacks.append(AtStart())
    panel.train(epochs=3)  # a new model: before its first epoch ends, the old curves are gone
    assert seen == [["training epochs 1 to 3 ..."]], seen
    assert len(panel.history["loss"]) == 3


@pytest.mark.slow
def test_stop_button_stops_training_from_another_thread(real_data: None) -> None:
    panel = TrainingPanel(build_mlp(), "mnist", epochs=40, n_train=512, n_test=64, batch_size=16, background=True)
    panel.train_button.click()
    deadline = time.monotonic() + 120
    while not panel.history.get("loss") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert panel.train_button.disabled and not panel.stop_button.disabled
    panel.stop_button.click()
    panel.wait(timeout=120)
    assert 1 <= len(panel.history["loss"]) < 40 and panel.status.value.startswith("stopped")
    assert not panel.train_button.disabled and panel.stop_button.disabled


@pytest.mark.slow
def test_a_model_that_does_not_fit_the_data_gives_one_sentence(real_data: None) -> None:
    cifar_shaped = keras.Sequential([keras.Input((32, 32, 3)), L.Flatten(), L.Dense(10)])
    panel = TrainingPanel(cifar_shaped, "mnist", n_train=20, n_test=10, background=False)
    panel.train_button.click()
    assert panel.status.value.startswith("Training failed (ValueError: model") and "Traceback" not in panel.status.value
    assert not panel.train_button.disabled and panel.history == {}
    with pytest.raises(ValueError, match="data must be one of 'mnist', 'cifar10'"):
        TrainingPanel(cifar_shaped, "fashion")


# --- the activation explorer (real MNIST) -----------------------------------------------------------------


def shared_conv_model() -> Any:
    x = keras.Input((28, 28, 1), name="image")
    stem = L.Conv2D(4, 3, padding="same", activation="relu", name="stem")(x)
    conv = L.Conv2D(4, 3, padding="same", activation="relu", name="conv")  # called twice: two outputs
    y = conv(conv(stem))
    y = L.Flatten(name="flat")(L.MaxPooling2D(4, name="pool")(y))
    return keras.Model(x, L.Dense(10, activation="softmax", name="probs")(y), name="shared")


def test_call_options_list_every_call_of_a_shared_layer() -> None:
    options = dict((address, label) for label, address in call_options(shared_conv_model()))
    assert list(options) == ["stem[0]", "conv[0]", "conv[1]", "pool[0]", "flat[0]", "probs[0]"]
    assert options["conv[1]"].endswith("(call 2 of 2 of shared layer conv)") and "shared" not in options["stem[0]"]


@pytest.mark.slow
def test_explorer_shows_each_call_for_a_real_image(real_data: None, monkeypatch: pytest.MonkeyPatch) -> None:
    toolkit.seed(3)
    model = shared_conv_model()
    _, (x_test, y_test) = datasets.load_mnist(limit=(10, 30), seed=0)
    explorer = ActivationExplorer(model, x_test, y_test, background=False)
    assert explorer.layer.value == "stem[0]"  # the first call with feature maps
    explorer.layer.value = "conv[1]"
    explorer.image.value = 7
    text = texts(explorer.output)[0]
    assert (
        text.startswith(f"image 7 (label {y_test[7]}): prediction") and "conv[1]: 4 of 4 feature maps of 28x28" in text
    )
    expected = toolkit.feature_extractor(model, layers="conv")(fit_to_input(x_test[7:8], model))["conv[1]"]
    assert np.allclose(explorer.state.activation, np.asarray(expected)[0], atol=1e-6)
    assert not np.allclose(
        explorer.state.activation, explore(model, explorer.extractor, x_test, 7, "conv[0]").activation
    )  # the two calls really differ
    probs = np.asarray(model(fit_to_input(x_test[7:8], model)))[0]
    assert explorer.state.predicted == int(np.argmax(probs))
    html = explorer.output.outputs[0]["data"]["text/html"]
    assert html.count("<img") == 3 and "static copy" in explorer.snapshot()._repr_html_()
    with monkeypatch.context() as mp:  # a drawing that fails later: one sentence, and the panel keeps working
        mp.setattr("toolkit.widgets.explorer.explore", lambda *a, **k: np.zeros(3).reshape(-1, 2))
        explorer.image.value = 8
        assert texts(explorer.output) == [
            "Cannot draw conv[1] for image 8: it raised ValueError (cannot reshape "
            "array of size 3 into shape (2)); pick another layer call or image."
        ]
    explorer.image.value = 9
    assert texts(explorer.output)[0].startswith(f"image 9 (label {y_test[9]}): prediction")
    with pytest.raises(ValueError, match=r"no layer call 'conv'.*conv\[0\], conv\[1\]"):
        ActivationExplorer(model, x_test, layer="conv", background=False)
    with pytest.raises(ValueError, match="labels has 3 entries but there are 30 images"):
        ActivationExplorer(model, x_test, y_test[:3], background=False)


@pytest.mark.slow
def test_explorer_takes_one_image_array_per_input_of_a_siamese_model(real_data: None) -> None:
    a, b = keras.Input((28, 28), name="a"), keras.Input((28, 28), name="b")
    encoder = keras.Sequential(
        [keras.Input((28, 28)), L.Flatten(name="flat"), L.Dense(8, activation="relu", name="code")], name="enc"
    )
    gap = L.Lambda(lambda t: (t[0] - t[1]) ** 2, name="gap")([encoder(a), encoder(b)])
    pairs = keras.Model([a, b], L.Dense(1, activation="sigmoid", name="same")(gap), name="pairs")
    _, (x_test, y_test) = datasets.load_mnist(limit=(10, 20), seed=0)
    left, right, same = x_test[:10], x_test[10:], (y_test[:10] == y_test[10:]).astype(int)
    explorer = ActivationExplorer(pairs, [left, right], same, class_names=("different", "same"), background=False)
    assert [a for _, a in explorer.layer.options] == ["enc[0]", "enc[1]", "gap[0]", "same[0]"]
    explorer.layer.value = "enc[1]"
    explorer.image.value = 4
    p_same = float(np.asarray(pairs([fit_to_input(left[4:5], pairs, 0), fit_to_input(right[4:5], pairs, 1)]))[0, 0])
    assert np.allclose(explorer.state.probabilities, [1 - p_same, p_same])  # type: ignore[arg-type]
    assert np.allclose(explorer.state.activation, np.asarray(encoder(fit_to_input(right[4:5], encoder)))[0], atol=1e-6)
    text = texts(explorer.output)[0]
    assert (
        text.startswith(f"sample 4 (label {('different', 'same')[same[4]]}): prediction ") and "8 activations" in text
    )
    assert explorer.output.outputs[0]["data"]["text/html"].count("<img") == 4  # two inputs, bars, activations
    code_only = ActivationExplorer(encoder, left, background=False)  # a relu code is not a class prediction
    assert texts(code_only.output)[0] == "image 0: no class prediction; flat[0]: 784 activations"
    with pytest.raises(ValueError, match=r"differ in length \(10, 9\)"):
        ActivationExplorer(pairs, [left, right[:9]])


def test_feature_grid_and_probabilities() -> None:
    maps = np.random.default_rng(0).normal(size=(5, 6, 10)).astype("float32")
    maps[..., 1] = 7.0  # a constant map draws as one colour, not NaN
    grid = feature_grid(maps, max_maps=9, columns=4)
    assert grid.shape == (3 * 6 + 1, 4 * 7 + 1, 3) and grid.dtype == np.uint8
    assert feature_grid(np.arange(40.0)).shape == (2 + 2, 32 + 2, 3)  # a vector: rows of 32
    with pytest.raises(ValueError, match="cannot draw an output of shape"):
        feature_grid(np.zeros((2, 2, 2, 2)))
    logits = np.array([1.0, 2.0, 3.0])
    assert np.allclose(probabilities(logits, "linear"), np.exp(logits) / np.exp(logits).sum())  # type: ignore[arg-type]
    assert probabilities(np.array([0.2, 0.8]), "softmax")[1] == 0.8  # type: ignore[index]
    assert np.allclose(probabilities(np.array([0.3]), "sigmoid"), [0.7, 0.3])  # type: ignore[arg-type]
    assert probabilities(logits, "relu") is None  # an encoder's code is not a class prediction


# --- committed notebooks ------------------------------------------------------------------------------------


def test_committed_notebooks_store_no_widget_state() -> None:
    found = [p for folder in ("notebooks", "exercises", "course/solutions") for sub in ("", "zh")
             for p in sorted((REPO / folder / sub).glob("*.ipynb"))]
    assert found, "no notebooks found"
    stored = [str(p.relative_to(REPO)) for p in found if "widgets" in nbformat.read(p, as_version=4).metadata]
    assert not stored, (
        f"{stored} store widget state; execute them with "
        f"--ExecutePreprocessor.store_widget_state=False or delete metadata.widgets"
    )
