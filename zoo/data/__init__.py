"""Datasets: a registry of named sets (extendable by plugins), real-file readers, and a fast loader.

Every dataset is read into memory once as an :class:`ImageSet` of uint8 tensors; the
:class:`TensorLoader` moves it to the training device once and does the per-batch work
(shuffle, float conversion, channel and size adaptation) as batched tensor operations.

Example::

    >>> from zoo import data
    >>> train = data.load("mnist", "train", root="../shared/data")   # ImageSet, 60000 x 1 x 28 x 28
    >>> faces = data.load("/path/to/faces", "train")                  # a folder of images
    >>> mnistm = data.load("mnistm", "train", root="../shared/data")  # built from MNIST once, then cached
    >>> data.content_digest("mnistm", root="../shared/data")          # sha256 of every split's pixels and labels

Where a real set is missing, `digits` and `syndigits` are offline stand-ins for USPS and SVHN
(docs/data.md says how they are made and how they differ).
"""

from __future__ import annotations

from ._types import DatasetInfo, ImageSet
from .loader import TensorLoader, adapt_images, check_class_labels, check_image_batch
from .registry import content_digest, data_root, datasets, detect_path_format, load, presence, resolve

__all__ = [
    "DatasetInfo",
    "ImageSet",
    "TensorLoader",
    "adapt_images",
    "check_class_labels",
    "check_image_batch",
    "content_digest",
    "data_root",
    "datasets",
    "detect_path_format",
    "load",
    "presence",
    "resolve",
]

