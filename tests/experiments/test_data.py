"""Tests of experiments.data: the readers on small files written here, and every error case."""

from __future__ import annotations

import gzip
import os
import pickle
import re
import struct

import numpy as np
import pytest

from experiments.data import (
    DATASET_NAMES,
    DataError,
    Dataset,
    fingerprint,
    load_dataset,
    read_cifar10_batch,
    read_idx,
)

_TYPE_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of ``array``, written from the format's description."""
    array = np.asarray(array)
    header = bytes([0, 0, _TYPE_CODES[array.dtype], array.ndim])
    header += b"".join(struct.pack(">I", size) for size in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, *, compress: bool = False):
    data = idx_bytes(array)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def write_mnist(directory, *, n_train=6, n_test=4, side=4, compress=False, seed=0):
    """Writes the four standard MNIST files; returns the arrays written."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, array in arrays.items():
        write_idx(directory / f"{name}{suffix}", array, compress=compress)
    return arrays


def cifar_batch(n: int, seed: int, *, str_keys: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(label) for label in rng.integers(0, 10, n)]
    if str_keys:
        return {"data": data, "labels": labels}
    return {b"batch_label": b"test", b"data": data, b"labels": labels}


def write_pickle(path, obj, protocol=2):
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


def assert_single_error(excinfo, path) -> None:
    """The error names the file and hides any internal exception it replaced."""
    message = str(excinfo.value)
    assert str(path) in message, message
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__context__ is None or excinfo.value.__suppress_context__


# --------------------------------------------------------------------------
# IDX


@pytest.mark.parametrize("dtype", list(_TYPE_CODES))
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, dtype, compress):
    rng = np.random.default_rng(1)
    array = (rng.standard_normal((3, 2, 5)) * 50).astype(dtype)
    path = write_idx(tmp_path / "a.idx", array, compress=compress)
    got = read_idx(path)
    assert got.shape == array.shape
    assert got.dtype == dtype  # native byte order, not the file's big-endian
    np.testing.assert_array_equal(got, array)


def test_read_idx_big_endian_on_disk(tmp_path):
    # 0x0102 stored big-endian reads as 258, whatever the machine's byte order.
    path = tmp_path / "be.idx"
    path.write_bytes(bytes([0, 0, 0x0B, 1, 0, 0, 0, 1, 0x01, 0x02]))
    np.testing.assert_array_equal(read_idx(path), np.array([258], np.int16))


def test_read_idx_gzip_decided_by_content(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    compressed_without_suffix = write_idx(tmp_path / "plain-name", array, compress=True)
    raw_with_gz_suffix = write_idx(tmp_path / "raw.gz", array)
    np.testing.assert_array_equal(read_idx(compressed_without_suffix), array)
    np.testing.assert_array_equal(read_idx(raw_with_gz_suffix), array)


def _valid_idx(tmp_path):
    return idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


_BAD_IDX = {
    "empty": lambda good: b"",
    "bad magic": lambda good: b"\x01\x02" + good[2:],
    "unknown type code": lambda good: good[:2] + b"\x0a" + good[3:],
    "zero dimensions": lambda good: good[:3] + b"\x00",
    "truncated header": lambda good: good[:9],
    "truncated data": lambda good: good[:-1],
    "trailing bytes": lambda good: good + b"\x00",
    "bad gzip": lambda good: b"\x1f\x8b" + b"not really gzip data",
    "truncated gzip": lambda good: gzip.compress(good)[:-9],
}


@pytest.mark.parametrize("case", list(_BAD_IDX))
def test_read_idx_malformed_names_the_file(tmp_path, case):
    path = tmp_path / f"{case.replace(' ', '-')}-idx3-ubyte"
    path.write_bytes(_BAD_IDX[case](_valid_idx(tmp_path)))
    with pytest.raises(DataError) as excinfo:
        read_idx(path)
    assert_single_error(excinfo, path)


def test_read_idx_corrupt_gzip_checksum(tmp_path):
    compressed = bytearray(gzip.compress(_valid_idx(tmp_path)))
    compressed[-5] ^= 0xFF  # the stored CRC-32 no longer matches
    path = tmp_path / "crc.gz"
    path.write_bytes(bytes(compressed))
    with pytest.raises(DataError, match="gzip") as excinfo:
        read_idx(path)
    assert_single_error(excinfo, path)


def test_read_idx_header_size_overflow_is_rejected(tmp_path):
    # Sizes whose product overflows 64 bits must not wrap around to a small number.
    path = tmp_path / "huge"
    path.write_bytes(bytes([0, 0, 0x0C, 3]) + b"\xff\xff\xff\xff" * 3 + b"\x00" * 4)
    with pytest.raises(DataError, match="truncated") as excinfo:
        read_idx(path)
    assert_single_error(excinfo, path)


def test_read_idx_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="not found") as excinfo:
        read_idx(tmp_path / "nope")
    assert_single_error(excinfo, tmp_path / "nope")
    with pytest.raises(DataError, match="directory") as excinfo:
        read_idx(tmp_path)
    assert_single_error(excinfo, tmp_path)


# --------------------------------------------------------------------------
# MNIST and Fashion-MNIST through load_dataset


@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist(tmp_path, compress):
    arrays = write_mnist(tmp_path, compress=compress)
    dataset = load_dataset("mnist", tmp_path)
    assert isinstance(dataset, Dataset)
    assert dataset.name == "mnist" and dataset.num_classes == 10
    assert dataset.image_shape == (4, 4, 1)
    assert dataset.x_train.dtype == np.float32 and dataset.x_train.shape == (6, 16)
    assert dataset.y_train.dtype == np.int32 and dataset.y_train.shape == (6,)
    assert dataset.x_test.shape == (4, 16) and dataset.y_test.shape == (4,)
    np.testing.assert_array_equal(
        dataset.x_train, arrays["train-images-idx3-ubyte"].reshape(6, 16) / np.float32(255)
    )
    np.testing.assert_array_equal(dataset.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert dataset.x_train.min() >= 0 and dataset.x_train.max() <= 1


def test_load_fashion_mnist_from_subdirectory(tmp_path):
    arrays = write_mnist(tmp_path / "fashion-mnist", compress=True, seed=3)
    dataset = load_dataset("Fashion_MNIST", str(tmp_path))
    assert dataset.name == "fashion-mnist"
    np.testing.assert_array_equal(dataset.y_train, arrays["train-labels-idx1-ubyte"])


def test_load_mnist_torchvision_layout_and_dotted_names(tmp_path):
    arrays = write_mnist(tmp_path / "MNIST" / "raw")
    for old in (tmp_path / "MNIST" / "raw").iterdir():
        old.rename(old.with_name(old.name.replace("-idx", ".idx")))
    dataset = load_dataset("mnist", tmp_path)
    np.testing.assert_array_equal(dataset.y_train, arrays["train-labels-idx1-ubyte"])


def test_load_mnist_missing_directory_and_file(tmp_path):
    missing_dir = tmp_path / "absent"
    with pytest.raises(DataError, match="not found") as excinfo:
        load_dataset("mnist", missing_dir)
    assert_single_error(excinfo, missing_dir)

    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte") as excinfo:
        load_dataset("mnist", tmp_path)
    assert_single_error(excinfo, tmp_path / "t10k-labels-idx1-ubyte")


def test_load_mnist_needs_data_dir():
    with pytest.raises(DataError, match="data_dir"):
        load_dataset("mnist")


def test_load_mnist_data_dir_is_a_file(tmp_path):
    path = tmp_path / "file"
    path.write_bytes(b"")
    with pytest.raises(DataError, match="not a directory") as excinfo:
        load_dataset("fashion-mnist", path)
    assert_single_error(excinfo, path)


def test_load_mnist_rejects_wrong_contents(tmp_path):
    write_mnist(tmp_path)
    images = tmp_path / "train-images-idx3-ubyte"
    labels = tmp_path / "train-labels-idx1-ubyte"

    write_idx(images, np.zeros((6, 4, 4), np.float32))  # valid IDX, wrong element type
    with pytest.raises(DataError, match="uint8 images") as excinfo:
        load_dataset("mnist", tmp_path)
    assert_single_error(excinfo, images)

    write_idx(images, np.zeros((6, 16), np.uint8))  # valid IDX, wrong rank
    with pytest.raises(DataError, match="shape") as excinfo:
        load_dataset("mnist", tmp_path)
    assert_single_error(excinfo, images)

    write_idx(images, np.zeros((6, 4, 4), np.uint8))
    write_idx(labels, np.zeros(5, np.uint8))  # one label short
    with pytest.raises(DataError, match="5 labels for 6 images") as excinfo:
        load_dataset("mnist", tmp_path)
    assert_single_error(excinfo, labels)

    write_idx(labels, np.array([0, 1, 2, 3, 4, 10], np.uint8))
    with pytest.raises(DataError, match=r"\[0, 10\)") as excinfo:
        load_dataset("mnist", tmp_path)
    assert_single_error(excinfo, labels)


@pytest.mark.parametrize("split", ["train", "t10k"])
@pytest.mark.parametrize("shape", [(0, 4, 4), (6, 0, 0)], ids=["0-images", "0-pixels"])
def test_load_mnist_without_data_names_the_file(tmp_path, split, shape):
    write_mnist(tmp_path)
    images = tmp_path / f"{split}-images-idx3-ubyte"
    write_idx(images, np.zeros(shape, np.uint8))
    write_idx(tmp_path / f"{split}-labels-idx1-ubyte", np.zeros(shape[0], np.uint8))
    with pytest.raises(DataError, match="holds no data") as excinfo:
        load_dataset("mnist", tmp_path)
    assert_single_error(excinfo, images)


def test_fingerprint_follows_the_contents(tmp_path):
    write_mnist(tmp_path / "a")
    write_mnist(tmp_path / "b", compress=True)  # same arrays, other files
    first = fingerprint(load_dataset("mnist", tmp_path / "a"))
    assert len(first) == 64 and first == fingerprint(load_dataset("mnist", tmp_path / "b"))
    assert first != fingerprint(load_dataset("fashion-mnist", tmp_path / "a"))
    labels = tmp_path / "a" / "t10k-labels-idx1-ubyte"
    changed = read_idx(labels)
    changed[0] = (changed[0] + 1) % 10
    write_idx(labels, changed)
    assert first != fingerprint(load_dataset("mnist", tmp_path / "a"))
    assert fingerprint(load_dataset("digits")) == fingerprint(load_dataset("digits"))
    assert fingerprint(load_dataset("digits")) != fingerprint(load_dataset("digits", seed=1))


def test_load_mnist_truncated_file_names_it(tmp_path):
    write_mnist(tmp_path, compress=True)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", tmp_path)
    assert_single_error(excinfo, path)


# --------------------------------------------------------------------------
# CIFAR-10


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
@pytest.mark.parametrize("str_keys", [False, True])
def test_read_cifar10_batch(tmp_path, protocol, str_keys):
    batch = cifar_batch(5, seed=protocol, str_keys=str_keys)
    path = write_pickle(tmp_path / "data_batch_1", batch, protocol)
    images, labels = read_cifar10_batch(path)
    assert images.dtype == np.uint8 and images.shape == (5, 32, 32, 3)
    assert labels.dtype == np.int32
    data = batch["data" if str_keys else b"data"]
    np.testing.assert_array_equal(labels, batch["labels" if str_keys else b"labels"])
    # The file holds 1024 red, then 1024 green, then 1024 blue values, row-major.
    for image, row, col, channel in [(0, 0, 0, 0), (1, 2, 7, 1), (4, 31, 31, 2), (3, 5, 30, 2)]:
        assert images[image, row, col, channel] == data[image, channel * 1024 + row * 32 + col]


def test_load_cifar10(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = {f"data_batch_{i}": cifar_batch(3, seed=i) for i in range(1, 6)}
    batches["test_batch"] = cifar_batch(2, seed=9)
    for name, batch in batches.items():
        write_pickle(folder / name, batch)
    dataset = load_dataset("cifar10", tmp_path)
    assert dataset.name == "cifar10" and dataset.num_classes == 10
    assert dataset.image_shape == (32, 32, 3)
    assert dataset.x_train.shape == (15, 3072) and dataset.x_train.dtype == np.float32
    assert dataset.x_test.shape == (2, 3072) and dataset.y_test.dtype == np.int32
    expected_labels = np.concatenate([batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)])
    np.testing.assert_array_equal(dataset.y_train, expected_labels)
    images, _ = read_cifar10_batch(folder / "test_batch")
    np.testing.assert_array_equal(dataset.x_test, images.reshape(2, -1) / np.float32(255))


def test_load_cifar10_missing_batch(tmp_path):
    for name in ("data_batch_1", "data_batch_2", "data_batch_4", "data_batch_5", "test_batch"):
        write_pickle(tmp_path / name, cifar_batch(2, seed=0))
    with pytest.raises(DataError, match="data_batch_3") as excinfo:
        load_dataset("cifar10", tmp_path)
    assert_single_error(excinfo, tmp_path / "data_batch_3")


def _good_batch():
    return cifar_batch(4, seed=0)


_BAD_CIFAR = {
    "not a pickle": lambda: b"hello, not a pickle",
    "truncated": lambda: pickle.dumps(_good_batch(), protocol=2)[:-200],
    "empty": lambda: b"",
    "a list": lambda: pickle.dumps([1, 2, 3]),
    "no labels": lambda: pickle.dumps({b"data": _good_batch()[b"data"]}),
    "float data": lambda: pickle.dumps(
        {**_good_batch(), b"data": _good_batch()[b"data"].astype(np.float32)}),
    "wrong width": lambda: pickle.dumps(
        {**_good_batch(), b"data": np.zeros((4, 100), np.uint8)}),
    "data not an array": lambda: pickle.dumps({**_good_batch(), b"data": [1, 2, 3]}),
    "too few labels": lambda: pickle.dumps({**_good_batch(), b"labels": [0, 1, 2]}),
    "label out of range": lambda: pickle.dumps({**_good_batch(), b"labels": [0, 1, 2, 10]}),
    "labels not integers": lambda: pickle.dumps({**_good_batch(), b"labels": ["a"] * 4}),
    "no images": lambda: pickle.dumps(
        {b"data": np.zeros((0, 3072), np.uint8), b"labels": np.zeros(0, np.int64)}),
}


@pytest.mark.parametrize("case", list(_BAD_CIFAR))
def test_read_cifar10_malformed_names_the_file(tmp_path, case):
    path = tmp_path / "data_batch_1"
    path.write_bytes(_BAD_CIFAR[case]())
    with pytest.raises(DataError) as excinfo:
        read_cifar10_batch(path)
    assert_single_error(excinfo, path)


class _RunsCode:
    """Unpickling this calls os.mkdir: the classic pickle attack, made harmless."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_read_cifar10_refuses_code_in_the_pickle(tmp_path):
    sentinel = tmp_path / "created-by-pickle"
    path = write_pickle(tmp_path / "test_batch", {b"data": _RunsCode(str(sentinel))})
    with pytest.raises(DataError, match="refusing") as excinfo:
        read_cifar10_batch(path)
    assert_single_error(excinfo, path)
    assert not sentinel.exists()


