"""The model registry: ``registry.toml`` (plus plugins' files) -> verified, ready-to-use models.

Example::

    >>> import zoo
    >>> zoo.list("dcgan.*")
    ['dcgan.mnist64', ...]
    >>> model = zoo.load("dcgan.mnist64")          # sha256 checked, eval mode
    >>> model = zoo.load_file("runs/x/model.safetensors")   # no registry entry needed
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import stat
import tomllib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic
import tomli_w
import torch

from .argtypes import user_path
from .errors import COMMAND_LINE, ConfigError, DataError, OutputError, UnknownNameError, WeightsError, denied_as, option
from .interfaces import Method, describe_validation_error, resolve_device, validate_config
from .plugins import get_plugin_manager
from .weights import (SLIM_CHECKPOINT, atomic_write, check_writable, diverged, export_slim_hint, folder_busy, folder_lock, read_record, read_weights,
                      remove_temporaries, resolve_weights, save_weights, sha256_file, uninterrupted)

__all__ = [
    "register",
    "ModelEntry",
    "Sitting",
    "TrainingRecord",
    "registry_path",
    "entries",
    "entry",
    "find_entry",
    "list_models",
    "load",
    "load_file",
    "load_any",
    "class_names",
    "is_weights_file",
    "weights_file",
    "parse_data_label",
    "format_data_label",
    "absolute_data",
    "build_method",
    "save_model",
    "param_count",
    "update_entry",
    "check_model_name",
    "register_run",
]

_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_HEADER = ("# zoo model registry: each model's weights (with sha256), config, training record and metrics. Written by `zoo register`, "
           "`zoo train --register` and `zoo eval --write`, which rewrite it whole: comments of your own are not kept (a note goes in "
           "an entry's description); see docs/registry.md.\n\n")


class Sitting(pydantic.BaseModel):
    """One earlier sitting of a resumed run: its command and the step its checkpoint reached."""

    model_config = pydantic.ConfigDict(extra="forbid")
    command: str
    steps: int = pydantic.Field(ge=0)


class TrainingRecord(pydantic.BaseModel):
    """How a shipped model was trained: enough to run it again."""

    model_config = pydantic.ConfigDict(extra="forbid")
    command: str
    wall_time_s: float
    steps: int
    device: str
    date: str
    software: str | None = pydantic.Field(None, description="zoo, torch and Python versions of the (last) sitting; absent in records written before zoo kept them")
    checkpoint_sha256: str | None = pydantic.Field(None, description="for the run a model was branched from: its checkpoint's sha256")
    init_from: TrainingRecord | None = pydantic.Field(None, description="the run this one branched from (`zoo train --init-from`)")
    earlier_sittings: list[Sitting] = pydantic.Field(
        [], description="for a resumed run, the sittings before the one `command` names, in order; `command` is the last"
    )


class ModelEntry(pydantic.BaseModel):
    """One shipped model."""

    model_config = pydantic.ConfigDict(extra="forbid")
    method: str
    config: dict[str, Any] = {}
    weights: str
    sha256: str = pydantic.Field(pattern=r"^[0-9a-f]{64}$")
    data: str
    params: int = pydantic.Field(gt=0)
    #: What each label means, where the training files named the classes (a folder's class subfolders): label k is classes[k].
    classes: list[str] = []
    description: str = ""
    metrics: dict[str, Any] = {}
    training: TrainingRecord | None = None
    #: Evaluator options for `zoo eval NAME` (evaluator name -> options).
    evaluation: dict[str, dict[str, Any]] = {}
    #: Folder that a relative `weights` path is resolved from (set on load, not in the file).
    base_dir: Path = pydantic.Field(default=Path("."), exclude=True)
    #: The registry file the entry was read from (set on load): where `zoo eval --write` records.
    source: Path | None = pydantic.Field(default=None, exclude=True)


def _shipped() -> tuple[Path, bool]:
    """Return zoo's own registry file and whether it is part of an installed package (a wheel's ``zoo/_shipped/``) rather than a checkout's."""
    packaged = Path(__file__).resolve().parent / "_shipped" / "registry.toml"
    return (packaged, True) if packaged.is_file() else (Path(__file__).resolve().parent.parent / "registry.toml", False)


#: zoo's own registry file: the models the project ships (the checkout's top-level registry.toml, or the copy a wheel carries).
SHIPPED, INSTALLED = _shipped()


def check_recordable(name: str) -> Path:
    """Check that metrics of entry `name` can be recorded in the file that defines it, before an evaluation; return the file."""
    path = entry(name).source
    if path is None:
        raise ConfigError(f"model {name!r} comes from no registry file, so there is nowhere to record its metrics.")
    _check_not_installed(path)
    check_writable(path)
    return path


#: Where a user's own registry is suggested (not ~/zoo/: a folder named zoo in the working folder would shadow the package).
OWN_REGISTRY = "~/zoo-models/registry.toml"


