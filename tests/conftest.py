"""Shared fixtures: the real data folder (a missing one FAILS the tests that need it) and a private cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA_FILES = ("mnist.npz", "cifar10-jpeg.tar.gz")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder named by KERAS_COURSE_DATA; fails (never skips) when it is unset or incomplete."""
    value = os.environ.get("KERAS_COURSE_DATA", "").strip()
    how = (
        "Set KERAS_COURSE_DATA to the folder holding mnist.npz and cifar10-jpeg.tar.gz, e.g. "
        "`KERAS_COURSE_DATA=/work/shared/data .venv/bin/pytest ...`."
    )
    if not value:
        pytest.fail(f"KERAS_COURSE_DATA is not set, so the real data sets cannot be tested. {how}")
    folder = Path(value).expanduser()
    missing = [name for name in DATA_FILES if not (folder / name).is_file()]
    if missing:
        pytest.fail(f"KERAS_COURSE_DATA={value!r} lacks {', '.join(missing)}. {how}")
    return folder


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A KERAS_COURSE_CACHE folder private to this test session (CIFAR-10 is decoded into it once)."""
    return tmp_path_factory.mktemp("keras-course-cache")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite tests/golden/* from the current renderers (review the diff like code)",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))
