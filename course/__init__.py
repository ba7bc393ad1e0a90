"""course: exercises with a single source, starter generation and an nbval-based grader (see GUIDE.md)."""

from course.gradebook import CheckResult, Gradebook, SubmissionResult
from course.grading import Job, grade_folder, grade_jobs, grade_one
from course.notebook_format import Exercise, FormatError, load_exercise, resolve_exercise
from course.sandbox import Limits
from course.starters import make_starter, sync_starters

__all__ = [
    "CheckResult",
    "Exercise",
    "FormatError",
    "Gradebook",
    "Job",
    "Limits",
    "SubmissionResult",
    "grade_folder",
    "grade_jobs",
    "grade_one",
    "load_exercise",
    "make_starter",
    "resolve_exercise",
    "sync_starters",
]
