"""The one place that imports TensorFlow and Keras, quiets their start-up noise and seeds them.

Every other toolkit module gets ``keras`` and ``tf`` from here, so that the environment variables below are
set before TensorFlow's first import, whichever toolkit function a learner calls first.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from toolkit.doctor.support import EnvironmentProblem, import_problem, missing_problem

# These must be set before TensorFlow is imported for the first time. They silence the C++ INFO/WARNING
# lines that can be silenced; oneDNN's and CUDA's start-up lines come from code that ignores them, which is
# why the notebooks also sanitise stderr.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# An environment the course cannot run in (Python too old, TF_USE_LEGACY_KERAS on, TensorFlow or Keras missing or
# out of range, Keras 2 as `keras`) stops here with one sentence and its fix, not a traceback from inside TensorFlow.
_problem = import_problem()
if _problem:
    raise EnvironmentProblem(_problem)


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null while TensorFlow's C++ libraries load.

    Their start-up lines ("oneDNN custom operations are on", "All log messages before
    absl::InitializeLog()") ignore TF_CPP_MIN_LOG_LEVEL and, in Jupyter, land in the first cell's output on
    some runs and not others. Python-level errors still propagate as exceptions.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (some embedded interpreters)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


for _needed in ("tensorflow", "keras"):  # a missing one is a sentence here, not a ModuleNotFoundError from TF
    if importlib.util.find_spec(_needed) is None:
        raise EnvironmentProblem(missing_problem(_needed))

with _native_stderr_silenced():
    import tensorflow as tf
    from tensorflow import keras  # tf.keras is Keras 3 with TF 2.16+

_problem = import_problem(getattr(keras, "__version__", None), getattr(keras, "__name__", None))
if _problem:
    raise EnvironmentProblem(_problem)

tf.get_logger().setLevel(logging.ERROR)
logging.getLogger("absl").setLevel(logging.ERROR)

__all__ = ["device", "keras", "tf", "seed"]

_threads_configured = False


def seed(n: int = 42, *, threads: int | None = None) -> None:
    """Seed Python, NumPy and TensorFlow with ``n`` so that training on the CPU repeats exactly.

    ``threads`` fixes TensorFlow's intra- and inter-op thread counts; TensorFlow accepts that only before its
    first operation, so call ``seed`` in a notebook's first cell.
    """
    global _threads_configured
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"seed must be a non-negative int (got {n!r}). Use e.g. toolkit.seed(42).")
    if threads is not None and not _threads_configured:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError as err:  # raised once any op has run
            raise RuntimeError(
                "TensorFlow's thread counts can only be set before its first operation. "
                "Restart the kernel and call toolkit.seed(..., threads=...) in the first cell."
            ) from err
        _threads_configured = True
    keras.utils.set_random_seed(n)


def device() -> str:
    """Where Keras trains here, for the time budgets the lessons print: ``"GPU (NVIDIA T4)"`` or ``"CPU (2 cores)"``.

    Keras places work on the first GPU by itself when TensorFlow sees one; no lesson code changes.
    """
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        name = details.get("device_name") or gpus[0].name
        return f"GPU ({name})" if len(gpus) == 1 else f"{len(gpus)} GPUs ({name}, ...)"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"CPU ({cores} cores)"
