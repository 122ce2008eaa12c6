"""`zoo gan-figures`: the seed report's Problem 1 figures from shipped models and their training logs (any GAN plugin's).

For each model: the grid of its first 32 generated images (what ``zoo sample NAME -n 32`` writes);
then the two grids side by side, and the loss curves of the training runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, DataError
from .files import check_writable
from .hookspecs import hookimpl
from .interfaces import Command, Method, positive_int
from .loading import load_any
from .registry import is_weights_file
from .viz import figure, plot_curves, read_metrics_log, save_figure, save_grid

__all__ = ["read_run_records", "load_model", "label", "labels", "sample_grids", "side_by_side", "GAN_FIGURES"]


def read_run_records(path: str | Path) -> list[dict[str, Any]]:
    """Return the metrics records of a run: a run folder (its metrics.jsonl), a .jsonl log, or a .json list of records."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.jsonl"
    if not path.is_file():
        raise DataError(f"training log {path} does not exist. Pass a run folder (holding metrics.jsonl), a .jsonl log or a .json list of records.")
    expected = 'records like {"step": 10, "loss_d": 0.7, ...}'
    if path.suffix == ".json":
        try:
            records = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise DataError(f"training log {path} is not valid JSON ({e}); expected a list of {expected}.") from None
        records = records.get("records", []) if isinstance(records, dict) else records
    else:
        records = read_metrics_log(path)
    if not isinstance(records, list) or not records:
        raise DataError(f"training log {path} holds no records ({str(records)[:60]}); expected {expected}.")
    bad = next((r for r in records if not isinstance(r, dict) or not isinstance(r.get("step"), (int, float))), None)
    if bad is not None:
        raise DataError(f"training log {path} holds {str(bad)[:60]}; expected {expected}, each with its step.")
    return records


def load_model(name: str, device: str | None = None) -> Method:
    """Return a registered model, or the model in a .safetensors file (e.g. a run's model.safetensors)."""
    return load_any(name, device)


def labels(names: list[str]) -> dict[str, str]:
    """Return a file-name-safe label per model: the registry name, or a weights file's run folder (or stem), with as
    many of its parent folders as it takes to tell the models apart (alice/dcgan and bob/dcgan: alice_dcgan, bob_dcgan)."""
    chains = {}
    for name in names:
        if is_weights_file(name):
            path = Path(os.path.abspath(name))  # `..` folded: one run named two ways is one chain
            file = path.suffix == ".safetensors"  # else a run folder, whose name may hold dots (runs/lr0.0002)
            folder = path.parent if file and path.stem == "model" and path.parent.name else path.with_name(path.stem) if file else path
            chains[name] = [p.name for p in reversed([folder, *folder.parents]) if p.name]
        else:
            chains[name] = [name]
    depth = dict.fromkeys(names, 1)
    while True:
        made = {name: re.sub(r"[^A-Za-z0-9_-]", "_", "_".join(chains[name][-depth[name]:])) for name in names}
        clashing = [name for name in names if depth[name] < len(chains[name])  # one file named twice keeps its short label
                    and any(made[o] == made[name] and chains[o] != chains[name] for o in names)]
        if not clashing:
            return made
        for name in clashing:
            depth[name] += 1


def label(name: str) -> str:
    """Return one model's file-name-safe label (see :func:`labels`)."""
    return labels([name])[name]


def sample_grids(names: list[str], out: Path, n: int = 32, seed: int = 0, nrow: int = 8, device: str | None = None, prefix: str = "gan_",
                 written: Callable[[str, Path], object] | None = None) -> dict[str, Path]:
    """Write `out/<prefix><label>_first<n>.png` for each model (its first `n` images for `seed`); return the paths by name.

    `written(name, path)` is called as each grid is written: a later model that fails, or a stop, leaves the earlier ones said.
    """
    paths, named = {}, labels(names)
    for name in names:
        images = load_model(name, device).sample(n, seed=seed)
        paths[name] = save_grid(images, out / f"{prefix}{named[name]}_first{n}.png", nrow=nrow)
        if written is not None:
            written(name, paths[name])
    return paths


