"""The offline loaders return the real MNIST and CIFAR-10, verified, cached, and subset as asked.

CIFAR-10 is decoded from JPEG exactly once per session (the ``cifar`` fixture); every other CIFAR test reads
the cache or reuses that decode's output.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from toolkit.data import archive as _cifar_archive
from toolkit.data import cache as _data_cache
from toolkit.data import loaders as datasets
from toolkit.data import subsets as _subsets
from toolkit.data.loaders import CacheWarning, ChecksumError, DataNotFoundError, load_cifar10, load_mnist

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
# Per-channel means of the official CIFAR-10 training images; the JPEG copy stays within a grey level.
CIFAR_TRAIN_MEANS = [125.31, 122.95, 113.87]


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch: pytest.MonkeyPatch, cache_root: Path) -> None:
    monkeypatch.setenv(datasets.CACHE_ENV, str(cache_root))


@pytest.fixture(scope="session")
def mnist(data_dir: Path, cache_root: Path) -> datasets.Splits:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(datasets.DATA_ENV, str(data_dir))
        mp.setenv(datasets.CACHE_ENV, str(cache_root))
        return load_mnist()


@pytest.fixture(scope="session")
def cifar(data_dir: Path, cache_root: Path) -> dict[str, object]:
    """The one real decode of the session: its result, the class-ordered arrays and the number of decodes."""
    decoded: list[dict[str, np.ndarray]] = []
    real_decode = _cifar_archive.decode_archive

    def spy(path: Path) -> dict[str, np.ndarray]:
        arrays = real_decode(path)
        decoded.append({key: value.copy() for key, value in arrays.items()})
        return arrays

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(datasets.DATA_ENV, str(data_dir))
        mp.setenv(datasets.CACHE_ENV, str(cache_root))
        mp.setattr(_cifar_archive, "decode_archive", spy)
        splits = load_cifar10()
    return {"splits": splits, "decoded": decoded}


def _counts(labels: np.ndarray) -> list[int]:
    return np.bincount(labels.reshape(-1), minlength=10).tolist()


def _corrupt_copy(source: Path, folder: Path, *, truncate: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    shutil.copyfile(source, target)
    with open(target, "r+b") as handle:
        if truncate:
            handle.truncate(source.stat().st_size // 2)
        else:
            handle.seek(source.stat().st_size // 2)
            chunk = handle.read(16)
            handle.seek(source.stat().st_size // 2)
            handle.write(bytes(b ^ 0xFF for b in chunk))
    return target


# --- the real MNIST ---------------------------------------------------------------------------------------


def test_mnist_has_keras_shapes_and_dtypes(mnist: datasets.Splits) -> None:
    (x_train, y_train), (x_test, y_test) = mnist
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == (
        (60000, 28, 28),
        (60000,),
        (10000, 28, 28),
        (10000,),
    )
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}


def test_mnist_is_the_real_data_in_official_order(mnist: datasets.Splits) -> None:
    (x_train, y_train), (x_test, y_test) = mnist
    assert _counts(y_train) == MNIST_TRAIN_COUNTS
    assert _counts(y_test) == MNIST_TEST_COUNTS
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert x_train.max() == 255 and x_train.min() == 0


def test_mnist_second_load_uses_the_recorded_checksum(
    mnist: datasets.Splits, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    monkeypatch.setenv(datasets.DATA_ENV, str(data_dir))

    def no_hashing(path: Path) -> str:
        raise AssertionError(f"{path} was hashed again although its size and mtime did not change")

    monkeypatch.setattr(_data_cache, "sha256_of", no_hashing)
    (x_train, _), _ = load_mnist()
    np.testing.assert_array_equal(x_train, mnist[0][0])


def test_a_changed_mtime_makes_the_file_be_hashed_again(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, tmp_path: Path
) -> None:
    shutil.copyfile(data_dir / "mnist.npz", tmp_path / "mnist.npz")
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path))
    load_mnist(limit=10)
    hashed: list[Path] = []
    real_hash = _data_cache.sha256_of
    monkeypatch.setattr(_data_cache, "sha256_of", lambda p: hashed.append(p) or real_hash(p))
    load_mnist(limit=10)
    assert hashed == []
    stat = (tmp_path / "mnist.npz").stat()
    os.utime(tmp_path / "mnist.npz", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    load_mnist(limit=10)
    assert hashed == [tmp_path / "mnist.npz"]


# --- the real CIFAR-10 ------------------------------------------------------------------------------------


def test_cifar_has_keras_shapes_and_dtypes(cifar: dict) -> None:
    (x_train, y_train), (x_test, y_test) = cifar["splits"]
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == (
        (50000, 32, 32, 3),
        (50000, 1),
        (10000, 32, 32, 3),
        (10000, 1),
    )
    # keras.datasets.cifar10.load_data() returns uint8 labels (see keras/src/datasets/cifar10.py).
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}


def test_cifar_is_the_real_data(cifar: dict) -> None:
    (x_train, y_train), (x_test, y_test) = cifar["splits"]
    assert _counts(y_train) == [5000] * 10
    assert _counts(y_test) == [1000] * 10
    np.testing.assert_allclose(x_train.reshape(-1, 3).mean(axis=0), CIFAR_TRAIN_MEANS, atol=1.0)
    # No two training images are the same picture decoded twice.
    assert len({image.tobytes() for image in x_train[:2000]}) == 2000


def test_cifar_labels_are_shuffled_so_validation_split_sees_every_class(cifar: dict) -> None:
    (_, y_train), (_, y_test) = cifar["splits"]
    assert _counts(y_train[-5000:]).count(0) == 0  # what validation_split=0.1 takes
    assert _counts(y_test[-1000:]).count(0) == 0
    assert min(_counts(y_train[-5000:])) > 400


def test_cifar_decodes_once_and_caches_an_npz(cifar: dict, cache_root: Path) -> None:
    assert len(cifar["decoded"]) == 1
    assert list(cache_root.glob("cifar10-*.npz")), f"no CIFAR-10 cache in {sorted(cache_root.iterdir())}"
    assert not list(cache_root.glob(".*.tmp")), "a temporary file was left behind"


def test_cifar_second_load_comes_from_the_cache(
    cifar: dict, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    monkeypatch.setenv(datasets.DATA_ENV, str(data_dir))

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the CIFAR-10 archive was opened again although the cache holds the arrays")

    monkeypatch.setattr(_cifar_archive, "decode_archive", must_not_run)
    monkeypatch.setattr(_cifar_archive.tarfile, "open", must_not_run)
    (x_train, y_train), (x_test, y_test) = load_cifar10()
    (x_train0, y_train0), (x_test0, y_test0) = cifar["splits"]
    for got, first in ((x_train, x_train0), (y_train, y_train0), (x_test, x_test0), (y_test, y_test0)):
        np.testing.assert_array_equal(got, first)


def test_unwritable_cache_still_loads_cifar_and_warns(
    cifar: dict, monkeypatch: pytest.MonkeyPatch, data_dir: Path, tmp_path: Path
) -> None:
    monkeypatch.setenv(datasets.DATA_ENV, str(data_dir))
    monkeypatch.setenv(datasets.CACHE_ENV, str(tmp_path))  # empty: the arrays must be decoded
    decoded = cifar["decoded"][0]  # the session's real decode, reused to save ~10 s
    monkeypatch.setattr(
        _cifar_archive, "decode_archive", lambda path: {k: v.copy() for k, v in decoded.items()}
    )

    def full_disk(handle: object, **arrays: object) -> None:
        handle.write(b"PK partial")  # type: ignore[attr-defined]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_data_cache.np, "savez", full_disk)
    with pytest.warns(CacheWarning, match=r"could not be written .*No space left on device.*decoded again"):
        splits = load_cifar10()
    (x_train, y_train), (x_test, y_test) = splits
    (x_train0, y_train0), (x_test0, y_test0) = cifar["splits"]
    for got, first in ((x_train, x_train0), (y_train, y_train0), (x_test, x_test0), (y_test, y_test0)):
        np.testing.assert_array_equal(got, first)
    leftovers = [p.name for p in tmp_path.iterdir() if p.suffix in (".npz", ".tmp")]
    assert leftovers == [], "a failed write must leave neither a cache file nor a temporary file"


def test_read_only_cache_still_loads_mnist_and_warns(
    mnist: datasets.Splits, monkeypatch: pytest.MonkeyPatch, data_dir: Path, tmp_path: Path
) -> None:
    monkeypatch.setenv(datasets.DATA_ENV, str(data_dir))
    monkeypatch.setenv(datasets.CACHE_ENV, str(tmp_path / "cache"))

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(_data_cache.tempfile, "mkstemp", read_only)
    with pytest.warns(
        CacheWarning, match=r"could not be written .*Read-only file system.*KERAS_COURSE_CACHE"
    ):
        (x_train, y_train), (x_test, y_test) = load_mnist()
    np.testing.assert_array_equal(x_train, mnist[0][0])
    np.testing.assert_array_equal(y_test, mnist[1][1])


# --- checksums ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("truncate", [False, True], ids=["flipped-bytes", "truncated"])
@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_a_damaged_file_raises_checksum_error_and_caches_nothing(
    name: str, truncate: bool, monkeypatch: pytest.MonkeyPatch, data_dir: Path, tmp_path: Path
) -> None:
    entry = datasets.FILES[name]
    damaged = _corrupt_copy(data_dir / entry.name, tmp_path / "data", truncate=truncate)
    actual = hashlib.sha256(damaged.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    monkeypatch.setenv(datasets.DATA_ENV, str(damaged.parent))
    monkeypatch.setenv(datasets.CACHE_ENV, str(cache))
    monkeypatch.setattr(_cifar_archive, "decode_archive", lambda path: pytest.fail("decoded a damaged file"))
    loader = load_mnist if name == "mnist" else load_cifar10
    with pytest.raises(ChecksumError) as caught:
        loader()
    message = str(caught.value)
    assert str(damaged) in message and entry.sha256 in message and actual in message
    assert not cache.exists() or not [p for p in cache.iterdir() if p.suffix in (".npz", ".tmp")]
    records = cache / "verified-checksums.json"
    assert not records.exists() or str(damaged.resolve()) not in json.loads(records.read_text())


# --- where the data comes from ----------------------------------------------------------------------------


def _keras_loader(name: str) -> object:
    from toolkit._keras import keras

    return getattr(keras.datasets, name)


def _offline(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make Keras's downloads fail as they do offline; returns the names of the data sets it was asked for."""
    asked: list[str] = []
    for name in ("mnist", "cifar10"):

        def fail(name: str = name) -> None:
            asked.append(name)
            raise Exception(f"URL fetch failure on https://example.invalid/{name}: [Errno -3] no network")

        monkeypatch.setattr(_keras_loader(name), "load_data", fail)
    return asked


