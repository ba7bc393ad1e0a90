"""``setup_notebook()``: the toolkit's half of every notebook's first cell.

The cell (written by ``course sync-notebooks`` or ``course publish``) first tries ``import toolkit``; only where
that fails (Colab, Kaggle, any Python without the course) it pip-installs the toolkit with ``--no-deps``, so the
preinstalled TensorFlow and Keras stay as they are: from the course's repository once ``course publish`` has named
one, else only from ``KERAS_COURSE_INSTALL``. Then it calls this function, which enables Colab's custom widget manager
where there is one and says in one line what was done. On a local install it prints nothing at all, so the
stored outputs of the lessons stay valid. Importing this module never starts TensorFlow.
"""

from __future__ import annotations

import os

from toolkit.doctor.support import installed_version

# what the setup cell installs besides the toolkit (with --no-deps too): the light packages a hosted notebook
# may lack; TensorFlow, Keras, NumPy, Pillow, matplotlib and ipywidgets are preinstalled there and never touched
LIGHT_DEPENDENCIES = ("pydot",)


def setup_notebook(installed_from: str = "") -> None:
    """Enable Colab's widget manager if this is Colab; print one line if anything was done, else nothing.

    ``installed_from``: what the setup cell just pip-installed (empty when ``toolkit`` was already importable).
    Returns None, so the cell shows no ``Out[...]`` value.
    """
    from toolkit.doctor.support import startup_problem

    problem = startup_problem()
    if problem:  # one sentence in the cell's output, not a traceback from deep inside TensorFlow
        raise SystemExit(problem)
    done = []
    if installed_from:
        done.append(f"installed the course toolkit from {installed_from} with --no-deps, keeping {preinstalled()}")
    if enable_colab_widgets():
        done.append("enabled Colab's custom widget manager for the panels")
    install_error_doctor()
    if done:
        print("Setup: " + "; ".join(done) + ".")


def preinstalled() -> str:
    """``TensorFlow 2.20.0 and Keras 3.13.2`` as installed (read from package metadata, without importing)."""
    found = []
    for label, names in (("TensorFlow", ("tensorflow", "tensorflow-cpu")), ("Keras", ("keras",))):
        version = next((v for v in map(installed_version, names) if v), None)
        found.append(f"{label} {version}" if version else f"{label} (not installed)")
    return " and ".join(found)


def enable_colab_widgets() -> bool:
    """Turn on Colab's custom widget manager (third-party widgets stay blank without it); False off Colab."""
    try:
        from google.colab import output
    except ImportError:
        return False
    output.enable_custom_widget_manager()
    return True


def install_error_doctor() -> bool:
    """In IPython (a notebook kernel): show known Keras errors as one sentence and the learner's frames; else nothing.

    The full traceback stays one ``%tb`` away (``toolkit.errors.ipython_hook``); silent, so stored outputs stay valid.
    Not in a kernel the course's grader runs (``KERAS_COURSE_GRADING``): nobody reads its tracebacks there, and the
    grader reviews every change to IPython's hooks.
    """
    if os.environ.get("KERAS_COURSE_GRADING"):
        return False
    from toolkit.errors.ipython_hook import install_if_ipython

    return install_if_ipython()
