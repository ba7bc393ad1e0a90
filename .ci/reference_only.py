"""pytest plugin for the matrix entries (.ci/matrix.sh loads it): marks ``reference`` the tests that need the checkout.

These test the instructor side against the repository itself: the student starters in ``exercises/`` (found next to
the ``course`` package, so absent from any wheel install) and the grader, which rebuilds and grades those starters
with nbval. Instructors run both from a clone in the reference environment; the Colab-like and newest entries
install the wheel, so there these tests are deselected by ``-m "not reference"`` (and listed), never skipped silently.
"""

from __future__ import annotations

import pytest

REFERENCE_ONLY = {
    "tests/test_starters.py": "compares the checkout's exercises/ with starters generated from course/solutions/",
    "tests/test_book.py": "builds the book from the checkout's notebooks/ and exercises/ (an instructor's task)",
    "tests/test_grader.py": "grades the checkout's exercises/ and fixtures with nbval, as an instructor's clone does",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        reason = REFERENCE_ONLY.get(item.nodeid.split("::", 1)[0])
        if reason is not None:
            item.add_marker(pytest.mark.reference(reason=reason))


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"reference-only here: {path} ({why})" for path, why in REFERENCE_ONLY.items()]
