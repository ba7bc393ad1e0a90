"""Argument checks for the loaders' ``limit`` and ``seed``, and the seeded class-balanced subset they pick."""

from __future__ import annotations

import numbers

import numpy as np


def is_int(value: object) -> bool:
    """True for Python and NumPy integers, False for bools (``limit=True`` is a mistake, not 1)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_seed(loader: str, seed: object) -> int:
    """``seed`` as an int; ValueError unless it is a non-negative integer."""
    if not is_int(seed) or int(seed) < 0:  # type: ignore[call-overload]
        raise ValueError(
            f"seed must be a non-negative int (got {seed!r}). Example: {loader}(limit=100, seed=1)."
        )
    return int(seed)  # type: ignore[call-overload]


def parse_limit(loader: str, limit: object, sizes: tuple[int, int]) -> tuple[int, int] | None:
    """``(n_train, n_test)`` from ``limit`` (None, one int for both splits, or a pair); else ValueError."""
    allowed = (
        f"allowed: 1 to {sizes[0]} train and 1 to {sizes[1]} test images (an int applies to both splits)"
    )
    example = f"Example: {loader}(limit=1000) or {loader}(limit=({min(5000, sizes[0])}, 1000))."
    if limit is None:
        return None
    if is_int(limit):
        counts = (int(limit), int(limit))  # type: ignore[call-overload]
    elif isinstance(limit, tuple | list) and len(limit) == 2 and all(is_int(n) for n in limit):
        counts = (int(limit[0]), int(limit[1]))
    else:
        raise ValueError(
            f"limit must be None, an int or a pair (n_train, n_test) of ints (got {limit!r}, "
            f"a {type(limit).__name__}); {allowed}. {example}"
        )
    for count, size, split in zip(counts, sizes, ("train", "test")):
        if not 1 <= count <= size:
            problem = f"the {split} split holds {size}" if count > size else "at least 1 is needed"
            raise ValueError(
                f"limit={limit!r} asks for {count} {split} images, but {problem}; {allowed}. {example}"
            )
    return counts


def stratified(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``count`` samples, as equal per class as the class sizes allow, in random order.

    Class counts differ by at most 1 unless a class runs out (MNIST's classes differ in size): then it gives
    all it has and the others share the rest, still within 1 of each other.
    """
    flat = labels.reshape(-1)
    classes, sizes = np.unique(flat, return_counts=True)
    # The largest level L with sum(min(size, L)) <= count; the remainder goes one each to random classes
    # that still have images left (there are always enough of those, by the choice of L).
    totals = np.minimum(sizes[:, None], np.arange(sizes.max() + 2)).sum(axis=0)
    level = int(np.searchsorted(totals, count, side="right")) - 1
    quotas = np.minimum(sizes, level)
    room = np.flatnonzero(sizes > level)
    quotas[rng.choice(room, size=count - int(quotas.sum()), replace=False)] += 1
    chosen = [rng.permutation(np.flatnonzero(flat == c))[:q] for c, q in zip(classes, quotas)]
    return rng.permutation(np.concatenate(chosen))
