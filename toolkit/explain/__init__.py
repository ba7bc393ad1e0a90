"""Explanations: every number of a summary row as a formula with the layer's own values filled in.

``records`` holds the plain records (no TensorFlow); ``params``, ``shapes``, ``costs`` and ``receptive`` turn
facts and call records into terms (pure); ``rows`` assembles one row's or the totals' explanation; ``explainer``
reads the facts it needs from Keras (through ``toolkit.keras_graph``) once per summary. Rendering lives in
``toolkit.render.explanation_view``.
"""
