"""The hook the DDPM plugin declares for plugins of its own (added through ``zoo_add_hookspecs``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zoo.hookspecs import hookspec

if TYPE_CHECKING:
    from .samplers import DiffusionSampler


@hookspec
def zoo_register_ddpm_samplers() -> list[DiffusionSampler]:
    """Return :class:`zoo_plugins.ddpm.DiffusionSampler` instances: reverse-process samplers for every DDPM model.

    Each ``name`` must be unique across plugins and must not be zoo's own (``ddpm``, ``ddim``). The sampler is then
    ``model.sample(..., sampler=NAME)``, ``zoo sample NAME --set sampler=...``, ``zoo ddpm-grid --sampler`` and
    ``samplers=NAME-STEPS`` in the ``ddpm_samplers`` sweep.
    """
