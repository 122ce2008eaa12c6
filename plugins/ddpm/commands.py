"""The seed report's DDPM figures as `zoo` sub-commands: the 10x10 digit grid and the reverse-process frames.

Both default to the seed's sampler (ancestral DDPM over all n_T steps) and seed 0, so the frames show
exactly the first "0" of the grid: with a seed, image i's noise depends on i alone (see ``DDPM.sample``).

Example::

    zoo ddpm-grid ddpm.mnistm --out docs/figures/ddpm_grid.png
    zoo ddpm-frames ddpm.mnistm --out docs/figures/ddpm_frames.png
"""

from __future__ import annotations

import argparse
from typing import Any, ContextManager

import torch

from zoo.errors import ConfigError
from zoo.interfaces import Command, Method, int_at_least, int_list, parse_set
from zoo.loading import load_any
from zoo.viz import check_image_path, figure, save_figure, save_grid

from .method import DDPM, DEFAULT_GUIDANCE, FrameCallback, sampling_progress
from .samplers import BUILTIN, DEFAULT_STEPS

__all__ = ["COMMANDS", "digit_grid", "reverse_frames", "SEED_FRAME_TIMES"]

#: The times the seed report shows for the first "0" (it shows t = 400 and 399 both), in the order the reverse process runs;
#: the report lists them from t = 0 up (``--times 0,80,160,240,320,399,400``: panels come in the order given).
SEED_FRAME_TIMES = (400, 399, 320, 240, 160, 80, 0)
#: The seed grid's images per digit: the frames follow that grid's image, so both commands take the same default.
SEED_PER_CLASS = 10
#: The widest grid ddpm-grid draws: 1000 columns of 28 pixels (a wider one is a slip, and would fill the memory before it shows).
MAX_PER_CLASS = 1000


def _model(args: argparse.Namespace) -> Method:
    check_image_path(args.out)  # before the sampling, which takes minutes, not after it
    model = load_any(args.name, args.device)
    if not isinstance(model, DDPM):  # a plugin's variant of it samples alike
        raise ConfigError(f"model {args.name!r} is a {model.name!r} model; these figures are for DDPM models (zoo list 'ddpm.*'), "
                          "zoo's or a plugin's subclass of zoo_plugins.ddpm.DDPM.")
    return model


#: What these commands set with flags of their own, so not with --set.
_FLAGS = {"sampler": "--sampler", "steps": "--steps", "guidance": "--guidance", "seed": "--seed", "labels": "--label",
          "n": "--per-class", "callback": None, "batch_size": None}


def _sampler_options(args: argparse.Namespace) -> dict[str, Any]:
    """Return the --set KNOB=VALUE options of the sampler (e.g. eta=0.5 for ddim), refusing the ones with flags of their own."""
    knobs = parse_set(args.set or [])
    taken = sorted(k for k in knobs if k in _FLAGS)
    if taken:
        flags = [f"{k}: {_FLAGS[k]}" if _FLAGS[k] else f"{k}: not from the command line" for k in taken]
        raise ConfigError(f"--set {', '.join(taken)}: {'not a knob' if len(taken) == 1 else 'not knobs'} of the sampler's own ({'; '.join(flags)}).")
    return knobs


def _knobs(args: argparse.Namespace) -> dict[str, Any]:
    return {"sampler": args.sampler, "steps": args.steps, "guidance": args.guidance, **_sampler_options(args)}


def _common(p: argparse.ArgumentParser, out: str) -> None:
    p.add_argument("name", help="registered ddpm model or a .safetensors file")
    p.add_argument("--out", default=out, help="the image file to write (relative to the folder the command runs in)")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same images")
    p.add_argument("--sampler", default="ddpm", help="ddpm (default): the seed's ancestral sampler over all n_T steps; "
                   f"{', '.join(s.name for s in BUILTIN if s.name != 'ddpm')}; or a plugin's (an unknown name lists them all)")
    p.add_argument("--steps", type=int, default=None, help=f"network steps of a sampler that takes fewer than n_T, such as ddim "
                   f"(default: {DEFAULT_STEPS}, at most n_T)")
    p.add_argument("--set", action="append", metavar="KNOB=VALUE", help="the sampler's own option, e.g. eta=0.5 for ddim")
    p.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE, help="classifier-free guidance weight w")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def digit_grid(model: Method, per_class: int = SEED_PER_CLASS, seed: int = 0, **knobs: Any) -> torch.Tensor:
    """Return `per_class` samples of each class, class by class: (n_classes * per_class, C, 28, 28)."""
    labels = [d for d in range(model.config.n_classes) for _ in range(per_class)]
    return model.sample(len(labels), labels=labels, seed=seed, **knobs)


