"""Pictures for the activation explorer: feature-map mosaics, input images and class-probability bars.

Pure functions of NumPy arrays (no Keras), so they are tested with made-up arrays in milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from toolkit.i18n import tr
from toolkit.widgets.panel_output import figure_png

PICTURE_DPI = 90  # the charts' PNGs, shown one image pixel per screen pixel
FONT_PT = 10  # 10 pt at PICTURE_DPI is 12.5 pixels: 9 pt or more on a 96-dpi screen, readable


def probabilities(output: np.ndarray, output_activation: str) -> np.ndarray | None:
    """One sample's class probabilities, read according to the activation of the model's output layer:
    ``softmax`` as given, one ``sigmoid`` unit p as (1 - p, p), ``linear`` (logits) through a softmax;
    any other output (e.g. a relu code of an encoder) is not a class prediction: None."""
    p = np.asarray(output, dtype="float64")
    if p.ndim != 1:
        return None
    if output_activation == "sigmoid" and p.size == 1:
        return np.array([1 - p[0], p[0]])
    if output_activation == "softmax":
        return p
    if output_activation == "linear" and p.size > 1:
        e = np.exp(p - p.max())
        return e / e.sum()
    return None


def feature_grid(activation: np.ndarray, max_maps: int = 32, columns: int = 8) -> np.ndarray:
    """Feature maps (H, W, C) as one RGB mosaic, each map scaled to its own range (viridis colours);
    a vector (N,) or a sequence (T, C) becomes one heat map."""
    from matplotlib import colormaps

    a = np.asarray(activation, dtype="float32")
    if a.ndim == 1:
        width = min(32, a.size)
        a = np.pad(a, (0, -a.size % width), constant_values=np.nan).reshape(-1, width)[..., None]
    elif a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3:
        raise ValueError(
            tr("cannot draw an output of shape {shape}; pick a call whose output has 1 to 3 axes.", shape=a.shape)
        )
    maps = np.moveaxis(a[..., :max_maps], -1, 0)
    lo = np.nanmin(maps, axis=(1, 2), keepdims=True)
    span = np.nanmax(maps, axis=(1, 2), keepdims=True) - lo
    scaled = np.where(span > 0, (maps - lo) / np.where(span > 0, span, 1), 0.0)
    cols = min(columns, len(maps))
    rows = -(-len(maps) // cols)
    h, w = maps.shape[1:]
    mosaic = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1, 3), 255, dtype=np.uint8)
    rgb = (colormaps["viridis"](scaled)[..., :3] * 255).astype(np.uint8)
    rgb[np.isnan(maps)] = 255
    for i, tile in enumerate(rgb):
        r, c = divmod(i, cols)
        mosaic[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + c * (w + 1) : 1 + c * (w + 1) + w] = tile
    return mosaic


def display_pixels(image: np.ndarray) -> np.ndarray:
    """An image as uint8 pixels for display: (H, W) grey or (H, W, 3) colour."""
    x = np.asarray(image)
    if x.dtype != np.uint8:
        x = np.clip(x * (255 if x.max() <= 1 else 1), 0, 255).astype(np.uint8)
    return x[..., 0] if x.ndim == 3 and x.shape[-1] == 1 else x


def probability_bars_png(p: np.ndarray, names: Sequence[str]) -> bytes:
    return figure_png(probability_bars_figure(p, names), dpi=PICTURE_DPI)


def probability_bars_figure(p: np.ndarray, names: Sequence[str]) -> Any:
    """One bar per class, the predicted one highlighted (a matplotlib Figure, made without pyplot)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3.2, 1.0 + 0.19 * len(p)))  # a row per class, tall enough for its label
    ax = fig.subplots()
    labels = [names[k] if k < len(names) else str(k) for k in range(len(p))]
    ax.barh(range(len(p)), p, color=["#d95f02" if k == int(np.argmax(p)) else "#7570b3" for k in range(len(p))])
    ax.set_yticks(range(len(p)), labels, fontsize=FONT_PT)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xticks([0, 0.5, 1], ["0", "0.5", "1"])
    ax.tick_params(axis="x", labelsize=FONT_PT)
    ax.set_title("class probabilities", fontsize=FONT_PT + 1)
    return fig


def activation_bars_png(a: np.ndarray, title: str = "activations") -> bytes:
    return figure_png(activation_bars_figure(a, title), dpi=PICTURE_DPI)


def activation_bars_figure(a: np.ndarray, title: str = "activations") -> Any:
    """A vector of activations (a dense layer's output) as one bar per unit."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(min(8.0, 2.5 + a.size / 16), 2.2))
    ax = fig.subplots()
    ax.bar(range(a.size), a, color="#1b9e77", width=0.9)
    ax.axhline(0, color="#666666", linewidth=0.5)
    ax.set_xlabel("unit", fontsize=FONT_PT)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
    ax.tick_params(labelsize=FONT_PT)
    ax.set_title(title, fontsize=FONT_PT + 1)
    return fig
