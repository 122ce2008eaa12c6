"""zoo: a plugin-based model zoo for GANs, diffusion models and domain adaptation in PyTorch.

Example::

    >>> import zoo
    >>> zoo.list("dcgan.*")
    ['dcgan.mnist64']
    >>> images = zoo.load("dcgan.mnist64").sample(32, seed=0)   # (32, 3, 64, 64) in [0, 1]
    >>> zoo.save_grid(images, "grid.png")                         # returns the path it wrote
    PosixPath('grid.png')
"""

from __future__ import annotations

__version__ = "0.2.0"

import builtins as _builtins
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and editors
    from .errors import CapabilityError, ConfigError, DataError, OutputError, PluginError, TrainingError, UnknownNameError, WeightsError, ZooError
    from .hookspecs import hookimpl, hookspec
    from .interfaces import Batch, DataSpec, Evaluator, Method, MethodConfig, Predictor, Sampler
    from .loading import build_method, class_names, load, load_file, save_model
    from .metrics import evaluate
    from .plugins import get_plugin_manager
    from .registration import register
    from .registry import entry, list_models
    from .training import train
    from .viz import save_grid

    list = list_models  # noqa: A001 - the public name is zoo.list (not in __all__: a star import would shadow the built-in)

#: What ``from zoo import *`` gives: every public name but `list` (zoo.list), which would shadow the built-in list.
__all__ = [
    "__version__",
    "load",
    "train",
    "evaluate",
    "register",
    "load_file",
    "entry",
    "class_names",
    "methods",
    "build_method",
    "save_model",
    "save_grid",
    "hookimpl",
    "hookspec",
    "get_plugin_manager",
    "Method",
    "MethodConfig",
    "Batch",
    "DataSpec",
    "Sampler",
    "Predictor",
    "Evaluator",
    "ZooError",
    "UnknownNameError",
    "ConfigError",
    "WeightsError",
    "DataError",
    "OutputError",
    "TrainingError",
    "CapabilityError",
    "PluginError",
]

#: Every public name, imported from its module on first use (PEP 562): `import zoo` costs nothing, so
#: `zoo --version` needs no torch and a Ctrl-C while torch loads is the command's to handle.
_LAZY = {
    **{name: ("zoo.errors", name) for name in ("ZooError", "UnknownNameError", "ConfigError", "WeightsError", "DataError",
                                              "OutputError", "TrainingError", "CapabilityError", "PluginError")},
    **{name: ("zoo.hookspecs", name) for name in ("hookimpl", "hookspec")},
    **{name: ("zoo.interfaces", name) for name in ("Batch", "DataSpec", "Evaluator", "Method", "MethodConfig", "Predictor", "Sampler")},
    "get_plugin_manager": ("zoo.plugins", "get_plugin_manager"),
    **{name: ("zoo.loading", name) for name in ("build_method", "class_names", "load", "load_file", "save_model")},
    "entry": ("zoo.registry", "entry"),
    "register": ("zoo.registration", "register"),
    "list": ("zoo.registry", "list_models"),
    "save_grid": ("zoo.viz", "save_grid"),
    "train": ("zoo.training", "train"),
    "evaluate": ("zoo.metrics", "evaluate"),
}


def __getattr__(name: str) -> object:
    import importlib

    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value  # once: later uses are plain attribute reads
        return value
    try:  # a submodule used as an attribute: zoo.weights, zoo.data, ...
        return importlib.import_module(f"zoo.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"zoo.{name}":
            raise
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__() -> _builtins.list[str]:  # `zoo.list` (list_models) shadows the built-in here once used
    return sorted({*globals(), *_LAZY})  # so that tab completion finds the lazy names too


def methods() -> _builtins.list[str]:
    """Return the sorted names of every method that plugins register."""
    from .plugins import get_plugin_manager

    return sorted(get_plugin_manager().methods())
