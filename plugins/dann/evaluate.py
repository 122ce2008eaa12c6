"""`zoo eval` for DANN models: accuracy on the target's (and the source's) test split.

Example::

    zoo eval dann.mnistm-digits                 # target = digits, source = mnistm, from the entry's data
    zoo eval dann.mnistm-digits --set n=200     # a seeded random subset of 200 test images
    zoo eval dann.mnistm-digits --write         # record the metrics in registry.toml
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pydantic
import torch

from zoo.data import ImageSet
from zoo.errors import ConfigError, DataError, set_option
from zoo.interfaces import Method, Seed, evaluator_options
from zoo.metrics.accuracy import accuracy_metrics

from .scenarios import load_checked

__all__ = ["subset", "accuracy", "domain_accuracy", "DANNAccuracyOptions", "DANNAccuracy"]


def subset(images: ImageSet, n: int | None, seed: int) -> ImageSet:
    """Return all of `images` (n None or >= its size) or `n` of them drawn with `seed` (ImageSet.random_subset)."""
    return images.random_subset(n, seed)


def accuracy(model: Method, images: ImageSet) -> float:
    """Return the fraction of `images` whose label `model.predict` gets right."""
    return accuracy_metrics(*_predict_labelled(model, images))["accuracy"]


def _predict_labelled(model: Method, images: ImageSet) -> tuple[torch.Tensor, torch.Tensor]:
    if images.labels is None:
        raise DataError(f"dataset {images.name!r} has no labels, so accuracy cannot be measured on it. Use a labelled test split.")
    return model.predict(images.images).cpu(), images.labels


def domain_accuracy(model: Method, source: ImageSet, target: ImageSet, seed: int = 0) -> float:
    """Return how often the domain classifier tells source from target on equally many of each (0.5: features domain-invariant).

    The smaller set is taken whole; from the larger, as many images are drawn with `seed` (ImageSet.random_subset, as
    every evaluator draws), not its first ones, which a set sorted by class would make one-sided.
    """
    n = min(len(source), len(target))
    source, target = source.random_subset(n, seed), target.random_subset(n, seed)
    guesses = torch.cat([model.domain_predict(source.images).cpu(), model.domain_predict(target.images).cpu()])
    truth = torch.cat([torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)])
    return float((guesses == truth).float().mean())


class DANNAccuracyOptions(pydantic.BaseModel):
    """Options of the `dann_accuracy` evaluator; target and source default to the registry entry's data roles."""

    model_config = pydantic.ConfigDict(extra="forbid")
    target: str | None = pydantic.Field(None, description="target dataset (default: the entry's target=, or a run folder's run.json)")
    source: str | None = pydantic.Field(None, description="source dataset (default: the entry's source=, or the run's); 'none' skips it")
    split: str = "test"
    n: int | None = pydantic.Field(None, ge=1, description="a seeded random subset of n images per set (default: all)")
    seed: Seed = pydantic.Field(0, description="seed of that subset")
    data_root: Path | None = None
    device: str | None = None


class DANNAccuracy:
    """Accuracy of a digit classifier on the test split of its target (and source) set."""

    name = "dann_accuracy"
    Options = DANNAccuracyOptions

    def evaluate(self, model: Method, **options: Any) -> dict[str, float]:
        """Return {target,source}_accuracy, _n (images scored), _accuracy_worst_class, the domain head's domain_accuracy, and the subset seed."""
        o: DANNAccuracyOptions = evaluator_options(self.Options, options, self.name)
        target, source = o.target, o.source  # zoo eval fills them in from the entry's data or the run's run.json
        if not target:
            raise ConfigError(f"model {model.zoo_name!r} names no target set (neither its registry entry's data nor its run.json); "
                              f"pass one with {set_option('target', 'NAME')} (e.g. digits).")
        out: dict[str, float] = {}
        scored: dict[str, ImageSet] = {}
        for role, name in (("target", target), ("source", source)):
            if not name or name == "none":
                continue
            scored[role] = images = subset(load_checked(name, o.split, o.data_root, role, getattr(model.config, "n_classes", 10)), o.n, o.seed)
            if images.labels is None:  # DANN's usual target, a folder of unlabelled images: the domain head still judges it
                warnings.warn(f"the {role} set {name!r} has no labels, so its accuracy is not measured (a folder with one "
                              f"subfolder per class has them); the domain accuracy still uses it.", stacklevel=2)
                continue
            metrics = accuracy_metrics(*_predict_labelled(model, images))
            out.update({f"{role}_accuracy": metrics["accuracy"], f"{role}_n": metrics["accuracy_n"], f"{role}_accuracy_worst_class": metrics["accuracy_worst_class"]})
        if not any(k.endswith("_accuracy") for k in out) and not (len(scored) == 2 and hasattr(model, "domain_predict")):
            raise DataError(f"nothing to measure: neither {target!r} nor {source!r} has labels, and no domain accuracy without both sets. "
                            f"Give a labelled set ({set_option('target', 'NAME')}).")
        if len(scored) == 2 and hasattr(model, "domain_predict"):
            out["domain_accuracy"] = domain_accuracy(model, scored["source"], scored["target"], o.seed)
        out["seed"] = o.seed
        return out
