"""WGAN-GP (Gulrajani et al., 2017) on 64x64 images, as the seed report prints it, and the seed's Problem 1 figures."""

from __future__ import annotations

from zoo import hookimpl
from zoo.interfaces import Command

from .figures import GAN_FIGURES
from .method import WGANGP, WGANGPConfig, gradient_penalty

__all__ = ["WGANGP", "WGANGPConfig", "gradient_penalty"]


@hookimpl
def zoo_register_methods() -> list[type]:
    """Register the WGAN-GP method."""
    return [WGANGP]


@hookimpl
def zoo_register_commands() -> list[Command]:
    """Register `zoo gan-figures` (the seed report's Problem 1 figures)."""
    return [GAN_FIGURES]
