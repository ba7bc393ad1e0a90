"""A pytest plugin for running the lessons under nbval: each kernel learns which notebook it runs.

JupyterLab and Notebook 7 tell a kernel its notebook's path in ``JPY_SESSION_NAME``; nbval does not. This sets it
before each notebook's kernel starts, so ``toolkit.i18n`` picks the notebook's ``lang`` metadata the same way under
test as in JupyterLab (the Chinese edition's checks then speak Chinese). Load it with ``-p course.nbval_lang``.
"""

from __future__ import annotations

import os
from typing import Any

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: Any) -> None:
    path = getattr(item, "path", None)
    if path is not None and path.suffix == ".ipynb":
        os.environ["JPY_SESSION_NAME"] = str(path)  # read when nbval starts the notebook's kernel, just after this
