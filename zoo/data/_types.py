"""The two data types every reader speaks: ImageSet (the pixels) and DatasetInfo (the catalogue entry)."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import DataError

__all__ = ["ImageSet", "DatasetInfo"]


@dataclass
class ImageSet:
    """A whole split in memory: uint8 images (N, C, H, W) and optional int64 labels (N,)."""

    images: torch.Tensor
    labels: torch.Tensor | None = None
    name: str = ""
    num_classes: int | None = None
    #: The name of each label, where the files name them (a folder's class subfolders, in label order).
    classes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise DataError(f"dataset {self.name!r}: expected uint8 images shaped (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels is not None:
            if self.labels.shape != (self.images.shape[0],):
                raise DataError(f"dataset {self.name!r}: {self.images.shape[0]} images but labels shaped {tuple(self.labels.shape)}")
            self.labels = self.labels.long()
            if self.num_classes is not None and len(self.labels):
                lo, hi = int(self.labels.min()), int(self.labels.max())
                if lo < 0 or hi >= self.num_classes:
                    raise DataError(f"dataset {self.name!r}: labels must lie in 0..{self.num_classes - 1}, found {lo}..{hi}. Fix the label files.")

    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        """A line, not the pixels (a notebook cell ending in ``zoo.data.load(...)`` printed 150 lines of them)."""
        c, h, w = self.shape
        labels = "no labels" if self.labels is None else f"{self.num_classes} classes" if self.num_classes is not None else "labelled"
        if self.labels is not None and self.classes:
            labels += f" ({', '.join(self.classes[:5])}{', ...' if len(self.classes) > 5 else ''})"
        return f"ImageSet({self.name!r}: {len(self)} images of {c}x{h}x{w} uint8, {labels})"

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        """Return image `i` (uint8, (C, H, W)) and its label, -1 where the set has none (as torchvision's unlabelled STL10 split).

        So an ImageSet is a map-style torch Dataset: ``DataLoader(zoo.data.load("mnist"), batch_size=64, shuffle=True)``
        gives (uint8 images, int64 labels) batches; a transform goes in a Dataset of your own around it.
        """
        try:
            i = operator.index(i)  # an int, a numpy int or a 0-d tensor; not a slice, list, array or bool tensor of several
        except TypeError:
            raise TypeError(f"dataset {self.name!r}: index one image at a time (an int), not {type(i).__name__}; for several, use subset(index).") from None
        return self.images[i], int(self.labels[i]) if self.labels is not None else -1

    @property
    def shape(self) -> tuple[int, int, int]:
        """Return (C, H, W) of one image."""
        c, h, w = self.images.shape[1:]
        return c, h, w

    def subset(self, index: torch.Tensor | slice) -> ImageSet:
        """Return the images (and labels) at `index` as a new ImageSet."""
        labels = self.labels[index] if self.labels is not None else None
        return ImageSet(self.images[index], labels, self.name, self.num_classes, self.classes)

    def random_subset(self, n: int | None, seed: int = 0) -> ImageSet:
        """Return all of the set (n None or >= its size), or `n` images drawn with `seed` (in their order): how evaluators take n images."""
        if n is None or n >= len(self):
            return self
        if n < 1:
            raise DataError(f"dataset {self.name!r}: n must be at least 1 image; got n={n}.")
        index = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n].sort().values
        return self.subset(index)


#: A reader: (split, root folder or None for built/stand-in sets) -> ImageSet.
Reader = Callable[[str, Path | None], ImageSet]


@dataclass(frozen=True)
class DatasetInfo:
    """A catalogue entry: what a dataset is, where it comes from, and how to read it."""

    name: str
    description: str
    kind: str  # "real" (read from user files), "built" (made from real data), "stand-in" (offline substitute)
    source: str
    license: str
    size: str
    resolution: str
    read: Reader = field(repr=False, compare=False)
    #: Subfolder of the data root holding the real files ("" for sets built from package data).
    folder: str = ""
    #: Files that must exist inside the folder for the set to count as present.
    required: tuple[str, ...] = ()
    splits: tuple[str, ...] = ("train", "test")
    num_classes: int | None = 10
    #: Another dataset this one is built from (e.g. mnistm from mnist): present when that one is.
    built_from: str = ""
    #: Describes the files a folder holds for this set, in words, or returns None when it holds none
    #: (more precise than `required`, which it replaces when given; also used to detect paths).
    layout: Callable[[Path], str | None] | None = field(default=None, repr=False, compare=False)

    def folder_in(self, root: Path | None) -> Path | None:
        """Return this set's folder under `root` (None for sets that need no files)."""
        if not self.folder:
            return None
        return (root or Path(".")) / self.folder
