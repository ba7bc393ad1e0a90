"""The error families the doctor knows, as plain data: which exception, which words of Keras's message, which sentence.

``FAMILIES`` is tried in order; the first row whose exception type and pattern match, and whose ``rule`` (a named
function in ``toolkit.errors.rules``) accepts the parsed groups, gives the diagnosis: the rule picks the sentence
(one message pattern can mean several mistakes: a loss's rank error is a missing Flatten or sparse labels), and
the key of that sentence in ``MESSAGES`` names the error's family. Patterns are searched in
Keras's message with terminal codes removed, case-insensitively, ``.`` matching newlines; they hold on to the
words that carry meaning and the shapes, so small rewordings still match (tests/test_error_doctor.py provokes
each error for real and fails when one stops matching). ``MESSAGES`` holds the English sentences, marked ``N_``
for the message extraction; their translations are in the toolkit's gettext catalog (``toolkit/i18n/locale``),
keyed by the English text as every toolkit message is.
"""

from __future__ import annotations

from typing import Any

from toolkit.i18n import N_

# a shape as Keras prints it: (None, 28, 28), (64,), ()
SHAPE = r"\([^()]*\)"

FAMILIES: tuple[dict[str, Any], ...] = (
    # the toolkit's own errors: already one sentence; shown without the toolkit's frames
    {"id": "toolkit", "types": ("Exception",), "pattern": "", "rule": "toolkit_own"},
    {
        "id": "concatenate_shapes",
        "types": ("ValueError",),
        "pattern": r"Concatenate.{0,40}requires inputs with matching shapes.*?input_shape=\[(?P<shapes>[^\]]*)\]",
        "rule": "concatenate",
    },
    {
        "id": "merge_shapes",  # Add, Subtract, Multiply, Average, Maximum, Minimum
        "types": ("ValueError",),
        "pattern": rf"Inputs have incompatible shapes.{{0,20}}shapes:? (?P<a>{SHAPE}) and (?P<b>{SHAPE})",
        "rule": "merge",
    },
    {
        "id": "dot_shapes",
        "types": ("ValueError",),
        "pattern": r"Incompatible input shapes: axis values (?P<size_a>\d+) \(at axis (?P<axis_a>-?\d+)\) != "
        rf"(?P<size_b>\d+) \(at axis (?P<axis_b>-?\d+)\).*?shapes:? (?P<a>{SHAPE}),? (?P<b>{SHAPE})",
        "rule": "dot",
    },
    {
        "id": "input_shape",  # the rule tells "batch_in_input" from other shape mismatches
        "types": ("ValueError",),
        "pattern": rf"Invalid input shape.*?Expected shape (?P<expected>{SHAPE}),? but input has incompatible "
        rf"shape (?P<received>{SHAPE})",
        "rule": "input_shape",
    },
    {
        "id": "input_rank",  # Conv2D on (28, 28) images, LSTM on flat vectors
        "types": ("ValueError",),
        "pattern": r"of layer ['\"](?P<layer>[^'\"]+)['\"] is incompatible with the layer: expected "
        rf"(?:min_|max_)?ndim=(?P<expected>\d+), found ndim=(?P<found>\d+).*?shape received: (?P<received>{SHAPE})",
        "rule": "input_rank",
    },
    {
        "id": "feature_size",
        "types": ("ValueError",),
        "pattern": r"of layer ['\"](?P<layer>[^'\"]+)['\"] is incompatible with the layer: expected axis "
        rf"(?P<axis>-?\d+) of input shape to have value (?P<value>\d+).*?with shape (?P<received>{SHAPE})",
        "rule": "feature_size",
    },
    {
        "id": "sparse_loss_shapes",  # sparse_categorical_crossentropy: output rank must be target rank + 1
        "types": ("ValueError",),
        "pattern": rf"`output` must have rank.{{0,40}}target.ndim - 1.*?target.shape=(?P<target>{SHAPE}),? "
        rf"output.shape=(?P<output>{SHAPE})",
        "rule": "sparse_loss",
    },
    {
        "id": "categorical_loss_shapes",  # categorical_crossentropy and friends: same rank, then same shape
        "types": ("ValueError",),
        "pattern": r"`target` and `output` must have the same (?P<what>rank|shape).*?"
        rf"target.shape=(?P<target>{SHAPE}),? output.shape=(?P<output>{SHAPE})",
        "rule": "categorical_loss",
    },
    {
        "id": "class_count_sparse",
        "types": ("InvalidArgumentError",),
        "pattern": r"label value of (?P<label>-?\d+) which is outside the valid range of \[0, (?P<classes>\d+)\)",
        "rule": "label_range",
    },
    {
        "id": "dict_input_keys",
        "types": ("ValueError", "KeyError"),
        "pattern": r"Missing data for input [\"'](?P<missing>[^\"']+)[\"'].*?keys (?P<given>\[[^\]]*\]).*?"
        r"Expected the following keys:? (?P<expected>\[[^\]]*\])",
        "rule": "input_keys",
    },
    {
        "id": "dict_loss_keys",
        "types": ("ValueError",),
        "pattern": r"Expected keys (?P<expected>\[[^\]]*\]) in (?:the )?loss dict.*?"
        r"loss.keys\(\)=(?P<given>\[[^\]]*\])",
        "rule": "loss_keys",
    },
    {
        "id": "dict_loss_keys",
        "types": ("KeyError", "ValueError"),
        "pattern": r"The path:? \((?P<given>[^)]*)\) in the `(?:loss|metrics)` argument,? can.?t be found",
        "rule": "loss_keys",
    },
    {
        "id": "dict_loss_keys",  # a metrics dict
        "types": ("ValueError",),
        "pattern": r"key mismatch; expected key\(s\):? (?P<expected>\[[^\]]*\]),? got key\(s\):? (?P<given>\[[^\]]*\])",
        "rule": "loss_keys",
    },
    {
        "id": "dict_label_keys",  # y={...} with keys that are not the output names: Keras reads a key as data
        "types": ("TypeError", "ValueError"),
        "pattern": r"Expected \w+, but got (?P<value>\w+) of type '?str'?",
        "rule": "label_keys",
    },
    {
        "id": "input_count",
        "types": ("ValueError",),
        "pattern": r"Layer [\"'](?P<model>[^\"']+)[\"'] expects (?P<expected>\d+) (?:named )?input\(s\)"
        r"(?: with keys (?P<names>\[[^\]]*\]))?,? but it received (?P<received>\d+) input",
        "rule": "input_count",
    },
    {
        "id": "keras2_node_api",
        "types": ("AttributeError",),
        "pattern": r"'(?P<cls>\w+)' object has no attribute '(?P<attr>get_(?:output|input)(?:_shape|_mask)?_at|"
        r"output_shape|input_shape|inbound_nodes|outbound_nodes)'",
        "rule": "node_api",
    },
    {
        "id": "never_called",
        "types": ("AttributeError", "ValueError"),
        "pattern": r"layer (?P<layer>\S+?) has never been called.{0,40}no defined (?P<what>input|output)",
        "rule": "never_called",
    },
    {
        "id": "unbuilt",
        "types": ("ValueError", "AttributeError"),
        "pattern": r"call `(?P<action>\w+)` on layer '(?P<layer>[^']+)', but the layer isn.?t built",
        "rule": "unbuilt",
    },
    {
        "id": "unbuilt",
        "types": ("ValueError",),
        "pattern": r"`(?P<action>set_weights)\(weights\)` on layer '(?P<layer>[^']+)'.*?expecting 0 weights",
        "rule": "unbuilt",
    },
    {
        "id": "unbuilt",
        "types": ("ValueError",),
        "pattern": r"saving a model that has not (?:yet )?been built",
        "rule": "unbuilt",
        "fields": {"action": "save_weights"},
    },
    {
        "id": "unbuilt",
        "types": ("AttributeError", "ValueError"),
        "pattern": r"must build the layer before accessing `(?P<action>\w+)`",
        "rule": "unbuilt",
    },
    {
        "id": "unbuilt",
        "types": ("AttributeError", "ValueError"),
        "pattern": r"model '(?P<layer>[^']+)' has no defined input shape",
        "rule": "unbuilt",
        "fields": {"action": "input_shape"},
    },
    {
        "id": "not_compiled",
        "types": ("ValueError", "RuntimeError"),
        "pattern": r"must call `compile\(\)` before",
        "rule": "not_compiled",
    },
)

