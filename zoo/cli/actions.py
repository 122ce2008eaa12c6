"""The `zoo` commands that do the work: register, train, sample, eval, bench."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..progress import status
from .common import check_knobs, class_labels, command, fmt_metric, recorded_classes, sampler_knobs


def _note_unlisted(path: Path | None, name: str) -> None:
    """Say so when a model was registered into a file that zoo does not read (neither the main file nor a plugin's)."""
    from ..registration import unlisted_note

    if note := unlisted_note(path, name):
        print(f"note: {note}", file=sys.stderr)


def _shown(path: Path) -> str:
    """Return `path` as a user finds it from here: relative to the current folder where it lies below it, else absolute."""
    path = path.resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


@command
def cmd_register(args: argparse.Namespace) -> int:
    from ..registration import register_run

    e = register_run(args.run, args.name, data=args.data, path=args.registry, replace=args.replace)
    made = f", {e.training.steps} steps in {e.training.wall_time_s:.0f} s on {e.training.device}" if e.training else " (no training record)"
    print(f"registered {args.name!r}: {_shown(e.base_dir / e.weights)} (sha256 {e.sha256}){made}")
    _note_unlisted(args.registry, args.name)
    return 0


@command
def cmd_average(args: argparse.Namespace) -> int:
    from ..training import average_run
    from ..training.runs import steps_text

    summary = average_run(args.run, args.last, command=args.argv)
    steps = summary["averaged"]["snapshots"]
    print(f"{args.run}: model.safetensors is the mean of {len(steps)} snapshot{'s' * (len(steps) > 1)} ({steps_text(steps)}), "
          f"sha256 {summary['sha256']}")
    return 0


def _parse_data(items: Sequence[str]) -> dict[str, str]:
    from ..data.labels import split_role

    out: dict[str, str] = {}
    for item in items:
        role, value = split_role(item)
        if role in out:
            raise ConfigError(f"--data names role {role!r} twice ({out[role]} and {value}); give each role once.")
        out[role] = value
    return out


@command
def cmd_train(args: argparse.Namespace) -> int:
    from ..interfaces import parse_set, validate_config
    from ..parallel import rank
    from ..registration import check_registration, register_run, registered_from
    from ..training import TrainConfig, check_run_folder, train

    if args.register:  # a later sitting of the run (--max-minutes ran out) replaces the entry its last one registered
        args.replace = args.replace or registered_from(args.out, args.register, args.registry)
        check_registration(args.register, args.registry, replace=args.replace)  # before the training, not after it
    elif args.registry or args.replace:
        raise ConfigError(f"{'--registry names the file that' if args.registry else '--replace replaces the entry that'} --register NAME "
                          "writes into; give --register NAME too.")
    check_run_folder(args.out)  # before the data is read

    train_cfg = validate_config(TrainConfig, dict(
        steps=args.steps, batch_size=args.batch_size, device=args.device, bf16=args.bf16, seed=args.seed,
        checkpoint_every=args.checkpoint_every, log_every=args.log_every, ema_decay=args.ema_decay, ema_snapshot_every=args.ema_snapshot_every,
        grad_clip=args.grad_clip, max_minutes=args.max_minutes, export_dtype=args.export_dtype, progress=not args.quiet,
        channels_last=args.channels_last, lr_decay_start=args.lr_decay_start, lr_warmup=args.lr_warmup, init_from=args.init_from,
    ), what="zoo train", fix="Fix the option (`zoo train --help`).")  # named as options here, before zoo.train checks them again
    sources = _parse_data(args.data or [])
    if not sources:
        raise ConfigError("zoo train needs --data NAME_OR_PATH (see `zoo datasets`).")
    summary = train(args.method, sources, args.out, config=parse_set(args.set or []), data_root=args.data_dir, command=args.argv, **train_cfg.model_dump())
    if rank():  # another process of a torchrun run: process 0 says what the run made, and registers it
        return 0
    print(json.dumps(summary, indent=2))
    if args.register:
        e = register_run(args.out, args.register, path=args.registry, replace=args.replace)  # labelled with the run's record of its data
        print(f"registered {args.register!r} -> {_shown(e.base_dir / e.weights)}", file=sys.stderr)  # stdout stays the summary's JSON (`| jq`)
        _note_unlisted(args.registry, args.register)
    return 0


@command
def cmd_sample(args: argparse.Namespace) -> int:
    from ..loading import load_any
    from ..viz import check_image_path, check_new_folder, save_grid, save_image_folder

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
        from ..metrics.gan import generate

        images = generate(model, args.n, args.seed, progress=True, labels=labels, **knobs)
        path = save_image_folder(images, args.out_dir, labels, recorded_classes(args.name) or model.data_spec().num_classes)
        print(f"wrote {path} ({args.n} PNG files{', in a subfolder per label' if labels is not None else ''}, seed {args.seed}, drawn as zoo eval draws them)")
        return 0
    status(f"sampling {args.n} images from {args.name} ({model.name}, on {args.device or 'cpu'})...")
    images = model.sample(args.n, labels=labels, seed=args.seed, **knobs)
    path = save_grid(images, args.out or "samples.png", nrow=args.nrow)
    print(f"wrote {path} ({args.n} images, seed {args.seed})")
    return 0


@command
def cmd_eval(args: argparse.Namespace) -> int:
    from ..data import data_root
    from ..interfaces import parse_set
    from ..metrics import evaluate_model, evaluators, record_metrics
    from ..registration import check_recordable
    from ..registry import entry, is_weights_file

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
            print(f"  {k}: {fmt_metric(v)}")
    if args.write:
        record_metrics(args.name, results, evaluated_sha256=evaluated)
        print(f"recorded in the registry entry {args.name!r}", file=sys.stderr if args.json else sys.stdout)
    return 0


@command
def cmd_bench(args: argparse.Namespace) -> int:
    from ..bench import bench_inference, bench_train_step, check_options
    from ..files import atomic_write, check_writable
    from ..interfaces import validate_config
    from ..loading import load
    from ..plugins import get_plugin_manager
    from ..registry import find_entry, is_weights_file, list_models
    from ..training import resolve_device

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
    from ..interfaces import parse_set

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
