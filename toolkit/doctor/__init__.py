"""Can this environment run the course? ``toolkit.doctor.doctor()`` in a notebook, ``python -m toolkit.doctor``
in a shell. ``support`` holds the supported ranges and the one-sentence fixes (no TensorFlow import).

Names load on first use (PEP 562), so that ``toolkit.doctor.support`` (which ``import toolkit`` and the setup cell
use) does not pull in the probes and NumPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_PUBLIC = {
    "doctor": "toolkit.doctor.probes",
    "main": "toolkit.doctor.probes",
    "Check": "toolkit.doctor.report",
    "DoctorReport": "toolkit.doctor.report",
    "RANGES": "toolkit.doctor.support",
    "EnvironmentProblem": "toolkit.doctor.support",
    "Platform": "toolkit.doctor.support",
    "detect_platform": "toolkit.doctor.support",
    "import_problem": "toolkit.doctor.support",
    "startup_problem": "toolkit.doctor.support",
}

__all__ = [
    "RANGES",
    "Check",
    "DoctorReport",
    "EnvironmentProblem",
    "Platform",
    "detect_platform",
    "doctor",
    "import_problem",
    "main",
    "startup_problem",
]

if TYPE_CHECKING:
    from toolkit.doctor.probes import doctor, main
    from toolkit.doctor.report import Check, DoctorReport
    from toolkit.doctor.support import (
        RANGES,
        EnvironmentProblem,
        Platform,
        detect_platform,
        import_problem,
        startup_problem,
    )


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'toolkit.doctor' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
