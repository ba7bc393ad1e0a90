"""ActivationExplorer: pick an image of a real data set and a layer CALL; see that call's feature maps (or
activations) as a grid, next to the image and the model's prediction.

Calls, not layers: a shared layer called twice has two outputs (``conv[0]``, ``conv[1]``), one entry each in the
dropdown, because ``toolkit.feature_extractor`` keeps one output per call. The drawing is done by the pure
functions ``explore()``, ``feature_grid()`` and ``ExplorerState._repr_html_()``; the widget only wires them.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import numpy as np

from toolkit.i18n import N_, tr
from toolkit.inspection.nodes import feature_extractor
from toolkit.inspection.summary import summary
from toolkit.render.tables import fmt_shapes
from toolkit.widgets import panel_data
from toolkit.widgets.build_errors import cause
from toolkit.widgets.panel_base import LatestOnly, Panel
from toolkit.widgets.panel_output import Snapshot, array_png, html_record, img_tag, show
from toolkit.widgets.pictures import (
    activation_bars_png,
    display_pixels,
    feature_grid,
    probabilities,
    probability_bars_png,
)

IMAGE, SAMPLE = N_("image"), N_("sample")  # what the slider picks: an image, or one sample of a multi-input model
IT = N_("it")  # what raised, in a sentence about a call the explorer could not draw


def call_options(model: Any) -> list[tuple[str, str]]:
    """``(label, address)`` for every top-level layer call of ``model``, shared layers once per call."""
    rows = [r for r in summary(model).rows if r.depth == 0 and r.called and r.class_name != "InputLayer"]
    calls = Counter(r.layer_id for r in rows)
    options = []
    for r in rows:
        label = f"{r.address}  {r.class_name} -> {fmt_shapes(r.output_shapes)}"
        if calls[r.layer_id] > 1:
            label += tr(
                "  (call {n} of {calls} of shared layer {name})",
                n=r.node_index + 1,
                calls=calls[r.layer_id],
                name=r.name,
            )
        options.append((label, r.address))
    return options


@dataclass(frozen=True)
class ExplorerState:
    """One sample (an image, or one image per model input) and one layer call: that call's output for the
    sample and the model's prediction."""

    index: int
    address: str
    images: tuple[np.ndarray, ...] = field(repr=False)  # one per model input
    activation: np.ndarray = field(repr=False)  # the call's output for this sample, batch axis removed
    probabilities: np.ndarray | None = field(default=None, repr=False)
    label: int | None = None
    class_names: tuple[str, ...] = ()
    max_maps: int = 32

    def name(self, k: int | None) -> str:
        return "?" if k is None else self.class_names[k] if k < len(self.class_names) else str(k)

    @property
    def predicted(self) -> int | None:
        return None if self.probabilities is None else int(np.argmax(self.probabilities))

    def describe(self) -> str:
        label = tr(" (label {name})", name=self.name(self.label)) if self.label is not None else ""
        pred = (
            tr(
                "prediction {name} ({probability})",
                name=self.name(self.predicted),
                probability=format(self.probabilities[self.predicted], ".1%"),
            )
            if self.probabilities is not None and self.predicted is not None
            else tr("no class prediction")
        )
        a = self.activation
        shown = (
            tr(
                "{shown} of {maps} feature maps of {height}x{width}",
                shown=min(a.shape[-1], self.max_maps),
                maps=a.shape[-1],
                height=a.shape[0],
                width=a.shape[1],
            )
            if a.ndim == 3
            else tr("{n} activations", n=a.size)
        )
        what = tr(IMAGE) if len(self.images) == 1 else tr(SAMPLE)
        return f"{what} {self.index}{label}: {pred}; {self.address}: {shown}"

    def __str__(self) -> str:
        return self.describe()

    def _repr_html_(self) -> str:
        pictures = []
        for k, image in enumerate(self.images):
            pixels = display_pixels(image)
            scale = max(1, 112 // pixels.shape[0])
            pictures.append(
                img_tag(array_png(pixels, scale=scale), tr("input {k} of sample {index}", k=k, index=self.index))
            )
        output_of = tr("output of {address}", address=self.address)
        if self.activation.ndim == 1:
            maps = img_tag(activation_bars_png(self.activation, self.address), output_of)  # title: the call
        else:
            grid = feature_grid(self.activation, self.max_maps)
            maps = img_tag(array_png(grid, scale=max(1, min(8, 480 // grid.shape[1]))), output_of)
        bars = (
            img_tag(probability_bars_png(self.probabilities, self.class_names), tr("class probabilities"))
            if self.probabilities is not None
            else ""
        )
        text = html.escape(self.describe())
        return (
            f'<div class="toolkit-explorer"><p style="font-family:monospace;font-size:13px">{text}</p>'
            f'<div style="display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap">'
            f"<div>{' '.join(pictures)}<br>{bars}</div><div>{maps}</div></div></div>"
        )


def output_activation(model: Any) -> str:
    """The activation of the layer that makes the model's output: "softmax", "sigmoid", "linear", "relu", ..."""
    last = model.layers[-1] if getattr(model, "layers", None) else None
    if type(last).__name__ == "Softmax":
        return "softmax"
    return str(getattr(getattr(last, "activation", None), "__name__", "other"))


def explore(
    model: Any,
    extractor: Any,
    images: np.ndarray | Sequence[np.ndarray],
    index: int,
    address: str,
    *,
    labels: np.ndarray | None = None,
    class_names: Sequence[str] = (),
    max_maps: int = 32,
) -> ExplorerState:
    """The state for sample ``index`` and layer call ``address`` (``extractor``: ``feature_extractor(model)``).
    ``images``: one array of images, or a list with one array per model input (e.g. the two images of a pair)."""
    arrays = panel_data.image_arrays(images)
    x = panel_data.sample_inputs(model, arrays, index)
    outputs = extractor(x, training=False)
    if address not in outputs:
        raise KeyError(
            tr("no layer call {address!r}; the calls are: {calls}.", address=address, calls=", ".join(outputs))
        )
    prediction = model(x, training=False)
    if isinstance(prediction, dict):
        prediction = next(iter(prediction.values()))
    if isinstance(prediction, list | tuple):  # several outputs: the first one is the prediction shown
        prediction = prediction[0]
    first = np.asarray(prediction)[0]
    label = None if labels is None else int(labels[index])
    return ExplorerState(
        index,
        address,
        tuple(a[index] for a in arrays),
        np.asarray(outputs[address])[0],
        probabilities(first, output_activation(model)),
        label,
        tuple(class_names),
        max_maps,
    )


class ActivationExplorer(Panel):
    """An image slider and a layer-call dropdown over ``images`` (e.g. a test split of MNIST or CIFAR-10);
    for a model with several inputs, ``images`` is a list with one array per input (a slider picks a sample)."""

    title = "ActivationExplorer"

    def __init__(
        self,
        model: Any,
        images: np.ndarray | Sequence[np.ndarray],
        labels: np.ndarray | None = None,
        *,
        class_names: Sequence[str] = (),
        layer: str | None = None,
        index: int = 0,
        max_maps: int = 32,
        background: bool = True,
    ) -> None:
        arrays = panel_data.image_arrays(images)
        n = len(arrays[0])
        if labels is not None and len(panel_data.labels_1d(labels)) != n:
            raise ValueError(
                tr(
                    "labels has {labels} entries but there are {n} images; pass matching arrays.",
                    labels=len(labels),
                    n=n,
                )
            )
        self.model, self.images, self.max_maps = model, arrays, max_maps
        self.labels = None if labels is None else panel_data.labels_1d(labels)
        self.class_names = tuple(class_names)
        self.extractor = feature_extractor(model)
        first = self.extractor(panel_data.sample_inputs(model, arrays, 0), training=False)
        options = [(label, a) for label, a in call_options(model) if a in first]  # multi-output calls: not drawn
        addresses = [a for _, a in options]
        if layer is not None and layer not in addresses:
            raise ValueError(
                tr(
                    "no layer call {layer!r} in model {model!r}; pick one of: {calls}.",
                    layer=layer,
                    model=model.name,
                    calls=", ".join(addresses),
                )
            )
        self.image = widgets.IntSlider(
            value=index,
            min=0,
            max=n - 1,
            description=tr(IMAGE) if len(arrays) == 1 else tr(SAMPLE),
            continuous_update=False,
        )
        start = layer or _first_map(addresses, first)
        self.layer = widgets.Dropdown(
            options=options, value=start, description=tr("layer call"), layout=widgets.Layout(width="max-content")
        )
        self.output = widgets.Output()
        self._runner: LatestOnly[tuple[int, str]] = LatestOnly(self._render, background=background)
        self._render((self.image.value, self.layer.value))
        self.image.observe(self._on_change, names="value")
        self.layer.observe(self._on_change, names="value")
        self.widget = widgets.VBox([widgets.HBox([self.image, self.layer]), self.output])

    def _on_change(self, change: dict[str, Any]) -> None:
        self._runner.request((self.image.value, self.layer.value))

    def refresh(self) -> None:
        """Redraw (e.g. after training changed the weights)."""
        self._runner.request((self.image.value, self.layer.value))

    def _render(self, choice: tuple[int, str]) -> None:
        index, address = choice
        try:
            state = explore(
                self.model,
                self.extractor,
                self.images,
                index,
                address,
                labels=self.labels,
                class_names=self.class_names,
                max_maps=self.max_maps,
            )
        except Exception as err:
            if not hasattr(self, "state"):  # the first drawing: a construction error, raised to the caller
                raise
            what = self.image.description  # "image", or "sample" for a model with several inputs
            message = tr(
                "Cannot draw {address} for {what} {index}: {cause}; pick another layer call or {what}.",
                address=address,
                what=what,
                index=index,
                cause=cause(err, IT),
            )
            show(self.output, html_record(f'<p style="color:#a40000">{html.escape(message)}</p>', message))
            return
        self.state = state
        show(self.output, html_record(state._repr_html_(), str(state)))

    def _runners(self) -> list[LatestOnly[Any]]:
        return [self._runner]

    def snapshot(self) -> Snapshot:
        return Snapshot(f"ActivationExplorer: {self.model.name}", self.state._repr_html_(), str(self.state))


def _first_map(addresses: list[str], outputs: dict[str, Any]) -> str:
    """The first call whose output is a stack of feature maps (batch, H, W, C), else the first call."""
    return next((a for a in addresses if len(outputs[a].shape) == 4), addresses[0])
