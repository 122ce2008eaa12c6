"""A loader for in-memory image sets: the whole set moves to the device once, batches are tensor ops."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import ConfigError, DataError, option
from ..interfaces import Batch, fold_seed
from ._types import ImageSet

__all__ = ["check_image_batch", "check_class_labels", "adapt_images", "TensorLoader"]


def check_image_batch(images: object, owner: str) -> None:
    """Raise ConfigError unless `images` is a non-empty (N, C, H, W) batch of uint8, or of finite floats in [0, 1].

    `owner` names the caller in the message (e.g. "model 'classifier.mnistm'"). A range mistake (0-255
    floats, [-1, 1]) or a NaN would otherwise be classified quietly, and metrics built on it would drift.
    """
    if not isinstance(images, torch.Tensor):
        kind = f"{type(images).__module__.split('.')[0]}.{type(images).__name__}".removeprefix("builtins.")
        how = ("torch.from_numpy(array)" if kind == "numpy.ndarray"
               else "torchvision.transforms.functional.pil_to_tensor(image).unsqueeze(0)" if kind.startswith("PIL.")
               else "torch.stack(images) for a list of (C, H, W) tensors" if isinstance(images, (list, tuple)) else "torch.as_tensor(...)")
        raise ConfigError(f"{owner} takes a torch tensor of images shaped (N, C, H, W); got a {kind}. Convert it with {how}.")
    if images.ndim != 4:
        raise ConfigError(f"{owner} takes images shaped (N, C, H, W); got {tuple(images.shape)}. Add the batch dimension (images.unsqueeze(0)) for one image.")
    if images.shape[0] == 0:
        raise ConfigError(f"{owner} got an empty batch (0 images); pass at least one image.")
    if images.dtype == torch.uint8:
        return
    if not images.is_floating_point():
        raise ConfigError(f"{owner} takes uint8 images or float images in [0, 1]; got {images.dtype}. Convert with images.float() / 255.")
    if not bool(torch.isfinite(images).all()):
        raise ConfigError(f"{owner} got images with NaN or infinite values; expected float images in [0, 1]. Check what produced them.")
    lo, hi = float(images.detach().min()), float(images.detach().max())  # detached: a batch that requires grad is checked quietly
    if lo < 0 or hi > 1:
        raise ConfigError(f"{owner} expects float images in [0, 1] (or uint8); got values in [{lo:.3g}, {hi:.3g}]. Divide 0-255 images by 255, map [-1, 1] with (x + 1) / 2.")


def check_class_labels(labels: torch.Tensor | None, what: str, n_classes: int) -> None:
    """Raise a DataError naming `what` unless `labels` (when given) all lie in 0..n_classes-1, the classes of the model that reads them."""
    if labels is None or labels.numel() == 0:
        return
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= n_classes:
        raise DataError(
            f"{what} has labels {lo}..{hi}; the model has {n_classes} classes, so labels must lie in 0..{n_classes - 1}. "
            + ("Remap the labels to 0-9 (e.g. SVHN's 10 for digit 0) or use another set." if n_classes == 10
               else "Use a set with those classes, or a model trained with another n_classes.")
        )


def adapt_images(x: torch.Tensor, size: int | None, channels: int | None) -> torch.Tensor:
    """Return uint8 or float images as float in [0, 1] with `channels` channels and `size` x `size` pixels."""
    x = x.float().div_(255) if x.dtype == torch.uint8 else x.float()
    c = x.shape[1]
    if channels is not None and c != channels:
        if c == 1:
            x = x.expand(-1, channels, -1, -1)
        elif channels == 1 and c == 3:
            x = (x * x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        else:
            raise DataError(f"cannot convert {c}-channel images to {channels} channels; expected 1 or 3 channels.")
    if size is not None and tuple(x.shape[-2:]) != (size, size):
        if x.shape[-2] != x.shape[-1]:
            raise DataError(f"images are {x.shape[-2]}x{x.shape[-1]}, not square; crop them to a square before resizing to {size}x{size}.")
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp_(0, 1)
    return x.contiguous()


class TensorLoader:
    """Endless shuffled batches of an ImageSet, adapted to (size, channels), on `device`.

    The uint8 set is copied to the device once; each batch is one gather plus one
    resize, so no worker processes are needed. ``state_dict``/``load_state_dict`` make
    the order resumable.
    """

    def __init__(
        self,
        data: ImageSet,
        batch_size: int,
        *,
        size: int | None = None,
        channels: int | None = None,
        labels: bool = True,
        device: str | torch.device = "cpu",
        seed: int = 0,
    ) -> None:
        if len(data) < batch_size:
            raise DataError(f"dataset {data.name!r} has {len(data)} images, fewer than one batch of {batch_size}; lower {option('batch_size')}.")
        self.device = torch.device(device)
        self.images = data.images.to(self.device)
        self.labels = data.labels.to(self.device) if (labels and data.labels is not None) else None
        self.batch_size, self.size, self.channels = batch_size, size, channels
        self.name = data.name
        self.seed = seed
        self.epoch, self.position = 0, 0
        self._perm = self._permutation()

    def _permutation(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(fold_seed(self.seed * 1_000_003 + self.epoch))
        return torch.randperm(len(self.images), generator=g).to(self.device)

    def __len__(self) -> int:
        return len(self.images) // self.batch_size

    def __iter__(self) -> Iterator[Batch]:
        return self

    def __next__(self) -> Batch:
        if self.position + self.batch_size > len(self._perm):
            self.epoch, self.position = self.epoch + 1, 0
            self._perm = self._permutation()
        idx = self._perm[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        x = adapt_images(self.images[idx], self.size, self.channels)
        return Batch(x, self.labels[idx] if self.labels is not None else None)

    def state_dict(self) -> dict[str, Any]:
        """Return where the loader is: epoch and position (the order follows from the seed)."""
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a position saved by :meth:`state_dict`."""
        self.seed, self.epoch, self.position = int(state["seed"]), int(state["epoch"]), int(state["position"])
        self._perm = self._permutation()
