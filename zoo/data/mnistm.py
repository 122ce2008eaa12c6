"""MNIST-M: the real files when a user has them (as its authors distribute them, or in the seed's layout), else built
from MNIST as Ganin & Lempitsky did.

Ganin & Lempitsky (2015, "Unsupervised Domain Adaptation by Backpropagation", sec. 4.1) blend each
MNIST digit over a patch cut at random from a colour photograph: ``out = |patch - digit|`` per
channel. They cut patches from BSDS500; zoo cuts them from the photographs in its installed
packages (:mod:`zoo.data.photos`). The build is vectorised, deterministic for a seed on any
machine (:mod:`zoo.data._random`), and cached as uint8 arrays checked by sha256.

Example::

    >>> from zoo.data.mnistm import load_mnistm
    >>> built = load_mnistm(Path("../shared/data/mnist"))      # 60,000 + 10,000 RGB 28x28
    >>> built.splits["train"].images.shape, built.digest
    (torch.Size([60000, 3, 28, 28]), '...')
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ..weights import sha256_file
from ._random import RandomStream
from ._types import ImageSet
from .cache import BuiltSet, cached_build
from .mnist import _FILES, find_idx, mnist_layout, read_mnist
from .photos import MNISTM_PHOTOS, load_photos, photos_digest
from .seedlayout import begins_seed_layout, read_listed_images, read_seed_layout, seed_domain

__all__ = ["AUTHORS_LAYOUT", "BUILDER_VERSION", "crop_offsets", "blend", "build_mnistm", "load_mnistm", "mnistm_digest", "read_mnistm", "mnistm_layout"]

#: Bump when the recipe changes: it is part of the cache key and of the digest's meaning.
BUILDER_VERSION = "1"
SIZE = 28
#: The authors' mnist_m.tar.gz, unpacked: one folder of PNGs a split, each with a text file of "NAME.png LABEL" lines.
AUTHORS_LAYOUT = "mnist_m_train/*.png and mnist_m_test/*.png with mnist_m_train_labels.txt and mnist_m_test_labels.txt (lines 'NAME.png LABEL', labels 0..9)"
_AUTHORS_SPLITS = {"train": "mnist_m_train", "test": "mnist_m_test"}


def crop_offsets(rng: RandomStream, stream: str, n: int, shapes: list[tuple[int, ...]], size: int = SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return, for `n` images, a photo index and the top-left corner (y, x) of a `size` crop inside it."""
    photo = rng.integers(f"{stream}/photo", n, len(shapes))
    heights = np.array([s[0] for s in shapes])[photo]
    widths = np.array([s[1] for s in shapes])[photo]
    ys = rng.integers(f"{stream}/y", n, heights - size + 1)
    xs = rng.integers(f"{stream}/x", n, widths - size + 1)
    return photo, ys, xs