def reverse_frames(model: Method, times: tuple[int, ...] = SEED_FRAME_TIMES, label: int = 0, per_class: int = SEED_PER_CLASS, seed: int = 0,
                   **knobs: Any) -> dict[int, torch.Tensor]:
    """Return the states {t: (C, 28, 28)} of the first image of class `label` in `digit_grid`, at the integer `times`."""
    if not 0 <= label < model.config.n_classes:
        raise ConfigError(f"--label must lie in 0..{model.config.n_classes - 1}, got {label}.")
    # that image has index label * per_class in the grid, and its noise depends on the seed and that index alone
    n = label * per_class + 1
    labels = [i // per_class for i in range(n)]
    _, frames = model.sample_frames(n, times, labels=labels, seed=seed, **knobs)
    return {t: x[-1] for t, x in frames.items()}


def _steps_shown(model: Method, n: int, args: argparse.Namespace) -> ContextManager[FrameCallback]:
    """Return sampling_progress for `n` images with the command's options (the seed's sampler takes minutes on a CPU)."""
    return sampling_progress(model, n, args.command, steps=args.steps, sampler=args.sampler, guidance=args.guidance, enabled=not args.quiet,
                             knobs=_sampler_options(args))


def _run_grid(args: argparse.Namespace) -> int:
    model = _model(args)
    with _steps_shown(model, model.config.n_classes * args.per_class, args) as callback:
        images = digit_grid(model, per_class=args.per_class, seed=args.seed, callback=callback, **_knobs(args))
    path = save_grid(images, args.out, nrow=args.per_class)
    print(f"wrote {path}: rows are digits 0-{model.config.n_classes - 1}, {args.per_class} noise seeds per row ({args.sampler}, w={args.guidance:g}, seed {args.seed})")
    return 0


def _run_frames(args: argparse.Namespace) -> int:
    model = _model(args)
    with _steps_shown(model, args.label * args.per_class + 1, args) as callback:  # reverse_frames samples up to that image
        frames = reverse_frames(model, tuple(args.times), label=args.label, per_class=args.per_class, seed=args.seed, callback=callback, **_knobs(args))
    frames = {t: frames[t] for t in args.times}  # in the order asked for (the report lists t = 0 first)
    fig = figure(figsize=(1.6 * len(frames), 1.9))
    axes = fig.subplots(1, len(frames), squeeze=False)
    for ax, (t, x) in zip(axes[0], frames.items()):
        ax.imshow(x.permute(1, 2, 0).cpu().numpy(), interpolation="nearest")
        ax.set_title(f"t={t}", fontsize=10)
        ax.axis("off")
    path = save_figure(fig, args.out)
    print(f"wrote {path}: the first {args.label!r} of the grid at t = {', '.join(map(str, frames))} ({args.sampler}, w={args.guidance:g}, seed {args.seed})")
    return 0


def _grid_args(p: argparse.ArgumentParser) -> None:
    _common(p, "docs/figures/ddpm_grid.png")
    p.add_argument("--per-class", type=int_at_least(1, MAX_PER_CLASS), default=SEED_PER_CLASS, help=f"images per digit (columns; at most {MAX_PER_CLASS})")


def _frames_args(p: argparse.ArgumentParser) -> None:
    _common(p, "docs/figures/ddpm_frames.png")
    p.add_argument("--times", type=int_list, default=list(SEED_FRAME_TIMES), help="comma-separated times (0..n_T), one panel each, in this order "
                   "(default: the seed's 400,399,320,240,160,80,0; a sampler of fewer steps visits fewer times: name ones it visits)")
    p.add_argument("--label", type=int, default=0, help="which digit's first grid image to follow")
    p.add_argument("--per-class", type=int_at_least(1, MAX_PER_CLASS), default=SEED_PER_CLASS,
                   help=f"images per digit in the grid these frames belong to (at most {MAX_PER_CLASS})")


COMMANDS = [
    Command("ddpm-grid", "Write the seed's 10x10 DDPM grid: rows are digits 0-9, columns different noise.",
            "zoo ddpm-grid ddpm.mnistm --out docs/figures/ddpm_grid.png", _grid_args, _run_grid),
    Command("ddpm-frames", f"Write the reverse-process frames of the grid's first '0' at t = {', '.join(map(str, SEED_FRAME_TIMES))}.",
            "zoo ddpm-frames ddpm.mnistm --out docs/figures/ddpm_frames.png", _frames_args, _run_frames),
]
