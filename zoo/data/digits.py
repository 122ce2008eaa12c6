"""`digits`: an offline stand-in for USPS made of real handwriting, scikit-learn's copy of the UCI digits.

``sklearn.datasets.load_digits`` holds 1,797 8x8 images (values 0..16) written by people other than
MNIST's writers, the test part of UCI's "Optical Recognition of Handwritten Digits". Like USPS
(16x16, digits filling the frame) they are gray, low-resolution and fill the frame; zoo scales
them to 28x28 by bicubic interpolation so they meet MNIST-sized models. It is a stand-in, not USPS.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError
from ._types import ImageSet

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


def read_digits(split: str, folder: Path | None = None) -> ImageSet:
    """Return split `split` of the `digits` stand-in (uint8 1x28x28); `folder` is unused (the data ships with scikit-learn)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise DataError(f"the 'digits' stand-in needs scikit-learn ({e}). Install it: pip install scikit-learn.") from None
    bunch = load_digits()
    images, labels = np.asarray(bunch.images), np.asarray(bunch.target, dtype=np.int64)
    idx = split_index(labels, split)
    return ImageSet(upscale(images[idx]), torch.from_numpy(labels[idx]), "digits", 10)