@pytest.mark.parametrize("value", [None, "", "  "], ids=["unset", "empty", "blank"])
@pytest.mark.parametrize("loader", [load_mnist, load_cifar10], ids=["mnist", "cifar10"])
def test_no_folder_and_no_internet_explains_both_fixes(
    loader: object, value: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _offline(monkeypatch)
    if value is None:
        monkeypatch.delenv(datasets.DATA_ENV, raising=False)
    else:
        monkeypatch.setenv(datasets.DATA_ENV, value)
    with pytest.raises(DataNotFoundError, match=r"KERAS_COURSE_DATA is not set") as caught:
        loader()  # type: ignore[operator]
    message = str(caught.value)
    for part in ("mnist.npz", "cifar10-jpeg.tar.gz", "export KERAS_COURSE_DATA=", "connect to the internet"):
        assert part in message, f"{part!r} missing from: {message}"
    assert "no network" in message and caught.value.__cause__ is not None
    assert len(asked) == 1 and isinstance(caught.value, FileNotFoundError)


def test_without_the_variable_keras_download_is_used(
    mnist: datasets.Splits, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(datasets.DATA_ENV, raising=False)
    monkeypatch.setattr(_keras_loader("mnist"), "load_data", lambda: mnist)  # what Keras returns online
    (x_train, y_train), (x_test, y_test) = load_mnist(limit=(100, 20))
    assert x_train.shape == (100, 28, 28) and _counts(y_test) == [2] * 10


def test_a_variable_naming_a_missing_folder_fails_without_downloading(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    asked = _offline(monkeypatch)
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path / "typo"))
    with pytest.raises(DataNotFoundError, match=r"KERAS_COURSE_DATA is set to .*typo.*does not exist.*unset"):
        load_mnist()
    assert asked == []


def test_a_folder_without_the_file_says_what_it_holds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    asked = _offline(monkeypatch)
    (tmp_path / "notes.txt").write_text("not data")
    monkeypatch.setenv(datasets.DATA_ENV, str(tmp_path))
    with pytest.raises(
        DataNotFoundError, match=r"cifar10-jpeg.tar.gz is not in that folder \(it holds: notes.txt"
    ):
        load_cifar10()
    assert asked == []


# --- limit and seed ----------------------------------------------------------------------------------------

BAD_LIMITS = [0, -5, 1.5, "100", True, (10,), (10, 20, 30), (10, 2.0), 10001, (60001, 10), (100, 0)]


@pytest.mark.parametrize("limit", BAD_LIMITS, ids=repr)
def test_bad_limits_are_rejected_before_loading(limit: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(datasets.DATA_ENV, "/nonexistent/folder")  # a load would fail differently
    with pytest.raises(ValueError, match=r"limit.*\(got|limit=.*asks for") as caught:
        load_mnist(limit=limit)  # type: ignore[arg-type]
    assert "Example: load_mnist(limit=1000)" in str(caught.value)
    assert "1 to 60000 train and 1 to 10000 test images" in str(caught.value)
    assert repr(limit) in str(caught.value)


def test_limit_errors_give_the_allowed_range() -> None:
    with pytest.raises(ValueError, match=r"asks for 50001 train images, but the train split holds 50000"):
        load_cifar10(limit=(50001, 10))
    with pytest.raises(ValueError, match=r"limit=-3 asks for -3 train images, but at least 1 is needed"):
        load_cifar10(limit=-3)
    with pytest.raises(ValueError, match=r"allowed: 1 to 60000 train and 1 to 10000 test images"):
        load_mnist(limit=20000)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None])
