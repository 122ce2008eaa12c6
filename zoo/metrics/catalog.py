"""The evaluators the core ships, registered through the same hook plugins use."""

from __future__ import annotations

from typing import Any

from ..hookspecs import hookimpl
from .accuracy import AccuracyEvaluator
from .gan import GANEvaluator


@hookimpl
def zoo_register_evaluators() -> list[Any]:
    """Register the core's evaluators: `gan` (generated images) and `accuracy` (classifiers)."""
    return [GANEvaluator(), AccuracyEvaluator()]
