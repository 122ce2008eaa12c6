"""The `zoo` commands whose product is what they print: list, info, methods, evaluators, plugins, datasets."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError, UnknownNameError, WeightsError, ZooError
from ..progress import status
from .common import command, fmt_metric, headline, table


@command
def cmd_list(args: argparse.Namespace) -> int:
    from ..plugins import get_plugin_manager
    from ..registry import SHIPPED, entries, list_models, registry_path

    all_entries = entries()
    missing = get_plugin_manager().missing_registry_files()
    if missing:  # on stderr: stdout stays the list, for scripts
        print(f"zoo list: warning:{missing}", file=sys.stderr)
    where = registry_path()
    if where.resolve() != SHIPPED and not where.is_file():  # $ZOO_REGISTRY names no file (yet): the shipped models alone are listed
        state = ("is a folder; $ZOO_REGISTRY names a file" if where.is_dir()
                 else "is no regular file (a device or pipe); $ZOO_REGISTRY names a registry file" if where.exists()
                 else "does not exist yet (zoo register creates it; check $ZOO_REGISTRY)")
        print(f"zoo list: note: {where} {state}", file=sys.stderr)
    names = list_models(args.pattern)
    if args.json:  # for scripts: every field of each entry, and the registry file it came from
        print(json.dumps({n: {**all_entries[n].model_dump(mode="json"), "registry": str(all_entries[n].source)} for n in names}, indent=2))
        return 0
    rows = [[n, all_entries[n].method, all_entries[n].data, f"{all_entries[n].params:,}", headline(all_entries[n].metrics)] for n in names]
    if rows:
        print(table(rows, ["name", "method", "data", "params", "metrics"]))
    else:
        print(f"no model matches {args.pattern!r}", file=sys.stderr)  # stdout stays the (empty) list, for scripts
    return 0


def _print_run_record(run_json: Path) -> None:
    """Print what a training run's run.json says the weights beside it learned from, as `zoo info NAME` prints an entry's."""
    from ..data.labels import format_data_label
    from ..files import read_record
    from ..loading import class_names

    try:
        run = read_record(run_json, "")
        data = format_data_label(run["data_sources"]) if run.get("data_sources") else None
        classes = class_names(run_json.parent)
    except (ConfigError, WeightsError, TypeError, AttributeError, ValueError):  # a damaged record, or none: zoo info still shows the weights
        return
    if data:
        print(f"data: {data}")
    if classes:
        print(f"classes: {', '.join(f'{k}={c}' for k, c in enumerate(classes))}")


def _as_trained(method: str, config: dict[str, Any]) -> Any:
    """Return `method` built as it trains, with its training-only networks (a critic) for `zoo info` to print.

    Building it so may read files a trained model no longer needs (DANN's backbone_weights, moved since): then the
    networks that ship are printed, and a note says why the others are not.
    """
    from ..loading import build_method

    try:
        return build_method(method, config, training=True)
    except ConfigError as e:
        model = build_method(method, config)  # a config that is wrong in itself fails here as well
        status(f"zoo info: the networks used only in training are left out: building them needs {e}")
        return model


@command
def cmd_info(args: argparse.Namespace) -> int:
    from ..loading import build_method, load_file
    from ..plugins import get_plugin_manager
    from ..registry import entries, find_entry, is_weights_file, path_argument_problem, weights_file
    from ..weights import sha256_file

    pm = get_plugin_manager()
    methods, e = pm.methods(), find_entry(args.name)  # a shipped model beside a scratch $ZOO_REGISTRY too, as zoo.load finds it
    # a .safetensors file or a run folder (its header says the method and config); a method's name wins over a folder named alike
    if is_weights_file(args.name) and (args.name not in methods or os.sep in args.name or "/" in args.name):
        path = weights_file(args.name)
        loaded = load_file(path)
        model = _as_trained(loaded.name, loaded.config.model_dump())
        print(f"{args.name}: method {model.name!r}, capabilities: {', '.join(sorted(model.capabilities)) or '-'}")
        _print_networks(model, args)
        print(f"weights: {path} (sha256 {sha256_file(path)})")
        _print_run_record(path.parent / "run.json")
        _print_plan(args.name, own=False)
        return 0
    if args.name in methods and e is None:
        model = build_method(args.name, {}, training=True)
    elif e is None:
        if problem := path_argument_problem(args.name):
            raise ConfigError(problem)
        raise UnknownNameError("model or method", args.name, [*entries(), *methods], hint="`zoo list` and `zoo methods` show them." + pm.failures())
    else:
        model = _as_trained(e.method, e.config)
    print(f"{args.name}: method {model.name!r}, capabilities: {', '.join(sorted(model.capabilities)) or '-'}")
    _print_networks(model, args)
    if e is None:  # a method: what each option means and allows, as --set takes it
        for key, field in type(model.config).model_fields.items():
            print(f"  --set {key}=...  ({_allowed(field)}; default {field.default!r}){'  ' + field.description if field.description else ''}")
    if e is not None:
        print(f"weights: {e.weights} (sha256 {e.sha256})")
        print(f"data: {e.data}")
        if e.classes:
            print(f"classes: {', '.join(f'{k}={c}' for k, c in enumerate(e.classes))}")
        if e.description:
            print(f"description: {e.description}")
        if e.training:
            t = e.training
            print(f"trained: {t.command}\n  {t.steps} steps, {t.wall_time_s:.0f} s on {t.device}, {t.date}")
            for s in t.earlier_sittings:
                print(f"  resumed a sitting that reached step {s.steps}: {s.command}")
            while t.init_from is not None:
                t = t.init_from
                print(f"  branched from: {t.command}\n    {t.steps} steps, {t.wall_time_s:.0f} s on {t.device}, {t.date} (checkpoint sha256 {t.checkpoint_sha256})")
                for s in t.earlier_sittings:
                    print(f"    resumed a sitting that reached step {s.steps}: {s.command}")
        _print_plan(args.name, own=bool(e.evaluation))
        print(f"  (the metrics below are what `zoo eval {args.name} --write` printed with it)" if e.metrics else "  (no metrics recorded yet)")
        for k, v in e.metrics.items():
            print(f"metric {k}: {fmt_metric(v)}")
    return 0


def _print_plan(name: str, own: bool) -> None:
    """Print what `zoo eval NAME` would run (a registry entry's table, else its method's default plan), for `zoo info`."""
    from ..metrics import plan_evaluation

    try:
        plan = plan_evaluation(name)[0]
    except ZooError as e:  # a report: say why there is no plan, and go on
        print(f"evaluation: none that `zoo eval {name}` runs as it is: {e}")
        return
    for ev, options in plan.items():
        shown = ", ".join(f"{k}={v}" for k, v in options.items() if v is not None and k not in ("data_root", "device"))
        print(f"evaluation {ev}{'' if own else ' (the method default)'}: {shown or 'its default options'}")


def _print_networks(model: Any, args: argparse.Namespace) -> None:
    """Print a method's networks (or the whole method with --whole), its parameter counts and config, for `zoo info`."""
    from ..loading import param_count
    from ..printing import classic_repr

    show = repr if args.torch_repr else classic_repr
    if args.whole:
        print(f"\n{show(model)}")
    for name, module in [] if args.whole else model.named_children():
        shipped = "training only, not shipped" if name in model.training_modules else "shipped"
        print(f"\n{name} ({shipped}, {param_count(module):,} parameters):")
        print(show(module))
    inference = sum(p.numel() for k, p in model.named_parameters() if model.ships(k))  # parameters kept on the method itself count too
    print(f"\nparameters: {inference:,} shipped, {param_count(model):,} in training")
    print(f"config: {json.dumps(model.config.model_dump())}")


def _allowed(field: Any) -> str:
    """Return what a config field allows, as people write it: 'int >= 1', 'float > 0, < 1', 'one of 1, 3'."""
    import typing

    ann = field.annotation
    if typing.get_origin(ann) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(ann))
    name = ann.__name__ if isinstance(ann, type) else str(ann).replace("typing.", "")
    marks = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    limits = [f"{sign} {getattr(m, k)}" for m in field.metadata for k, sign in marks.items() if hasattr(m, k)]
    limits += [f"a multiple of {m.multiple_of}" for m in field.metadata if hasattr(m, "multiple_of")]
    return ", ".join([f"{name} {limits[0]}" if limits else name, *limits[1:]])


