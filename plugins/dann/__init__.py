"""DANN (Ganin & Lempitsky, 2015): domain-adversarial training with a gradient reversal layer.

Registers the ``dann`` method, the ``dann_accuracy`` evaluator (``zoo eval``) and the
``zoo dann-table`` command (the seed report's accuracy table and t-SNE plots).
"""

from __future__ import annotations

from zoo import hookimpl
from zoo.interfaces import Command, Evaluator

from .evaluate import DANNAccuracy
from .method import DANN
from .table import COMMAND

__all__ = ["DANN", "DANNAccuracy"]


@hookimpl
def zoo_register_methods() -> list[type]:
    """Register the DANN method."""
    return [DANN]


@hookimpl
def zoo_register_evaluators() -> list[Evaluator]:
    """Register the target/source test-accuracy evaluator that `zoo eval` runs on DANN models."""
    return [DANNAccuracy()]


@hookimpl
def zoo_register_commands() -> list[Command]:
    """Register `zoo dann-table`."""
    return [COMMAND]
