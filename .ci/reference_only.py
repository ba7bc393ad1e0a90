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
    # The grader's other end-to-end tests: an instructor grades from a clone in the reference environment; the
    # matrix keeps tests/test_sandbox.py (every escape probe, with the wheel installed as a learner installs it).
    "tests/test_load.py": "grades solutions on a machine oversubscribed 3x (minutes of CPU): the grader's load test",
    "tests/test_own_exercise.py": "calibrates and grades an instructor's exercise with forgeries (the grader)",
    "tests/test_trusted.py": "grades forged starters of every exercise (the grader's verification)",
    "tests/test_trusted_limits.py": "the grader's trusted worker against hostile export files",
    "tests/test_class_probes.py": "grades class checks through probes (the grader)",
    "tests/test_hardening.py": "grades hostile submissions one after another in one slot (the grader)",
    "tests/test_runtime_flags.py": "grades submissions that attack the kernel at run time (the grader)",
    "tests/test_regrade.py": "regrades classes into --out (the grader)",
    "tests/test_term_scenario.py": "grades a small class through a term (the grader)",
    "tests/test_dask.py": "grades on a local Dask cluster (the grader)",
}


# The grader's end-to-end tests: `make unit` runs them one file at a time, after the others (which run on every core):
# they grade with two workers of their own, time kernels and limits, and one of them loads the machine on purpose.
GRADER = set(REFERENCE_ONLY) - {"tests/test_starters.py", "tests/test_book.py"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        reason = REFERENCE_ONLY.get(path)
        if reason is not None:
            item.add_marker(pytest.mark.reference(reason=reason))
        if path in GRADER:
            item.add_marker(pytest.mark.grader)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"reference-only here: {path} ({why})" for path, why in REFERENCE_ONLY.items()]
