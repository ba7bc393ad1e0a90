"""ActivationExplorer: pick an image of a real data set and a layer CALL; see that call's feature maps (or
activations) as a grid, next to the image and the model's prediction.

Calls, not layers: a shared layer called twice has two outputs (``conv[0]``, ``conv[1]``), one entry each in the
dropdown, because ``toolkit.feature_extractor`` keeps one output per call. The drawing is done by the pure
functions ``explore()``, ``feature_grid()`` and ``ExplorerState._repr_html_()``; the widget only wires them.
"""

from __future__ import annotations

import html
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import numpy as np

from toolkit import panel_data
from toolkit.activation_images import display_pixels, feature_grid, probabilities, probability_bars_png
from toolkit.nodes import feature_extractor
from toolkit.panel_base import LatestOnly, Panel
from toolkit.panel_output import Snapshot, array_png, html_record, img_tag, show
from toolkit.summary import summary
from toolkit.tables import fmt_shapes


def call_options(model: Any) -> list[tuple[str, str]]:
    """``(label, address)`` for every top-level layer call of ``model``, shared layers once per call."""
    rows = [r for r in summary(model).rows if r.depth == 0 and r.called and r.class_name != "InputLayer"]
    calls = Counter(r.layer_id for r in rows)
    options = []
    for r in rows:
        label = f"{r.address}  {r.class_name} -> {fmt_shapes(r.output_shapes)}"
        if calls[r.layer_id] > 1:
            label += f"  (call {r.node_index + 1} of {calls[r.layer_id]} of shared layer {r.name})"
        options.append((label, r.address))
    return options


@dataclass(frozen=True)
class ExplorerState:
    """One image and one layer call: the call's output for that image and the model's prediction."""

    index: int
    address: str
    image: np.ndarray = field(repr=False)
    activation: np.ndarray = field(repr=False)  # the call's output for this image, batch axis removed
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
        label = f" (label {self.name(self.label)})" if self.label is not None else ""
        pred = (
            f"prediction {self.name(self.predicted)} ({self.probabilities[self.predicted]:.1%})"
            if self.probabilities is not None and self.predicted is not None
            else "no class prediction"
        )
        a = self.activation
        shown = (
            f"{min(a.shape[-1], self.max_maps)} of {a.shape[-1]} feature maps of {a.shape[0]}x{a.shape[1]}"
            if a.ndim == 3
            else f"{a.size} activations"
        )
        return f"image {self.index}{label}: {pred}; {self.address}: {shown}"

    def __str__(self) -> str:
        return self.describe()

    def _repr_html_(self) -> str:
        pixels = display_pixels(self.image)
        picture = img_tag(array_png(pixels, scale=max(1, 112 // pixels.shape[0])), f"image {self.index}")
        grid = feature_grid(self.activation, self.max_maps)
        scale = max(1, min(8, 480 // grid.shape[1]))
        maps = img_tag(array_png(grid, scale=scale), f"output of {self.address}")
        bars = (
            img_tag(probability_bars_png(self.probabilities, self.class_names), "class probabilities")
            if self.probabilities is not None
            else ""
        )
        text = html.escape(self.describe())
        return (
            f'<div class="toolkit-explorer"><p style="font-family:monospace;font-size:13px">{text}</p>'
            f'<div style="display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap">'
            f"<div>{picture}<br>{bars}</div><div>{maps}</div></div></div>"
        )


def _run(model: Any, x: np.ndarray) -> Any:
    """``model(x)`` in inference mode, without Keras's warning that a one-input model was built from
    a list of inputs (``feature_extractor`` builds its model from ``model.inputs``, a list)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")
        return model(x, training=False)


def explore(
    model: Any,
    extractor: Any,
    images: np.ndarray,
    index: int,
    address: str,
    *,
    labels: np.ndarray | None = None,
    class_names: Sequence[str] = (),
    max_maps: int = 32,
) -> ExplorerState:
    """The state for image ``index`` and layer call ``address`` (``extractor``: ``feature_extractor(model)``)."""
    x = panel_data.fit_to_input(images[index : index + 1], model)
    outputs = _run(extractor, x)
    if address not in outputs:
        raise KeyError(f"no layer call {address!r}; the calls are: {', '.join(outputs)}.")
    prediction = np.asarray(_run(model, x))
    label = None if labels is None else int(labels[index])
    return ExplorerState(
        index,
        address,
        images[index],
        np.asarray(outputs[address])[0],
        probabilities(prediction[0]) if prediction.ndim == 2 else None,
        label,
        tuple(class_names),
        max_maps,
    )


class ActivationExplorer(Panel):
    """An image slider and a layer-call dropdown over ``images`` (e.g. a test split of MNIST or CIFAR-10)."""

    title = "ActivationExplorer"

    def __init__(
        self,
        model: Any,
        images: np.ndarray,
        labels: np.ndarray | None = None,
        *,
        class_names: Sequence[str] = (),
        layer: str | None = None,
        index: int = 0,
        max_maps: int = 32,
        background: bool = True,
    ) -> None:
        if not isinstance(images, np.ndarray) or images.ndim < 2 or len(images) == 0:
            raise ValueError(
                "images must be a non-empty NumPy array of images, e.g. x_test from "
                "toolkit.datasets.load_mnist(limit=100)[1][0]."
            )
        if labels is not None and len(panel_data.labels_1d(labels)) != len(images):
            raise ValueError(f"labels has {len(labels)} entries but images has {len(images)}; pass matching arrays.")
        self.model, self.images, self.max_maps = model, images, max_maps
        self.labels = None if labels is None else panel_data.labels_1d(labels)
        self.class_names = tuple(class_names)
        self.extractor = feature_extractor(model)
        first = _run(self.extractor, panel_data.fit_to_input(images[:1], model))
        options = [(label, a) for label, a in call_options(model) if a in first]  # multi-output calls: not drawn
        addresses = [a for _, a in options]
        if layer is not None and layer not in addresses:
            raise ValueError(f"no layer call {layer!r} in model {model.name!r}; pick one of: {', '.join(addresses)}.")
        self.image = widgets.IntSlider(
            value=index, min=0, max=len(images) - 1, description="image", continuous_update=False
        )
        start = layer or _first_map(addresses, first)
        self.layer = widgets.Dropdown(
            options=options, value=start, description="layer call", layout=widgets.Layout(width="max-content")
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
        self.state = explore(
            self.model,
            self.extractor,
            self.images,
            choice[0],
            choice[1],
            labels=self.labels,
            class_names=self.class_names,
            max_maps=self.max_maps,
        )
        show(self.output, html_record(self.state._repr_html_(), str(self.state)))

    def _runners(self) -> list[LatestOnly[Any]]:
        return [self._runner]

    def snapshot(self) -> Snapshot:
        return Snapshot(f"ActivationExplorer: {self.model.name}", self.state._repr_html_(), str(self.state))


def _first_map(addresses: list[str], outputs: dict[str, Any]) -> str:
    """The first call whose output is a stack of feature maps (batch, H, W, C), else the first call."""
    return next((a for a in addresses if len(outputs[a].shape) == 4), addresses[0])
