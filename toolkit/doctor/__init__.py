"""Can this environment run the course? ``toolkit.doctor.doctor()`` in a notebook, ``python -m toolkit.doctor``
in a shell. ``support`` holds the supported ranges and the one-sentence fixes (no TensorFlow import)."""

from toolkit.doctor.probes import doctor, main
from toolkit.doctor.report import Check, DoctorReport
from toolkit.doctor.support import RANGES, EnvironmentProblem, Platform, detect_platform, import_problem

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
]
