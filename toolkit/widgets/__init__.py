"""ipywidgets panels: a layer tuner, a training panel, an activation explorer. State in controls, work in functions."""
