"""The `adaptation` evaluator: a domain-adapted classifier on its target's (and source's) test split.

Any method with `predict` that trained on ``source`` and ``target`` roles is judged by it (DANN's default
plan names it; so may a Deep CORAL or ADDA plugin's). Its `target` and `source` options default to the
datasets the registry entry's `data` (or a run folder's run.json) names for those roles. Where the model
also has `domain_predict` (a domain classifier), it reports how often that tells the two sets apart.

Example::

    zoo eval dann.mnistm-digits                 # target = digits, source = mnistm, from the entry's data
    zoo eval dann.mnistm-digits --set n=200     # a seeded random subset of 200 test images per set
    zoo eval dann.mnistm-digits --write         # record the metrics in registry.toml
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import pydantic
import torch

from .. import data
from ..data import ImageSet, check_class_labels
from ..errors import ConfigError, DataError, set_option
from ..interfaces import Method, Seed, evaluator_options, require_capability
from .accuracy import accuracy_metrics, predict_labels

__all__ = ["AdaptationOptions", "AdaptationEvaluator", "accuracy", "domain_accuracy", "load_labelled"]


def load_labelled(name: str, split: str, root: str | os.PathLike[str] | None, role: str, n_classes: int = 10) -> ImageSet:
    """Return split `split` of dataset `name` after checking that its labels (if any) lie in 0..n_classes-1."""
    images = data.load(name, split, root=root)
    check_class_labels(images.labels, f"the {role} set {name!r} ({split} split)", n_classes)
    return images


def accuracy(model: Method, images: ImageSet) -> float:
    """Return the fraction of `images` whose label `model.predict` gets right."""
    if images.labels is None:
        raise DataError(f"dataset {images.name!r} has no labels, so accuracy cannot be measured on it. Use a labelled test split.")
    return accuracy_metrics(predict_labels(model, images.images), images.labels)["accuracy"]


def domain_accuracy(model: Any, source: ImageSet, target: ImageSet, seed: int = 0) -> float:
    """Return how often `model.domain_predict` tells source (0) from target (1) on equally many of each (0.5: features domain-invariant).

    The smaller set is taken whole; from the larger, as many images are drawn with `seed` (ImageSet.random_subset, as
    every evaluator draws), not its first ones, which a set sorted by class would make one-sided.
    """
    n = min(len(source), len(target))
    source, target = source.random_subset(n, seed), target.random_subset(n, seed)
    guesses = torch.cat([model.domain_predict(source.images).cpu(), model.domain_predict(target.images).cpu()])
    truth = torch.cat([torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)])
    return float((guesses == truth).float().mean())


class AdaptationOptions(pydantic.BaseModel):
    """Options of the `adaptation` evaluator; target and source default to the registry entry's data roles."""

    model_config = pydantic.ConfigDict(extra="forbid")
    target: str | None = pydantic.Field(None, description="target dataset (default: the entry's target=, or a run folder's run.json)")
    source: str | None = pydantic.Field(None, description="source dataset (default: the entry's source=, or the run's); 'none' skips it")
    split: str = "test"
    n: int | None = pydantic.Field(None, ge=1, description="a seeded random subset of n images per set (default: all)")
    seed: Seed = pydantic.Field(0, description="seed of that subset")
    data_root: Path | None = None
    device: str | None = None


class AdaptationEvaluator:
    """Accuracy of a domain-adapted classifier on the test split of its target (and source) set, and its domain head's."""

    name = "adaptation"
    Options = AdaptationOptions

    def evaluate(self, model: Method, **options: Any) -> dict[str, float]:
        """Return {target,source}_accuracy, _n (images scored), _accuracy_worst_class, domain_accuracy (with a domain head), and the subset seed."""
        o: AdaptationOptions = evaluator_options(self.Options, options, self.name)
        require_capability(model, "predict", self.name, "Use the 'gan' evaluator for generators.")
        target, source = o.target, o.source  # zoo eval fills them in from the entry's data or the run's run.json
        if not target:
            raise ConfigError(f"model {model.zoo_name!r} names no target set (neither its registry entry's data nor its run.json); "
                              f"pass one with {set_option('target', 'NAME')} (e.g. digits).")
        n_classes = model.data_spec().num_classes
        out: dict[str, float] = {}
        scored: dict[str, ImageSet] = {}
        for role, name in (("target", target), ("source", source)):
            if not name or name == "none":
                continue
            scored[role] = images = load_labelled(name, o.split, o.data_root, role, n_classes).random_subset(o.n, o.seed)
            if images.labels is None:  # the usual target, a folder of unlabelled images: a domain head still judges it
                warnings.warn(f"the {role} set {name!r} has no labels, so its accuracy is not measured (a folder with one "
                              f"subfolder per class has them); the domain accuracy still uses it.", stacklevel=2)
                continue
            metrics = accuracy_metrics(predict_labels(model, images.images), images.labels)
            out.update({f"{role}_accuracy": metrics["accuracy"], f"{role}_n": metrics["accuracy_n"], f"{role}_accuracy_worst_class": metrics["accuracy_worst_class"]})
        judged = len(scored) == 2 and hasattr(model, "domain_predict")
        if not any(k.endswith("_accuracy") for k in out) and not judged:
            raise DataError(f"nothing to measure: neither {target!r} nor {source!r} has labels, and no domain accuracy without both sets "
                            f"and a domain head. Give a labelled set ({set_option('target', 'NAME')}).")
        if judged:
            out["domain_accuracy"] = domain_accuracy(model, scored["source"], scored["target"], o.seed)
        out["seed"] = o.seed
        return out
