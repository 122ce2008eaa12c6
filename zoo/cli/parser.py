"""The `zoo` command's argument parser: the core sub-commands and the ones plugins add."""

from __future__ import annotations

import argparse

from ..argtypes import path_text, positive_int, user_path_arg
from ..errors import EXIT_CODES, ZooError
from .common import COMMANDS, label_list

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
    from .. import __version__

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
             "zoo train dcgan --data mnist --data-dir ../shared/data --set soft_labels=true --steps 2000 --out runs/dcgan-soft\n"
             "  torchrun --nproc_per_node=4 -m zoo train dcgan --data mnistm --out runs/dcgan4   # one model in 4 processes, one GPU each "
             "(--batch-size is per process; docs/architecture.md)")
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
    s.add_argument("--ema-snapshot-every", type=int, default=0, metavar="N",
                   help="keep the exported weights (the EMA's) every N steps in the run folder's snapshots/, for `zoo average` (0: off)")
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

    s = _sub(subs, "average", "Export the mean of a run's latest EMA snapshots (zoo train --ema-snapshot-every) as its weights; --last 1 exports the plain EMA again.",
             "zoo average runs/dcgan --last 8")
    s.add_argument("run", type=path_text, help="the --out folder of a finished zoo train that kept snapshots")
    s.add_argument("--last", type=positive_int, default=None, metavar="K", help="average the last K snapshots (default: all the run keeps)")

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

    from ..plugins import get_plugin_manager

    for extra in get_plugin_manager().commands().values():
        if extra.name in subs.choices:
            raise ZooError(f"a plugin adds the command {extra.name!r}, which zoo already has; rename it.")
        s = _sub(subs, extra.name, extra.help, extra.example)
        extra.add_arguments(s)
        COMMANDS[extra.name] = extra.run
    return p
