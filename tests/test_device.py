"""toolkit.device(): the device the lessons' printed time budgets were measured on."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

import toolkit
from toolkit._keras import tf


def test_on_this_machine_it_names_the_cpu_and_its_cores() -> None:
    assert not tf.config.list_physical_devices("GPU")  # CI and this machine have none
    assert toolkit.device() == f"CPU ({len(os.sched_getaffinity(0))} cores)"


@pytest.mark.parametrize("count, expected", [(1, "GPU (Tesla T4)"), (2, "2 GPUs (Tesla T4, ...)")])
def test_a_gpu_is_named_when_tensorflow_sees_one(monkeypatch: pytest.MonkeyPatch, count: int, expected: str) -> None:
    gpus = [SimpleNamespace(name=f"/physical_device:GPU:{i}") for i in range(count)]
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: gpus if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda d: {"device_name": "Tesla T4"})
    assert toolkit.device() == expected
