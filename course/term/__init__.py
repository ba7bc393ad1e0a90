"""The instructor's term around grading: due dates and late work, overrides, and when each check is shown.

Pure policy, no grading: ``due.py`` (dates, extensions, late policies), ``table.py`` (the instructor's CSV files,
read with line numbers), ``overrides.py`` (points changed by the instructor), ``release.py`` (when a check's line
is shown), ``settings.py`` (what ``--out/term.json`` keeps between runs) and ``assess.py`` (one student's standing:
raw points, late days, penalty, final points), which course/reports/gradebook.py renders. GUIDE.md sections 4.2-4.6.
"""
