"""`digits`: an offline stand-in for USPS made of real handwriting, scikit-learn's copy of the UCI digits.

``sklearn.datasets.load_digits`` holds 1,797 8x8 images (values 0..16) written by people other than
MNIST's writers, the test part of UCI's "Optical Recognition of Handwritten Digits". Like USPS
(16x16, digits filling the frame) they are gray, low-resolution and fill the frame; zoo scales
them to 28x28 by bicubic interpolation so they meet MNIST-sized models. It is a stand-in, not USPS.
zoo reads the file scikit-learn ships them in, without importing scikit-learn (see _read_bundled).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError
from ._types import ImageSet
from .photos import _package_dir

__all__ = ["SIZE", "TEST_EVERY", "split_index", "read_digits"]

SIZE = 28
#: Within each class, in the order scikit-learn stores them, every 5th image is test (20 %).
TEST_EVERY = 5


def split_index(labels: np.ndarray, split: str) -> np.ndarray:
    """Return the indices of `split` in a fixed stratified split: per class, every TEST_EVERY-th image is test."""
    rank = np.zeros(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        where = np.nonzero(labels == c)[0]
        rank[where] = np.arange(len(where))
    is_test = rank % TEST_EVERY == TEST_EVERY - 1
    return np.nonzero(is_test if split == "test" else ~is_test)[0]


def upscale(images: np.ndarray, size: int = SIZE) -> torch.Tensor:
    """Return 8x8 images with values 0..16 as uint8 (N, 1, size, size), bicubic-interpolated."""
    x = torch.from_numpy(images.astype(np.float32) * (255.0 / 16.0)).unsqueeze(1)
    x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False)
    return x.clamp_(0, 255).round_().to(torch.uint8)


#: Where scikit-learn keeps the digits, relative to its package folder: 1,797 rows of 64 pixels and the label.
_DIGITS_FILE = "datasets/data/digits.csv.gz"


def _read_bundled() -> tuple[np.ndarray, np.ndarray]:
    """Return the images (N, 8, 8) float64 and labels (N,) int64 that ``sklearn.datasets.load_digits`` returns.

    The file is read as load_digits reads it (np.loadtxt), without importing scikit-learn: its import takes over a
    second and sets KMP_DUPLICATE_LIB_OK and KMP_INIT_AT_FORK in os.environ, for the whole process.
    """
    try:
        path = _package_dir("sklearn") / _DIGITS_FILE
    except DataError:
        raise DataError("the 'digits' stand-in reads the UCI digits scikit-learn ships, and scikit-learn is not installed. "
                        "Install it: pip install scikit-learn.") from None
    if not path.is_file():
        raise DataError(f"the 'digits' stand-in's file {path} is missing: the installed scikit-learn does not carry it. "
                        "Reinstall scikit-learn.")
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            table = np.loadtxt(f, delimiter=",", ndmin=2)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as e:
        raise DataError(f"cannot read the 'digits' stand-in's file {path} ({e}). Reinstall scikit-learn.") from None
    if table.shape[1] != 65 or not np.isin(table[:, -1], np.arange(10)).all():
        raise DataError(f"the 'digits' stand-in's file {path} holds a {table.shape} table; expected rows of 64 pixels and a label 0..9. "
                        "Reinstall scikit-learn.")
    return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)


def read_digits(split: str, folder: Path | None = None) -> ImageSet:
    """Return split `split` of the `digits` stand-in (uint8 1x28x28); `folder` is unused (the data ships with scikit-learn)."""
    images, labels = _read_bundled()
    idx = split_index(labels, split)
    return ImageSet(upscale(images[idx]), torch.from_numpy(labels[idx]), "digits", 10)