def blend(digits: np.ndarray, photos: list[np.ndarray], photo: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Return uint8 (N, 3, H, W) images ``|crop - digit|``: each gray digit (N, H, W) over its photo crop."""
    n, h, w = digits.shape
    out = np.empty((n, h, w, 3), dtype=np.uint8)
    rows, cols = np.arange(h)[None, :, None], np.arange(w)[None, None, :]
    for p, img in enumerate(photos):  # one gather per photograph, not per image
        sel = np.nonzero(photo == p)[0]
        if len(sel):
            crops = img[ys[sel, None, None] + rows, xs[sel, None, None] + cols].astype(np.int16)  # (k, h, w, 3)
            out[sel] = np.abs(crops - digits[sel, :, :, None].astype(np.int16)).astype(np.uint8)
    return out.transpose(0, 3, 1, 2).copy()


def build_mnistm(mnist_folder: Path, seed: int = 0) -> dict[str, ImageSet]:
    """Return MNIST-M's 'train' and 'test' splits built from the MNIST IDX files in `mnist_folder` (no cache)."""
    photos = load_photos(MNISTM_PHOTOS)
    for name, img in zip(MNISTM_PHOTOS, photos):
        if min(img.shape[:2]) < SIZE:
            raise DataError(f"photograph {name!r} is {img.shape[1]}x{img.shape[0]}, smaller than a {SIZE}x{SIZE} crop.")
    rng = RandomStream(seed)
    out = {}
    for split in ("train", "test"):
        mnist = read_mnist(split, mnist_folder)
        digits = mnist.images[:, 0].numpy()
        photo, ys, xs = crop_offsets(rng, split, len(digits), [p.shape for p in photos])
        out[split] = ImageSet(torch.from_numpy(blend(digits, photos, photo, ys, xs)), mnist.labels, "mnistm", 10)
    return out


def _cache_parts(mnist_folder: Path, seed: int) -> dict[str, object]:
    """Return what the build depends on: the MNIST files' bytes, the photos' pixels, the seed, the recipe."""
    files = {stem: sha256_file(find_idx(mnist_folder, stem)) for pair in _FILES.values() for stem in pair}
    return {"builder": "mnistm", "version": BUILDER_VERSION, "seed": seed, "mnist": files, "photos": list(MNISTM_PHOTOS), "photos_sha256": photos_digest(MNISTM_PHOTOS)}


def load_mnistm(mnist_folder: Path, seed: int = 0, only: tuple[str, ...] | None = None) -> BuiltSet:
    """Return the built MNIST-M (its splits, content digest, cache folder), building it once per input; `only` limits what a cache hit reads."""
    if not mnist_folder.is_dir():
        raise DataError(f"MNIST folder {mnist_folder} does not exist; MNIST-M is built from MNIST's IDX files. Put them in DATA/mnist/.")
    return cached_build("mnistm", _cache_parts(mnist_folder, seed), lambda: build_mnistm(mnist_folder, seed), only=only)


def mnistm_digest(mnist_folder: Path, seed: int = 0) -> str:
    """Return the sha256 content digest of MNIST-M built from `mnist_folder`: equal digests mean identical pixels and labels."""
    return load_mnistm(mnist_folder, seed).digest


def authors_folder(folder: Path) -> Path | None:
    """Return where in `folder` MNIST-M lies as its authors distribute it (AUTHORS_LAYOUT), or None: the folder itself, or,
    in zoo's DATA/mnistm/ beside no seed layout, the ``mnist_m/`` their mnist_m.tar.gz unpacks to (DATA/mnistm/mnist_m/...).

    Only a folder named mnistm looks inside: the data root with the tarball unpacked in it (DATA/mnist_m/) is no MNIST-M folder.
    """
    def holds(place: Path) -> bool:
        return (place / "mnist_m_train").is_dir() and (place / "mnist_m_train_labels.txt").is_file()

    if holds(folder):
        return folder
    if folder.name == "mnistm" and holds(folder / "mnist_m") and not begins_seed_layout(folder):
        return folder / "mnist_m"
    return None


def has_authors_layout(folder: Path) -> bool:
    """Return whether `folder` holds MNIST-M as its authors distribute it (mnist_m.tar.gz unpacked in it, or its contents)."""
    return authors_folder(folder) is not None


def read_authors_layout(split: str, folder: Path) -> ImageSet:
    """Return split `split` of MNIST-M from the authors' layout in `folder` (AUTHORS_LAYOUT)."""
    where = f"MNIST-M as its authors distribute it: {AUTHORS_LAYOUT}"
    labels_file = folder / f"{_AUTHORS_SPLITS[split]}_labels.txt"
    if not labels_file.is_file():
        raise DataError(f"MNIST-M: {labels_file} does not exist. Expected {where}. Unpack mnist_m.tar.gz again.")
    names, labels = [], []
    for line, text in enumerate(labels_file.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not text.strip():
            continue
        row = text.split()
        if len(row) != 2 or not row[1].isdigit() or int(row[1]) > 9:
            raise DataError(f"MNIST-M label file {labels_file}, line {line}: expected 'NAME.png LABEL' with a label 0..9, found {text.strip()!r}. Fix the line.")
        names.append(row[0])
        labels.append(int(row[1]))
    if not names:
        raise DataError(f"MNIST-M label file {labels_file} lists no images. Expected {where}.")
    return read_listed_images(folder / _AUTHORS_SPLITS[split], names, np.asarray(labels, dtype=np.int64), 3, "mnistm", 10, where)


def mnistm_layout(folder: Path) -> str | None:
    """Return a description of the real MNIST-M files in `folder` (the authors' layout or the seed's), or None."""
    if has_authors_layout(folder):
        return "real MNIST-M as its authors distribute it (mnist_m_train/, mnist_m_train_labels.txt, ...)"
    return "real MNIST-M in the seed layout (data/*.png, train.csv, val.csv)" if seed_domain(folder) == "mnistm" else None


def read_mnistm(split: str, folder: Path | None) -> ImageSet:
    """Return MNIST-M split `split`: read from the authors' layout or the seed's in `folder`, or built from MNIST IDX files in `folder`."""
    if folder is not None and (found := authors_folder(folder)) is not None:
        return read_authors_layout(split, found)
    if folder is not None and begins_seed_layout(folder):
        return read_seed_layout(split, folder, channels=3, name="mnistm")
    if folder is not None and folder.is_dir() and mnist_layout(folder):
        return load_mnistm(folder, only=(split,)).splits[split]
    raise DataError(
        f"MNIST-M: {folder} holds neither real MNIST-M nor MNIST. Expected DATA/mnistm/ as its authors distribute it ({AUTHORS_LAYOUT}) "
        "or in the seed layout (data/*.png, train.csv and val.csv with columns image_name,label), or MNIST's IDX files in DATA/mnist/ to build it from."
    )
