"""The two cells a calibration run adds around the reference solution: a recorder of how its own classes are used.

The first cell (before every other) starts the toolkit's recorder (toolkit/keras_graph/usage.py): for each class
defined in the notebook itself (``__main__``), the plain-value constructor arguments and the structure, shapes and
dtypes of the first call's input are recorded (up to three different calls per class). The last cell writes the
record to ``<export folder>/__usage__/usage.json``. They run in the calibration's sandboxed kernel, on the instructor's
reference solution only; course/verification/auto_probes.py turns the record into default probes.
"""

from __future__ import annotations

from course.verification.trusted import PLACEHOLDER

RECORD = """from toolkit.keras_graph.usage import record as _course_record
_course_usage = _course_record()
"""

WRITE = f"""import json as _course_json, os as _course_os
_course_os.makedirs(_course_os.path.join({PLACEHOLDER!r}, "__usage__"), exist_ok=True)
with open(_course_os.path.join({PLACEHOLDER!r}, "__usage__", "usage.json"), "w") as _course_f:
    _course_json.dump(_course_usage, _course_f)
"""
