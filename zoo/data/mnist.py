"""MNIST in its original IDX format (plain or .gz), read with numpy: no download, no torchvision."""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError, option
from ._types import ImageSet

__all__ = ["read_idx", "find_idx", "read_mnist", "mnist_layout"]

#: MNIST's largest file holds 47 MB; a header claiming more than this is damaged, or made to exhaust memory.
_MAX_IDX_BYTES = 1 << 30
_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"), "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def read_idx(path: Path) -> np.ndarray:
    """Return the uint8 array stored in an IDX file (``.gz`` or plain).

    The header is read first and the data only as far as it says (one byte more, to tell trailing bytes): a small
    file whose header or gzip stream claims gigabytes is refused before they are read.
    """
    try:
        with gzip.open(path) if path.suffix == ".gz" else open(path, "rb") as f:
            head = f.read(4)
            if head[:2] == b"\x1f\x8b":  # gzip's magic number, in a file not named .gz
                raise DataError(f"{path} is gzip-compressed but not named .gz. Rename it to {path.name}.gz, or decompress it (gunzip).")
            if len(head) < 4 or head[0] != 0 or head[1] != 0:
                raise DataError(f"{path} is not an IDX file (bad magic number). Expected MNIST's original files, e.g. train-images-idx3-ubyte.gz.")
            dtype_code, ndim = head[2], head[3]
            if dtype_code != 0x08:
                raise DataError(f"{path}: IDX type 0x{dtype_code:02x} is not supported; MNIST's files hold unsigned bytes (0x08).")
            shape = f.read(4 * ndim)
            if len(shape) < 4 * ndim:
                raise DataError(f"{path} is truncated: its header names {ndim} dimensions but the file ends after {4 + len(shape)} bytes. Copy the file again.")
            dims = struct.unpack(f">{ndim}I", shape)
            expected = math.prod(dims)
            if expected > _MAX_IDX_BYTES:
                raise DataError(f"{path}: its header says {dims}, {expected:,} bytes of data, more than any MNIST file holds. Copy the file again.")
            body = f.read(expected + 1)
    except PermissionError:  # not a damaged file: zoo.data.load names the path and what to do
        raise
    # gzip.BadGzipFile is an OSError; a cut-off stream raises EOFError; a damaged deflate stream (one flipped bit) zlib.error
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"cannot read {path} ({e}). Expected one of MNIST's original IDX files, gzip-compressed or plain; copy the file again.") from None
    if len(body) != expected:
        state = "is truncated" if len(body) < expected else "has trailing bytes"
        found = f"found {len(body)}" if len(body) < expected else "found more"
        raise DataError(f"{path} {state}: header says {dims} ({expected} bytes of data), {found}. Copy the file again.")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def find_idx(folder: Path, stem: str) -> Path:
    """Return `folder/stem` or `folder/stem.gz`, whichever exists."""
    for candidate in (folder / stem, folder / f"{stem}.gz", folder / "MNIST" / "raw" / stem, folder / "MNIST" / "raw" / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"MNIST file {stem}[.gz] not found in {folder}. Expected the four IDX files of MNIST there (train-/t10k- images and labels).")


def read_mnist(split: str, folder: Path | None) -> ImageSet:
    """Return MNIST split `split` ('train' or 'test') from the IDX files in `folder`."""
    if folder is None or not folder.is_dir():
        raise DataError(f"MNIST folder {folder} does not exist. Set {option('data_root')} or ZOO_DATA to a folder holding mnist/ with the IDX files.")
    img_name, lbl_name = _FILES[split]
    images, labels = read_idx(find_idx(folder, img_name)), read_idx(find_idx(folder, lbl_name))
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 or len(images) != len(labels):
        raise DataError(
            f"MNIST files in {folder} hold images {images.shape} and labels {labels.shape}; expected (N, 28, 28) and (N,) with the same N. "
            "Put MNIST's original IDX files there."
        )
    if len(labels) and labels.max() > 9:
        i = int(np.argmax(labels > 9))
        raise DataError(f"MNIST label file {find_idx(folder, lbl_name)}: label {labels[i]} at index {i} (and {int((labels > 9).sum()) - 1} more) outside 0..9. "
                        "The file is damaged or not MNIST's; copy it again.")
    return ImageSet(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)), "mnist", 10)


def mnist_layout(folder: Path) -> str | None:
    """Return a description of the MNIST IDX files in `folder`, or None when they are not all there."""
    try:
        found = [find_idx(folder, stem) for pair in _FILES.values() for stem in pair]
    except DataError:
        return None
    return f"MNIST IDX files ({'gzip' if found[0].suffix == '.gz' else 'plain'})"
