"""Class-conditional DDPM with classifier-free guidance (the seed report's ContextUnet), DDPM and DDIM samplers."""

from __future__ import annotations

from typing import Any

from zoo import hookimpl

from .commands import COMMANDS
from .evaluate import SamplerSweep
from .method import DDPM, DDPMConfig
from .model import ContextUnet
from .schedule import NoiseSchedule

__all__ = ["DDPM", "DDPMConfig", "ContextUnet", "NoiseSchedule", "SamplerSweep"]


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