def _check_not_installed(path: Path) -> None:
    """Refuse to write zoo's own registry where the user may not: pip's copy in an installed zoo (an upgrade replaces
    it, an uninstall strands new entries), or a shared checkout the user cannot write (a course's install)."""
    own = f"Register your models into a file of your own (ZOO_REGISTRY={OWN_REGISTRY}, or {option('registry', OWN_REGISTRY)}); zoo's shipped models are still found by name."
    if INSTALLED and path.resolve() == SHIPPED:
        raise ConfigError(
            f"{path} is the registry of the installed zoo package: models registered or metrics recorded there would be lost "
            f"to pip. {own} The shipped models' own metrics are recorded from a checkout of zoo."
        )
    if path.resolve() == SHIPPED and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        raise ConfigError(f"{path} is zoo's own registry, in a checkout you cannot write (someone else's, or a shared install). {own}")
    if (package := _installed_package(path)) is not None:
        raise ConfigError(
            f"{path} belongs to the installed package {package}: pip replaces it on an upgrade (taking the entries and metrics "
            f"written there with it) and an uninstall strands new weights beside it. Record a plugin's own models from its "
            f"checkout (pip install -e .), or register into a file of your own (ZOO_REGISTRY={OWN_REGISTRY}, or "
            f"{option('registry', OWN_REGISTRY)}); the plugin's models are still found by name."
        )


def _installed_package(path: Path) -> str | None:
    """Return the distribution (``name-version.dist-info``) whose RECORD lists `path`: a file pip installed, or None.

    An editable install (``pip install -e .``) lists no source files, so a plugin's checkout stays writable.
    """
    import csv

    path = Path(os.path.realpath(path))
    for root in path.parents:
        records = list(root.glob("*.dist-info/RECORD"))
        if not records:
            continue
        top = path.relative_to(root).parts[0]  # the package folder: only rows under it can name the file
        for record in records:
            try:  # a folder anyone may write (/tmp) could hold a pipe, /dev/zero or a huge file under this name
                fd = os.open(record, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
                with open(fd, newline="", encoding="utf-8") as f:
                    st = os.fstat(f.fileno())
                    if not stat.S_ISREG(st.st_mode) or st.st_size > 64 * 2**20:
                        continue
                    if any(row and row[0].split("/")[0] == top and os.path.realpath(root / row[0]) == str(path) for row in csv.reader(f)):
                        return record.parent.name
            except (OSError, UnicodeDecodeError, csv.Error, ValueError):
                continue  # a damaged RECORD names nothing
        return None  # the site-packages folder: nothing above it installs files below it
    return None


def registry_path() -> Path:
    """Return the main registry file: ``$ZOO_REGISTRY`` or zoo's own ``registry.toml`` (SHIPPED)."""
    env = os.environ.get("ZOO_REGISTRY")
    return user_path(env) if env else SHIPPED  # ~ too where no shell expanded it (.env, docker), as ZOO_DATA


def _read_toml(path: Path) -> dict[str, Any]:
    """Return registry file `path` as TOML data (empty when it does not exist), its `models` checked to be a table of tables."""
    try:
        with denied_as(ConfigError, f"registry file {path}"):
            raw = tomllib.loads(path.read_bytes().decode("utf-8")) if path.is_file() else {}  # TOML is UTF-8 whatever the locale
    except UnicodeDecodeError as e:
        raise ConfigError(f"registry file {path} is not UTF-8 (byte {e.object[e.start]:#04x} at offset {e.start}), as TOML files must be. "
                          "Save it as UTF-8 (an editor's 'encoding' setting).") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"registry file {path} is not valid TOML: {e}. Fix the file.") from None
    models = raw.setdefault("models", {})
    bad = [repr(k) for k, v in models.items() if not isinstance(v, dict)] if isinstance(models, dict) else ["models"]
    if bad:
        raise ConfigError(f"registry file {path}: {', '.join(bad)} should be a table ([models.\"NAME\"] with method, weights, ...). Fix the file (docs/registry.md).")
    return raw


def _read_file(path: Path) -> dict[str, ModelEntry]:
    out = {}
    for name, values in _read_toml(path)["models"].items():
        try:
            out[name] = ModelEntry.model_validate({**values, "base_dir": path.parent, "source": path})
        except pydantic.ValidationError as e:
            from . import __version__

            unknown = [".".join(map(str, err["loc"])) for err in e.errors() if err["type"] == "extra_forbidden"]
            newer = (f" If a newer zoo wrote {', '.join(unknown)} (zoo {__version__} here), upgrade zoo to read it." if unknown else "")
            raise ConfigError(f"registry entry {name!r} in {path} is invalid: {describe_validation_error(e)}. Fix the entry "
                              f"(docs/registry.md lists the fields).{newer}") from None
    return out


