"""Grading on a Dask cluster gives the same gradebook as the local pool, for about the same work (CPU seconds, not
wall seconds: the machine may be busy); a bad scheduler address is one sentence."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tiny_exercise import write_exercise, write_submissions

from course.authoring.notebook_format import load_exercise
from course.cli import main
from course.grading.batch import grade_folder
from course.sandbox import cpu_time, disk_quota
from course.sandbox.limits import Limits

pytest.importorskip("distributed")


def _outputs(out: Path) -> dict[str, bytes]:
    """What a grader renders into ``out``: not its records (they hold timings) nor its log (times, the folder)."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != "runs.jsonl" and p.parent.name != "records"
    }


def _tree_cpu_s() -> float:
    """CPU seconds of this process and every process under it (kernels, fork servers, nbval runs it waited for)."""
    me = os.getpid()
    return cpu_time.tree_cpu_seconds([me, *disk_quota.descendants(me)])


@pytest.mark.slow
def test_a_local_dask_cluster_gives_the_local_pools_gradebook(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    exercise = load_exercise(write_exercise(tmp_path))
    subs = write_submissions(tmp_path / "subs", {"right": "answer = 42", "wrong": "answer = 7", "none": "x = 1"})
    (subs / "broken.ipynb").write_text("{not json")
    limits = Limits(preload=None)
    before = _tree_cpu_s()
    local = grade_folder(exercise, subs, tmp_path / "local", limits=limits, workers=2, progress=False)
    local_cpu_s = _tree_cpu_s() - before
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None) as c,
        Client(c) as client,
    ):
        started = client.run(_tree_cpu_s)  # each worker's own start-up is not the grading's work
        remote = grade_folder(
            exercise, subs, tmp_path / "dask", limits=limits, progress=False, scheduler=c.scheduler_address
        )
        remote_cpu_s = sum(client.run(_tree_cpu_s).values()) - sum(started.values())
    assert {r.student: r.status for r in remote.results} == {
        "broken": "invalid", "none": "graded", "right": "graded", "wrong": "graded"
    }  # fmt: skip
    assert [r.total for r in sorted(remote.results, key=lambda r: r.student)] == [0, 0, 3, 1]
    assert [(r.student, r.status, r.checks) for r in remote.results] == [
        (r.student, r.status, r.checks) for r in local.results
    ]
    assert _outputs(tmp_path / "dask") == _outputs(tmp_path / "local")
    # the same kernels ran: the cluster adds its messages and a fork server per worker, not a new kernel per cell
    print(f"grading work: {remote_cpu_s:.1f} CPU s on the Dask cluster, {local_cpu_s:.1f} CPU s in the local pool")
    assert remote_cpu_s < 2 * local_cpu_s + 15, (remote_cpu_s, local_cpu_s)


def test_an_unreachable_scheduler_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exercise = write_exercise(tmp_path)
    subs = write_submissions(tmp_path / "subs", {"right": "answer = 42"})
    assert (
        main(["grade", str(exercise), str(subs), "--out", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:9"])
        == 2
    )
    err = capsys.readouterr().err
    assert "could not reach the Dask scheduler at tcp://127.0.0.1:9" in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert main(["grade", str(exercise), str(subs), "--scheduler", "127.0.0.1"]) == 2
    assert "--scheduler must be an address like tcp://host:8786 (got '127.0.0.1')" in capsys.readouterr().err
