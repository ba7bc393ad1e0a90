"""The real data sets: MNIST and CIFAR-10 as Keras's ``load_data()`` returns them (no TensorFlow needed to import)."""

from toolkit.data.loaders import (
    CACHE_ENV,
    CIFAR10_CLASSES,
    DATA_ENV,
    FILES,
    CacheWarning,
    ChecksumError,
    DataNotFoundError,
    Splits,
    WithheldWarning,
    cache_dir,
    load_cifar10,
    load_mnist,
    verify_file,
)

__all__ = [
    "CACHE_ENV", "CIFAR10_CLASSES", "DATA_ENV", "FILES", "CacheWarning", "ChecksumError", "DataNotFoundError",
    "Splits", "WithheldWarning", "cache_dir", "load_cifar10", "load_mnist", "verify_file",
]