def entries() -> dict[str, ModelEntry]:
    """Return every registry entry (main file, zoo's shipped models and plugins' files) by name.

    Beside a ``$ZOO_REGISTRY`` file of one's own, zoo's shipped models are entries too (listed, matched by patterns,
    loaded by name), except a name that file defines itself. A fault in the main file is an error. One in a plugin's file (not TOML, an invalid entry, a name the main file
    defines) is that plugin's, as a hook of it that raises: its file is skipped with a warning naming it (an error
    under ZOO_STRICT_PLUGINS=1), so that one broken plugin does not stop every model from loading.
    """
    pm = get_plugin_manager()
    main = registry_path().resolve()
    with denied_as(ConfigError, f"registry file {main}"):
        found: dict[str, ModelEntry] = dict(_read_file(main)) if main.is_file() else {}
    origin: dict[str, Path] = dict.fromkeys(found, main)
    read = {main}
    if main != SHIPPED and SHIPPED.is_file():  # the shipped models stay in view; the file of one's own wins a name both define
        for name, e in _read_file(SHIPPED).items():
            if name not in found:
                found[name], origin[name] = e, SHIPPED
        read.add(SHIPPED)
    for plugin, f in pm.plugin_registry_files():
        f = f.resolve()
        if f in read or not f.is_file():  # one file named twice ($ZOO_REGISTRY and a plugin's hook) is read once
            continue
        read.add(f)
        try:
            those = _read_file(f)
            clash = next((n for n in those if origin.get(n) in (main, SHIPPED)), None)
            if clash is not None:
                raise ConfigError(f"its registry file {f} defines the model {clash!r}, which {origin[clash]} defines; rename it")
        except ConfigError as e:
            pm.registry_file_failed(plugin, str(e), e)
            continue
        for name, e in those.items():
            if name in found:  # two plugins: neither is zoo's own to keep
                raise ConfigError(f"model {name!r} is defined twice: in {origin[name]} and {f}. Rename one, or block one plugin (ZOO_BLOCK_PLUGINS).")
            found[name], origin[name] = e, f
    return found


def find_entry(name: str) -> ModelEntry | None:
    """Return the registry entry `name`, or None where no registry file defines it (`entries`: zoo's shipped models
    among them beside a ``$ZOO_REGISTRY`` file, so what evaluators load by name, ``classifier.mnistm``, stays there)."""
    return entries().get(name) if isinstance(name, str) else None


def entry(name: str) -> ModelEntry:
    """Return the registry entry `name` (`find_entry`), or raise with the closest names."""
    found = find_entry(name)
    if found is None:
        all_entries = entries()
        if not isinstance(name, str):
            raise ConfigError(f"a model name is a string, got {type(name).__name__} {name!r}. A file or run folder loads with zoo.load_file(path).")
        if is_weights_file(name) and Path(name).exists():  # a run folder or weights file: loadable, but it has no entry
            raise ConfigError(f"{name} is a weights file or run folder, which has no registry entry: zoo.load({name!r}) loads it, and its "
                              "run.json says what it trained on (zoo.class_names(path) its class names). Register it with zoo.register(RUN, NAME) for an entry.")
        if problem := path_argument_problem(name):
            raise ConfigError(problem)
        direct = "a .safetensors file or run folder works too" if COMMAND_LINE.get() else "`zoo.load_file(path)` loads a weights file directly"
        raise UnknownNameError("model", name, all_entries, hint=f"`zoo list` shows the shipped models; {direct}." + get_plugin_manager().failures()
                               + get_plugin_manager().missing_registry_files())
    return found


#: Suffixes of pickled weights (torch.save, Lightning, pickle), which zoo never loads.
_PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".ckpt", ".bin", ".pkl", ".pickle"})


def path_argument_problem(path: str) -> str | None:
    """Say why a model argument written as a path (a slash, a pickle's suffix), which no model name can be, cannot be loaded; else None."""
    suffix = Path(path).suffix
    if "/" not in path and os.sep not in path and suffix not in _PICKLE_SUFFIXES:
        return None
    if suffix in _PICKLE_SUFFIXES:
        return (f"{path} is a {suffix} file: zoo loads safetensors files only and never unpickles (a pickle can run code when loaded). "
                "Export the model with zoo (zoo.save_model) and give the .safetensors file.")
    if Path(path).exists():
        return f"{path} is not a zoo weights file: expected a .safetensors file, a training run folder or a registered name (`zoo list`)."
    return f"{path} does not exist (a path, by its form, not a model name). Check the path, or give a registered name (`zoo list`)."


def list_models(pattern: str = "*") -> list[str]:
    """Return the sorted names of registered models matching the fnmatch `pattern`."""
    return sorted(n for n in entries() if fnmatch.fnmatchcase(n, pattern))


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


def is_weights_file(name_or_path: str | os.PathLike[str]) -> bool:
    """Return whether a model argument names a weights file (it ends in .safetensors) or a folder, rather than a registry entry.

    A folder is read as a training run (weights_file says so where it is not a finished one); a registered
    name wins over a same-named folder in the working directory unless the argument is written as a path.
    """
    text = os.fspath(name_or_path)
    if not text:  # Path('') is '.', the working folder: an empty argument names no model, and zoo.load says so
        return False
    try:
        is_dir = Path(name_or_path).is_dir()
    except PermissionError:  # a path into a folder the system refuses: weights_file names it; a bare name is the registry's
        is_dir = os.sep in text
    return text.endswith(".safetensors") or (is_dir and (os.sep in text or find_entry(text) is None))