# Keras 2's per-call inspectors -> the toolkit function that gives the same (node_index counts the layer's calls)
NODE_API = {
    "get_output_at": "output_at",
    "get_input_at": "input_at",
    "get_output_shape_at": "output_shape_at",
    "get_input_shape_at": "input_shape_at",
    "output_shape": "output_shape_at",
    "input_shape": "input_shape_at",
    "get_output_mask_at": "output_at",
    "get_input_mask_at": "input_at",
    "inbound_nodes": "calls",
    "outbound_nodes": "calls",
}

# sizes a learner passes as the batch size; a first Input axis of one of these, before a Dense layer, is suspect
BATCH_SIZES = (8, 16, 32, 64, 100, 128, 256, 512, 1024)

MESSAGES = {
    "concatenate_shapes": N_(
        "Layer {layer} cannot join inputs of shapes {shapes}: every axis except the joined one (axis={axis}) must "
        "have the same size. Make them match first, e.g. Flatten() each input (or Reshape one) before joining them."
    ),
    "merge_shapes": N_(
        "Layer {layer} needs inputs of one shape but got {a} and {b}. Make them equal first, e.g. pass the input of "
        "shape {b} through Dense({units}), or Reshape it."
    ),
    "dot_shapes": N_(
        "Layer {layer} multiplies axis {axis_a} of {a} with axis {axis_b} of {b}, but their sizes differ "
        "({size_a} != {size_b}). Make them equal, e.g. pass the second input through Dense({size_a}), or choose "
        "other axes=."
    ),
    "batch_in_input": N_(
        "Layer {layer} was declared for inputs of shape {declared}, so Keras expects batches of shape {expected} "
        "and got {received}: the {first} in {declared} looks like the batch size, which the shape leaves out. "
        "Use keras.Input(shape={fixed}) or input_shape={fixed}."
    ),
    "input_shape_reshape": N_(
        "Model {model} expects inputs of shape {expected} but got data of shape {received}: reshape the data with "
        "x.reshape(-1, {flat}), or start the model with keras.Input(shape={got}) followed by Flatten()."
    ),
    "input_shape_other": N_(
        "Model {model} expects inputs of shape {expected} but got data of shape {received}: give each sample the "
        "shape {want}, or start the model with keras.Input(shape={got})."
    ),
    "missing_channel": N_(
        "Layer {layer} needs inputs with {expected} axes (batch included) but got shape {received}, which has "
        "{found}: images need a channel axis. Add it to the data with x[..., None] and use "
        "keras.Input(shape={fixed}), or put keras.layers.Reshape({fixed}) first."
    ),
    "input_rank": N_(
        "Layer {layer} needs inputs with {expected} axes (batch included) but got shape {received}, which has "
        "{found}: reshape the data (or add a Reshape layer) so that each sample has {sample_axes} axes."
    ),
    "feature_size": N_(
        "Layer {layer} was built for inputs whose axis {axis} has size {value}, but got shape {received}: a layer "
        "fixes its input size at its first call. Give it inputs with {value} there, or use a new layer for the "
        "new size."
    ),
    "missing_flatten": N_(
        "The output of layer {layer} has shape {output} but the labels have shape {target}: a Dense layer works on "
        "the last axis only and keeps the others {extra}. Add Flatten() (or GlobalAveragePooling2D()) before the "
        "first Dense layer."
    ),
    "sparse_labels_categorical_loss": N_(
        "The labels have shape {target} (one class number per sample) but categorical_crossentropy expects one-hot "
        "rows like the output {output} of layer {layer}: use loss='sparse_categorical_crossentropy', or one-hot the "
        "labels with keras.utils.to_categorical(y, {classes})."
    ),
    "one_hot_labels_sparse_loss": N_(
        "The labels have shape {target} (one-hot rows) but sparse_categorical_crossentropy expects one class number "
        "per sample for the output {output} of layer {layer}: use loss='categorical_crossentropy', or turn the "
        "labels into class numbers with y.argmax(axis=1)."
    ),
    "class_count_sparse": N_(
        "The labels include label {label}, but layer {layer} has only {classes} units (classes 0 to {last}): give "
        "the last layer Dense({needed}, ...), one unit per class, or check that the labels run from 0 to {last}."
    ),
    "class_count_one_hot": N_(
        "The labels have shape {target} ({label_classes} classes) but layer {layer} outputs {output} ({classes} "
        "units): give the last layer Dense({label_classes}, ...), one unit per class."
    ),
    "dict_input_keys": N_(
        "Model {model} has inputs named {expected} but the data dict has keys {given}: rename the key meant for "
        "'{missing}', or name the keras.Input layers like the keys."
    ),
    "dict_loss_keys": N_(
        "The loss (or metrics) dict of model {model} has keys {given} but the model's outputs are named {expected}: "
        "use the output names as the keys."
    ),
    "dict_label_keys": N_(
        "Model {model} has outputs named {expected}, but the keys of the labels dict (y) do not match them (Keras "
        "then read the name '{value}' as label data): name the keys of y exactly like the outputs."
    ),
    "input_count": N_(
        "Model {model} has {expected} inputs {names} but got {received}: pass a list of {expected} arrays in that "
        "order, or a dict with those names as keys."
    ),
    "keras2_node_api": N_(
        "{layer} has no {attr} in Keras 3: use toolkit.{replacement}(layer, node_index) (node_index 0 is the "
        "layer's first call; a shared layer has one per call), or toolkit.calls(layer) to see every call."
    ),
    "never_called": N_(
        "Layer {layer} has no .{what}: it was never called on a keras.Input (layers of a subclassed model run only "
        "inside call()). Build the model functionally on keras.Input(shape=...) and read "
        "toolkit.output_at(layer, node_index), or see every shape with toolkit.summary(model, input_shape=...)."
    ),
    "unbuilt": N_(
        "{layer} is not built yet, so it has no weights for {action}: Keras creates them at the first call. Start "
        "the model with keras.Input(shape=...) (without the batch size), or call model.build((None, ...)) or run "
        "it once on data first."
    ),
    "not_compiled": N_(
        "Model {model} is not compiled: call model.compile(optimizer='adam', loss=..., metrics=[...]) before "
        "fit() or evaluate()."
    ),
    # not sentences of a family: the notebook hook's own lines
    "batch_in_input_warning": N_(
        "Warning: model {model} starts with an Input of shape {declared} followed by {layer}. If {first} is your "
        "batch size, leave it out: keras.Input(shape={fixed}) or input_shape={fixed}. Keras adds the batch axis "
        "itself, and fit() would fail with 'Expected shape {expected}'."
    ),
    # the words that stand in a sentence for what the traceback did not show
    "fallback_model": N_("(the model)"),
    "fallback_first_layer": N_("(the first layer)"),
    "fallback_last_layer": N_("(the last layer)"),
    "fallback_merge_layer": N_("(the merge layer)"),
    "fallback_layer": N_("The layer"),
    "fallback_output_names": N_("(the output names)"),
    "full_traceback_note": N_(
        "(The full traceback: %tb in the next cell; the exception itself: toolkit.errors.last_error().)"
    ),
}
