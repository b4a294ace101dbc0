"""Data sets for the experiments, read by our own small readers.

Four data sets, all returned as flattened float32 features in [0, 1] and int32
labels (:class:`Dataset`):

- ``digits``: scikit-learn's bundled 8x8 handwritten digits (no download),
  split into train and test with a fixed seed, stratified by class.
- ``mnist`` and ``fashion-mnist``: the standard IDX files (raw or gzip), with
  the standard train/test split of the files.
- ``cifar10``: the standard CIFAR-10 "python version" batches, with the
  standard train/test split of the files.

Nothing is downloaded: the files must already be in ``data_dir``. Every problem
with a file (missing, truncated, bad magic number, wrong dimensions, bad gzip,
unexpected pickle contents) raises :class:`DataError` with the file's path in
the message, so the command line can print one line instead of a traceback
from inside numpy.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import importlib
import importlib.util
import io
import os
import pickle
import zlib
from pathlib import Path

import numpy as np

DATASET_NAMES: tuple[str, ...] = ("digits", "mnist", "fashion-mnist", "cifar10")


class DataError(ValueError):
    """A data set could not be read; the message names the file or directory."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A classification data set split into train and test.

    Attributes:
        name: the canonical name, one of :data:`DATASET_NAMES`.
        x_train: float32 array of shape (n_train, d), features scaled to [0, 1].
        y_train: int32 array of shape (n_train,), labels in [0, num_classes).
        x_test: float32 array of shape (n_test, d).
        y_test: int32 array of shape (n_test,).
        num_classes: number of classes.
        image_shape: (height, width, channels) of one example before flattening;
            the flattened features are in this channels-last order.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    image_shape: tuple[int, int, int] | None = None


# --------------------------------------------------------------------------
# IDX files (LeCun's format for MNIST and Fashion-MNIST)

# The third byte of an IDX magic number gives the element type; every
# multi-byte type is stored big-endian.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    """The file's contents, gunzipped when it starts with the gzip magic number.

    The content, not the name, decides: some tools unpack ``.gz`` files but
    keep the name, and an IDX file can never start with 0x1f 0x8b.
    """
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a file")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read file ({error.strerror or error})") from None
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: bad or truncated gzip data ({error})") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (raw or gzip-compressed) into a numpy array.

    The format: two zero bytes, a type code, the number of dimensions n, then
    n big-endian uint32 sizes, then the elements in C order, big-endian.

    Args:
        path: the file.

    Returns:
        An array of the file's shape and element type, in native byte order
        (uint8 for the MNIST files).

    Raises:
        DataError: naming ``path``, when the file is missing, is not gzip or
            IDX, has an unknown type code, or holds more or fewer bytes than
            its header declares.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path}: too short for an IDX header ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0:
        raise DataError(
            f"{path}: not an IDX file (magic number starts {data[:2].hex()}, expected 0000)"
        )
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        raise DataError(f"{path}: unknown IDX type code 0x{type_code:02x}")
    if ndim == 0:
        raise DataError(f"{path}: IDX header declares 0 dimensions")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DataError(
            f"{path}: truncated IDX header ({len(data)} bytes, {header_size} needed "
            f"for {ndim} dimensions)"
        )
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    # Python integers, so a hostile header cannot overflow the product.
    expected = dtype.itemsize
    for size in shape:
        expected *= size
    actual = len(data) - header_size
    if actual != expected:
        problem = "truncated" if actual < expected else "trailing bytes after the data"
        raise DataError(
            f"{path}: {problem}: header declares shape {shape} of {dtype.name} "
            f"({expected} bytes), file holds {actual} bytes of data"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


# --------------------------------------------------------------------------
# CIFAR-10 python batches (pickles)

# The only globals a CIFAR-10 batch pickle needs: numpy's array and dtype
# reconstructors (under their numpy 1 and numpy 2 module names) and, for
# protocol-2 pickles written by Python 3, codecs.encode for bytes. Anything
# else (os.system, subprocess, ...) is refused, so a malicious file cannot run
# code while it is loaded.
_NUMPY_CORE = "numpy._core" if importlib.util.find_spec("numpy._core") else "numpy.core"
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
    ("_codecs", "encode"): ("_codecs", "encode"),
}
for _old_or_new in ("numpy.core", "numpy._core"):
    _ALLOWED_GLOBALS[(f"{_old_or_new}.multiarray", "_reconstruct")] = (
        f"{_NUMPY_CORE}.multiarray", "_reconstruct")
    _ALLOWED_GLOBALS[(f"{_old_or_new}.multiarray", "scalar")] = (
        f"{_NUMPY_CORE}.multiarray", "scalar")
    _ALLOWED_GLOBALS[(f"{_old_or_new}.numeric", "_frombuffer")] = (
        f"{_NUMPY_CORE}.numeric", "_frombuffer")

_CIFAR_IMAGE_SHAPE = (32, 32, 3)
_CIFAR_NUM_CLASSES = 10


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        target = _ALLOWED_GLOBALS.get((module, name))
        if target is None:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a CIFAR-10 batch holds only arrays, "
                "lists and bytes"
            )
        return getattr(importlib.import_module(target[0]), target[1])


def _get_field(path: Path, batch, key: str):
    # encoding="bytes" turns the original Python 2 keys into bytes; a batch
    # re-saved by Python 3 may have str keys instead.
    for candidate in (key.encode(), key):
        if candidate in batch:
            return batch[candidate]
    keys = sorted(repr(k) for k in batch)
    raise DataError(f"{path}: CIFAR-10 batch has no {key!r} entry (keys: {', '.join(keys)})")


def read_cifar10_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Reads one CIFAR-10 python batch (``data_batch_1`` ... ``test_batch``).

    A batch is a pickled dict with ``data``, a uint8 array of shape (n, 3072)
    holding each image as 1024 red, 1024 green then 1024 blue values (rows of
    32), and ``labels``, n integers in [0, 10). The pickle is loaded with an
    unpickler that accepts only numpy arrays, so a hostile file cannot run code.

    Args:
        path: the batch file.

    Returns:
        ``(images, labels)``: uint8 images of shape (n, 32, 32, 3), channels
        last, and int32 labels of shape (n,).

    Raises:
        DataError: naming ``path``, when the file is missing, is not a pickle
            of the expected dict, or holds arrays of the wrong type or shape.
    """
    path = Path(path)
    raw = _read_bytes(path)
    try:
        batch = _ArrayOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as error:  # any failure to unpickle means a malformed file
        raise DataError(
            f"{path}: not a readable CIFAR-10 batch ({type(error).__name__}: {error})"
        ) from None
    if not isinstance(batch, dict):
        raise DataError(f"{path}: CIFAR-10 batch must be a dict, got {type(batch).__name__}")
    data = _get_field(path, batch, "data")
    labels = _get_field(path, batch, "labels")
    pixels = int(np.prod(_CIFAR_IMAGE_SHAPE))
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == pixels):
        described = (f"{data.dtype} array of shape {data.shape}"
                     if isinstance(data, np.ndarray) else type(data).__name__)
        raise DataError(
            f"{path}: CIFAR-10 'data' must be a uint8 array of shape (n, {pixels}), "
            f"got {described}"
        )
    if data.shape[0] == 0:
        raise DataError(f"{path}: CIFAR-10 batch holds no images")
    try:
        labels = np.asarray(labels)
    except Exception:  # ragged or odd objects: report below as a bad type
        labels = np.asarray(None)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: CIFAR-10 'labels' must be a list of integers")
    if labels.shape[0] != data.shape[0]:
        raise DataError(
            f"{path}: CIFAR-10 batch has {data.shape[0]} images but {labels.shape[0]} labels"
        )
    if labels.min() < 0 or labels.max() >= _CIFAR_NUM_CLASSES:
        raise DataError(
            f"{path}: CIFAR-10 labels must lie in [0, {_CIFAR_NUM_CLASSES}), "
            f"got range [{labels.min()}, {labels.max()}]"
        )
    # The file stores each image channel by channel; jaxact is channels-last.
    height, width, channels = _CIFAR_IMAGE_SHAPE
    images = data.reshape(-1, channels, height, width).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int32)