def test_bad_seeds_are_rejected(seed: object) -> None:
    with pytest.raises(ValueError, match=r"seed must be a non-negative int \(got .*Example"):
        load_mnist(limit=10, seed=seed)  # type: ignore[arg-type]


def test_mnist_subset_is_balanced_shuffled_and_real(
    mnist: datasets.Splits, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(datasets.DATA_ENV, str(data_dir))
    (x_train, y_train), (x_test, y_test) = load_mnist(limit=(1003, 95), seed=7)
    assert x_train.shape == (1003, 28, 28) and y_test.shape == (95,)
    assert max(_counts(y_train)) - min(_counts(y_train)) <= 1 and sum(_counts(y_train)) == 1003
    assert max(_counts(y_test)) - min(_counts(y_test)) <= 1
    assert np.any(np.diff(y_train.astype(int)) < 0), "subset labels come sorted, not shuffled"
    full = {image.tobytes(): label for image, label in zip(mnist[0][0], mnist[0][1])}
    assert all(full.get(image.tobytes()) == label for image, label in zip(x_train, y_train))


def test_cifar_subset_keeps_keras_label_shape(
    cifar: dict, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(datasets.DATA_ENV, str(data_dir))
    (x_train, y_train), (x_test, y_test) = load_cifar10(limit=25)
    assert x_train.shape == (25, 32, 32, 3) and y_train.shape == (25, 1) and y_test.dtype == np.uint8
    assert sorted(_counts(y_train)) == [2] * 5 + [3] * 5


def test_subsets_repeat_with_the_seed_and_change_with_it(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(datasets.DATA_ENV, str(data_dir))
    first, again, other = (load_mnist(limit=200, seed=s) for s in (3, 3, 4))
    np.testing.assert_array_equal(first[0][0], again[0][0])
    np.testing.assert_array_equal(first[1][1], again[1][1])
    assert not np.array_equal(first[0][0], other[0][0])


def test_the_full_split_as_a_limit_returns_every_image(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(datasets.DATA_ENV, str(data_dir))
    (_, y_train), (_, y_test) = load_mnist(limit=(60000, 10000))
    assert _counts(y_train) == MNIST_TRAIN_COUNTS and _counts(y_test) == MNIST_TEST_COUNTS


def test_stratified_fills_up_from_larger_classes_when_a_class_runs_out() -> None:
    labels = np.repeat(np.arange(4), [3, 10, 10, 10])
    for count in range(1, 34):
        chosen = _subsets.stratified(labels, count, np.random.default_rng(count))
        counts = np.bincount(labels[chosen], minlength=4)
        assert len(set(chosen.tolist())) == count == counts.sum()
        if counts.max() - counts.min() > 1:  # allowed only once the small class is used up
            assert counts[0] == 3 and counts[1:].max() - counts[1:].min() <= 1 and counts[1:].min() >= 3


# --- online: Keras's download, then the same order, checks and subsets as offline ---------------------------


def _same(a: datasets.Splits, b: datasets.Splits) -> bool:
    return all(np.array_equal(x, y) for x, y in zip([*a[0], *a[1]], [*b[0], *b[1]]))


def _serve_downloads(monkeypatch: pytest.MonkeyPatch, files: dict[str, Path]) -> list[str]:
    """Replace the network layer of keras.datasets (its ``get_file``) with local files; returns the origins asked."""
    import importlib

    asked: list[str] = []
    for name, served in files.items():
        module = importlib.import_module(f"keras.src.datasets.{name}")

        def get_file(*args: object, origin: str = "", served: Path = served, **kwargs: object) -> str:
            asked.append(origin)
            return str(served)

        monkeypatch.setattr(module, "get_file", get_file)
    monkeypatch.delenv(datasets.DATA_ENV, raising=False)
    return asked


def test_online_mnist_is_keras_download_through_the_same_subset_and_checks(
    data_dir: Path, mnist: datasets.Splits, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as mp:
        mp.setenv(datasets.DATA_ENV, str(data_dir))
        offline = {limit: load_mnist(limit=limit, seed=3) for limit in [(500, 100), 30]}
    checked: list[str] = []
    real_checked = datasets._checked
    monkeypatch.setattr(datasets, "_checked", lambda name, arrays, source: checked.append(source)
                        or real_checked(name, arrays, source))
    asked = _serve_downloads(monkeypatch, {"mnist": data_dir / "mnist.npz"})  # Keras's file holds the same arrays
    for limit, expected in offline.items():
        assert _same(load_mnist(limit=limit, seed=3), expected)
    (x_train, y_train), (x_test, y_test) = load_mnist()
    assert np.array_equal(x_train, mnist[0][0]) and np.array_equal(y_test, mnist[1][1])
    assert x_train.flags.c_contiguous and type(x_train) is np.ndarray and x_train.dtype == np.uint8
    assert asked and all(a.startswith("https://") for a in asked)  # it did go to the (mocked) network
    assert checked == ["keras.datasets download"] * 3  # the same shape and dtype checks as the offline path


def _official_layout(class_sorted: dict[str, np.ndarray], folder: Path) -> Path:
    """The real CIFAR-10 images written as Keras downloads them: pickled batches, classes interleaved.

    The interleaving is random but keeps each class's own order, as the official release relates to the
    course's archive (whose NNNN counts the images of one class in release order).
    """
    import pickle

    rng = np.random.default_rng(7)
    batches = folder / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    for split, names in (("train", [f"data_batch_{i}" for i in range(1, 6)]), ("test", ["test_batch"])):
        x, y = class_sorted[f"x_{split}"], class_sorted[f"y_{split}"].reshape(-1)
        sequence = y[rng.permutation(len(y))]  # a class per position of the release
        release = np.empty_like(x)
        labels = np.empty_like(y)
        where = np.argsort(sequence, kind="stable")
        release[where], labels[where] = x, y
        flat = release.transpose(0, 3, 1, 2).reshape(len(y), -1)  # the release stores channels first
        for k, name in enumerate(names):
            rows = slice(k * 10000, (k + 1) * 10000)
            with open(batches / name, "wb") as f:
                pickle.dump({b"data": flat[rows], b"labels": labels[rows].tolist()}, f, protocol=4)
    return folder


@pytest.mark.slow
def test_online_cifar_gets_the_same_order_subsets_and_checks_as_offline(
    cifar: dict, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class_sorted = cifar["decoded"][0]
    with monkeypatch.context() as mp:
        mp.setenv(datasets.DATA_ENV, str(data_dir))
        offline_subset = load_cifar10(limit=(300, 50), seed=5)
    asked = _serve_downloads(monkeypatch, {"cifar10": _official_layout(class_sorted, tmp_path / "download")})
    (x_train, y_train), (x_test, y_test) = load_cifar10()
    (ox_train, oy_train), (ox_test, oy_test) = cifar["splits"]
    assert np.array_equal(x_train, ox_train) and np.array_equal(y_train, oy_train)  # the same fixed order
    assert np.array_equal(x_test, ox_test) and np.array_equal(y_test, oy_test)
    assert y_train.shape == (50000, 1) and y_train.dtype == np.uint8
    assert _same(load_cifar10(limit=(300, 50), seed=5), offline_subset)
    assert len(asked) == 2


def test_a_download_of_the_wrong_shape_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(datasets.DATA_ENV, raising=False)
    small = (np.zeros((10, 28, 28), np.uint8), np.zeros(10, np.uint8))
    monkeypatch.setattr(_keras_loader("mnist"), "load_data", lambda: (small, small))
    with pytest.raises(ValueError, match=r"x_train of shape \(10, 28, 28\).*expected \(60000, 28, 28\) uint8"):
        load_mnist()
