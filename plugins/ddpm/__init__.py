"""Class-conditional DDPM with classifier-free guidance (the seed report's ContextUnet); DDPM, DDIM and DPM-Solver++(2M) samplers.

It declares the hook ``zoo_register_ddpm_samplers`` (hookspecs.py), through which other plugins add samplers.
"""

from __future__ import annotations

from typing import Any

from zoo import hookimpl

from . import hookspecs
from .commands import COMMANDS
from .evaluate import SamplerSweep
from .method import DDPM, DDPMConfig
from .model import ContextUnet
from .samplers import BUILTIN, DiffusionSampler, SamplerOptions, all_samplers
from .schedule import NoiseSchedule

__all__ = ["DDPM", "DDPMConfig", "ContextUnet", "NoiseSchedule", "SamplerSweep", "DiffusionSampler", "SamplerOptions", "all_samplers"]


@hookimpl
def zoo_add_hookspecs() -> list[Any]:
    """Declare ``zoo_register_ddpm_samplers`` for plugins that add samplers."""
    return [hookspecs]


@hookimpl
def zoo_register_ddpm_samplers() -> list[DiffusionSampler]:
    """Register zoo's own samplers, ``ddpm``, ``ddim`` and ``dpmpp2m``."""
    return list(BUILTIN)


@hookimpl
def zoo_register_methods() -> list[type]:
    """Register the DDPM method."""
    return [DDPM]


@hookimpl
def zoo_register_evaluators() -> list[Any]:
    """Register the sampler sweep evaluator (`ddpm_samplers`)."""
    return [SamplerSweep()]


@hookimpl
def zoo_register_commands() -> list[Any]:
    """Register `zoo ddpm-grid` and `zoo ddpm-frames`."""
    return COMMANDS
