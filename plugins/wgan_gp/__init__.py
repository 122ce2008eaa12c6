"""WGAN-GP (Gulrajani et al., 2017) on 64x64 images, as the seed report prints it (its Problem 1 figures: zoo.gan_figures)."""

from __future__ import annotations

from zoo import hookimpl

from .method import WGANGP, WGANGPConfig, gradient_penalty

__all__ = ["WGANGP", "WGANGPConfig", "gradient_penalty"]


@hookimpl
def zoo_register_methods() -> list[type]:
    """Register the WGAN-GP method."""
    return [WGANGP]