def test_read_cifar10_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found") as excinfo:
        read_cifar10_batch(tmp_path / "test_batch")
    assert_single_error(excinfo, tmp_path / "test_batch")


# --------------------------------------------------------------------------
# digits and names


def _sorted_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    rows = np.concatenate([x, y[:, None].astype(x.dtype)], axis=1)
    return rows[np.lexsort(rows.T[::-1])]


def test_digits_split_is_a_deterministic_stratified_partition():
    from sklearn.datasets import load_digits

    first = load_dataset("digits", seed=3)
    again = load_dataset("digits", seed=3)
    other = load_dataset("digits", seed=4)
    np.testing.assert_array_equal(first.x_train, again.x_train)
    np.testing.assert_array_equal(first.y_test, again.y_test)
    assert not np.array_equal(first.x_train, other.x_train)

    digits = load_digits()
    assert first.name == "digits" and first.num_classes == 10
    assert first.image_shape == (8, 8, 1)
    assert first.x_train.dtype == np.float32 and first.y_train.dtype == np.int32
    assert first.x_train.shape[1] == 64
    assert first.x_test.shape[0] == int(np.ceil(0.25 * len(digits.target)))
    assert first.x_train.min() == 0.0 and first.x_train.max() == 1.0
    # Train and test together are the whole data set, each example once: the
    # split is disjoint and loses nothing.
    split_rows = _sorted_rows(
        np.concatenate([first.x_train, first.x_test]),
        np.concatenate([first.y_train, first.y_test]),
    )
    all_rows = _sorted_rows((digits.data / 16).astype(np.float32), digits.target)
    np.testing.assert_array_equal(split_rows, all_rows)
    # Stratified: each class's share of the test set is its share of the data.
    for label in range(10):
        total = np.sum(digits.target == label)
        assert abs(np.sum(first.y_test == label) - 0.25 * total) <= 1


def test_digits_test_fraction():
    dataset = load_dataset("digits", test_fraction=0.5)
    assert abs(dataset.x_test.shape[0] - dataset.x_train.shape[0]) <= 1
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="test_fraction"):
            load_dataset("digits", test_fraction=bad)


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(DataError, match=re.escape("'imagenet'")) as excinfo:
        load_dataset("imagenet")
    for name in DATASET_NAMES:
        assert name in str(excinfo.value)
    with pytest.raises(DataError, match="must be a string"):
        load_dataset(3)
