"""Can this environment run the course? ``toolkit.doctor.doctor()`` in a notebook, ``python -m toolkit.doctor``
in a shell."""

from toolkit.doctor.probes import doctor, expected_pins, main
from toolkit.doctor.report import Check, DoctorReport

__all__ = ["Check", "DoctorReport", "doctor", "expected_pins", "main"]
