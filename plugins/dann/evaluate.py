"""`dann_accuracy`: the core's `adaptation` evaluator under the name it had while it lived here.

The evaluator judges any domain-adapted classifier, so it moved to the core (``zoo.metrics.adaptation``, with
``accuracy``, ``domain_accuracy`` and its options); registry files whose `evaluation` table names
``dann_accuracy`` keep working through this one.
"""

from __future__ import annotations

from zoo.metrics.adaptation import AdaptationEvaluator

__all__ = ["DANNAccuracy"]


class DANNAccuracy(AdaptationEvaluator):
    """The `adaptation` evaluator under its earlier name (registry files that name it)."""

    name = "dann_accuracy"
