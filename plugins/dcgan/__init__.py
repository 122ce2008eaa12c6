"""DCGAN (Radford et al., 2016) as the seed report trains it, with its two tricks as options."""

from __future__ import annotations

from zoo import hookimpl

from .method import DCGAN

__all__ = ["DCGAN"]


@hookimpl
def zoo_register_methods() -> list[type]:
    """Register the DCGAN method."""
    return [DCGAN]
