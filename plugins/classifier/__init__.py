"""A digit classifier shipped as a zoo model (`classifier.mnistm`), to judge generated digits."""

from __future__ import annotations

from zoo import hookimpl

from .method import ClassifierConfig, DigitClassifier, augment
from .model import DigitCNN

__all__ = ["ClassifierConfig", "DigitClassifier", "DigitCNN", "augment"]


@hookimpl
def zoo_register_methods() -> list[type]:
    """Register the digit classifier."""
    return [DigitClassifier]
