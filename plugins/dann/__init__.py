"""DANN (Ganin & Lempitsky, 2015): domain-adversarial training with a gradient reversal layer.

Registers the ``dann`` method (judged by the core's ``adaptation`` evaluator; ``dann_accuracy`` is its
earlier name) and the ``zoo dann-table`` command (the seed report's accuracy table and t-SNE plots).
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
    """Register `dann_accuracy`, the core `adaptation` evaluator's earlier name, for registry files that name it."""
    return [DANNAccuracy()]


@hookimpl
def zoo_register_commands() -> list[Command]:
    """Register `zoo dann-table`."""
    return [COMMAND]