@command
def cmd_methods(args: argparse.Namespace) -> int:
    from ..plugins import get_plugin_manager

    pm = get_plugin_manager()
    owners = pm.method_plugins()
    rows = [[n, ", ".join(sorted(c.capabilities)), owners[n], next(iter((c.__doc__ or "").strip().splitlines()), "-")] for n, c in sorted(pm.methods().items())]
    print(table(rows, ["method", "capabilities", "plugin", "description"]))
    return 0


@command
def cmd_evaluators(args: argparse.Namespace) -> int:
    from ..plugins import get_plugin_manager

    hidden = ("data_root", "device")  # given by zoo eval's --data-dir and --device
    for name, ev in sorted(get_plugin_manager().evaluators().items()):
        print(f"{name}: {next(iter((type(ev).__doc__ or '').strip().splitlines()), '-')}")
        fields = getattr(getattr(ev, "Options", None), "model_fields", {})
        for key, field in fields.items():
            if key not in hidden:
                print(f"  {key} = {field.default!r}" + (f"  # {field.description}" if field.description else ""))
        if not fields:
            print("  (options not declared)")
    return 0


@command
def cmd_plugins(args: argparse.Namespace) -> int:
    from ..plugins import get_plugin_manager

    rows = [[i.name, i.source, i.status] for i in get_plugin_manager().checked_infos()]
    print(table(rows, ["plugin", "from", "status"]))
    return 0


@command
def cmd_datasets(args: argparse.Namespace) -> int:
    from ..data import data_root, datasets
    from ..data.registry import presence

    root = data_root(args.data_dir)
    missing = root is not None and not root.is_dir()  # every set would read as absent without a word why
    print(f"data root: {root if root else '(none: set ZOO_DATA or --data-dir)'}"
          + ("" if not missing else " (a file, not a folder: the data root is the folder that holds the datasets' folders)" if root.exists()
             else f" (no such folder here, from {Path.cwd()}: give its path from this folder, or an absolute one)"))
    for d in sorted(datasets().values(), key=lambda d: d.name):
        print(f"\n{d.name} ({d.kind}): {d.description}")
        try:
            found = presence(d, root) or "no"
        except DataError as e:  # one unreadable folder should not hide the others
            found = f"no ({e})"
        print(f"  present: {found}")
        print(f"  size: {d.size}; resolution: {d.resolution}; license: {d.license}")
        print(f"  source: {d.source}")
    return 0
