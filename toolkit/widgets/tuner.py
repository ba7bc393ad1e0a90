"""LayerTuner: controls that rebuild a learner's model and re-render its summary, diagram and totals.

The work is the pure function ``render_state(build, values, previous)``: build the model from plain values and
describe it (summary, diagram, parameter and MAC totals with their change since ``previous``). The widget only
wires controls to it and writes the result into an ``Output`` widget, so tests need no browser.

A fast drag (keyboard arrows held down; sliders report a mouse drag once, on release) is coalesced twice over: a
rebuild starts only after the controls have been still for ``debounce`` seconds, and a rebuild overtaken by a newer
setting stops after its current stage (build, summary, diagram) instead of drawing a picture nobody will see.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import ipywidgets as widgets

from toolkit._keras import keras
from toolkit.i18n import tr
from toolkit.inspection.diagram import Diagram, GraphvizMissing, diagram
from toolkit.inspection.model_inputs import InputShape
from toolkit.inspection.summary import ModelSummary, summary
from toolkit.widgets import build_errors
from toolkit.widgets.controls import make_controls
from toolkit.widgets.panel_base import LatestOnly, Panel
from toolkit.widgets.panel_output import Snapshot, diagram_img, html_record, inline_svg, show

DEBOUNCE_S = 0.1  # quiet time before a rebuild: longer than a held arrow key's repeat (~30 ms), short to a learner


@dataclass(frozen=True)
class TunerState:
    """One setting of the controls and what it built: a summary and diagram, or one sentence saying why not."""

    values: dict[str, Any]
    summary: ModelSummary | None = None
    diagram: Diagram | None = None
    model: Any = field(default=None, repr=False, compare=False)
    error: str | None = None  # one friendly sentence when the setting cannot build
    diagram_note: str = ""  # why there is no diagram, e.g. Graphviz is not installed
    previous: TunerState | None = field(default=None, repr=False)  # the last setting that built, for changes

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def total_params(self) -> int | None:
        return None if self.summary is None else self.summary.total_params

    @property
    def total_macs(self) -> int | None:
        return None if self.summary is None else self.summary.total_macs

    @property
    def params_change(self) -> int | None:
        """Parameters gained (+) or lost (-) since the previous setting that built; None for the first."""
        return _change(self.total_params, None if self.previous is None else self.previous.total_params)

    @property
    def macs_change(self) -> int | None:
        return _change(self.total_macs, None if self.previous is None else self.previous.total_macs)

    def since(self) -> str:
        """The controls that moved since the previous setting, with their old values (``units=64``)."""
        if self.previous is None:
            return ""
        old = self.previous.values
        return build_errors.describe({k: old[k] for k in self.values if old.get(k) != self.values[k]})

    def totals_text(self) -> str:
        since = tr(" since {values}", values=self.since()) if self.since() else ""
        return tr(
            "Params: {params}{params_change} | MACs per sample: {macs}{macs_change}{since}",
            params=format(self.total_params, ","),
            params_change=_fmt_change(self.params_change),
            macs=format(self.total_macs, ","),
            macs_change=_fmt_change(self.macs_change),
            since=since,
        )

    def __str__(self) -> str:
        if self.error is not None:
            return self.error
        return "\n".join([build_errors.describe(self.values), self.totals_text(), str(self.summary)])

    def _repr_html_(self) -> str:
        return self.html()

    def html(self, *, static: bool = False) -> str:
        """The panel's page; ``static=True`` (the copy stored in a notebook) draws the diagram as a PNG, which
        viewers that sanitize HTML keep, instead of an inline SVG."""
        if self.error is not None:
            style = "color:#a40000;font-weight:bold"
            return f'<p class="toolkit-build-error" style="{style}">{html.escape(self.error)}</p>'
        assert self.summary is not None
        change = html.escape(tr("(change since {values})", values=self.since()))
        params, macs = html.escape(tr("Params:")), html.escape(tr("MACs per sample:"))
        since = f' <span style="color:#666">{change}</span>' if self.since() else ""
        totals = (
            f'<p class="toolkit-totals" style="font-family:monospace;font-size:13px">'
            f"{html.escape(build_errors.describe(self.values))} &middot; {params} "
            f'<b class="toolkit-total-params">{self.total_params:,}</b>{_fmt_change(self.params_change)} &middot; '
            f'{macs} <b class="toolkit-total-macs">{self.total_macs:,}</b>'
            f"{_fmt_change(self.macs_change)}{since}</p>"
        )
        picture = (
            self._picture(self.diagram, static)
            if self.diagram is not None
            else f'<p style="color:#a40000">{html.escape(self.diagram_note)}</p>'
            if self.diagram_note
            else ""
        )
        return (
            f'<div class="toolkit-tuner">{totals}<div style="display:flex;flex-wrap:wrap;gap:16px;'
            f'align-items:flex-start"><div>{self.summary._repr_html_()}</div><div>{picture}</div></div></div>'
        )

    @staticmethod
    def _picture(d: Diagram, static: bool) -> str:
        if not d.svg:  # Graphviz is missing: the calls as text
            return d._repr_html_() or ""
        if not static:
            return inline_svg(d.svg)
        png = d._repr_png_()
        assert png is not None
        return diagram_img(png[0], d.name, png[1]["width"])


class Superseded(Exception):
    """A newer setting arrived while this one was being rendered (see ``render_state``'s ``stale``)."""


def _change(now: int | None, before: int | None) -> int | None:
    return None if now is None or before is None else now - before


def _fmt_change(delta: int | None) -> str:
    return "" if delta is None else f" ({delta:+,})"


def render_state(
    build: Callable[..., Any],
    values: dict[str, Any],
    previous: TunerState | None = None,
    *,
    input_shape: InputShape = None,
    show_diagram: bool = True,
    stale: Callable[[], bool] = lambda: False,
) -> TunerState:
    """Build ``build(**values)`` and describe it; a failure becomes a one-sentence ``error``, never an exception.

    ``previous`` is the last setting that built: totals are compared with it, and an error names the controls
    that moved since it. ``stale()`` is asked between the stages: when it says True, :class:`Superseded` is raised
    instead of doing the rest (the panel has a newer setting to render).
    """
    if previous is not None:
        previous = replace(previous, previous=None)  # keep one step of history, not a chain of every model
    good = None if previous is None else previous.values
    try:
        model = build(**values)
    except Exception as err:
        return TunerState(values, error=build_errors.friendly_error(err, values, good), previous=previous)
    if not isinstance(model, keras.Model):
        return TunerState(
            values, error=build_errors.not_a_model(model, getattr(build, "__name__", "build")), previous=previous
        )
    if input_shape is None and not model.built:
        return TunerState(values, error=build_errors.no_input_shape(), previous=previous)
    if stale():
        raise Superseded
    try:
        info = summary(model, input_shape)
    except Exception as err:
        return TunerState(values, error=build_errors.friendly_error(err, values, good), previous=previous)
    picture, note = None, ""
    if stale():
        raise Superseded
    if show_diagram:
        try:
            picture = diagram(model, input_shape)
        except Exception as err:  # GraphvizMissing says how to install it; anything else in one line
            note = (
                str(err)
                if isinstance(err, GraphvizMissing)
                else tr("No diagram: {cause}.", cause=build_errors.cause(err))
            )
    return TunerState(values, info, picture, model, None, note, previous)


class LayerTuner(Panel):
    """Controls for a build function's arguments; every change rebuilds the model and re-renders it.

    ``LayerTuner(build, units=(8, 256, 8), activation=["relu", "tanh"], batchnorm=False)``: each keyword names
    a parameter of ``build`` and gives its control. ``background=True`` rebuilds in a thread so that quick
    changes collapse into one rebuild with the newest values (they never pile up), ``debounce`` seconds after the
    last change (``benchmarks/bench_tuner.py`` compares settings).
    """

    title = "LayerTuner"

    def __init__(
        self,
        build: Callable[..., Any],
        *,
        input_shape: InputShape = None,
        show_diagram: bool = True,
        background: bool = True,
        debounce: float = DEBOUNCE_S,
        **controls: Any,
    ) -> None:
        self.build = build
        self.controls = make_controls(build, controls)
        self.input_shape = input_shape
        self.show_diagram = show_diagram
        self.output = widgets.Output()
        self.status = widgets.HTML()
        self._last_good: TunerState | None = None
        self._setting = False
        delay = debounce if background else 0.0  # without a thread each change renders at once
        self._runner: LatestOnly[dict[str, Any]] = LatestOnly(self._render, background=background, delay=delay)
        self._render(self.values())  # the first rendering is synchronous: the cell's output is complete
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        row = widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        self.widget = widgets.VBox([row, self.status, self.output])

    def values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    @property
    def model(self) -> Any:
        """The model of the current setting, or of the last setting that built if the current one cannot."""
        return self.state.model if self.state.ok else (self._last_good and self._last_good.model)

    def set(self, **values: Any) -> None:
        """Move controls from code, as a learner would (``tuner.set(units=128, depth=2)``): one rebuild."""
        for name in values:
            if name not in self.controls:
                raise KeyError(
                    tr(
                        "no control named {name!r}; the controls are: {names}.",
                        name=name,
                        names=", ".join(self.controls),
                    )
                )
        before = self.values()
        self._setting = True  # the rebuild waits until every value is in place
        try:
            for name, value in values.items():
                self.controls[name].value = value
        finally:
            self._setting = False
        if self.values() != before:
            self._on_change({})

    def _on_change(self, change: dict[str, Any]) -> None:
        if self._setting:
            return
        self.status.value = '<span style="color:#666">rebuilding...</span>'
        self._runner.request(self.values())

    def _render(self, values: dict[str, Any]) -> None:
        try:
            state = render_state(
                self.build,
                values,
                self._last_good,
                input_shape=self.input_shape,
                show_diagram=self.show_diagram,
                stale=self._runner.superseded,
            )
        except Superseded:
            return  # the runner goes on with the newer setting at once
        self.state = state
        if state.ok:
            self._last_good = state
        show(self.output, html_record(state._repr_html_(), str(state)))
        self.status.value = ""

    def _runners(self) -> list[LatestOnly[Any]]:
        return [self._runner]

    def snapshot(self) -> Snapshot:
        return Snapshot(
            f"LayerTuner: {build_errors.describe(self.state.values)}", self.state.html(static=True), str(self.state)
        )
