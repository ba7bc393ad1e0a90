"""The loaders' errors, shared by the data folder's loaders and the grader's data view (no TensorFlow, no NumPy)."""

from __future__ import annotations


class DataNotFoundError(FileNotFoundError):
    """The data set is neither in the ``KERAS_COURSE_DATA`` folder nor downloadable."""


class ChecksumError(ValueError):
    """A data file's SHA-256 digest differs from the expected one: it is damaged or a different file."""
