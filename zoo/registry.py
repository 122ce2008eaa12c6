"""The model registry: ``registry.toml`` (plus plugins' files) -> entries by name, and what a model argument names.

Loading a model is :mod:`zoo.loading`'s (``zoo.load``); writing an entry, :mod:`zoo.registration`'s (``zoo.register``).

Example::

    >>> import zoo
    >>> zoo.list("dcgan.*")
    ['dcgan.mnist64', ...]
    >>> zoo.entry("dcgan.mnist64").data
    'mnist'
"""

from __future__ import annotations

import fnmatch
import os
import stat
import tomllib
from pathlib import Path
from typing import Any

import pydantic

from .argtypes import user_path
from .errors import COMMAND_LINE, ConfigError, UnknownNameError, WeightsError, denied_as
from .files import folder_busy
from .interfaces import describe_validation_error
from .plugins import get_plugin_manager
from .weights import SLIM_CHECKPOINT, export_slim_hint

__all__ = ["ModelEntry", "Sitting", "TrainingRecord", "SHIPPED", "INSTALLED", "registry_path", "entries", "entry", "find_entry", "list_models",
           "is_weights_file", "weights_file", "path_argument_problem", "installed_package", "read_toml", "read_entries"]


class Sitting(pydantic.BaseModel):
    """One earlier sitting of a resumed run: its command and the step its checkpoint reached."""

    model_config = pydantic.ConfigDict(extra="forbid")
    command: str
    steps: int = pydantic.Field(ge=0)


class Averaged(pydantic.BaseModel):
    """The snapshots of a run whose mean a model's weights are (`zoo average`), and the command that took it."""

    model_config = pydantic.ConfigDict(extra="forbid")
    snapshots: list[int] = pydantic.Field(min_length=1)
    command: str


class TrainingRecord(pydantic.BaseModel):
    """How a shipped model was trained: enough to run it again."""

    model_config = pydantic.ConfigDict(extra="forbid")
    command: str
    wall_time_s: float
    steps: int
    device: str
    date: str
    software: str | None = pydantic.Field(None, description="zoo, torch and Python versions of the (last) sitting; absent in records written before zoo kept them")
    processes: int | None = pydantic.Field(None, ge=2, description="the processes a torchrun run trained in, `batch_size` each; absent: one")
    checkpoint_sha256: str | None = pydantic.Field(None, description="for the run a model was branched from: its checkpoint's sha256")
    init_from: TrainingRecord | None = pydantic.Field(None, description="the run this one branched from (`zoo train --init-from`)")
    earlier_sittings: list[Sitting] = pydantic.Field(
        [], description="for a resumed run, the sittings before the one `command` names, in order; `command` is the last"
    )
    averaged: Averaged | None = pydantic.Field(None, description="the weights are the mean of these snapshots of the run (`zoo average`)")


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


def installed_package(path: Path) -> str | None:
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


def read_toml(path: Path) -> dict[str, Any]:
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


def read_entries(path: Path) -> dict[str, ModelEntry]:
    out = {}
    for name, values in read_toml(path)["models"].items():
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
        found: dict[str, ModelEntry] = dict(read_entries(main)) if main.is_file() else {}
    origin: dict[str, Path] = dict.fromkeys(found, main)
    read = {main}
    if main != SHIPPED and SHIPPED.is_file():  # the shipped models stay in view; the file of one's own wins a name both define
        for name, e in read_entries(SHIPPED).items():
            if name not in found:
                found[name], origin[name] = e, SHIPPED
        read.add(SHIPPED)
    for plugin, f in pm.plugin_registry_files():
        f = f.resolve()
        if f in read or not f.is_file():  # one file named twice ($ZOO_REGISTRY and a plugin's hook) is read once
            continue
        read.add(f)
        try:
            those = read_entries(f)
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
