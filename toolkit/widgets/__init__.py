"""ipywidgets panels: a layer tuner, a training panel, an activation explorer. State in controls, work in functions.

Works with ipywidgets 7.7 (Colab's) and 8.x; the one difference that matters here, how a widget displays, is
bridged by :func:`toolkit.widgets.panel_base.widget_bundle`.
"""

try:
    import ipywidgets as _ipywidgets  # noqa: F401  (checked once here, before any panel module imports it)
except ImportError:
    from toolkit.i18n import tr

    raise ImportError(
        tr(
            "The widget panels need ipywidgets, which is not installed in this kernel: run `%pip install ipywidgets` "
            "in a cell (or `pip install ipywidgets` in a shell), then restart the kernel."
        )
    ) from None
