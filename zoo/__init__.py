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

__version__ = "0.1.0"

from .errors import CapabilityError, ConfigError, DataError, OutputError, PluginError, UnknownNameError, WeightsError, ZooError
from .hookspecs import hookimpl
from .interfaces import Batch, DataSpec, Evaluator, Method, MethodConfig, Predictor, Sampler
from .plugins import get_plugin_manager
from .registry import build_method, entry, load, load_file, save_model
from .registry import list_models as list  # noqa: A001 - the public name is zoo.list
from .viz import save_grid

__all__ = [
    "__version__",
    "list",
    "load",
    "train",
    "evaluate",
    "register",
    "load_file",
    "entry",
    "methods",
    "build_method",
    "save_model",
    "save_grid",
    "hookimpl",
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
    "CapabilityError",
    "PluginError",
]


#: Imported on first use (PEP 562), so that `import zoo` stays as light as loading and sampling need.
_LAZY = {"train": ("zoo.training", "train"), "evaluate": ("zoo.metrics", "evaluate"), "register": ("zoo.registry", "register")}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})  # so that tab completion finds the lazy names too


def methods() -> list[str]:
    """Return the sorted names of every method that plugins register."""
    return sorted(get_plugin_manager().methods())
