"""USPS (Hull 1994): torchvision's ``usps.bz2`` / ``usps.t.bz2`` (libsvm text) or the seed layout. Never downloads."""

from __future__ import annotations

import bz2
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ._types import ImageSet
from .seedlayout import LAYOUT, begins_seed_layout, read_seed_layout, seed_domain

__all__ = ["BZ2_FILES", "read_usps_bz2", "read_usps", "usps_layout"]

BZ2_FILES = {"train": "usps.bz2", "test": "usps.t.bz2"}
_PIXELS = 16 * 16
#: torchvision's usps.bz2 inflates to some 26 MB (7,291 lines of 256 'index:value' fields). A file inflating to more is
#: damaged or a bomb (a 1.5 KB .bz2 can inflate to gigabytes): it is refused once this much is read, not after all of it.
_MAX_USPS_BYTES = 64 << 20
_EXPECTED = "usps.bz2 and usps.t.bz2 (libsvm text as torchvision downloads them: 'label 1:v1 ... 256:v256', labels 1..10, values in [-1, 1])"


def _parse_line(text: str, path: Path, line: int) -> tuple[int, np.ndarray]:
    """Return the 0-based label and the 256 float32 features of one libsvm line."""
    head, _, rest = text.replace("\t", " ").partition(" ")  # libsvm separates fields by any whitespace
    try:
        value = float(head)
        if value != int(value):
            raise ValueError("a label is a whole number")
        label = int(value) - 1  # the libsvm copy writes digit d as label d + 1
        pairs = np.array(rest.replace(":", " ").split(), dtype=np.float64).reshape(-1, 2)
        if not np.isfinite(pairs).all():
            raise ValueError("not finite")
    except (ValueError, OverflowError):  # int(float("inf")) overflows
        raise DataError(f"USPS file {path}, line {line}: cannot parse {text[:60]!r}...; expected {_EXPECTED}.") from None
    # checked as floats, before the cast: '1.5' would truncate to 1, and '1e30' wrap to a negative index
    bad = (pairs[:, 0] < 1) | (pairs[:, 0] > _PIXELS) | (pairs[:, 0] != np.floor(pairs[:, 0]))
    if bad.any():
        written = rest.replace(":", " ").split()[2 * int(np.argmax(bad))]  # the first bad index, as the file writes it
        raise DataError(f"USPS file {path}, line {line}: feature index {written} is not a whole number in 1..{_PIXELS}; "
                        "expected 16x16 images.")
    index = pairs[:, 0].astype(np.int64) - 1
    if not 0 <= label <= 9:
        raise DataError(f"USPS file {path}, line {line}: label {label + 1} is out of range 1..10. Expected {_EXPECTED}.")
    if len(pairs) and np.abs(pairs[:, 1]).max() > 1:
        raise DataError(f"USPS file {path}, line {line}: pixel value {pairs[np.abs(pairs[:, 1]).argmax(), 1]:g} outside [-1, 1]. Expected {_EXPECTED}.")
    features = np.zeros(_PIXELS, dtype=np.float32)  # libsvm may leave out features whose value is 0
    features[index] = pairs[:, 1]
    return label, features


def read_usps_bz2(path: Path) -> ImageSet:
    """Return the images (N, 1, 16, 16) and labels (0..9) of one USPS libsvm ``.bz2`` file."""
    if not path.is_file():
        raise DataError(f"USPS file {path} does not exist. Expected {_EXPECTED} in that folder, or the seed layout: {LAYOUT}.")
    try:
        with bz2.open(path, "rb") as f:
            raw = f.read(_MAX_USPS_BYTES + 1)
        if len(raw) > _MAX_USPS_BYTES:
            raise DataError(f"USPS file {path} inflates to more than {_MAX_USPS_BYTES >> 20} MiB, more than any USPS file holds: "
                            f"it is damaged or not USPS's. Expected {_EXPECTED}; copy the files again.")
        lines = raw.decode("utf-8").splitlines()
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read USPS file {path} ({e}). Expected a bzip2-compressed libsvm text file: {_EXPECTED}.") from None
    parsed = [_parse_line(t.strip(), path, i) for i, t in enumerate(lines, start=1) if t.strip()]
    if not parsed:
        raise DataError(f"USPS file {path} holds no samples. Expected {_EXPECTED}.")
    labels = np.array([p[0] for p in parsed], dtype=np.int64)
    features = np.stack([p[1] for p in parsed])
    # torchvision's mapping, kept so pixels match what its users see: [-1, 1] -> [0, 255], truncated
    pixels = np.clip((features + 1) / 2 * 255, 0, 255).astype(np.uint8).reshape(-1, 1, 16, 16)
    return ImageSet(torch.from_numpy(pixels), torch.from_numpy(labels), "usps", 10)


def usps_layout(folder: Path) -> str | None:
    """Return a description of the USPS files in `folder`, or None."""
    if all((folder / f).is_file() for f in BZ2_FILES.values()):
        return "USPS libsvm .bz2 files (torchvision format)"
    if seed_domain(folder) == "usps":
        return "USPS in the seed layout (data/*.png, train.csv, val.csv)"
    return None


def read_usps(split: str, folder: Path | None) -> ImageSet:
    """Return USPS split `split` from ``usps.bz2``/``usps.t.bz2`` or the seed layout in `folder`."""
    if folder is None or not folder.is_dir():
        raise DataError(f"USPS folder {folder} does not exist. Put {_EXPECTED} (or the seed layout: {LAYOUT}) in DATA/usps/.")
    if any((folder / f).is_file() for f in BZ2_FILES.values()):
        return read_usps_bz2(folder / BZ2_FILES[split])
    if begins_seed_layout(folder):
        return read_seed_layout(split, folder, channels=1, name="usps")
    raise DataError(f"USPS folder {folder} holds neither {_EXPECTED} nor the seed layout ({LAYOUT}).")