# --------------------------------------------------------------------------
# Data sets

_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# Subfolders where the files commonly end up: the data set's own name, and
# torchvision's layout (ROOT/MNIST/raw).
_IDX_SUBDIRS = {
    "mnist": ("", "mnist", "MNIST/raw"),
    "fashion-mnist": ("", "fashion-mnist", "fashion_mnist", "FashionMNIST/raw"),
}
_CIFAR_SUBDIRS = ("", "cifar-10-batches-py")
_CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST_BATCH = "test_batch"


def _canonical_name(name: str) -> str:
    if not isinstance(name, str):
        raise DataError(
            f"load_dataset: dataset name must be a string, got {type(name).__name__}; "
            f"valid names: {', '.join(DATASET_NAMES)}"
        )
    canonical = name.strip().lower().replace("_", "-")
    if canonical not in DATASET_NAMES:
        raise DataError(
            f"load_dataset: unknown dataset {name!r}; valid names: {', '.join(DATASET_NAMES)}"
        )
    return canonical


def _require_directory(name: str, data_dir) -> Path:
    if data_dir is None:
        raise DataError(
            f"load_dataset: dataset {name!r} is read from local files and needs data_dir "
            "(--data-dir); nothing is downloaded"
        )
    directory = Path(data_dir)
    if not directory.exists():
        raise DataError(f"{directory}: data directory not found")
    if not directory.is_dir():
        raise DataError(f"{directory}: data directory is not a directory")
    return directory


def _find_file(directory: Path, subdirs, stem: str, suffixes=("", ".gz")) -> Path:
    """The first existing ``directory/subdir/stem+suffix``, else DataError."""
    # Some mirrors write "train-images.idx3-ubyte" with a dot.
    stems = (stem, stem.replace("-idx", ".idx")) if "-idx" in stem else (stem,)
    for subdir in subdirs:
        for candidate_stem in stems:
            for suffix in suffixes:
                candidate = directory / subdir / f"{candidate_stem}{suffix}"
                if candidate.is_file():
                    return candidate
    searched = ", ".join(str(directory / subdir) for subdir in subdirs)
    wanted = f"{stem}[.gz]" if ".gz" in suffixes else stem
    raise DataError(f"{directory / stem}: file not found (looked for {wanted} in {searched})")


