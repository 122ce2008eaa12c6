"""The hook the DDPM plugin declares for plugins of its own (added through ``zoo_add_hookspecs``)."""

from __future__ import annotations

from operator import attrgetter

from zoo.hookspecs import hookspec

from .samplers import DiffusionSampler, check_sampler

#: How zoo collects and checks what plugins register through these hooks (kind, name, check): `all_samplers()`,
#: `zoo plugins` and the contract suite judge a plugin's samplers so, as they judge its methods.
ZOO_COLLECT = {"zoo_register_ddpm_samplers": ("DDPM sampler", attrgetter("name"), check_sampler)}


@hookspec
def zoo_register_ddpm_samplers() -> list[DiffusionSampler]:
    """Return :class:`zoo_plugins.ddpm.DiffusionSampler` instances: reverse-process samplers for every DDPM model.

    Each ``name`` must be unique across plugins and must not be zoo's own (``ddpm``, ``ddim``, ``dpmpp2m``). The sampler is then
    ``model.sample(..., sampler=NAME)``, ``zoo sample MODEL --set sampler=NAME``, ``zoo ddpm-grid --sampler`` and
    ``samplers=NAME-STEPS`` in the ``ddpm_samplers`` sweep.
    """
