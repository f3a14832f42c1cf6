"""Small synthetic Fashion-MNIST-shaped data sets written as IDX files, for tests that must not need the real data."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """The IDX encoding of a uint8 array (magic 0x08 type code, one size per dimension)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = magic if magic is not None else (0x0800 | array.ndim)
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes()


def write_idx(path: Path, array: np.ndarray, *, gz: bool = True, magic: int | None = None) -> Path:
    data = idx_bytes(array, magic)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def synthetic_arrays(n_train: int = 600, n_test: int = 200, seed: int = 0) -> dict[str, np.ndarray]:
    """A learnable 10-class problem: each class is a bright blob at its own place, plus noise."""
    rng = np.random.default_rng(seed)

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = rng.integers(0, 60, size=(n, 28, 28)).astype(np.int64)
        for i, label in enumerate(labels):
            r, c = 3 + 7 * (label // 4), 3 + 6 * (label % 4)
            images[i, r : r + 6, c : c + 6] += 180
        return np.clip(images, 0, 255).astype(np.uint8), labels

    train_x, train_y = make(n_train)
    test_x, test_y = make(n_test)
    return dict(zip(NAMES, (train_x, train_y, test_x, test_y), strict=True))


def write_dataset(folder: Path, *, gz: bool = True, n_train: int = 600, n_test: int = 200, seed: int = 0) -> Path:
    """Write the four files of a synthetic data set into `folder` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in synthetic_arrays(n_train, n_test, seed).items():
        write_idx(folder / (f"{name}.gz" if gz else name), array, gz=gz)
    return folder
