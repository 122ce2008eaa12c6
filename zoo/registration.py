"""Writing the registry: a finished training run or a zoo weights file -> ``weights/NAME.safetensors`` and its entry.

``zoo register``, ``zoo train --register`` and ``zoo eval --write`` write through here, each under the registry
folder's lock and atomically: a failed or interrupted write leaves the file and the weights as they were.

Example::

    >>> import zoo
    >>> zoo.register("runs/dcgan", "dcgan.mine", registry="~/zoo-models/registry.toml")   # returns the new entry
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic
import tomli_w

from .data.labels import absolute_data, format_data_label, parse_data_label
from .errors import COMMAND_LINE, ConfigError, OutputError, WeightsError, denied_as, option
from .files import atomic_write, check_writable, folder_lock, remove_temporaries, uninterrupted
from .interfaces import Method, describe_validation_error, validate_config
from .loading import load_file, param_count
from .plugins import get_plugin_manager
from .registry import INSTALLED, SHIPPED, ModelEntry, entries, entry, installed_package, path_argument_problem, read_entries, read_toml, registry_path
from .weights import SLIM_CHECKPOINT, diverged, export_slim_hint, sha256_file

__all__ = ["register", "register_run", "update_entry", "check_registration", "check_recordable", "check_model_name", "registered_from",
           "unlisted_note", "OWN_REGISTRY"]


_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


_HEADER = ("# zoo model registry: each model's weights (with sha256), config, training record and metrics. Written by `zoo register`, "
           "`zoo train --register` and `zoo eval --write`, which rewrite it whole: comments of your own are not kept (a note goes in "
           "an entry's description); see docs/registry.md.\n\n")


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
    if (package := installed_package(path)) is not None:
        raise ConfigError(
            f"{path} belongs to the installed package {package}: pip replaces it on an upgrade (taking the entries and metrics "
            f"written there with it) and an uninstall strands new weights beside it. Record a plugin's own models from its "
            f"checkout (pip install -e .), or register into a file of your own (ZOO_REGISTRY={OWN_REGISTRY}, or "
            f"{option('registry', OWN_REGISTRY)}); the plugin's models are still found by name."
        )


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
    raw = read_toml(path)
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
        now = read_toml(path)["models"].get(name, {})
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
    read_toml(path)  # a damaged file is named now, not after the training
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
    if not replace and path.is_file() and (there := read_entries(path).get(name)) is not None:
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
    if name not in (read_entries(path) if path.is_file() else {}):
        _refuse_unowned_weights(weights, name, path)
    return path


def registered_from(run_dir: str | os.PathLike[str], name: str, path: Path | None = None) -> bool:
    """Whether entry `name` of registry file `path` (default: the main one) holds the weights run `run_dir` exported last:
    the entry an earlier sitting of the run registered, which its next sitting (the same ``zoo train --register``) replaces."""
    path = (Path(path) if path is not None else registry_path()).resolve()
    weights = Path(run_dir) / "model.safetensors"
    there = read_entries(path).get(name) if path.is_file() else None
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
            **({"processes": summary["processes"]} if summary.get("processes") else {}),
            "init_from": _source_record(run.get("init_from")),
            **({"earlier_sittings": [{"command": c.get("command") or "(not recorded)", "steps": c["steps"]} for c in made["earlier_sittings"]]}
               if made.get("earlier_sittings") else {}),
            **({"averaged": summary["averaged"]} if summary.get("averaged") else {}),
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
    return entries()[name] if path == registry_path().resolve() else read_entries(path)[name]


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
    owned = registry_file.is_file() and name in read_entries(registry_file)  # registering an entry's own weights again is fine
    if file.resolve() == kept.resolve() and not owned:  # the advice for a stray file there (delete it) would delete the only copy
        raise ConfigError(f"{file} is where entry {name!r} keeps its weights already: zoo copies the file there. Move it out of "
                          f"{kept.parent} and register it from where it lies.")
    path = check_registration(name, path, replace=replace)
    _write_registration(name, path, file, weights, {
        "method": model.name, "config": _toml_values(model.config.model_dump()), "weights": weights.as_posix(), "sha256": sha256,
        "data": absolute_data(data), "params": param_count(model),
    })
    return entries()[name] if path == registry_path().resolve() else read_entries(path)[name]


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
        old = read_entries(path).get(name) if path.is_file() else None
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
