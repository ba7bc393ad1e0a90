"""Default probes: a check that reads a class the reference solution defines is probed without a probe cell.

The exercise's calibration (course/verification/calibration.py) records how the reference solution itself uses each of
its
classes: the plain-value arguments it is built with and the shapes and dtypes it is first called on. The default
probe rebuilds the class with those arguments (and with each integer argument above 1 replaced by another one drawn
from the secret seed, where the reference accepts it), calls it on inputs drawn from the seed, overwrites its
weights with values drawn from the seed, and answers with its weight shapes, its outputs, the losses it added and,
when the reference class defines ``get_config``, the outputs of a copy made with ``from_config``. The student's
class and the reference's answer the same probe; course/verification/class_probes.py compares the answers outside the
student's
process. This module only writes the probe's source (a ``probe(rng)`` function, like a probe cell's).
"""

from __future__ import annotations

from typing import Any

_HELPERS = '''import numpy as np
from tensorflow import keras


def _draw(spec, rng):
    """An input like the one the reference solution called the class on, drawn from rng."""
    if isinstance(spec, list):
        return [_draw(s, rng) for s in spec]
    if isinstance(spec, dict) and "shape" not in spec:
        return {k: _draw(s, rng) for k, s in spec.items()}
    shape = [2 if d is None else int(d) for d in spec["shape"]]
    if spec["dtype"].startswith(("int", "uint")):
        return rng.integers(0, max(2, int(spec.get("max") or 1) + 1), size=shape).astype(spec["dtype"])
    if spec["dtype"] == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    return rng.normal(size=shape).astype(spec["dtype"])


def _arrays(value):
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _arrays(v)]
    if isinstance(value, dict):
        return [a for k in sorted(value) for a in _arrays(value[k])]
    return [np.asarray(keras.ops.convert_to_numpy(value))]


def _answer(cls, args, kwargs, spec, rng, out, key, with_config):
    obj = cls(*args, **kwargs)
    x = _draw(spec, rng)
    obj(x)
    weights = [rng.uniform(0.1, 1.0, size=np.shape(w)).astype(np.asarray(w).dtype) for w in obj.get_weights()]
    obj.set_weights(weights)
    out[key + "weight_shapes"] = [list(np.shape(w)) for w in weights]
    for i, y in enumerate(_arrays(obj(x))):
        out[f"{key}y{i}"] = y
    out[key + "losses"] = np.asarray([float(keras.ops.convert_to_numpy(v)) for v in obj.losses], "float64")
    if with_config:
        clone = type(obj).from_config(obj.get_config())
        clone(x)
        clone.set_weights(weights)
        for i, y in enumerate(_arrays(clone(x))):
            out[f"{key}from_config_y{i}"] = y


def _varied(args, kwargs, rng):
    """The same arguments with each integer above 1 replaced by one drawn from rng (between 2 and twice it)."""
    def vary(v):
        return int(rng.integers(2, 2 * v + 1)) if isinstance(v, int) and not isinstance(v, bool) and v > 1 else v
    return [vary(a) for a in args], {k: vary(v) for k, v in kwargs.items()}
'''


def source(usage: dict[str, list[dict[str, Any]]], classes: dict[str, bool]) -> str:
    """The default probe of the classes ``usage`` names (class -> recorded calls: {"args", "kwargs", "inputs"});
    ``classes``: class name -> whether the reference's class defines get_config. Each answer draws from its own
    generator, seeded from ``rng`` up front, so an answer the reference cannot give shifts no other answer."""
    calls = [(name, i, call) for name, recorded in usage.items() for i, call in enumerate(recorded)]
    lines = [_HELPERS, "", "def probe(rng):", "    out = {}"]
    lines.append(f"    seeds = [int(s) for s in rng.integers(0, 2**62, size={2 * len(calls)})]")
    for k, (name, i, call) in enumerate(calls):
        key, config = f"{name}_{i}_", bool(classes.get(name))
        args, kwargs, inputs = repr(call["args"]), repr(call["kwargs"]), repr(call["inputs"])
        lines += [
            f"    _rng = np.random.default_rng(seeds[{2 * k}])",
            f"    _answer({name}, {args}, {kwargs}, {inputs}, _rng, out, {key!r}, {config})",
            f"    _rng = np.random.default_rng(seeds[{2 * k + 1}])",
            "    try:  # other sizes: only the answers the reference gives too are compared",
            f"        _args, _kwargs = _varied({args}, {kwargs}, _rng)",
            f"        _answer({name}, _args, _kwargs, {inputs}, _rng, out, {key + 'varied_'!r}, {config})",
            "    except Exception:",
            "        pass",
        ]
    lines.append("    return out")
    return "\n".join(lines) + "\n"
