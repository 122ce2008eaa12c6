"""`zoo eval` for DANN models: accuracy on the target's (and the source's) test split.

Example::

    zoo eval dann.mnistm-digits                 # target = digits, source = mnistm, from the entry's data
    zoo eval dann.mnistm-digits --set n=200     # a seeded random subset of 200 test images
    zoo eval dann.mnistm-digits --write         # record the metrics in registry.toml
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from zoo.data import ImageSet
from zoo.errors import ConfigError, DataError
from zoo.interfaces import Method
from zoo.registry import entries

from .scenarios import load_checked, parse_data_field

__all__ = ["subset", "accuracy", "DANNAccuracy"]


def subset(images: ImageSet, n: int | None, seed: int) -> ImageSet:
    """Return all of `images` (n None or >= its size) or a random subset of `n` drawn with `seed`."""
    if n is None or n >= len(images):
        return images
    if n < 1:
        raise ConfigError(f"n must be at least 1 test image; got n={n}.")
    index = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n].sort().values
    return images.subset(index)


def accuracy(model: Method, images: ImageSet) -> float:
    """Return the fraction of `images` whose label `model.predict` gets right."""
    if images.labels is None:
        raise DataError(f"dataset {images.name!r} has no labels, so accuracy cannot be measured on it. Use a labelled test split.")
    predicted = model.predict(images.images).cpu()
    return float((predicted == images.labels).float().mean())


class DANNAccuracy:
    """Accuracy of a digit classifier on the test split of its target (and source) set."""

    name = "dann_accuracy"

    def evaluate(
        self,
        model: Method,
        *,
        target: str | None = None,
        source: str | None = None,
        split: str = "test",
        n: int | None = None,
        seed: int = 0,
        data_root: Path | None = None,
        device: str | torch.device | None = None,
        **unknown: Any,
    ) -> dict[str, float]:
        """Return target_accuracy and source_accuracy on `split`, with the image counts and the subset seed."""
        if unknown:
            raise ConfigError(f"evaluator {self.name!r} got unknown options {sorted(unknown)}; it takes target, source, split, n and seed.")
        roles = self._roles_of(model)
        target, source = target or roles.get("target"), source or roles.get("source")
        if not target:
            raise ConfigError(f"model {model.zoo_name!r} names no target set in its registry entry's data; pass one with --set target=NAME (e.g. digits).")
        out: dict[str, float] = {}
        for role, name in (("target", target), ("source", source)):
            if not name:
                continue
            images = subset(load_checked(name, split, data_root, role), n, seed)
            out[f"{role}_accuracy"] = accuracy(model, images)
            out[f"{role}_n"] = len(images)
        out["seed"] = seed
        return out

    @staticmethod
    def _roles_of(model: Method) -> dict[str, str]:
        known = entries()
        return parse_data_field(known[model.zoo_name].data) if model.zoo_name in known else {}
