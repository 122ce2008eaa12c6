"""Models from weights: a registry entry or a zoo weights file -> a verified method in eval mode, and back to a file.

Example::

    >>> import zoo
    >>> model = zoo.load("dcgan.mnist64")                      # sha256 checked, eval mode
    >>> model = zoo.load_file("runs/x/model.safetensors")      # no registry entry needed
    >>> zoo.save_model(model, "mine.safetensors")              # returns the file's sha256
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .errors import WeightsError
from .files import folder_busy, read_record
from .interfaces import Method, resolve_device, validate_config
from .plugins import get_plugin_manager
from .registry import entry, find_entry, installed_package, is_weights_file, weights_file
from .weights import read_weights, resolve_weights, save_weights

__all__ = ["load", "load_file", "load_any", "class_names", "build_method", "save_model", "param_count"]


def build_method(method: str, config: Mapping[str, Any] | None = None, *, training: bool = False,
                 where: str = "", fix: str | None = None) -> Method:
    """Return a fresh method `method` built from `config` (validated); a bad config names `where` it came from and how to `fix` it."""
    cls = get_plugin_manager().method(method)
    return cls(validate_config(cls.Config, config, what=f"method {method!r}{where}", fix=fix), training=training)


def param_count(model: torch.nn.Module) -> int:
    """Return the number of parameters of `model`."""
    return sum(p.numel() for p in model.parameters())


#: State a file may leave out: torch itself loads a BatchNorm without its update counter (a plain export keeps floats only).
_OPTIONAL_STATE = ".num_batches_tracked"


def _fit_problems(want: Mapping[str, torch.Tensor], tensors: Mapping[str, torch.Tensor]) -> str:
    """Return what keeps `tensors` from loading into a model whose state is `want`, shapes and all ('' when they fit)."""
    missing = sorted(k for k in set(want) - set(tensors) if not k.endswith(_OPTIONAL_STATE))
    unexpected = sorted(set(tensors) - set(want))
    wrong = [f"{k} {tuple(tensors[k].shape)}, expected {tuple(want[k].shape)}"
             for k in sorted(set(want) & set(tensors)) if want[k].shape != tensors[k].shape]
    detail = "; ".join(
        f"{what}: {', '.join(keys[:4])}{' ...' if len(keys) > 4 else ''}"
        for what, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
        if keys
    )
    return detail + _prefix_hint(want, tensors) if detail else ""


def _prefix_hint(want: Mapping[str, torch.Tensor], tensors: Mapping[str, torch.Tensor]) -> str:
    """Return a hint when the keys of `tensors` are those of `want` but for a leading prefix ('module.', a network's name)."""
    def first(keys: Any) -> set[str]:
        return {k.split(".", 1)[0] + "." for k in keys if "." in k}

    if set(tensors) <= set(want):
        return ""
    strip = [""] + [p for p in first(tensors) if all(k.startswith(p) for k in tensors)]  # one prefix on every key: a wrapper's
    for old in strip:
        for new in [""] + sorted(first(want)):
            keys = {new + k.removeprefix(old) for k in tensors}
            if old != new and keys <= set(want) and len(keys) == len(tensors) and keys >= {k for k in want if k.startswith(new)} - {
                    k for k in want if k.endswith(_OPTIONAL_STATE)}:
                change = " and ".join(f"{verb} {p!r} {where} every key" for verb, p, where in
                                      (("remove", old, "from"), ("put", new, "before")) if p)
                return (f". The keys are the model's but for a prefix: {change} (a DataParallel wrapper adds 'module.'; zoo keys "
                        "each network by its name in the method, as model.inference_state_dict() shows)")
    return ""


def _build_for_weights(cls: type[Method], config: Any, source: str) -> Method:
    """Return `cls` built with `config` (validated) to take the weights of `source`, leaving torch's RNG as it was.

    A header's config is a stranger's word until the tensors are compared: one claiming a network far larger than the
    file (a 300-byte file with width=4096) fails here for want of memory, said as such rather than as a traceback.
    """
    try:
        with torch.random.fork_rng(devices=[]):  # the random init is overwritten at once; the caller's RNG must not move
            return cls(config)
    except (MemoryError, RuntimeError) as e:
        if not isinstance(e, MemoryError) and "allocate" not in str(e):
            raise
        raise WeightsError(f"weights {source}: method {cls.name!r} with the config they name ({config.model_dump()}) needs more memory "
                           "than there is; a file zoo wrote for a model that fits here would not. Check where the file came from.") from None


def _load_tensors(model: Method, tensors: dict[str, torch.Tensor], source: str) -> None:
    want = model.inference_state_dict()
    if detail := _fit_problems(want, tensors):
        raise WeightsError(f"weights {source} do not fit method {model.name!r} with its config ({detail}). Check the config the file was trained with.")
    with torch.no_grad():
        for k, v in want.items():
            if k in tensors:  # else an optional counter the file left out: the model's own stays
                v.copy_(tensors[k].to(v.dtype))


def load_file(path: str | os.PathLike[str], device: str | torch.device | None = None, *, sha256: str | None = None) -> Method:
    """Return the model stored in a zoo weights file, in eval mode on `device` (cpu by default).

    Without `sha256`, a training run's ``model.safetensors`` is checked against the sha256 its ``summary.json``
    records, and any file against the digests in its own header.
    """
    path = Path(path)
    source = "its registry entry"
    training = False
    if sha256 is None and path.name == "model.safetensors":
        summary = read_record(path.parent / "summary.json", "Restore it, or run the same `zoo train` command again to re-export.")
        sha256, source = summary.get("sha256"), f"the sha256 in {path.parent / 'summary.json'}"
        training = folder_busy(path.parent)  # a later sitting of the run trains now (its lock is held)
    try:
        tensors, meta = read_weights(path, sha256=sha256, sha256_from=source)
    except WeightsError:
        if training:  # not corrupt: the export of the sitting that just ended is between its two files
            raise WeightsError(f"run {path.parent} is training now and is writing its export ({path.name} and summary.json do not "
                               f"match yet). Load it again in a few seconds, or when `zoo train` has finished.") from None
        raise
    if training:
        warnings.warn(f"run {path.parent} is training now: its {path.name} holds the weights of its last finished sitting "
                      f"(step {summary.get('steps', '?')}), not of the sitting under way. Load it again when `zoo train` has finished.",
                      stacklevel=2)
    from . import __version__

    cls = get_plugin_manager().method(meta.method)
    config = validate_config(cls.Config, meta.config, what=f"method {meta.method!r} in weights file {path}",
                             fix=f"The file was written by zoo {meta.version}, this is zoo {__version__}: if it came from a newer zoo "
                                 f"(a field this one does not know), upgrade zoo; otherwise export the weights again.")
    model = _build_for_weights(cls, config, str(path))
    _load_tensors(model, tensors, str(path))
    return model.to(resolve_device("cpu" if device is None else device)).eval()


def load_any(name_or_path: str | os.PathLike[str], device: str | torch.device | None = None) -> Method:
    """Return `zoo.load(name)` for a registry name, or `zoo.load_file(...)` for a .safetensors file or a run folder."""
    if is_weights_file(name_or_path):
        return load_file(weights_file(name_or_path), device)  # a folder that is no finished run: weights_file says so
    return load(str(name_or_path), device)


def class_names(name_or_path: str | os.PathLike[str]) -> list[str]:
    """Return what each label of a model means (label k is the k-th name): its entry's `classes`, or its run.json's; [] where none are recorded."""
    if not is_weights_file(name_or_path):
        return list(entry(str(name_or_path)).classes)
    run = read_record(weights_file(name_or_path).parent / "run.json", "Give label numbers instead of names.")
    named = run.get("classes") if isinstance(run.get("classes"), dict) else {}
    classes = next(iter(named.values()), [])
    return list(classes) if isinstance(classes, list) and all(isinstance(c, str) for c in classes) else []


def load(name: str | os.PathLike[str], device: str | torch.device | None = None) -> Method:
    """Return the registered model `name` with verified weights, in eval mode on `device` (a path to a .safetensors file or run folder: that one)."""
    if isinstance(name, os.PathLike) or (isinstance(name, str) and find_entry(name) is None and is_weights_file(name)):
        return load_file(weights_file(name), device)  # a file or run folder, as `zoo sample` takes them
    e = entry(name)
    path = resolve_weights(e.weights, e.sha256, e.base_dir)
    if not path.exists() and e.source is not None and installed_package(e.source) is not None:
        plugin = next((p for p, f in get_plugin_manager().plugin_registry_files() if f.resolve() == e.source.resolve()), None)
        if plugin is not None:  # "put the file there" means nothing to the user of someone else's wheel (a checkout's author can)
            raise WeightsError(
                f"weights {path} of model {name!r} do not exist: plugin {plugin!r} ships the registry file {e.source} without them. "
                "A wheel built without its weights/*.safetensors as package data lacks them (docs/plugins.md): install a build "
                "that has them, or tell the plugin's authors."
            )
    tensors, meta = read_weights(path, sha256=e.sha256)
    cls = get_plugin_manager().method(e.method)
    want = validate_config(cls.Config, e.config, what=f"model {name!r}", fix=f"Fix [models.\"{name}\".config] in the registry file ({e.base_dir}).")
    if meta.method != e.method or validate_config(cls.Config, meta.config, what=f"weights {path}", fix="Re-export the file with zoo.") != want:
        raise WeightsError(
            f"weights file {path} was made for method {meta.method!r} with config {meta.config}, "
            f"but entry {name!r} says method {e.method!r} with config {want.model_dump()}. Fix the entry or the file."
        )
    model = _build_for_weights(cls, want, str(path))
    _load_tensors(model, tensors, str(path))
    model.zoo_name = name
    return model.to(resolve_device("cpu" if device is None else device)).eval()


def save_model(model: Method, path: str | os.PathLike[str], *, dtype: torch.dtype | None = None, state: Mapping[str, torch.Tensor] | None = None) -> str:
    """Write `model`'s inference weights (or `state`, with their keys and shapes) with its method and config; return the sha256.

    A `state` that would not load back (a key missing or extra, a shape another config's) is refused before anything is written.
    """
    want = model.inference_state_dict()
    if state is not None:
        if detail := _fit_problems(want, state):
            raise WeightsError(f"the state given to save_model does not fit method {model.name!r} with its config ({detail}): zoo would "
                               "refuse the file it wrote. Give the keys and shapes of model.inference_state_dict(), or build the model "
                               "with the config the weights were trained with.")
        want = {**{k: v for k, v in want.items() if k not in state}, **state}  # a left-out counter: the model's own
    return save_weights(path, want, method=model.name, config=model.config.model_dump(), dtype=dtype)
