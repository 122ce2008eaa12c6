"""The seed report's digit layout: ``<domain>/data/*.png`` with ``train.csv`` and ``val.csv`` (image_name,label).

The seed ships MNIST-M, SVHN and USPS this way; the "test" split reads ``val.csv``.
"""

from __future__ import annotations

import csv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..errors import DataError
from ._types import ImageSet
from .folder import open_image

__all__ = ["LAYOUT", "SPLIT_FILES", "has_seed_layout", "begins_seed_layout", "read_labels_csv", "read_listed_images", "read_seed_layout", "seed_domain"]

LAYOUT = "<folder>/data/*.png with <folder>/train.csv and <folder>/val.csv (columns image_name,label; labels 0..9)"
SPLIT_FILES = {"train": "train.csv", "test": "val.csv"}
_COLUMNS = ("image_name", "label")


def begins_seed_layout(folder: Path) -> bool:
    """Return whether `folder` holds part of the seed layout (data/ or train.csv): its reader then names what is missing."""
    return (folder / "data").is_dir() or (folder / "train.csv").is_file()


def has_seed_layout(folder: Path) -> bool:
    """Return whether `folder` looks like the seed layout (a data/ folder and train.csv)."""
    return (folder / "data").is_dir() and (folder / "train.csv").is_file()


def read_labels_csv(path: Path, num_classes: int) -> tuple[list[str], np.ndarray]:
    """Return the image names and int64 labels listed in a seed CSV file."""
    if not path.is_file():
        raise DataError(f"label file {path} does not exist. Expected the seed layout: {LAYOUT}.")
    with path.open(newline="", encoding="utf-8-sig") as f:  # -sig: Excel's "CSV UTF-8" starts with a byte-order mark
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in _COLUMNS if c not in header]
        if missing:
            raise DataError(f"label file {path} lacks the column(s) {', '.join(missing)}: found header {header}. Expected the seed layout: {LAYOUT}.")
        i_name, i_label = header.index("image_name"), header.index("label")
        names, labels = [], []
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            try:
                name, label = row[i_name].strip(), int(row[i_label])
            except (IndexError, ValueError):
                raise DataError(f"label file {path}, line {line}: cannot read an image name and an integer label from {row}. Expected {LAYOUT}.") from None
            if not 0 <= label < num_classes:
                raise DataError(f"label file {path}, line {line}: label {label} is out of range 0..{num_classes - 1} (image {name}). Fix the label.")
            names.append(name)
            labels.append(label)
    if not names:
        raise DataError(f"label file {path} lists no images. Expected {LAYOUT}.")
    return names, np.asarray(labels, dtype=np.int64)


def _read_png(path: Path, mode: str, layout: str, size: tuple[int, int] | None = None, fix: str | None = None) -> np.ndarray:
    """Return the image at `path` as uint8 (H, W, C) in `mode` ('L' or 'RGB'); with `size`, refuse another from its header."""
    if not path.is_file():
        raise DataError(f"image {path} is listed in the label file but does not exist. Expected {layout}.")
    arr = np.asarray(open_image(path, mode, fix or "Replace the file, or remove it and its line from the label file.", size), dtype=np.uint8)
    return arr[:, :, None] if arr.ndim == 2 else arr


def read_seed_layout(split: str, folder: Path, channels: int, name: str, num_classes: int = 10) -> ImageSet:
    """Return split `split` ('train' reads train.csv, 'test' reads val.csv) of a seed-layout folder as uint8 images."""
    if not folder.is_dir():
        raise DataError(f"{name}: folder {folder} does not exist. Expected the seed layout: {LAYOUT}.")
    if not (folder / "data").is_dir():
        raise DataError(f"{name}: {folder} has no data/ folder. Expected the seed layout: {LAYOUT}.")
    names, labels = read_labels_csv(folder / SPLIT_FILES[split], num_classes)
    return read_listed_images(folder / "data", names, labels, channels, name, num_classes, f"the seed layout: {LAYOUT}")


def read_listed_images(image_dir: Path, names: list[str], labels: np.ndarray, channels: int, name: str, num_classes: int, layout: str) -> ImageSet:
    """Return the images `names` in `image_dir` (one size, read as `channels`) with their `labels`; `layout` ends the errors.

    The first image sets the size; any other is refused from its header, before a large one is decoded.
    """
    outside = next((n for n in names if Path(n).is_absolute() or ".." in Path(n).parts), None)
    if outside is not None:
        raise DataError(f"the label file of {name} lists {outside!r}, a path outside {image_dir}; expected the names of the files there ({layout}).")
    mode = "L" if channels == 1 else "RGB"
    first = _read_png(image_dir / names[0], mode, layout)
    size = (first.shape[1], first.shape[0])
    fix = f"every image of {name} must have one size, as {names[0]}; replace the file, or remove it and its line from the label file."
    with ThreadPoolExecutor(max_workers=4) as pool:
        arrays = [first, *pool.map(lambda n: _read_png(image_dir / n, mode, layout, size, fix), names[1:])]
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return ImageSet(images, torch.from_numpy(labels), name, num_classes)


def seed_domain(folder: Path) -> str | None:
    """Return which seed domain (mnistm, svhn, usps) a seed-layout folder holds: by its name, else by its first image."""
    if not has_seed_layout(folder):
        return None
    if folder.name.lower() in ("mnistm", "mnist-m", "mnist_m", "svhn", "usps"):
        return folder.name.lower().replace("-", "").replace("_", "")
    first = next((p for p in sorted((folder / "data").iterdir()) if p.suffix.lower() == ".png"), None)
    if first is None:
        return None
    try:
        with Image.open(first) as im:
            mode, size = im.mode, im.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        return None
    if mode in ("L", "1", "I", "I;16") or size == (16, 16):
        return "usps"
    return "svhn" if size == (32, 32) else "mnistm"
