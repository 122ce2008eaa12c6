"""The evaluators the core ships, registered through the same hook plugins use."""

from __future__ import annotations

from typing import Any

from ..hookspecs import hookimpl
from .accuracy import AccuracyEvaluator
from .adaptation import AdaptationEvaluator
from .gan import GANEvaluator


@hookimpl
def zoo_register_evaluators() -> list[Any]:
    """Register the core's evaluators: `gan` (generated images), `accuracy` (classifiers) and `adaptation` (domain-adapted classifiers)."""
    return [GANEvaluator(), AccuracyEvaluator(), AdaptationEvaluator()]
