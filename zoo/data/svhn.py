"""SVHN (Netzer et al. 2011), cropped digits: torchvision's ``*_32x32.mat`` files or the seed layout. Never downloads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ._types import ImageSet
from .seedlayout import LAYOUT, begins_seed_layout, read_seed_layout, seed_domain

__all__ = ["MAT_FILES", "read_svhn_mat", "read_svhn", "svhn_layout"]

MAT_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}
_EXPECTED = "train_32x32.mat and test_32x32.mat (SVHN format 2, as torchvision downloads them: X (32, 32, 3, N) uint8, y (N, 1) in 1..10)"


def read_svhn_mat(path: Path) -> ImageSet:
    """Return the images (N, 3, 32, 32) and labels (10 -> 0) of one SVHN ``.mat`` file."""
    from scipy.io import loadmat  # scipy comes with scikit-learn; imported here because it is slow to import

    if not path.is_file():
        raise DataError(f"SVHN file {path} does not exist. Expected {_EXPECTED} in that folder, or the seed layout: {LAYOUT}.")
    try:
        mat = loadmat(path, variable_names=("X", "y"))
    # scipy's reader is not hardened against damaged files: besides its MatReadError, a cut or bit-flipped file raises
    # whatever its parser meets (zlib.error, IndexError, UnboundLocalError, ...), so any Exception means the file is
    # damaged. (Some crafted files even crash scipy's C reader outright; that is scipy's bug, not caught here.)
    except Exception as e:
        raise DataError(
            f"cannot read SVHN file {path} ({type(e).__name__}: {e}). Expected a MATLAB v5 file: {_EXPECTED}. "
            "The file is damaged or not SVHN's: download it again."
        ) from None
    if "X" not in mat or "y" not in mat:
        raise DataError(f"SVHN file {path} lacks the variable(s) {', '.join(k for k in ('X', 'y') if k not in mat)}. Expected {_EXPECTED}.")
    x, y = mat["X"], np.asarray(mat["y"]).reshape(-1)
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.shape[3] != len(y):
        raise DataError(f"SVHN file {path}: X is {x.shape} and y has {len(y)} labels; expected X (32, 32, 3, N) with N labels.")
    if x.dtype != np.uint8:
        raise DataError(f"SVHN file {path}: X holds {x.dtype} values; expected uint8 pixels 0..255. The file is not SVHN's as torchvision downloads it.")
    if y.dtype.kind not in "biuf":  # text, cells or structs: np.round below would raise a TypeError
        kind = {"U": "text", "S": "text", "O": "a cell array", "V": "a struct", "c": "complex numbers"}.get(y.dtype.kind, str(y.dtype))
        raise DataError(f"SVHN file {path}: y holds {kind}; expected the classes 1..10 as numbers. The file is not SVHN's.")
    if not np.issubdtype(y.dtype, np.integer) and not np.array_equal(y, np.round(y)):
        raise DataError(f"SVHN file {path}: y holds non-integer labels ({y.dtype}); expected the classes 1..10.")
    y = y.astype(np.int64)
    if len(y) and (y.min() < 1 or y.max() > 10):
        raise DataError(f"SVHN file {path}: labels span {y.min()}..{y.max()}; expected 1..10 (10 means digit 0). The file is not SVHN's.")
    y[y == 10] = 0  # SVHN writes digit 0 as class 10
    images = torch.from_numpy(np.ascontiguousarray(x.transpose(3, 2, 0, 1)))
    return ImageSet(images, torch.from_numpy(y), "svhn", 10)


def svhn_layout(folder: Path) -> str | None:
    """Return a description of the SVHN files in `folder`, or None."""
    if all((folder / f).is_file() for f in MAT_FILES.values()):
        return "SVHN .mat files (torchvision format)"
    if seed_domain(folder) == "svhn":
        return "SVHN in the seed layout (data/*.png, train.csv, val.csv)"
    return None


def read_svhn(split: str, folder: Path | None) -> ImageSet:
    """Return SVHN split `split` from ``*_32x32.mat`` files or the seed layout in `folder`."""
    if folder is None or not folder.is_dir():
        raise DataError(f"SVHN folder {folder} does not exist. Put {_EXPECTED} (or the seed layout: {LAYOUT}) in DATA/svhn/.")
    if (folder / MAT_FILES["train"]).is_file() or (folder / MAT_FILES["test"]).is_file():
        return read_svhn_mat(folder / MAT_FILES[split])
    if begins_seed_layout(folder):
        return read_seed_layout(split, folder, channels=3, name="svhn")
    raise DataError(f"SVHN folder {folder} holds neither {_EXPECTED} nor the seed layout ({LAYOUT}).")
