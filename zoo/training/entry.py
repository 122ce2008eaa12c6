"""`train`: what ``zoo.train`` and ``zoo train`` call, with its settings checked before any data is read."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from ..data import ImageSet
from ..errors import ConfigError
from ..interfaces import validate_config
from .config import TrainConfig
from .runs import check_run_folder
from .trainer import Trainer, global_rng_kept


def train(
    method: str,
    data: str | os.PathLike[str] | ImageSet | Mapping[str, str | os.PathLike[str] | ImageSet],
    out: str | os.PathLike[str],
    *,
    config: Mapping[str, Any] | None = None,
    data_root: str | os.PathLike[str] | None = None,
    command: str | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Train `method` on `data` into the run folder `out` (resuming from its checkpoint) and return the run summary.

    What `zoo train` does, from Python. `data` is a dataset name or path (`zoo datasets`), an
    :class:`~zoo.data.ImageSet`, or ``{role: either}`` for a method with several roles (DANN:
    ``{"source": "mnistm", "target": "digits"}``); `config` holds the method's options and
    `settings` the :class:`TrainConfig` fields (``steps``, ``batch_size``, ``device``, ``ema_decay``, ...).
    Settings, options and the data's roles are checked before any data is read; torch's global RNG is
    left as it was (the run seeds its own from ``seed``). The run records
    `command`, by default this call written out, as `zoo register` puts it in the registry.
    """
    from ..plugins import get_plugin_manager

    if command is None:
        command = _python_call(method, data, out, config, settings)
    settings = {k: os.fspath(v) if isinstance(v, os.PathLike) else str(v) if isinstance(v, torch.device) else v for k, v in settings.items()}
    train_cfg = validate_config(TrainConfig, settings, what="the training settings", fix="Fix the setting (zoo.training.TrainConfig lists them).")
    method_cfg = validate_config(get_plugin_manager().method(method).Config, config, what=f"method {method!r}")
    check_run_folder(out)
    sources = dict(data) if isinstance(data, Mapping) else {"train": data}
    if not sources:
        raise ConfigError(f"method {method!r} needs data: a dataset name or path (`zoo datasets`), an ImageSet, or {{role: one of those}}.")
    with global_rng_kept():  # the run seeds every device's generator (torch.manual_seed) and draws from them
        return Trainer(method, method_cfg, sources, out, train_cfg, command=command, data_root=data_root).fit()


def _python_call(method: str, data: Any, out: Any, config: Mapping[str, Any] | None, settings: Mapping[str, Any]) -> str:
    """Return a `zoo.train(...)` call that names what a run from Python was started with (an ImageSet by its name)."""
    def show(value: Any) -> str:
        if isinstance(value, ImageSet):
            return f"<ImageSet {value.name!r}, {len(value)} images>"
        if isinstance(value, Mapping):
            return "{" + ", ".join(f"{k!r}: {show(v)}" for k, v in value.items()) + "}"
        return repr(os.fspath(value)) if isinstance(value, os.PathLike) else repr(value)

    args = [repr(method), show(data), show(out)] + ([f"config={show(dict(config))}"] if config else [])
    return f"zoo.train({', '.join(args + [f'{k}={show(v)}' for k, v in settings.items()])})"
