"""record_result(): what lessons print and what benchmarks/bench_lessons.py reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import toolkit


def test_record_result_prints_and_appends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "results.jsonl"
    monkeypatch.setenv("KERAS_COURSE_RESULTS", str(target))
    toolkit.record_result("01_sequential", test_accuracy=0.97931, seconds=12)
    toolkit.record_result("02_functional", test_accuracy=0.5)
    assert capsys.readouterr().out.splitlines()[:2] == ["result test_accuracy = 0.9793", "result seconds = 12.0000"]
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert rows == [{"notebook": "01_sequential", "test_accuracy": 0.97931, "seconds": 12.0},
                    {"notebook": "02_functional", "test_accuracy": 0.5}]


def test_record_result_rejects_non_numbers() -> None:
    with pytest.raises(ValueError, match="metric 'acc' must be a number"):
        toolkit.record_result("x", acc="high")
    with pytest.raises(ValueError, match="needs at least one metric"):
        toolkit.record_result("x")
