"""The `zoo` command: thin wrappers that parse, call the library and print."""

from __future__ import annotations

import argparse
import contextlib
import contextvars
import errno
import functools
import importlib
import json
import os
import re
import shlex
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .argtypes import int_at_least, int_list, path_text, positive_int, user_path_arg
from .errors import COMMAND_LINE, EXIT_CODES, INVOCATION, ConfigError, DataError, OutputError, Stopped, UnknownNameError, WeightsError, ZooError, closest
from .progress import status

__all__ = ["main", "int_at_least", "positive_int", "int_list", "sampler_knobs"]

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def label_list(text: str) -> list[int | str]:
    """Parse comma-separated class labels: numbers (``0,1,2``) or the class names a model records (``cat,dog``)."""
    items = [x.strip() for x in text.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(f"expected comma-separated labels, e.g. 0,1,2 or cat,dog; got {text!r}")
    return [int(x) if x.lstrip("-").isdigit() else x for x in items]


def class_labels(labels: list[int | str] | None, model: str) -> list[int] | None:
    """Return `labels` with class names turned into their numbers, as the model's entry or run.json records them."""
    names = [x for x in labels or [] if isinstance(x, str)]
    if not names:
        return labels  # type: ignore[return-value]
    from .loading import class_names

    classes = class_names(model)
    if not classes:
        raise ConfigError(f"--labels {', '.join(names)}: {model} records no class names (its data named none; an unconditional model takes "
                          "no labels at all). For the digit sets label k is digit k: give label numbers, e.g. --labels 0,1.")
    index = {c: k for k, c in enumerate(classes)}
    numbered = any(c.lstrip("-").isdigit() for c in classes)  # '--labels 1' is label 1, whatever class folder '1' is
    for x in names:
        if x not in index:
            near = [] if numbered else closest(x, classes)
            raise ConfigError(f"unknown class {x!r}: {model}'s classes are {', '.join(f'{k}={c}' for k, c in enumerate(classes))}."
                              + (f" Did you mean: {', '.join(near)}?" if near else "")
                              + (" Numbers are labels, not class names: give the label zoo info shows beside a class." if numbered else ""))
    return [index[x] if isinstance(x, str) else x for x in labels or []]


def _recorded_classes(model: str) -> list[str]:
    """Return the class names a model's entry or run.json records, [] where none are (a bare weights file records none)."""
    from .loading import class_names

    try:
        return class_names(model)
    except ZooError:  # a .safetensors file outside a run folder: no run.json to read them from
        return []


SAMPLE_ARGS = ("n", "labels", "seed")


def sampler_knobs(items: Sequence[str]) -> dict[str, Any]:
    """Return ``--set`` sampler options, refusing the arguments that have flags of their own (-n, --labels, --seed)."""
    from .interfaces import parse_set

    return check_knobs(parse_set(items))


def check_knobs(knobs: dict[str, Any]) -> dict[str, Any]:
    """Return `knobs`, refusing the sampling arguments that have flags of their own (-n, --labels, --seed)."""
    taken = [k for k in SAMPLE_ARGS if k in knobs]
    if taken:
        raise ConfigError(f"--set {', '.join(taken)}: these are not sampler options; use {', '.join('-n' if k == 'n' else '--' + k for k in taken)} instead.")
    return knobs


def command(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Register `fn` as the handler of the sub-command named after it."""
    COMMANDS[fn.__name__.removeprefix("cmd_")] = fn
    return fn


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _fmt_metric(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _headline(metrics: dict[str, Any], k: int = 3) -> str:
    """Return the first `k` metrics as 'key=value' text, then the sample counts they were measured on (`zoo info` shows all)."""
    def is_count(key: str) -> bool:
        return key == "n" or key.endswith("_n") or key.startswith("n_")

    shown = [(key, v) for key, v in metrics.items() if key != "seed" and not is_count(key)][:k]
    counts = [(key, v) for key, v in metrics.items() if is_count(key)]
    text = ", ".join(f"{key}={_fmt_metric(v)}" for key, v in shown)
    return text + (f" ({', '.join(f'{key}={_fmt_count(v)}' for key, v in counts)})" if counts else "")


def _fmt_count(v: Any) -> str:
    """Return a sample count as 10,000; a hand-edited entry's 'nan' or '10k' as it stands (`zoo list` shows every model)."""
    whole = isinstance(v, int) or (isinstance(v, float) and v.is_integer())
    return f"{int(v):,}" if whole and not isinstance(v, bool) else _fmt_metric(v)


# ---- commands -------------------------------------------------------------------------------------

@command
def cmd_list(args: argparse.Namespace) -> int:
    from .plugins import get_plugin_manager
    from .registry import SHIPPED, entries, list_models, registry_path

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
    rows = [[n, all_entries[n].method, all_entries[n].data, f"{all_entries[n].params:,}", _headline(all_entries[n].metrics)] for n in names]
    if rows:
        print(_table(rows, ["name", "method", "data", "params", "metrics"]))
    else:
        print(f"no model matches {args.pattern!r}", file=sys.stderr)  # stdout stays the (empty) list, for scripts
    return 0


def _print_run_record(run_json: Path) -> None:
    """Print what a training run's run.json says the weights beside it learned from, as `zoo info NAME` prints an entry's."""
    from .data.labels import format_data_label
    from .loading import class_names
    from .weights import read_record

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
    from .loading import build_method

    try:
        return build_method(method, config, training=True)
    except ConfigError as e:
        model = build_method(method, config)  # a config that is wrong in itself fails here as well
        status(f"zoo info: the networks used only in training are left out: building them needs {e}")
        return model


@command
def cmd_info(args: argparse.Namespace) -> int:
    from .plugins import get_plugin_manager
    from .loading import build_method, load_file
    from .registry import entries, find_entry, is_weights_file, path_argument_problem, weights_file
    from .weights import sha256_file

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
            print(f"metric {k}: {_fmt_metric(v)}")
    return 0


def _print_plan(name: str, own: bool) -> None:
    """Print what `zoo eval NAME` would run (a registry entry's table, else its method's default plan), for `zoo info`."""
    from .metrics import plan_evaluation

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
    from .printing import classic_repr
    from .loading import param_count

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
    from .plugins import get_plugin_manager

    pm = get_plugin_manager()
    owners = pm.method_plugins()
    rows = [[n, ", ".join(sorted(c.capabilities)), owners[n], next(iter((c.__doc__ or "").strip().splitlines()), "-")] for n, c in sorted(pm.methods().items())]
    print(_table(rows, ["method", "capabilities", "plugin", "description"]))
    return 0


@command
def cmd_evaluators(args: argparse.Namespace) -> int:
    from .plugins import get_plugin_manager

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
    from .plugins import get_plugin_manager

    rows = [[i.name, i.source, i.status] for i in get_plugin_manager().checked_infos()]
    print(_table(rows, ["plugin", "from", "status"]))
    return 0


@command
def cmd_datasets(args: argparse.Namespace) -> int:
    from .data import data_root, datasets
    from .data.registry import presence

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


def _note_unlisted(path: Path | None, name: str) -> None:
    """Say so when a model was registered into a file that zoo does not read (neither the main file nor a plugin's)."""
    from .registration import unlisted_note

    if note := unlisted_note(path, name):
        print(f"note: {note}", file=sys.stderr)


def _shown(path: Path) -> str:
    """Return `path` as a user finds it from here: relative to the current folder where it lies below it, else absolute."""
    path = path.resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


@command
def cmd_register(args: argparse.Namespace) -> int:
    from .registration import register_run

    e = register_run(args.run, args.name, data=args.data, path=args.registry, replace=args.replace)
    made = f", {e.training.steps} steps in {e.training.wall_time_s:.0f} s on {e.training.device}" if e.training else " (no training record)"
    print(f"registered {args.name!r}: {_shown(e.base_dir / e.weights)} (sha256 {e.sha256}){made}")
    _note_unlisted(args.registry, args.name)
    return 0


def _parse_data(items: Sequence[str]) -> dict[str, str]:
    from .data.labels import split_role

    out: dict[str, str] = {}
    for item in items:
        role, value = split_role(item)
        if role in out:
            raise ConfigError(f"--data names role {role!r} twice ({out[role]} and {value}); give each role once.")
        out[role] = value
    return out


@command
def cmd_train(args: argparse.Namespace) -> int:
    from .interfaces import parse_set, validate_config
    from .registration import check_registration, register_run, registered_from
    from .training import TrainConfig, check_run_folder, train

    if args.register:  # a later sitting of the run (--max-minutes ran out) replaces the entry its last one registered
        args.replace = args.replace or registered_from(args.out, args.register, args.registry)
        check_registration(args.register, args.registry, replace=args.replace)  # before the training, not after it
    elif args.registry or args.replace:
        raise ConfigError(f"{'--registry names the file that' if args.registry else '--replace replaces the entry that'} --register NAME "
                          "writes into; give --register NAME too.")
    check_run_folder(args.out)  # before the data is read

    train_cfg = validate_config(TrainConfig, dict(
        steps=args.steps, batch_size=args.batch_size, device=args.device, bf16=args.bf16, seed=args.seed,
        checkpoint_every=args.checkpoint_every, log_every=args.log_every, ema_decay=args.ema_decay,
        grad_clip=args.grad_clip, max_minutes=args.max_minutes, export_dtype=args.export_dtype, progress=not args.quiet,
        channels_last=args.channels_last, lr_decay_start=args.lr_decay_start, lr_warmup=args.lr_warmup, init_from=args.init_from,
    ), what="zoo train", fix="Fix the option (`zoo train --help`).")  # named as options here, before zoo.train checks them again
    sources = _parse_data(args.data or [])
    if not sources:
        raise ConfigError("zoo train needs --data NAME_OR_PATH (see `zoo datasets`).")
    summary = train(args.method, sources, args.out, config=parse_set(args.set or []), data_root=args.data_dir, command=args.argv, **train_cfg.model_dump())
    print(json.dumps(summary, indent=2))
    if args.register:
        e = register_run(args.out, args.register, path=args.registry, replace=args.replace)  # labelled with the run's record of its data
        print(f"registered {args.register!r} -> {_shown(e.base_dir / e.weights)}", file=sys.stderr)  # stdout stays the summary's JSON (`| jq`)
        _note_unlisted(args.registry, args.register)
    return 0


@command
def cmd_sample(args: argparse.Namespace) -> int:
    from .loading import load_any
    from .viz import check_image_path, check_new_folder, save_grid, save_image_folder

    knobs = sampler_knobs(args.set or [])
    if args.out_dir is not None and args.out is not None:
        raise ConfigError("--out writes one grid and --out-dir a folder of single images: give one of them.")
    if args.out_dir is not None:
        check_new_folder(args.out_dir)  # before the sampling, not after it
    else:
        check_image_path(args.out or "samples.png")
    labels = class_labels(args.labels, args.name)
    model = load_any(args.name, args.device)
    if "sample" in model.capabilities:
        model.check_sample_options(knobs)  # a wrong --set before the sampling starts (and before a word that it has)
    if args.out_dir is not None:  # as the gan evaluator draws them: the very images `zoo eval` scores for this seed
        from .metrics.gan import generate

        images = generate(model, args.n, args.seed, progress=True, labels=labels, **knobs)
        path = save_image_folder(images, args.out_dir, labels, _recorded_classes(args.name) or model.data_spec().num_classes)
        print(f"wrote {path} ({args.n} PNG files{', in a subfolder per label' if labels is not None else ''}, seed {args.seed}, drawn as zoo eval draws them)")
        return 0
    status(f"sampling {args.n} images from {args.name} ({model.name}, on {args.device or 'cpu'})...")
    images = model.sample(args.n, labels=labels, seed=args.seed, **knobs)
    path = save_grid(images, args.out or "samples.png", nrow=args.nrow)
    print(f"wrote {path} ({args.n} images, seed {args.seed})")
    return 0


@command
def cmd_eval(args: argparse.Namespace) -> int:
    from .interfaces import parse_set
    from .data import data_root
    from .metrics import evaluate_model, evaluators, record_metrics
    from .registration import check_recordable
    from .registry import entry, is_weights_file

    if args.write and is_weights_file(args.name):
        raise ConfigError(
            f"--write records metrics in a registry entry, and {args.name} is a weights file or run folder. "
            f"Register the run first (zoo register RUN_FOLDER NAME --data DATA), then run `zoo eval NAME --write`."
        )
    # options that only say where results go (a table's file, progress) leave the figures as plain `zoo eval` gives them
    outputs = set().union(*(getattr(ev, "output_options", ()) for ev in evaluators().values())) if args.write else set()
    changing = [item for item in args.set or [] if item.partition("=")[0].strip() not in outputs]
    if args.write and (changing or args.only):
        raise ConfigError(
            f"--write records what plain `zoo eval {args.name}` reproduces, so it does not take --only or a --set that changes the figures "
            f"({', '.join(changing) or '--only'}; it takes {', '.join(sorted(outputs)) or 'none'}). "
            f"Put the options in the entry's [models.\"{args.name}\".evaluation.EVALUATOR] table in registry.toml, then run `zoo eval {args.name} --write`."
        )
    def announce(evaluator: str, options: dict[str, Any]) -> None:
        shown = ", ".join(f"{k}={v}" for k, v in options.items() if k not in ("data_root", "device"))
        # what it judges against, before the (long) run; on stderr with --json, which keeps stdout to the JSON
        print(f"{evaluator}: {shown or 'its default options'}", file=sys.stderr if args.json else sys.stdout, flush=True)

    if args.write:
        check_recordable(args.name)  # an installed zoo's registry, or a read-only file, is named before the (long) evaluation
    evaluated = entry(args.name).sha256 if args.write else None  # the weights the metrics will be of
    results = evaluate_model(args.name, only=args.only, overrides=parse_set(args.set or []), device=args.device,
                             data_root=None if args.data_dir is None else data_root(args.data_dir), announce=announce)  # None: $ZOO_DATA, named as such
    if args.json:
        print(json.dumps(results, indent=2))
    for ev, values in results.items() if not args.json else ():
        print(f"[{ev}]")
        for k, v in values.items():
            print(f"  {k}: {_fmt_metric(v)}")
    if args.write:
        record_metrics(args.name, results, evaluated_sha256=evaluated)
        print(f"recorded in the registry entry {args.name!r}", file=sys.stderr if args.json else sys.stdout)
    return 0


@command
def cmd_bench(args: argparse.Namespace) -> int:
    from .interfaces import validate_config
    from .bench import bench_inference, bench_train_step, check_options
    from .plugins import get_plugin_manager
    from .loading import load
    from .registry import find_entry, is_weights_file, list_models
    from .training import resolve_device
    from .weights import atomic_write, check_writable

    args.model = [*args.patterns, *(args.model or [])]  # `zoo bench 'ddpm.*'` is `zoo bench --model 'ddpm.*'`
    if not (args.train or args.model):
        raise ConfigError("zoo bench needs --train METHOD or models to time (zoo bench PATTERN, or --model PATTERN; both repeatable).")
    if args.out:
        check_writable(args.out)  # before the benchmark, not after it
    resolve_device(args.device)  # one error for the run, not a FAILED line per subject
    # every subject and its options, checked before the first timing
    models = {}
    for pattern in args.model or []:
        # a run, as `zoo sample` takes it; an exact name `zoo sample` finds (a shipped model beside a scratch $ZOO_REGISTRY)
        names = list_models(pattern) or ([pattern] if is_weights_file(pattern) or find_entry(pattern) is not None else [])
        if not names:
            raise ConfigError(f"--model {pattern!r} matches no registered model (zoo list) and is no .safetensors file or run folder.")
        models.update(dict.fromkeys(names))
    options = _bench_options(args.set or [], [*(args.train or []), *models])
    for method in args.train or []:
        validate_config(get_plugin_manager().method(method).Config, options[method], what=f"method {method!r}",
                        fix=f"Fix the --set option (a method's config; --set {method}:KEY=VALUE for it alone).")
    for name in models:
        check_options(load(name, device="cpu"), check_knobs(options[name]), name)
    runs = [functools.partial(bench_train_step, method, options[method], device=args.device, batch_size=args.batch_size, steps=args.steps,
                              warmup=args.warmup, repeats=args.repeats, bf16=args.bf16, channels_last=args.channels_last) for method in args.train or []]
    runs += [functools.partial(bench_inference, name, n=args.n, device=args.device, knobs=options[name], repeats=args.repeats, bf16=args.bf16)
             for name in models]
    results, failed = [], []
    for run in runs:  # each line as its subject is done: a bench takes minutes on a CPU
        kind, subject = ("method", run.args[0]) if run.func is bench_train_step else ("model", run.args[0])
        try:
            r = run()
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:  # noqa: BLE001 - one subject's failure (a plugin's bug, out of memory) is reported; the others are still timed
            print(f"FAILED     {subject:24s} {type(e).__name__}: {e}", flush=True)
            results.append({"what": "train_step" if kind == "method" else "sample/predict", kind: subject, "error": f"{type(e).__name__}: {e}",
                            "command": args.argv})
            failed.append(subject)
            continue
        subject = r.get("method") if r["what"] == "train_step" else r.get("model")
        extra = f"{r['steps_per_s']} steps/s, " if r["what"] == "train_step" else ""
        spread = f" (median of {r['repeats']}: {min(r['seconds_each']):.3g}-{max(r['seconds_each']):.3g} s)" if r["repeats"] > 1 else ""
        print(f"{r['what']:10s} {subject:24s} {extra}{r['images_per_s']} images/s on {r['device']}{' (bf16)' if r['bf16'] else ''}{' (channels-last)' if r.get('channels_last') else ''}{spread}{'  ' + str(r['knobs']) if r.get('knobs') else ''}",
              flush=True)
        r["command"] = args.argv
        results.append(r)
    if args.out:
        with atomic_write(args.out, "w") as f:
            f.write(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.out}" + (f" (with the error of {', '.join(failed)})" if failed else ""))
    if failed:
        print(f"zoo bench: {len(failed)} of {len(runs)} subjects failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _bench_options(items: Sequence[str], subjects: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Return each subject's --set options: `key=value` applies to every subject, `SUBJECT:key=value` to that one alone."""
    from .interfaces import parse_set

    shared, own = [], {s: [] for s in subjects}
    for item in items:
        key = item.partition("=")[0]
        subject, sep, _ = key.rpartition(":")
        if not sep:
            shared.append(item)
        elif subject in own:
            own[subject].append(item[len(subject) + 1:])
        else:
            raise ConfigError(f"--set {item!r} names {subject!r}, which is not a subject of this run ({', '.join(subjects)}).")
    out = {}
    for s in subjects:
        try:
            out[s] = {**parse_set(shared), **parse_set(own[s])}
        except ConfigError as e:
            raise ConfigError(f"{e} (for subject {s!r})") from None
    return out


# ---- parser -------------------------------------------------------------------------------------

REGISTRY_HELP = ("registry file to write the entry into, the weights going to weights/ beside it (default: $ZOO_REGISTRY or "
                 "zoo's registry.toml); a plugin's own file, listed by its zoo_register_models hook, keeps the shipped models visible")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written, and each option's default shown (where it has one and its help does not say it)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        shown = not any(default is v for v in (None, False, argparse.SUPPRESS))  # `is`: 0 == False, and 0 is a default to show
        if shown and action.option_strings and "default" not in text and default != []:
            # a list as the option takes it (400,399,...), not as Python prints it
            value = ",".join(map(str, default)) if isinstance(default, (list, tuple)) else "%(default)s"
            text += (" " if text else "") + f"(default: {value})"
        return text


def _sub(subs: argparse._SubParsersAction, name: str, help: str, example: str) -> argparse.ArgumentParser:
    # allow_abbrev=False: argparse would take `--n 4` for `--nrow 4` and `--dev` for `--device`, silently
    return subs.add_parser(name, help=help, description=help, epilog=f"example:\n  {example}", formatter_class=_HelpFormatter, allow_abbrev=False)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the `zoo` command."""
    from . import __version__

    p = argparse.ArgumentParser(
        prog="zoo",
        description="zoo: train, load, sample, evaluate and compare GANs, diffusion and domain-adaptation models.",
        epilog="examples:\n  zoo list\n  zoo info dcgan.mnist64\n  zoo sample dcgan.mnist64 -n 32 --out grid.png --seed 0\n"
        "  zoo train dcgan --data mnist --data-dir ../shared/data --steps 2000 --out runs/dcgan\n\nexit status:\n"
        + "\n".join(f"  {code:<3}  {what}" for code, what in EXIT_CODES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    p.add_argument("--version", action="version", version=f"zoo {__version__}")
    subs = p.add_subparsers(dest="command", metavar="COMMAND")

    s = _sub(subs, "list", "List the shipped models (fnmatch pattern).", "zoo list 'dcgan.*'")
    s.add_argument("pattern", nargs="?", default="*")
    s.add_argument("--json", action="store_true", help="print the entries as one JSON object (name -> every registry field), as zoo eval --json does its metrics")

    s = _sub(subs, "info", "Show a model's (or method's) architecture, parameters and metadata.", "zoo info dcgan.mnist64")
    s.add_argument("name", help="a registered model, a method, a .safetensors file or a training run folder")
    s.add_argument("--torch-repr", action="store_true",
                   help="print today's torch repr; by default networks print as the seed report's torch printed them "
                   "(without the norm layers' bias= and GELU's approximate='none' that newer torch adds; zoo/printing.py)")
    s.add_argument("--whole", action="store_true", help="print the method as one module (training-only networks included), "
                   "as the seed report prints its DDPM, instead of each network on its own")

    s = _sub(subs, "datasets", "List the datasets zoo can read or build, and whether each is present here.", "zoo datasets --data-dir ../shared/data")
    s.add_argument("--data-dir", type=path_text, default=None, help="folder holding the real datasets (default: $ZOO_DATA)")

    _sub(subs, "methods", "List the methods that plugins register.", "zoo methods")
    _sub(subs, "evaluators", "List the evaluators zoo eval can run, with their options and defaults.", "zoo evaluators")
    _sub(subs, "plugins", "List the plugins found and whether they loaded.", "zoo plugins")

    s = _sub(subs, "train", "Train METHOD on data and export its weights (resumes if --out has a checkpoint).",
             "zoo train dcgan --data mnist --data-dir ../shared/data --set soft_labels=true --steps 2000 --out runs/dcgan-soft")
    s.add_argument("method")
    s.add_argument("--data", action="append", metavar="[ROLE=]NAME_OR_PATH", help="dataset name (zoo datasets) or path; ROLE= for methods with several (source=, target=)")
    s.add_argument("--data-dir", type=path_text, default=None, help="folder holding the real datasets (default: $ZOO_DATA)")
    s.add_argument("--set", action="append", metavar="KEY=VALUE", help="method hyper-parameter (zoo info METHOD shows them)")
    s.add_argument("--out", type=path_text, required=True, help="run folder: checkpoint, metrics.jsonl, loss.png, model.safetensors")
    s.add_argument("--steps", type=int, default=1000, help="optimisation steps, one batch each")
    s.add_argument("--batch-size", type=int, default=64, help="images per role in each step")
    s.add_argument("--device", default="auto", help="auto (cuda where available), cpu, cuda, cuda:N or mps")
    s.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    s.add_argument("--seed", type=int, default=0, help="seeds the weights, the data order and every draw of the run")
    s.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints (0: only at the end)")
    s.add_argument("--log-every", type=int, default=10, help="steps between lines of metrics.jsonl")
    s.add_argument("--ema-decay", type=float, default=0.0, help="export an exponential moving average of the weights with this decay, e.g. 0.999 (0: off)")
    s.add_argument("--grad-clip", type=float, default=None, help="clip each optimizer's gradient norm to this (default: no clipping)")
    s.add_argument("--max-minutes", type=float, default=None, help="stop, checkpoint and export after this much wall time (default: no limit)")
    s.add_argument("--init-from", type=path_text, default=None, metavar="RUN", help="branch from another run's folder or checkpoint, full or slim: its weights, EMA and (a full one's) Adam moments; learning rates, steps and data order are this run's")
    s.add_argument("--lr-decay-start", type=int, default=None, metavar="STEP", help="from STEP on, learning rates fall linearly towards zero at --steps (a resumed run may add it)")
    s.add_argument("--lr-warmup", type=int, default=0, metavar="N", help="learning rates rise linearly over the first N steps (eases fresh Adam moments in, e.g. after a slim --init-from)")
    s.add_argument("--export-dtype", choices=["float32", "float16"], default="float32", help="precision of the exported weights")
    s.add_argument("--channels-last", action="store_true", help="NHWC memory format (faster convolutions on CPUs)")
    s.add_argument("--register", metavar="NAME", help="copy the weights to weights/NAME.safetensors and write the registry entry")
    s.add_argument("--registry", type=user_path_arg, default=None, metavar="FILE", help=REGISTRY_HELP)
    s.add_argument("--replace", action="store_true", help="with --register: replace the entry of that name (a name the file defines is refused without it)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")

    s = _sub(subs, "register", "Register a finished training run (e.g. one trained on another machine), or a zoo weights file, as a shipped model.",
             "zoo register runs/dcgan dcgan.mine --data mnist")
    s.add_argument("run", help="the --out folder of a finished zoo train, or a .safetensors file zoo.save_model wrote (then --data is required)")
    s.add_argument("name", help="registry name, e.g. dcgan.mnist64")
    s.add_argument("--data", help="what it was trained on, as the entry should say (default: the run's record: dataset names, absolute paths; "
                                   "another registered dataset than the run's is refused)")
    s.add_argument("--registry", type=user_path_arg, default=None, metavar="FILE", help=REGISTRY_HELP)
    s.add_argument("--replace", action="store_true", help="replace the entry of that name (its metrics and weights); without it, a name the file defines is refused")

    s = _sub(subs, "sample", "Generate images with a model and save them as one grid.", "zoo sample dcgan.mnist64 -n 32 --out grid.png --seed 0")
    s.add_argument("name", help="registered model name, a .safetensors file, or a training run folder (its model.safetensors)")
    s.add_argument("-n", type=positive_int, default=32, help="images to generate")
    s.add_argument("--out", type=path_text, default=None, help="the grid's image file (.png, .jpg or .webp; in the current folder unless a path) (default: samples.png)")
    s.add_argument("--out-dir", default=None, metavar="DIR", help="write each image as its own PNG into the new folder DIR instead of a grid "
                   "(for external metrics: the images the gan evaluator scores for this seed, drawn in chunks of 500; with --labels, a subfolder per label)")
    s.add_argument("--seed", type=int, default=0, help="the same seed gives the same images")
    s.add_argument("--nrow", type=positive_int, default=8, help="images per row of the grid")
    s.add_argument("--labels", type=label_list, help="comma-separated class labels, one per image (conditional models): numbers, or the class names zoo info shows")
    s.add_argument("--set", action="append", metavar="KNOB=VALUE", help="sampler option, e.g. steps=25")
    s.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: cpu, where the recorded figures were made)")

    s = _sub(subs, "bench", "Measure train-step throughput of methods and sampling/prediction throughput of models.",
             "zoo bench --train dcgan --train wgan_gp --batch-size 64 --repeats 3 --out gan_bench.json\n  zoo bench 'ddpm.*' --device cuda\n"
             "  zoo bench --train dcgan --model ddpm.mnistm --set dcgan:ngf=32 --set ddpm.mnistm:steps=25 -n 16")
    s.add_argument("patterns", nargs="*", metavar="PATTERN", help="models to time, as --model PATTERN (zoo bench 'ddpm.*')")
    s.add_argument("--train", action="append", metavar="METHOD", help="time train_step of METHOD on random data (repeatable)")
    s.add_argument("--model", action="append", metavar="PATTERN", help="time sample/predict of registered models, or of a .safetensors file or run folder (repeatable)")
    s.add_argument("--set", action="append", metavar="[SUBJECT:]KEY=VALUE",
                   help="method config (--train) or sampler option (--model); without SUBJECT: (a method or model name) it goes to every subject")
    s.add_argument("--device", default="auto", help="auto (cuda where available), cpu, cuda, cuda:N or mps (default: auto)")
    s.add_argument("--batch-size", type=positive_int, default=64, help="images per role in each train step (default: 64)")
    s.add_argument("--steps", type=positive_int, default=10, help="timed train steps per run, rounded up to whole cycles (WGAN-GP: 5) (default: 10)")
    s.add_argument("--warmup", type=positive_int, default=2, help="untimed train steps first, rounded up to whole cycles (default: 2)")
    s.add_argument("-n", type=positive_int, default=64, help="images per timed sample/predict call (default: 64)")
    s.add_argument("--repeats", type=positive_int, default=1, help="timed runs per subject; rates are from their median (default: 1)")
    s.add_argument("--bf16", action="store_true", help="run under bfloat16 autocast")
    s.add_argument("--channels-last", action="store_true", help="train steps with the model and batches in NHWC memory format, as zoo train --channels-last")
    s.add_argument("--out", type=path_text, help="write the results as JSON here")

    s = _sub(subs, "eval", "Evaluate a model with the evaluators its registry entry names; --write records the metrics.",
             "zoo eval classifier.mnistm --data-dir ../shared/data --write\n  zoo eval ddpm.mnistm --set n_per_class=10 --set out_md=sweep.md\n"
             "  zoo eval runs/dcgan --only gan --set n=1000 --set fid=false   # a run, before registering (its method's plan, as zoo info shows it;\n"
             "                                                                 # a GAN's has Inception FID: about an hour on a CPU)")
    s.add_argument("name", help="registered model name (its entry's evaluation plan), or a .safetensors file or run folder (its method's default plan)")
    s.add_argument("--only", action="append", metavar="EVALUATOR", help="run only this evaluator (repeatable): one of the plan's, or any installed one (zoo evaluators), its options from --set")
    s.add_argument("--set", action="append", metavar="KEY=VALUE", help="evaluator option, e.g. n=1000")
    s.add_argument("--data-dir", type=path_text, default=None, help="folder holding the real datasets (default: $ZOO_DATA)")
    s.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: cpu, where the recorded figures were made)")
    s.add_argument("--write", action="store_true",
                   help="record the metrics in the registry file that defines the entry (not with --set or --only, nor for a file or run folder)")
    s.add_argument("--json", action="store_true", help="print the metrics as one JSON object (evaluator -> metric -> value, full precision)")

    from .plugins import get_plugin_manager

    for extra in get_plugin_manager().commands().values():
        if extra.name in subs.choices:
            raise ZooError(f"a plugin adds the command {extra.name!r}, which zoo already has; rename it.")
        s = _sub(subs, extra.name, extra.help, extra.example)
        extra.add_arguments(s)
        COMMANDS[extra.name] = extra.run
    return p


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None, line: str | None = None) -> None:
    """Show a warning as the command's own line (`zoo: warning: ...`), not Python's file, line and source echo."""
    status(f"zoo: warning: {message}")


_CONSOLE = contextvars.ContextVar("zoo_console", default=False)


def run() -> int:
    """The `zoo` console command (and `python -m zoo`): main() with warnings shown as one line each."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        token = _CONSOLE.set(True)
        try:
            return main()
        finally:
            _CONSOLE.reset(token)
            if _ctrl_c_is_pythons():
                # the command is done: a Ctrl-C now would land in the interpreter's exit (torch's atexit hooks print a
                # traceback, or `python -m` dies by SIGINT) and change nothing but the status; so would a SIGTERM
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _ctrl_c_is_pythons() -> bool:
    """Whether Ctrl-C is this process's to handle: in the main thread, with Python's own handler (not ignored, as in a
    shell's background job, nor a handler of the caller's)."""
    return threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler


@contextlib.contextmanager
def _ctrl_c_ends_the_command():
    """In the `zoo` command, a Ctrl-C while torch and the plugins load (seconds) ends it at once: one line, status 130.

    A KeyboardInterrupt raised in that import lands wherever torch happens to be, and torch swallows some (a traceback,
    then status 0) or leaves the `-m` runner to die by SIGINT; nothing is written yet, so there is nothing to tidy. Where
    Ctrl-C is not Python's to take (ignored in a background job, or a handler of the caller's), it is left alone.
    """
    if not _ctrl_c_is_pythons():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        os.write(2, b"\nzoo: interrupted\n")
        os._exit(130)

    signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextlib.contextmanager
def _sigterm_ends_the_command():
    """In the `zoo` command, SIGTERM (`kill`, a batch scheduler's time limit, a container's stop) ends a command as Ctrl-C
    does: what it was writing is removed (a temporary file or folder), the workers it started are stopped, status 143.

    (Left to its default, SIGTERM ends the process where it stands, and only a training run, which takes it itself, tidies up.)
    Where SIGTERM is not the default's (ignored, or a handler of the caller's), it is left alone.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise Stopped("stopped by SIGTERM", signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `zoo` command with `argv` (default: sys.argv[1:]); return the exit status (argparse's usage errors and
    ``--help`` raise SystemExit with theirs instead)."""
    from .progress import forgiving_stderr

    token = COMMAND_LINE.set(True)  # errors name options (--steps 6), not Python arguments (steps=6)
    invocation = INVOCATION.set(None)
    stderr, sys.stderr = sys.stderr, forgiving_stderr()  # a note that cannot be shown stops no work, nor lands on stdout
    try:
        return _main(argv)
    finally:
        sys.stderr = stderr
        INVOCATION.reset(invocation)
        COMMAND_LINE.reset(token)


def _out_of_memory(e: BaseException) -> str | None:
    """Return what ran out when `e` is an allocation that failed (Python's, torch's CPU allocator's, CUDA's), else None."""
    text = str(e)
    if isinstance(e, MemoryError):
        return "Python could not allocate memory"
    # torch's CPU allocator: "can't allocate memory" (Linux), "not enough memory" (Windows)
    if (m := re.search(r"(?:can't allocate|not enough) memory: you tried to allocate (\d+) bytes", text)) is not None:
        size = int(m[1])
        return "torch tried to allocate " + (f"{size / 2**30:,.1f} GiB at once" if size >= 2**30 else f"{size / 2**20:,.0f} MiB" if size >= 2**20
                                             else f"{size:,} bytes")
    # torch.OutOfMemoryError (CUDA; named, so that the command line needs no torch) and the MPS backend's RuntimeError
    if type(e).__name__ == "OutOfMemoryError" or text.startswith("MPS backend out of memory"):
        return re.sub(r"\s*\(.*?\)", "", text.split(". ")[0]) + (". " + text.split(". ")[1] if ". " in text else "")
    return None


#: The commands whose whole product is what they print (others write files, and say so in passing).
_REPORTS = frozenset({"list", "info", "methods", "evaluators", "plugins", "datasets"})


def _main(argv: Sequence[str] | None) -> int:
    if list(sys.argv[1:] if argv is None else argv) == ["--version"]:  # needs neither torch nor the plugins
        from . import __version__

        print(f"zoo {__version__}")
        return 0
    if hasattr(sys.stdout, "reconfigure"):  # a console or file in an encoding without ± or → (Windows' cp1252): \u00b1, not a crash
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        with _ctrl_c_ends_the_command() if _CONSOLE.get() else contextlib.nullcontext():
            importlib.import_module("numpy")  # before torch: torch's C code imports numpy and would swallow a Ctrl-C that lands there
            parser = build_parser()  # loads torch and the plugins: a broken one is an error here under ZOO_STRICT_PLUGINS=1
    except ZooError as e:
        print(f"zoo: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:  # Ctrl-C while torch loads: one line, as later
        status("\nzoo: interrupted")
        return 130
    args = parser.parse_args(argv)
    if not args.command:  # the help, and the status of a command line that names no command (`zoo --help` is 0)
        parser.print_help()
        return ConfigError.exit_code
    if sys.stdout is None and (args.command in _REPORTS or getattr(args, "json", False)):  # started with stdout closed (`zoo list >&-`): the answer would be lost
        print(f"zoo {args.command}: error: stdout is closed, and zoo {args.command} writes its answer there. "
              "Give it somewhere to go (`> file`, a pipe).", file=sys.stderr)
        return OutputError.exit_code
    args.argv = shlex.join(["zoo", *(sys.argv[1:] if argv is None else argv)])  # what a run records
    INVOCATION.set(args.argv)  # for results written deeper down (an evaluator's JSON); main() puts it back
    try:
        with _sigterm_ends_the_command() if _CONSOLE.get() else contextlib.nullcontext():
            code = COMMANDS[args.command](args)
        if sys.stdout is not None:  # None when started with stdout closed (`zoo list >&-`)
            sys.stdout.flush()  # inside the try: a closed pipe shows here, not in the interpreter's exit
        return code
    except ZooError as e:
        print(f"zoo {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt as e:  # Ctrl-C: one line, not a traceback (zoo train says where its checkpoint is)
        status(f"\nzoo {args.command}: interrupted" + (f": {e}" if str(e) else ""))
        return 128 + getattr(e, "signum", 2)  # 130 for Ctrl-C; 143 for a training run stopped by SIGTERM
    except BrokenPipeError:  # the reader went away (`zoo info ddpm | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the interpreter's final flush does not fail again
        return 1
    except (MemoryError, RuntimeError) as e:
        if (what := _out_of_memory(e)) is None:
            raise
        print(f"zoo {args.command}: error: out of memory: {what}. Ask for less at once (fewer images with -n, a smaller "
              "--batch-size or model), or use a machine with more memory.", file=sys.stderr)
        return ConfigError.exit_code
    except PermissionError as e:  # a place no check above named: still one line, with the path refused
        print(f"zoo {args.command}: error: permission denied: {e.filename or e}. Give your user access to it, or use another path.", file=sys.stderr)
        return 1
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO):
            raise
        status(f"zoo {args.command}: error: cannot write the output: {e.strerror} ({e.errno}). Free some space or write elsewhere.")
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OutputError.exit_code


