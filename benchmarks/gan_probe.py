"""Probe a GAN training run mid-way: the `gan` metrics of its raw and EMA generators, and of a scaled latent.

    python benchmarks/gan_probe.py runs/dcgan-mnistm64-os                 # raw and EMA generator of the checkpoint
    python benchmarks/gan_probe.py runs/dcgan-mnistm64 --psi 1 0.8 0.6 0.4  # EMA generator, z scaled by psi

`zoo eval RUN/model.safetensors` judges the exported weights only (the EMA where the run keeps one).
While a run trains, the raw generator leads and the EMA follows about 1/(1 - decay) steps behind,
so both are worth a look. `--psi` multiplies the latent by psi (the "truncation" of BigGAN, done
by scaling): a generator whose unsure images sit in the latent's tails scores higher with psi < 1.
Metrics are the `gan` evaluator's (classifier IS, FD, digit coverage) on N images, seed 0, no FID;
nothing is written.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from zoo.metrics.gan import GANEvaluator
from zoo.registry import build_method
from zoo.training import CHECKPOINT
from zoo.weights import load_tree


def generators(run: Path) -> dict[str, torch.nn.Module]:
    """Return the run's checkpoint as methods: "raw" and, when the run keeps an EMA, "ema"."""
    info = json.loads((run / "run.json").read_text())
    state = load_tree(run / CHECKPOINT)
    out = {}
    for kind in ("raw", "ema") if state["ema"] else ("raw",):
        m = build_method(info["method"], info["config"], training=True)
        m.load_state_dict(state["model"])
        if kind == "ema":
            m.load_state_dict({k.removeprefix("module."): v for k, v in state["ema"].items()}, strict=False)
        out[f"{kind} (step {int(state['step'])})"] = m.eval()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path, help="a `zoo train` run folder of a GAN method")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--psi", type=float, nargs="*", default=[], help="latent scales to try on the EMA (else raw) generator")
    args = p.parse_args()
    found = generators(args.run)
    if args.psi:
        name, model = list(found.items())[-1]
        trials = [(f"{name}, psi {psi:g}", model, psi) for psi in args.psi]
    else:
        trials = [(name, model, 1.0) for name, model in found.items()]
    for name, model, psi in trials:
        latent = type(model).latent
        model.latent = lambda n, g=None, model=model, psi=psi: latent(model, n, g) * psi
        t = time.monotonic()
        r = GANEvaluator().evaluate(model, n=args.n, seed=0, data="mnistm", split="test", classifier="classifier.mnistm", fid=False, progress=False)
        print(f"{name}: classifier IS {r['classifier_is']:.2f}, FD {r['classifier_fd']:.2f}, "
              f"digits {100 * r['coverage_min']:.1f}% - {100 * r['coverage_max']:.1f}% (n={args.n}, seed 0, {time.monotonic() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
