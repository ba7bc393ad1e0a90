"""Control specs -> ipywidgets: ``(min, max)`` or ``(min, max, step)`` -> slider, a list -> dropdown,
``True``/``False`` -> checkbox; a ready-made ipywidget is used as given. Sliders only report a value when
released (``continuous_update=False``), so dragging does not rebuild the model at every pixel.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from toolkit.i18n import N_, tr

SPEC_HELP = N_("(min, max), (min, max, step), a list of choices, True/False or an ipywidget")
_STYLE = {"description_width": "initial"}


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def make_control(name: str, spec: Any, default: Any = inspect.Parameter.empty) -> Any:
    """One widget for the control ``name``; ``default`` (the build function's default) is its first value."""
    if isinstance(spec, widgets.ValueWidget):
        if hasattr(spec, "continuous_update"):
            spec.continuous_update = False
        if not spec.description:
            spec.description = name
        return spec
    if isinstance(spec, bool):
        return widgets.Checkbox(value=spec, description=name, indent=False)
    if isinstance(spec, tuple) and len(spec) in (2, 3) and all(_is_number(x) for x in spec):
        return _slider(name, spec, default)
    if isinstance(spec, dict) and spec:
        value = default if default in spec.values() else next(iter(spec.values()))
        return widgets.Dropdown(options=list(spec.items()), value=value, description=name, style=_STYLE)
    if isinstance(spec, list | tuple) and spec:
        value = default if default in spec else spec[0]
        return widgets.Dropdown(options=list(spec), value=value, description=name, style=_STYLE)
    raise TypeError(
        tr(
            "control {name!r} must be {help}; got {spec!r} (a {type}). For example {name}=(8, 128, 8) for a slider "
            "or {name}=[3, 5, 7] for a dropdown.",
            name=name,
            help=tr(SPEC_HELP),
            spec=spec,
            type=type(spec).__name__,
        )
    )


def _slider(name: str, spec: tuple[Any, ...], default: Any) -> Any:
    lo, hi = spec[0], spec[1]
    is_float = any(isinstance(x, float) for x in spec)
    step = spec[2] if len(spec) == 3 else ((hi - lo) / 20 if is_float else 1)
    if not lo < hi or step <= 0 or step > hi - lo:
        raise ValueError(
            tr(
                "control {name}={spec!r} reads as a slider from {lo} to {hi} in steps of {step}, which cannot move. "
                "Use (min, max) or (min, max, step) with min < max and 0 < step <= max - min; for a choice among "
                "these values use a list: {name}={values!r}.",
                name=name,
                spec=spec,
                lo=lo,
                hi=hi,
                step=step,
                values=list(spec),
            )
        )
    # without a usable default, start like ipywidgets.interact: in the middle of the range, on a step
    middle = lo + round((hi - lo) / 2 / step) * step
    value = default if _is_number(default) and lo <= default <= hi else middle
    cls = widgets.FloatSlider if is_float else widgets.IntSlider
    extra = {"readout_format": _float_format(step)} if is_float else {}
    return cls(min=lo, max=hi, step=step, value=value, description=name, continuous_update=False, style=_STYLE, **extra)


def _float_format(step: float) -> str:
    decimals = max(0, min(4, len(f"{step:.4f}".rstrip("0").split(".")[1])))
    return f".{decimals}f"


def build_defaults(build: Callable[..., Any], names: list[str]) -> dict[str, Any]:
    """The build function's default values; a control it cannot accept, or a required
    parameter without a control, is an error naming the fix."""
    if not callable(build):
        raise TypeError(
            tr(
                "the first argument must be a build function that takes the control values and returns a Keras "
                "model (got {build!r}); e.g. def build(units=64): return keras.Sequential(...)",
                build=build,
            )
        )
    if not names:
        raise ValueError(tr("give at least one control, e.g. LayerTuner(build, units=(8, 128, 8))."))
    what = f"{getattr(build, '__name__', 'build')}()"
    params = inspect.signature(build).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    named = {n: p for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for name in names:
        if name not in named and not takes_any:
            raise ValueError(
                tr(
                    "{what} has no parameter named {name!r} (its parameters: {params}); rename the control to one "
                    "of them or add a {name} parameter to {what}.",
                    what=what,
                    name=name,
                    params=", ".join(named) or tr("none"),
                )
            )
    for name, p in named.items():
        if p.default is p.empty and name not in names:
            raise ValueError(
                tr(
                    "{what} parameter {name!r} has no default and no control; add a control, e.g. "
                    "LayerTuner({build}, {name}=(1, 10)), or give {name} a default value.",
                    what=what,
                    name=name,
                    build=what[:-2],
                )
            )
    return {n: p.default for n, p in named.items() if p.default is not p.empty}


def make_controls(build: Callable[..., Any], specs: dict[str, Any]) -> dict[str, Any]:
    """One widget per spec, starting at the build function's defaults where they fit."""
    defaults = build_defaults(build, list(specs))
    return {name: make_control(name, spec, defaults.get(name, inspect.Parameter.empty)) for name, spec in specs.items()}
