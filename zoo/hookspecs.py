"""The hooks a zoo plugin may implement. Every hook is optional.

A plugin is a module (or object) with functions decorated by :data:`zoo.hookimpl`, found
through the ``zoo.plugins`` entry-point group::

    # pyproject.toml of your package
    [project.entry-points."zoo.plugins"]
    mymethod = "my_package.zoo_plugin"

    # my_package/zoo_plugin.py
    import zoo

    @zoo.hookimpl
    def zoo_register_methods():
        return [MyMethod]
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .data import DatasetInfo
    from .interfaces import Command, Evaluator, Method

__all__ = ["hookspec", "hookimpl", "PROJECT"]

PROJECT = "zoo"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def zoo_register_methods() -> list[type[Method]]:
    """Return the :class:`zoo.Method` subclasses this plugin provides.

    Each class's ``name`` must be unique across all plugins; two plugins claiming one name
    is an error that names both.
    """


@hookspec
def zoo_register_datasets() -> list[DatasetInfo]:
    """Return :class:`zoo.data.DatasetInfo` entries for datasets this plugin can read or build.

    They appear in ``zoo datasets`` and can be named in ``zoo train --data NAME``.
    """


@hookspec
def zoo_register_models() -> list[Path]:
    """Return paths of extra registry TOML files (same schema as ``registry.toml``).

    Relative weights paths inside such a file are resolved from the file's own folder.
    """


@hookspec
def zoo_register_evaluators() -> list[Evaluator]:
    """Return evaluator objects (with ``name`` and ``evaluate(model, **options)``) for ``zoo eval``."""


@hookspec
def zoo_register_commands() -> list[Command]:
    """Return extra ``zoo`` sub-commands (:class:`zoo.interfaces.Command`), e.g. a method's report figures."""


@hookspec
def zoo_add_hookspecs() -> list[object]:
    """Return modules (or classes) of hooks this plugin defines for plugins of its own, each marked with ``@zoo.hookspec``.

    As pytest's ``pytest_addhooks``: zoo adds them as the plugin loads, before any plugin's hooks are checked, so a
    plugin that implements only such a hook loads like any other. The DDPM plugin declares
    ``zoo_register_ddpm_samplers`` so (docs/ddpm.md); it collects what they register with
    ``zoo.plugins.get_plugin_manager().collect(hook, kind, key, check)``.
    """
