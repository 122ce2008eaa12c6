"""`dann_accuracy`: the core's `adaptation` evaluator under the name it had while it lived here.

The evaluator judges any domain-adapted classifier, so it moved to the core (``zoo.metrics.adaptation``);
registry files whose `evaluation` table names ``dann_accuracy`` keep working through this one.
"""

from __future__ import annotations

from zoo.data import ImageSet
from zoo.metrics.adaptation import AdaptationEvaluator, accuracy, domain_accuracy
from zoo.metrics.adaptation import AdaptationOptions as DANNAccuracyOptions

# the names this module had: accuracy, domain_accuracy and the options live in zoo.metrics.adaptation now
__all__ = ["DANNAccuracy", "DANNAccuracyOptions", "accuracy", "domain_accuracy", "subset"]


def subset(images: ImageSet, n: int | None, seed: int) -> ImageSet:
    """Return all of `images` (n None or >= its size) or `n` of them drawn with `seed`: ``images.random_subset(n, seed)``."""
    return images.random_subset(n, seed)


class DANNAccuracy(AdaptationEvaluator):
    """The `adaptation` evaluator under its earlier name (registry files that name it)."""

    name = "dann_accuracy"
