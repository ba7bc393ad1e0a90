"""Where the per-submission jobs run: the local thread pool lives in grading.py; this module adds a Dask cluster.

Each job is self-contained: it carries the exercise, the limits and the notebook's bytes, and returns a
``SubmissionResult`` as a plain dict (``to_dict``/``from_dict``), so workers need the course venv, bubblewrap and the
data, but not the submissions folder or ``--out``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from tqdm import tqdm

from course.authoring.notebook_format import Exercise
from course.grading.files import Unreadable, read_submission
from course.reports.records import SubmissionResult
from course.sandbox.limits import Limits
from course.sandbox.run import preflight

CONNECT_TIMEOUT_S = 10.0


def grade_bytes(
    exercise: Exercise, file_name: str, student: str, data: bytes, limits: Limits, plan: Any = None
) -> dict[str, Any]:
    """Grade one submission given as bytes (on any machine with the course installed) with the verification
    ``plan`` the grader made for its exercise; the result as a dict (SubmissionResult.from_dict checks it)."""
    from course.grading.pipeline import Job, grade_one

    with tempfile.TemporaryDirectory(prefix="course-job-") as folder:
        path = Path(folder) / file_name
        path.write_bytes(data)
        return grade_one(Job(exercise, path, student, plan), limits).to_dict()


def _check_address(address: str) -> None:
    if "://" not in address:
        raise ValueError(f"--scheduler must be an address like tcp://host:8786 (got {address!r})")


def connect(address: str, timeout: float = CONNECT_TIMEOUT_S) -> Any:
    """A ``distributed.Client`` for ``address`` with at least one worker, or a ValueError saying what to fix."""
    _check_address(address)
    try:
        from distributed import Client
    except ImportError:
        raise ValueError(
            "--scheduler needs Dask: pip install 'distributed' (it is in the course extra: pip install -e '.[course]')"
        ) from None
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise ValueError(
            f"could not reach the Dask scheduler at {address} within {timeout:g} s ({reason}); start it with "
            "`dask scheduler` and check the host, the port and the firewall"
        ) from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError) as err:
        client.close()
        raise ValueError(
            f"the Dask scheduler at {address} has no workers ({type(err).__name__}); start some with "
            f"`dask worker {address}` on machines that have the course venv, bubblewrap and the data"
        ) from None
    return client


def grade_on_dask(jobs: list[Any], limits: Limits, address: str, *, progress: bool = True) -> list[SubmissionResult]:
    """Grade ``jobs`` (grading.Job) on the cluster behind ``address``; results in the order given."""
    from course.grading.pipeline import grade_one
    from course.grading.scoring import zero_result
    from course.reports.records import Status

    client = connect(address)
    try:
        try:
            client.run(preflight, limits)  # every worker: bubblewrap works, --user can start Python
        except (ValueError, RuntimeError, OSError) as err:
            raise ValueError(f"a Dask worker cannot grade: {err}") from None
        results: dict[int, SubmissionResult] = {}
        futures = {}
        for i, job in enumerate(jobs):
            try:
                read_submission(job.path)  # unreadable files get their row here, without a kernel or a worker
                data = job.path.read_bytes()
            except (Unreadable, OSError):
                results[i] = grade_one(job, limits)
                continue
            future = client.submit(
                grade_bytes, job.exercise, job.path.name, job.student, data, limits, job.plan, pure=False
            )
            futures[future] = i
        with tqdm(total=len(jobs), file=sys.stderr, disable=not progress, unit="nb", desc="grading") as bar:
            bar.update(len(results))
            for future in futures:  # in submission order: the bar may pause on a slow one while others finish
                i = futures[future]
                try:
                    results[i] = SubmissionResult.from_dict(future.result())
                except Exception as err:  # noqa: BLE001  (a lost worker or a broken job: one row, not the batch)
                    problem = f"The grader failed on a Dask worker: {err}"[:400]
                    results[i] = zero_result(jobs[i], Status.GRADER_ERROR, problem)
                bar.update(1)
        return [results[i] for i in range(len(jobs))]
    finally:
        client.close()
