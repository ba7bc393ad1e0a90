"""Measured cost per layer: ``toolkit.profile(model, batch)`` times each summary row's call on this machine and
forecasts the seconds of a training epoch.

``records`` holds the plain records (no TensorFlow), ``measure`` the public entry, ``timing`` and ``train_step``
the two measurements; ``toolkit.render.profile_view`` renders the result. Nothing is imported here, so that the
renderer can import the records without starting TensorFlow.
"""