def _load_idx_split(directory: Path, subdirs, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_path = _find_file(directory, subdirs, _IDX_FILES[f"{split}_images"])
    labels_path = _find_file(directory, subdirs, _IDX_FILES[f"{split}_labels"])
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DataError(
            f"{images_path}: expected uint8 images of shape (n, rows, cols), "
            f"got {images.dtype.name} of shape {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(
            f"{labels_path}: expected uint8 labels of shape (n,), "
            f"got {labels.dtype.name} of shape {labels.shape}"
        )
    if labels.shape[0] != images.shape[0]:
        raise DataError(
            f"{labels_path}: {labels.shape[0]} labels for {images.shape[0]} images "
            f"in {images_path}"
        )
    if images.shape[0] == 0 or images.shape[1] * images.shape[2] == 0:
        raise DataError(
            f"{images_path}: holds no data (shape {images.shape}); the experiments need "
            "at least one image of at least one pixel"
        )
    if labels.max() >= 10:
        raise DataError(f"{labels_path}: labels must lie in [0, 10), found {labels.max()}")
    features = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255)
    return features, labels.astype(np.int32)


def _load_idx_dataset(name: str, directory: Path) -> Dataset:
    subdirs = _IDX_SUBDIRS[name]
    x_train, y_train = _load_idx_split(directory, subdirs, "train")
    x_test, y_test = _load_idx_split(directory, subdirs, "test")
    if x_train.shape[1] != x_test.shape[1]:
        raise DataError(
            f"{directory}: train images have {x_train.shape[1]} pixels, "
            f"test images {x_test.shape[1]}"
        )
    side = int(round(np.sqrt(x_train.shape[1])))
    image_shape = (side, side, 1) if side * side == x_train.shape[1] else None
    return Dataset(name, x_train, y_train, x_test, y_test, 10, image_shape)


def _load_cifar10(directory: Path) -> Dataset:
    def load(stems):
        parts = [read_cifar10_batch(_find_file(directory, _CIFAR_SUBDIRS, stem, suffixes=("",)))
                 for stem in stems]
        images = np.concatenate([images for images, _ in parts])
        labels = np.concatenate([labels for _, labels in parts])
        return images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255), labels

    x_train, y_train = load(_CIFAR_TRAIN_BATCHES)
    x_test, y_test = load((_CIFAR_TEST_BATCH,))
    return Dataset("cifar10", x_train, y_train, x_test, y_test, _CIFAR_NUM_CLASSES,
                   _CIFAR_IMAGE_SHAPE)


def _load_digits(seed: int, test_fraction: float) -> Dataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    # Pixel values are counts 0..16 of an 8x8 downsampling of 32x32 bitmaps.
    features = (digits.data / 16.0).astype(np.float32)
    labels = digits.target.astype(np.int32)
    # Stratified, so every seed's test set has the classes in the same shares.
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=test_fraction, random_state=seed, stratify=labels
    )
    return Dataset("digits", x_train, y_train, x_test, y_test, 10, (8, 8, 1))


def load_dataset(
    name: str = "digits",
    data_dir: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    test_fraction: float = 0.25,
) -> Dataset:
    """Loads a data set by name; nothing is downloaded.

    Args:
        name: one of :data:`DATASET_NAMES` (case and ``_`` vs ``-`` ignored).
        data_dir: directory holding the files; required for every data set
            but ``digits`` (which ignores it). MNIST and Fashion-MNIST files
            (``train-images-idx3-ubyte`` etc., raw or ``.gz``) are looked for in
            ``data_dir``, ``data_dir/<name>`` and torchvision's
            ``data_dir/MNIST/raw``; CIFAR-10 batches in ``data_dir`` and
            ``data_dir/cifar-10-batches-py``.
        seed: seed of the train/test split of ``digits``; the other data sets
            use their files' standard split and ignore it.
        test_fraction: share of ``digits`` held out for testing, in (0, 1).

    Returns:
        A :class:`Dataset`.

    Raises:
        DataError: for an unknown name (listing the valid names), a missing
            directory or file, or a malformed file (naming it).
        ValueError: for a ``test_fraction`` outside (0, 1).
    """
    name = _canonical_name(name)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"load_dataset: test_fraction must lie in (0, 1), got {test_fraction}")
    if name == "digits":
        return _load_digits(seed, test_fraction)
    directory = _require_directory(name, data_dir)
    if name == "cifar10":
        return _load_cifar10(directory)
    return _load_idx_dataset(name, directory)


def fingerprint(dataset: Dataset) -> str:
    """SHA-256 of everything a result depends on in ``dataset``: its arrays and shapes.

    Two loads of the same files (or of ``digits`` with the same scikit-learn)
    give the same fingerprint; any changed pixel or label changes it. The
    experiment runner keys resumption on it.
    """
    digest = hashlib.sha256()
    digest.update(repr((dataset.name, dataset.num_classes, dataset.image_shape)).encode())
    for array in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()
