"""Evaluation: run the evaluators a model's registry entry names, and record what they measured.

Example::

    >>> from zoo.metrics import evaluate_model
    >>> evaluate_model("dcgan.mnist64", overrides={"n": 1000})
    {'gan': {'n': 1000, 'seed': 0, 'classifier_fd': ..., ..., 'fid': ..., 'fid_n': 1000, ...}}
    >>> evaluate_model("runs/dcgan/model.safetensors", only=["gan"], overrides={"n": 1000})  # a run, mid-way
    {'gan': {'n': 1000, 'seed': 0, 'classifier_fd': ..., ...}}
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from ..argtypes import user_path
from ..data.labels import parse_data_label
from ..errors import COMMAND_LINE, ConfigError, DataError, UnknownNameError, set_option
from ..interfaces import Method, evaluator_options
from ..loading import load, load_file
from ..plugins import get_plugin_manager
from ..registration import update_entry
from ..registry import entry, is_weights_file, weights_file

__all__ = ["evaluators", "evaluate", "evaluate_model", "plan_evaluation", "check_plan", "record_metrics"]


def evaluators() -> dict[str, Any]:
    """Return every registered evaluator by name."""
    return get_plugin_manager().evaluators()


def plan_evaluation(
    name: str,
    *,
    only: list[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    device: str | torch.device | None = None,
    data_root: Path | None = None,
) -> tuple[dict[str, dict[str, Any]], Method | None]:
    """Return the options each evaluator of `name` will run with (checked), and the model where it was loaded to know them.

    `name` is a registered model (its entry's `evaluation` table, else its method's default plan)
    or a ``.safetensors`` weights file, e.g. a training run's ``model.safetensors`` (its method's
    default plan). ``only`` picks evaluators: from the plan, or any installed one with the options
    in `overrides` (to try an evaluator a plan does not name). A registered model judged by its
    method's default plan is judged against the data it trained on (its entry's `data`, where that
    is one dataset), not the data the default names; so is a training run's weights file (its run.json),
    and so is an entry whose own table does not name a `data` (one that only lowers `n`, say).
    An evaluator option named after a data role (DANN's `source` and `target`) defaults to that role's
    recorded dataset, beneath what the plan's table and `overrides` set.
    """
    trained_on, unknown_data, roles, own_table = None, False, {}, False
    if is_weights_file(name):
        path = weights_file(name)  # a folder that is no training run is named as such
        model: Method | None = load_file(path, device=device)  # the file alone says which method it holds
        sources = _run_sources(path.parent / "run.json")  # role -> dataset, as given: no label to split at its '+'
        where = f"run {path.parent} (its run.json)"
        trained_on = None if "data" in (overrides or {}) or list(sources) != ["train"] else _one_dataset(sources["train"], where)
        roles = {} if "train" in sources else sources
        unknown_data = trained_on is None and "data" not in (overrides or {}) and not sources
        plan = get_plugin_manager().method(model.name).default_evaluation
        no_plan = f"method {model.name!r} has no default plan; name an evaluator"
    else:
        e, model = entry(name), None  # loaded once the plan is known to be runnable
        where = f"entry {name!r}"
        plan, own_table = e.evaluation or get_plugin_manager().method(e.method).default_evaluation, bool(e.evaluation)
        # the entry's own data, beneath what its table sets: a table that only lowers `n` keeps judging against that data
        needs_data = "data" not in (overrides or {}) and (not e.evaluation or any("data" not in o for o in e.evaluation.values()))
        trained_on = _one_dataset(e.data, where) if needs_data else None
        roles = parse_data_label(e.data)
        roles = {} if "train" in roles else roles  # one dataset alone is `data`, above
        no_plan = (f"its registry entry has no evaluation table and method {e.method!r} no default. "
                   f"Add one, e.g. [models.\"{name}\".evaluation.EVALUATOR] in registry.toml, or name an evaluator")
    if not plan and not only:
        how = f"zoo eval {name} --only EVALUATOR" if COMMAND_LINE.get() else f"zoo.evaluate({name!r}, only='EVALUATOR')"
        raise ConfigError(f"model {name!r} names no evaluation: {no_plan}: {how} "
                          f"(installed evaluators: {', '.join(sorted(evaluators()))}; docs/registry.md).")
    installed = evaluators()
    for ev in only or ():
        if ev not in installed:
            hint = "--only names it; `zoo eval --help` shows the command." if COMMAND_LINE.get() else ""
            raise UnknownNameError("evaluator", ev, installed, hint=hint + get_plugin_manager().failures())
    for ev_name, options in (e.evaluation if model is None else {}).items():
        outputs = getattr(installed.get(ev_name), "output_options", ())
        named = sorted(k for k, v in options.items() if k in outputs and not isinstance(v, bool))  # a switch (progress) may stay
        if named:  # where results go is the caller's choice: a registry file from elsewhere must not name files to write over
            raise ConfigError(f"model {name!r}: its evaluation table [models.\"{name}\".evaluation.{ev_name}] sets {', '.join(named)}, which "
                              f"say where results are written, not how the figures are made; only the caller names those "
                              f"({set_option(named[0], '...')}). Remove {'it' if len(named) == 1 else 'them'} from the table.")
    plan = {**plan, **{ev: {} for ev in only or () if ev not in plan}}
    chosen = {}
    for ev_name, options in plan.items():
        if only and ev_name not in only:
            continue
        declared = getattr(installed.get(ev_name), "Options", None)  # an unknown evaluator: check_plan names it
        fields = getattr(declared, "model_fields", {})
        own_data = {"data": trained_on} if trained_on is not None and "data" in fields else {}
        # zoo eval's own --data-dir and --device reach an evaluator that declares them, or that declares no Options at all
        given = {k: v for k, v in (("data_root", data_root), ("device", device)) if declared is None or k in fields}
        own_roles = {r: v for r, v in roles.items() if r in fields}
        # the entry's data beats a method's default plan; the entry's own table, written for it, beats the entry's data
        under, over = (own_data, {}) if own_table else ({}, own_data)
        chosen[ev_name] = {**own_roles, **under, **options, **over, **(overrides or {}), **given}
        for role, label in own_roles.items():  # a role recorded as free text: said here, not as an unknown dataset mid-run
            if chosen[ev_name][role] == label and not _here(label, where, role):
                raise ConfigError(f"{where} records its {role} data as {label!r}, which names no dataset (`zoo datasets` lists them) "
                                  f"and no path here. Judge it against one that does: {set_option(role, 'NAME_OR_PATH')}.")
        if unknown_data and "data" in fields:  # weights copied without their run.json: the plan's data may not be theirs
            data = chosen[ev_name].get("data", fields["data"].default)
            warnings.warn(f"{name}: no run.json beside the weights names a dataset they trained on, so {ev_name!r} judges them against "
                          f"{data!r}, its plan's data. If they trained on another set, name it: {set_option('data', 'NAME_OR_PATH')}.",
                          stacklevel=2)
    check_plan(chosen, f"model {name!r}")  # every evaluator's options, before the first one runs
    return chosen, model


def _run_sources(run_json: Path) -> dict[str, str]:
    """Return each data role's dataset that a training run recorded (its run.json beside the weights), or {} (no run.json).

    A damaged run.json is an error naming it: judged against the plan's data instead, the run would be scored on a set it
    never saw without a word. A run.json of a zoo that kept only the sets' names gives those where all are registered
    datasets (a folder's name alone says nothing of where it was), as `zoo register` reads them.
    """
    from ..data import datasets
    from ..files import read_record

    record = read_record(run_json, f"Restore it from the run, or name what the run trained on: {set_option('data', 'NAME_OR_PATH')}.")
    names = record.get("data")
    known = isinstance(names, dict) and all(str(v) in datasets() for v in names.values())
    sources = record.get("data_sources") or (names if known else {})
    return {str(r): str(v) for r, v in sources.items()} if isinstance(sources, dict) else {}


def _one_dataset(label: str, where: str) -> str | None:
    """Return the dataset a `data` label names when it is one registered name or existing path (free text and several roles: None).

    `where` says whose label it is (an entry, a run's run.json) in the error for a path that is not here.
    """
    roles = parse_data_label(label)
    one = roles.get("train") if len(roles) == 1 else None
    return one if one is not None and _here(one, where, "data") else None


def _here(label: str, where: str, option: str) -> bool:
    """Say whether a recorded dataset label is a registered dataset or a path here; a path that is not here is an error.

    `where` says whose label it is (an entry, a run's run.json); `option` is the evaluator option that names another set.
    """
    from ..data import datasets

    if label in datasets() or user_path(label).exists():
        return True
    if os.sep in label:
        raise DataError(f"{where} trained on {label}, which does not exist here (moved, or trained on another machine). "
                        f"Judge it against data that is here ({set_option(option, 'NAME_OR_PATH')})"
                        f"{', or fix the entry' + chr(39) + 's data' if where.startswith('entry') else ''}.")
    return False


def evaluate_model(
    name: str,
    *,
    only: list[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    device: str | torch.device | None = None,
    data_root: Path | None = None,
    announce: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, dict[str, float]]:
    """Load model `name`, run its evaluators (:func:`plan_evaluation` says which, with which options); return the metrics per evaluator.

    `announce(evaluator, options)` is called before each evaluator runs (`zoo eval` prints what it judges against).
    """
    chosen, model = plan_evaluation(name, only=only, overrides=overrides, device=device, data_root=data_root)
    if model is None:
        model = load(name, device=device)
    installed, results = evaluators(), {}
    for ev_name, opts in chosen.items():
        if announce is not None:
            announce(ev_name, {k: v for k, v in opts.items() if v is not None})
        results[ev_name] = _checked_results(ev_name, installed[ev_name].evaluate(model, **opts))
    return results


def _checked_results(evaluator: str, results: Any) -> dict[str, float]:
    """Return what evaluator `evaluator` returned if it is {metric: finite number}; else a PluginError naming it and its plugin.

    What an evaluator returns goes into the registry file (TOML: no NaN, tensors or None) and `zoo eval --json`.
    """
    import math
    import numbers

    wrong = None
    if not isinstance(results, Mapping):
        wrong = f"a {type(results).__name__}"
    else:
        for k, v in results.items():
            if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                wrong = f"{k!r}: {v!r}" + ("" if isinstance(v, numbers.Real) else f" (a {type(v).__name__})")
                break
    if wrong is None:
        return {k: int(v) if isinstance(v, numbers.Integral) else float(v) for k, v in results.items()}
    from ..errors import PluginError

    raise PluginError(
        f"evaluator {evaluator!r} (plugin {get_plugin_manager().plugin_of('evaluator', evaluator)!r}) returned {wrong}; "
        "evaluate(model, **options) must return {metric name: finite number} (a NaN or a failed measurement is an error to raise, "
        "with what to do). Nothing was recorded."
    )


def evaluate(name: str | os.PathLike[str], *, only: str | list[str] | None = None, device: str | torch.device | None = None,
             data_root: Path | None = None, **options: Any) -> dict[str, dict[str, float]]:
    """Return what `zoo eval NAME` prints: the metrics of each evaluator of `name`'s plan, `options` overriding theirs.

    `name` is a registered model, a ``.safetensors`` file or a training run folder; `only` picks evaluators (any installed one), e.g.
    ``zoo.evaluate("dcgan.mnist64", n=1000, fid=False)`` or ``zoo.evaluate("runs/x/model.safetensors", only=["gan"])``.
    """
    if isinstance(only, str):  # only="gan": one evaluator, not the letters g, a, n
        only = [only]
    options = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in options.items()}  # classifier=Path(...) is a path
    return evaluate_model(os.fspath(name), only=only, overrides=options, device=device, data_root=data_root)


def check_plan(plan: Mapping[str, Mapping[str, Any]], owner: str) -> dict[str, Any]:
    """Check an evaluation plan (evaluator name -> options) of `owner` without running it; return the installed evaluators.

    Every name must be an installed evaluator, and where the evaluator declares its ``Options``
    (a pydantic model), the options must validate against it. Raises UnknownNameError or ConfigError.
    """
    known = evaluators()
    for ev_name, options in plan.items():
        if ev_name not in known:
            raise UnknownNameError("evaluator", ev_name, known,
                                   hint=f"The evaluation plan of {owner} names it; install the plugin that provides it." + get_plugin_manager().failures())
        options_model = getattr(known[ev_name], "Options", None)
        if options_model is not None:
            evaluator_options(options_model, options, ev_name)
    return known


def record_metrics(name: str, results: Mapping[str, Mapping[str, float]], evaluated_sha256: str | None = None) -> dict[str, Any]:
    """Make `results` (evaluator -> metrics, what `zoo eval NAME` printed) entry `name`'s metrics; return them.

    They replace the old metrics as a whole: a figure from an earlier plan (another n, seed or sampler
    list) must not stay beside the new ones. Two evaluators that report one key with different values
    are an error, since the entry's metrics table is flat.
    """
    metrics: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for ev, values in results.items():
        for k, v in values.items():
            v = round(v, 6) if isinstance(v, float) else v
            if k in metrics and metrics[k] != v:
                raise ConfigError(
                    f"evaluators {owner[k]!r} and {ev!r} both report {k!r} ({metrics[k]} and {v}), and an entry's metrics are one table. "
                    f"Give them the same {k} in the entry's evaluation tables, or record one evaluator's metrics at a time."
                )
            metrics[k], owner[k] = v, ev
    expect = {"sha256": evaluated_sha256} if evaluated_sha256 else None  # a `zoo register` meanwhile gave it other weights
    update_entry(name, {"metrics": metrics}, entry(name).source, expect=expect)  # in the file that defines the entry, a plugin's included
    return metrics