def weights_file(path: str | os.PathLike[str]) -> Path:
    """Return the weights file a model argument names: a .safetensors file, or a training run folder's model.safetensors."""
    with denied_as(WeightsError, f"model {os.fspath(path)}"):
        return _weights_file(Path(path))


def _weights_file(path: Path) -> Path:
    if not path.is_dir():
        return path
    if not (path / "model.safetensors").is_file():
        if (path / "model.safetensors").is_symlink():
            raise WeightsError(f"{path / 'model.safetensors'} is a link to {os.readlink(path / 'model.safetensors')}, which is not here: "
                              "copy the file itself into the run folder.")
        if (path / SLIM_CHECKPOINT).is_file():
            raise WeightsError(export_slim_hint(path))
        if folder_busy(path):
            raise WeightsError(f"{path} has no model.safetensors yet: it is training now, and its first sitting has not ended.")
        if (path / "checkpoint.safetensors").is_file():
            raise WeightsError(f"{path} has no model.safetensors: its training stopped before its first export. Run its `zoo train` "
                              "command again (run.json's `command`) to go on from the checkpoint and export.")
        raise WeightsError(f"{path} is a folder without model.safetensors; expected a finished training run (or give a .safetensors file or a registered name).")
    return path / "model.safetensors"


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
    if not path.exists() and e.source is not None and _installed_package(e.source) is not None:
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


