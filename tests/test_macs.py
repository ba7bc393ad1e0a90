"""MAC formulas: pure functions of class, config and shapes (no TensorFlow needed)."""

from __future__ import annotations

import pytest

from toolkit.macs import layer_macs


@pytest.mark.parametrize(
    ("cls", "config", "ins", "outs", "expected"),
    [
        ("Dense", {"units": 10}, [(None, 64)], [(None, 10)], 640),
        ("Dense", {"units": 8}, [(None, 5, 4)], [(None, 5, 8)], 5 * 8 * 4),
        ("Conv2D", {"kernel_size": (3, 3), "groups": 1}, [(None, 28, 28, 1)], [(None, 26, 26, 8)],
         26 * 26 * 8 * 9),
        ("Conv2D", {"kernel_size": (3, 3), "data_format": "channels_first"}, [(None, 2, 8, 8)],
         [(None, 4, 6, 6)], 4 * 6 * 6 * 9 * 2),
        ("Conv1D", {"kernel_size": (5,)}, [(None, 100, 3)], [(None, 96, 16)], 96 * 16 * 5 * 3),
        ("Conv2DTranspose", {"kernel_size": (2, 2), "filters": 4}, [(None, 7, 7, 8)], [(None, 14, 14, 4)],
         7 * 7 * 8 * 4 * 4),
        ("DepthwiseConv2D", {"kernel_size": (3, 3)}, [(None, 8, 8, 4)], [(None, 6, 6, 4)], 6 * 6 * 4 * 9),
        ("SeparableConv2D", {"kernel_size": (3, 3), "depth_multiplier": 1, "filters": 16}, [(None, 8, 8, 4)],
         [(None, 6, 6, 16)], 6 * 6 * 4 * 9 + 6 * 6 * 4 * 16),
        ("SimpleRNN", {"units": 8}, [(None, 10, 4)], [(None, 8)], 10 * 8 * 12),
        ("GRU", {"units": 8}, [(None, 10, 4)], [(None, 8)], 3 * 10 * 8 * 12),
        ("LSTM", {"units": 8}, [(None, 10, 4)], [(None, 8)], 4 * 10 * 8 * 12),
        ("MaxPooling2D", {}, [(None, 8, 8, 4)], [(None, 4, 4, 4)], 0),
        ("Embedding", {}, [(None, 10)], [(None, 10, 16)], 0),
        ("BatchNormalization", {}, [(None, 8, 8, 4)], [(None, 8, 8, 4)], 256),
        ("LSTM", {"units": 8}, [(None, None, 4)], [(None, 8)], None),
        ("MultiHeadAttention", {}, [(None, 4, 8)], [(None, 4, 8)], None),
    ],
)
def test_formulas(cls, config, ins, outs, expected) -> None:  # type: ignore[no-untyped-def]
    assert layer_macs(cls, config, ins, outs) == expected


def test_wrappers() -> None:
    inner = {"class_name": "Dense", "config": {"units": 3}}
    assert layer_macs("TimeDistributed", {"layer": inner}, [(None, 7, 5)], [(None, 7, 3)]) == 7 * 15
    lstm = {"class_name": "LSTM", "config": {"units": 8}}
    assert layer_macs("Bidirectional", {"layer": lstm}, [(None, 10, 4)], [(None, 16)]) == 2 * 4 * 10 * 8 * 12
