"""The instructor's term around grading: due dates and late work, overrides, and when each check is shown.

Pure policy, no grading: ``due.py`` (dates, extensions, late policies), ``table.py`` (the instructor's CSV files,
read with line numbers), ``overrides.py`` (points changed by the instructor), ``release.py`` (when a check's line
is shown), ``settings.py`` (what ``--out/term.json`` keeps between runs), ``manual.py`` and ``review_file.py``
(answers graded by hand: the review files in ``--out/manual/``) and ``assess.py`` (one student's standing: raw
points, answers graded by hand, late days, penalty, final points), which course/reports/gradebook.py renders.
GUIDE.md sections 4.2-4.6 and 4.9.
"""