def _toml_values(value: Any) -> Any:
    """Return `value` without its None entries: TOML has no null, and a config left out means its default."""
    if isinstance(value, Mapping):
        return {k: _toml_values(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_toml_values(v) for v in value]
    return value


def check_model_name(name: str) -> str:
    """Return `name` if it can name a registry entry and its weights file (``weights/NAME.safetensors``), else raise."""
    if not _MODEL_NAME.fullmatch(name):
        raise ConfigError(
            f"model name {name!r} is not valid: expected letters, digits and . _ + - (starting with a letter or digit, no slashes), "
            "e.g. dcgan.mnistm64. Choose another name."
        )
    return name


def _registry_text(name: str, values: Mapping[str, Any], path: Path, replace: bool) -> str:
    """Return registry file `path`'s new text with entry `name` set to `values` (merged into the old entry unless `replace`)."""
    raw = _read_toml(path)
    models = raw["models"]
    twin = next((k for k in models if k != name and k.casefold() == name.casefold()), None)
    if twin is not None:
        raise ConfigError(
            f"registry file {path} has entry {twin!r}, which differs from {name!r} only in case: on macOS and Windows their "
            f"weights files would be one file. Use {twin!r}, or choose another name."
        )
    merged = _toml_values({**({} if replace else models.get(name, {})), **values})
    try:
        ModelEntry.model_validate({**merged, "base_dir": path.parent})
    except pydantic.ValidationError as e:
        raise ConfigError(f"cannot write registry entry {name!r}: {describe_validation_error(e)}.") from None
    models[name] = merged
    raw["models"] = dict(sorted(models.items()))
    return _HEADER + tomli_w.dumps(raw)


def update_entry(name: str, values: Mapping[str, Any], path: Path | None = None, *, replace: bool = False,
                 expect: Mapping[str, Any] | None = None) -> None:
    """Create or update entry `name` in the registry file `path` (atomically), validating it first.

    `values` are merged into the existing entry; with `replace`, they are the whole new entry. With `expect`,
    the entry must still hold those values (e.g. the sha256 of the weights the new metrics were measured on).
    """
    path = (path or registry_path()).resolve()  # through a link, as entries() reads it: one lock and one weights folder for all writers
    check_model_name(name)
    _check_not_installed(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(path.parent):  # read, merge and write as one: two `zoo eval --write` at once both land
        remove_temporaries(path.parent, [path.name])  # a killed writer's; the lock says no one writes them now
        now = _read_toml(path)["models"].get(name, {})
        changed = [k for k, v in (expect or {}).items() if now.get(k) != v]
        if changed:
            raise ConfigError(
                f"registry entry {name!r} changed while it was being evaluated ({', '.join(changed)}: now {[now.get(k) for k in changed]}): "
                f"the metrics are of the weights it held before, so they are not recorded. Run `zoo eval {name} --write` again."
            )
        text = _registry_text(name, values, path, replace)  # fails before the file is touched
        with atomic_write(path, "w") as f:
            f.write(text)


def _source_record(source: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Return the training record of the run a run branched from (``run.json``'s ``init_from``), recursively."""
    if not source:
        return None
    return {
        "command": source.get("command") or "(not recorded)", "wall_time_s": round(source["elapsed"], 1), "steps": source["step"],
        "device": source.get("device") or "(not recorded)", "date": source.get("date") or "(not recorded)",
        **({"software": source["software"]} if source.get("software") else {}),
        "checkpoint_sha256": source["sha256"], "init_from": _source_record(source.get("init_from")),
        **({"earlier_sittings": [{"command": s.get("command") or "(not recorded)", "steps": s["steps"]} for s in source["earlier_sittings"]]}
           if source.get("earlier_sittings") else {}),
    }


def check_registration(name: str, path: Path | None = None, *, replace: bool = False) -> Path:
    """Check that entry `name` and its weights can be written into registry file `path` (default: the main file); return the path.

    `zoo train --register` calls it before training, so that a bad name, file or clash fails before the work. A name
    the file defines already is refused unless `replace`: its entry, metrics and weights would be gone.
    """
    check_model_name(name)
    if name in get_plugin_manager().methods():  # `zoo info NAME` would show the model and hide the method
        raise ConfigError(f"model name {name!r} is the name of a method. Choose another, e.g. {name}.mine.")
    path = (Path(path) if path is not None else registry_path()).resolve()  # its weights go beside the file a link names, where they are read
    if path.is_dir():
        raise OutputError(f"registry file {path} is a folder. Give a registry file, e.g. {path / 'registry.toml'}.")
    _read_toml(path)  # a damaged file is named now, not after the training
    _check_not_installed(path)
    check_writable(path)
    weights = path.parent / "weights" / f"{name}.safetensors"
    if weights.parent.is_symlink():  # a stranger's registry folder would choose where the file lands
        raise OutputError(f"{weights.parent} is a symbolic link (to {os.readlink(weights.parent)}); registering {name!r} would write its "
                          f"weights wherever it points. Make it a folder, or register into another registry file.")
    if weights.is_symlink():  # a shared registry's folder: writing through the link would overwrite whatever it names
        raise OutputError(f"{weights} is a symbolic link (to {os.readlink(weights)}); registering {name!r} would write its weights "
                          f"through it. Remove the link, or choose another name.")
    check_writable(weights)
    if not replace and path.is_file() and (there := _read_file(path).get(name)) is not None:
        how = "--replace" if COMMAND_LINE.get() else "replace=True"
        raise ConfigError(f"model {name!r} is registered already in {path} (method {there.method!r}, data {there.data!r}"
                          f"{', with metrics' if there.metrics else ''}): registering would replace its entry and its weights. "
                          f"Choose another name, or give {how} to replace it.")
    elsewhere = entries().get(name)
    if elsewhere is not None and elsewhere.source is not None and elsewhere.source.resolve() != path.resolve():
        raise ConfigError(
            f"model {name!r} is defined in {elsewhere.source}, not in {path}; a second definition would make every lookup fail. "
            f"Register it into that file ({option('registry', elsewhere.source)}) or choose another name."
        )
    if name not in (_read_file(path) if path.is_file() else {}):
        _refuse_unowned_weights(weights, name, path)
    return path


def registered_from(run_dir: str | os.PathLike[str], name: str, path: Path | None = None) -> bool:
    """Whether entry `name` of registry file `path` (default: the main one) holds the weights run `run_dir` exported last:
    the entry an earlier sitting of the run registered, which its next sitting (the same ``zoo train --register``) replaces."""
    path = (Path(path) if path is not None else registry_path()).resolve()
    weights = Path(run_dir) / "model.safetensors"
    there = _read_file(path).get(name) if path.is_file() else None
    return there is not None and weights.is_file() and there.sha256 == sha256_file(weights)


def unlisted_note(path: Path | None, name: str) -> str | None:
    """Return a note when registry file `path` is one zoo does not read (neither the main file nor a plugin's), else None."""
    if path is None or any(Path(path).resolve() == f.resolve() for f in [registry_path(), SHIPPED, *get_plugin_manager().registry_files()]):
        return None
    return (f"zoo does not read {path} (it is neither $ZOO_REGISTRY nor a file a plugin's zoo_register_models lists), so the "
            f"model list will not show {name!r}. List the file in your plugin's hook, or set ZOO_REGISTRY={shlex.quote(str(Path(path).resolve()))}.")


def register(run_dir: str | os.PathLike[str], name: str, *, data: str | None = None, registry: str | os.PathLike[str] | None = None,
             replace: bool = False) -> ModelEntry:
    """Register a finished training run as model `name` (what `zoo register` does) and return its entry; a name the
    registry file defines already is refused unless `replace`.

    `data` labels what it trained on (by default what the run recorded: dataset names, absolute paths).
    `run_dir` may be a zoo weights file instead (``zoo.save_model`` of weights trained elsewhere); `data` is then required.

    `registry` is the file to write (default: the main one); one that zoo does not read (neither
    $ZOO_REGISTRY nor a plugin's) is written but warned about, since `zoo.list()` will not show the model.
    """
    import warnings

    path = None if registry is None else Path(registry)
    e = register_run(run_dir, name, data=data, path=path, replace=replace)
    if note := unlisted_note(path, name):
        warnings.warn(note, UserWarning, stacklevel=2)
    return e


def split_role(item: str) -> tuple[str, str]:
    """Return (role, dataset) of one ``ROLE=NAME_OR_PATH`` item; an item without a role (or whose '=' lies in a path) is role 'train'."""
    role, sep, value = item.partition("=")
    return (role, value) if sep and "/" not in role else ("train", item)


def parse_data_label(label: str) -> dict[str, str]:
    """Return the roles of a `data` label: 'mnist' -> {'train': 'mnist'}, 'source=mnistm+target=/x' -> {'source': ..., 'target': ...}.

    A label that is an existing path as a whole is one path, whatever '=' or '+' it holds; a '+' starts the next
    role only where ``ROLE=`` follows it, so a role's path may hold '+' ('target=/data/my+digits').
    """
    try:
        exists = user_path(label).exists()
    except PermissionError:  # a bare name (a working folder one cannot search) is a dataset's; a path is refused
        if os.sep in label:
            with denied_as(DataError, f"data {label}"):
                raise
        exists = False
    if exists:
        return {"train": label}
    return dict(split_role(part) for part in re.split(r"\+(?=\w+=)", label))


def format_data_label(roles: Mapping[str, str]) -> str:
    """Return the `data` label of `roles` (the inverse of :func:`parse_data_label`)."""
    return "+".join(v if r == "train" else f"{r}={v}" for r, v in roles.items())


def absolute_data(data: str) -> str:
    """Return a `data` label ('mnist', 'runs/faces', 'source=mnistm+target=my/digits') with its paths made absolute.

    A relative path would name other files, or none, once `zoo eval` runs in another folder; dataset names stay.
    """
    from .data import datasets

    known = datasets()

    def absolute(value: str) -> str:
        return value if value in known or not user_path(value).exists() else str(user_path(value).resolve())

    return format_data_label({r: absolute(v) for r, v in parse_data_label(data).items()})


def _data_label(run: Mapping[str, Any], run_dir: Path, label: str | None) -> str:
    """Return the entry's data label: `label` (checked against the run's record, paths made absolute) or the run's own record."""
    from .data import datasets

    known = datasets()
    names, sources = run.get("data") or {}, run.get("data_sources") or {}
    if label is None:
        if sources:
            return format_data_label(sources)
        if names and all(v in known for v in names.values()):  # a run of an older zoo: its names are enough where they are datasets
            return format_data_label(names)
        raise ConfigError(f"run {run_dir} does not record where its data came from (a run of an older zoo); name it: {option('data', 'NAME_OR_PATH')}.")
    if not label.strip():
        raise ConfigError(f"{option('data')} is empty: name what the run trained on, or leave {option('data')} out to use the run's record.")
    given = parse_data_label(label)
    if names and (set(given) != set(names) or any(given[r] in known and given[r] != names[r] for r in given)):
        raise ConfigError(
            f"run {run_dir} trained on {names}, and {option('data')} says {label!r}. Name what it trained on, or leave {option('data')} out to use the run's record."
        )
    return absolute_data(label)


def register_run(run_dir: str | os.PathLike[str], name: str, *, data: str | None = None, path: Path | None = None,
                 replace: bool = False) -> ModelEntry:
    """Copy a training run's exported weights to ``weights/NAME.safetensors`` and write entry `name` for them.

    `data` labels the entry's data (``mnist``, a path, ``source=mnistm+target=digits``); by default the run's
    own record. A label that names other roles, or another registered dataset, than the run trained on is refused.
    `run_dir` may instead be a zoo weights file (``zoo.save_model`` of weights trained elsewhere): its header gives
    the method and config, `data` must name what it trained on, and the entry has no ``training`` record.
    """
    check_model_name(name)
    if not os.fspath(run_dir):  # Path('') would be '.', the working folder
        raise ConfigError("the run to register is an empty path; give the run folder `zoo train --out` wrote, or a .safetensors file.")
    with denied_as(WeightsError, f"run {os.fspath(run_dir)}"):
        return _register_run(Path(run_dir), name, data=data, path=path, replace=replace)


def _register_run(run_dir: Path, name: str, *, data: str | None, path: Path | None, replace: bool) -> ModelEntry:
    import datetime
    import json

    if not run_dir.exists():  # a mistyped path is the caller's slip, as zoo sample and zoo info call it
        raise ConfigError(path_argument_problem(os.fspath(run_dir)) or f"{run_dir} does not exist. Check the path.")
    if run_dir.name == "model.safetensors" and (run_dir.parent / "run.json").is_file():
        run_dir = run_dir.parent  # a run's export: the run, with its training record
    elif run_dir.is_file() or (run_dir.suffix == ".safetensors" and not run_dir.is_dir()):
        return _register_file(run_dir, name, data=data, path=path, replace=replace)
    for record in ("run.json", "summary.json"):  # a pipe would hang the read, a device never end it
        if (run_dir / record).exists() and not (run_dir / record).is_file():
            raise ConfigError(f"{run_dir / record} is no regular file (a pipe or device); expected the JSON file `zoo train` writes.")
    try:
        run = json.loads((run_dir / "run.json").read_text())
        summary = json.loads((run_dir / "summary.json").read_text())
        sha256, method, config = summary["sha256"], run["method"], _toml_values(run["config"])
        # used below, past this try (the sha256 to check the weights, the rest in the entry): a wrong type is named here, not a raw error there
        wrong = [f"run.json's {k} is {str(run[k])[:60]}, not an object" for k in ("classes", "data", "data_sources")
                 if run.get(k) and not isinstance(run[k], dict)]
        if not isinstance(sha256, str):
            wrong.insert(0, f"summary.json's sha256 is {str(sha256)[:60]}, not a hex digest")
        if wrong:
            raise TypeError("; ".join(wrong))
        made = summary if "command" in summary else run  # the sittings that exported the weights (run.json: the latest one begun)
        training = {
            "command": made.get("command") or "(not recorded)",
            "wall_time_s": summary["wall_time_s"],
            "steps": summary["steps"],
            "device": summary["device"],
            "date": summary.get("date") or datetime.date.today().isoformat(),
            **({"software": summary["software"]} if summary.get("software") else {}),
            "init_from": _source_record(run.get("init_from")),
            **({"earlier_sittings": [{"command": c.get("command") or "(not recorded)", "steps": c["steps"]} for c in made["earlier_sittings"]]}
               if made.get("earlier_sittings") else {}),
        }
    except FileNotFoundError as e:
        how = f"`zoo train ... --out {run_dir}`" if COMMAND_LINE.get() else f"zoo.train(..., out={os.fspath(run_dir)!r})"
        raise WeightsError(f"{run_dir} is not a finished training run: {Path(e.filename).name} is missing. Run {how} to the end first.") from None
    # RecursionError: JSON nested thousands deep
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, KeyError, TypeError, AttributeError) as e:
        raise WeightsError(
            f"{run_dir}'s run.json or summary.json is damaged ({type(e).__name__}: {e}); expected the files `zoo train` writes. "
            "Restore them, or train the run again."
        ) from None
    if not (run_dir / "model.safetensors").is_file() and (run_dir / SLIM_CHECKPOINT).is_file():
        raise WeightsError(export_slim_hint(run_dir))
    data = _data_label(run, run_dir, data)
    weights = Path("weights") / f"{name}.safetensors"
    # a `zoo train` resuming in the folder would re-export model.safetensors under us: wait for none, refuse while one runs
    run_lock = folder_lock(run_dir, busy=f"run {run_dir} is training now (a `zoo train` holds the folder); register it once that run has ended.",
                           shared=True)  # a reader's: two registrations of one run go ahead together
    with run_lock:
        model = load_file(run_dir / "model.safetensors", sha256=sha256)
        if bad := diverged(model):  # exported by a zoo that did not stop diverged runs, or by hand
            raise WeightsError(f"{run_dir / 'model.safetensors'} holds NaN or infinite values ({', '.join(bad[:4])}): the run diverged, "
                               "and such weights sample or predict nothing. Train again with a lower learning rate, then register that run.")
        _check_run_config(run_dir, run["config"], config, model)
        path = check_registration(name, path, replace=replace)
        _write_registration(name, path, run_dir / "model.safetensors", weights, {
            "method": method, "config": config, "weights": weights.as_posix(), "sha256": sha256, "data": data,
            "params": param_count(model), "training": training,
            **({"classes": next(iter(run["classes"].values()))} if run.get("classes") else {}),
        })
    return entries()[name] if path == registry_path().resolve() else _read_file(path)[name]


def _register_file(file: Path, name: str, *, data: str | None, path: Path | None, replace: bool) -> ModelEntry:
    """Register a zoo weights file made outside a run folder (zoo.save_model of weights trained elsewhere): no training record."""
    if data is None or not data.strip():
        raise ConfigError(f"a weights file does not record what it was trained on: name it with {option('data', 'NAME_OR_PATH')} "
                          "(a dataset name, a path, or source=A+target=B), as the entry's `data`.")
    model = load_file(file)  # a zoo file: its method and config in its header, its tensors checked against its digests
    if bad := diverged(model):
        raise WeightsError(f"{file} holds NaN or infinite values ({', '.join(bad[:4])}): such weights sample or predict nothing.")
    roles, wants = set(parse_data_label(data)), set(model.data_spec().roles)
    # `zoo eval` judges against these: the adaptation evaluator reads source= and target= (a source-only model's too)
    if wants - roles or roles - wants - {"target"}:
        example = "NAME" if wants == {"train"} else "+".join(f"{r}=NAME" for r in sorted(wants))
        raise ConfigError(f"{option('data')} {data!r} names the role(s) {', '.join(sorted(roles))}, and method {model.name!r} trains on "
                          f"{', '.join(sorted(wants))}: name each, e.g. {option('data', example)}.")
    sha256 = sha256_file(file)
    weights = Path("weights") / f"{name}.safetensors"
    registry_file = (Path(path) if path is not None else registry_path()).resolve()
    kept = registry_file.parent / weights  # where check_registration puts it
    owned = registry_file.is_file() and name in _read_file(registry_file)  # registering an entry's own weights again is fine
    if file.resolve() == kept.resolve() and not owned:  # the advice for a stray file there (delete it) would delete the only copy
        raise ConfigError(f"{file} is where entry {name!r} keeps its weights already: zoo copies the file there. Move it out of "
                          f"{kept.parent} and register it from where it lies.")
    path = check_registration(name, path, replace=replace)
    _write_registration(name, path, file, weights, {
        "method": model.name, "config": _toml_values(model.config.model_dump()), "weights": weights.as_posix(), "sha256": sha256,
        "data": absolute_data(data), "params": param_count(model),
    })
    return entries()[name] if path == registry_path().resolve() else _read_file(path)[name]


def _check_run_config(run_dir: Path, recorded: dict[str, Any], config: dict[str, Any], model: Method) -> None:
    """Refuse a run whose run.json config differs from its weights' or holds a None TOML cannot write (`config`: without Nones)."""
    if validate_config(type(model.config), config, what=f"run {run_dir}") == model.config:
        return
    if validate_config(type(model.config), recorded, what=f"run {run_dir}") == model.config:
        raise ConfigError(
            f"run {run_dir}'s config sets a field to None whose default is not None, which registry.toml (TOML has no null) "
            "cannot record. Give that field a value and train again."
        )
    exported = model.config.model_dump()
    differ = [k for k in exported if recorded.get(k, exported[k]) != exported[k]] or sorted(set(recorded) - set(exported))
    raise ConfigError(
        f"run {run_dir}'s run.json and its model.safetensors disagree on the config ({', '.join(differ)}): they are not from "
        "the same run. Restore run.json, or train the run again."
    )


def _refuse_unowned_weights(file: Path, name: str, path: Path) -> None:
    """Raise OutputError if `file` exists though registry file `path` has no entry `name` to own it.

    Another entry uses it then, or did: one renamed by hand (its weights keep their name), or one in another registry
    file beside this one (two users' files in one folder). Writing over it would break that entry for good.
    """
    if file.exists():
        raise OutputError(
            f"{file} exists, but {path} has no entry {name!r} that owns it: another entry may use it (one renamed by hand keeps "
            f"its weights' name; another registry file in {path.parent} may name it). Choose another name, or, if no entry "
            f"uses the file, delete it and register again."
        )


def _utf8_text(value: Any) -> Any:
    """Return `value` (a record's str, list or dict) with each character UTF-8 cannot hold written as its escape (\\udce9):
    a path in bytes the locale could not decode (Latin-1 names on a UTF-8 system) still registers, named legibly."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list):
        return [_utf8_text(v) for v in value]
    if isinstance(value, dict):
        return {_utf8_text(k): _utf8_text(v) for k, v in value.items()}
    return value


def _write_registration(name: str, path: Path, source: Path, weights: Path, fields: dict[str, Any]) -> None:
    """Copy weights file `source` beside registry file `path` and write entry `name` with `fields`, under the registry folder's lock."""
    import hashlib

    path.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(path.parent):  # read, merge and write as one, as update_entry does
        remove_temporaries(path.parent, [path.name])  # a killed writer's; the lock says no one writes them now
        remove_temporaries((path.parent / weights).parent, [weights.name])
        old = _read_file(path).get(name) if path.is_file() else None
        if old is None:
            _refuse_unowned_weights(path.parent / weights, name, path)
        # a new entry as a whole: metrics and description belong to the weights they were written for; the evaluation plan stays
        if _utf8_text(fields["data"]) != fields["data"]:  # zoo eval finds the data by it: an escaped path would name no folder
            how = "`zoo register RUN NAME --data LABEL`" if COMMAND_LINE.get() else "register_run(..., data=LABEL)"
            raise ConfigError(f"entry {name!r} would name its data {_utf8_text(fields['data'])}, a path that is not UTF-8 text, and a registry "
                              f"file is UTF-8. Label the data with a dataset name ({how}), or rename the folder to UTF-8.")
        fields = _utf8_text(fields)  # the record (its command, its paths) with any text that is not UTF-8 as escapes: TOML is UTF-8
        text = _registry_text(name, {**({"evaluation": old.evaluation} if old is not None and old.evaluation else {}), **fields}, path, replace=True)
        # only once the entry validated. The weights are written whole (on disk) beside their name, then the registry takes
        # its new text, then the weights their name: a failed write (a full disk, a quota) leaves both as they were, and a
        # Ctrl-C or SIGTERM waits for both renames. A kill -9 or a failed rename between the two (microseconds) would leave
        # the entry naming weights still beside their name: `zoo register` again mends it.
        if (path.parent / weights).is_symlink():  # put there since check_registration looked: atomic_write would follow it
            raise OutputError(f"{path.parent / weights} is a symbolic link; registering {name!r} would write through it. Remove the link.")
        with uninterrupted(), atomic_write(path.parent / weights) as w, open(source, "rb") as src:
            digest = hashlib.sha256()
            while chunk := src.read(1 << 20):  # the bytes written are the bytes the entry's sha256 names, or none are
                digest.update(chunk)
                w.write(chunk)
            if digest.hexdigest() != fields["sha256"]:
                raise WeightsError(f"{source} changed while it was registered (its sha256 is no longer the one checked). Register it again.")
            w.flush()
            os.fsync(w.fileno())
            with atomic_write(path, "w") as f:
                f.write(text)
