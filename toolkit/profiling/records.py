"""Plain records of one profile: a time per summary row, a training step, an epoch forecast. No TensorFlow."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class LayerTime:
    """One summary row with its measured forward time on the profiled batch."""

    address: str  # the summary row's address, e.g. "conv2d[0]" or "block/conv[0]"
    class_name: str
    depth: int  # 0 for the model's own calls; nested rows are inside their container's time
    macs: int | None  # per sample, as the summary says (None: unknown; 0 for a layer never called)
    forward_ms: float | None  # median of the timed runs; None for rows not timed (inputs, layers never called)
    share: float | None  # forward_ms / the sum over depth-0 rows (0..1)
    batch_size: int  # samples in the timed batch

    @property
    def macs_per_second(self) -> float | None:
        """Multiply-accumulates done per second by this call on the batch (None when unknown or not timed)."""
        if self.macs is None or not self.forward_ms:
            return None
        return self.macs * self.batch_size / (self.forward_ms / 1000)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "macs_per_second": self.macs_per_second}


@dataclass(frozen=True)
class StepTime:
    """One measured training step (forward, backward and, where said, the optimizer's update)."""

    seconds: float  # median over the timed steps
    batch_size: int
    steps_timed: int  # steps timed after the first (traced) one
    steps_kept: int  # the last ones, whose median is ``seconds`` (the first steps after tracing run slower)
    method: str  # "fit" (a short real fit on copies of the batch) or "gradient" (forward + backward only)
    first_step_s: float  # the first step, tracing included


@dataclass(frozen=True)
class Forecast:
    """Seconds of one training epoch of ``samples`` samples: ceil(samples / batch_size) steps of ``step_s``."""

    samples: int
    batch_size: int
    step_s: float

    @property
    def steps(self) -> int:
        return math.ceil(self.samples / self.batch_size)

    @property
    def epoch_s(self) -> float:
        return self.steps * self.step_s


def shares(times: list[float | None], depths: list[int]) -> list[float | None]:
    """Each time as a part of the sum of the depth-0 times (None stays None)."""
    total = sum(t for t, d in zip(times, depths) if t is not None and d == 0)
    return [None if t is None or total <= 0 else t / total for t in times]