def side_by_side(grids: dict[str, Path], path: Path, titles: dict[str, str] | None = None) -> Path:
    """Write the grids next to each other in one figure, each titled; return the path."""
    from PIL import Image

    fig = figure(figsize=(5.2 * len(grids), 3.2))
    axes = fig.subplots(1, len(grids), squeeze=False)
    for ax, (name, grid) in zip(axes[0], grids.items()):
        with Image.open(grid) as im:
            ax.imshow(np.asarray(im.convert("RGB")))
        ax.set_title((titles or {}).get(name, name), fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    return save_figure(fig, path)


def _title(name: str, label: str, position: int) -> str:
    """Return a panel's title as the seed report writes it: "Method A (DCGAN): NAME", lettered by position (the seed gives DCGAN first)."""
    method = load_model(name).name
    shown = {"dcgan": "DCGAN", "wgan_gp": "WGAN-GP"}.get(method, method)
    letter = chr(ord("A") + position) if position < 26 else str(position + 1)
    return f"Method {letter} ({shown}): {label if is_weights_file(name) else name}"


def _add_arguments(p: argparse.ArgumentParser) -> None:
    # "*", not "+": a --runs before the models takes them all, and argparse's "required: models" would not say so
    p.add_argument("models", nargs="*", help="GAN models: registered names (e.g. dcgan.mnist64), run folders or .safetensors files")
    p.add_argument("--runs", nargs="*", default=[], help="training logs in the same order (run folder, .jsonl or .json); omit to skip the loss curves")
    p.add_argument("--out", default="docs/figures", help="folder for the PNG files (relative to the folder the command runs in)")
    p.add_argument("-n", type=positive_int, default=32, help="images per model (the seed shows the first 32)")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same images")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: cpu)")
    p.add_argument("--prefix", default="gan_", help="start of every file name written")


def _run(args: argparse.Namespace) -> int:
    if not args.models:
        took = f" (--runs took every word after it: {' '.join(args.runs)})" if args.runs else ""
        raise ConfigError(f"gan-figures needs at least one model{took}. Name the models first: "
                          "zoo gan-figures MODEL [MODEL ...] --runs LOG [LOG ...]")
    if args.runs and len(args.runs) != len(args.models):
        raise ConfigError(f"--runs takes one training log per model: {len(args.models)} models, {len(args.runs)} logs. Give them in the models' order.")
    named = labels(args.models)  # run folders alike in name (alice/dcgan, bob/dcgan) get their parents' names too
    clash = next((name for name in args.models if list(named.values()).count(named[name]) > 1), None)
    if clash is not None:  # one model twice, as a name or a path
        same = [name for name in args.models if named[name] == named[clash]]
        raise ConfigError(f"models {', '.join(same)} would all write {args.prefix}{named[clash]}_first{args.n}.png: they are one model. Name each model once.")
    logs = [read_run_records(run) for run in args.runs]  # before the sampling: a bad log fails fast
    out = Path(args.out)
    check_writable(out / f"{args.prefix}side_by_side.png")
    titles = {name: _title(name, named[name], i) for i, name in enumerate(args.models)}
    grids = sample_grids(args.models, out, n=args.n, seed=args.seed, device=args.device, prefix=args.prefix,
                         written=lambda name, p: print(f"wrote {p} ({name}: first {args.n} images, seed {args.seed})", flush=True))
    if len(grids) > 1:
        print(f"wrote {side_by_side(grids, out / f'{args.prefix}side_by_side.png', titles)}")
    if logs:
        print(f"wrote {plot_curves({titles[name]: log for name, log in zip(args.models, logs)}, out / f'{args.prefix}loss_curves.png')}")
    return 0


GAN_FIGURES = Command(
    name="gan-figures",
    help="Write the seed report's Problem 1 figures: first 32 images of each GAN, side by side, and the loss curves.",
    example="zoo gan-figures dcgan.mnist64 --out figures\n  zoo gan-figures runs/dcgan runs/wgan_gp --runs runs/dcgan runs/wgan_gp --out figures   # two runs "
            "of zoo train, with their loss curves",
    add_arguments=_add_arguments,
    run=_run,
)


@hookimpl
def zoo_register_commands() -> list[Command]:
    """Register `zoo gan-figures`: zoo's own, so that it stays whichever GAN plugins are installed or blocked."""
    return [GAN_FIGURES]
