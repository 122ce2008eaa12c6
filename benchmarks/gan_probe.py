"""Probe a GAN training run mid-way: the `gan` metrics of its raw and EMA generators, and of a scaled latent.

    python benchmarks/gan_probe.py runs/dcgan-mnistm64-os                 # raw and EMA generator of the checkpoint
    python benchmarks/gan_probe.py runs/dcgan-mnistm64 --psi 1 0.8 0.6 0.4  # EMA generator, z scaled by psi
    python benchmarks/gan_probe.py runs/dcgan-mnistm64-os --by-d 0.5 0.1    # EMA images the discriminator rates highest
    python benchmarks/gan_probe.py runs/dcgan-mnistm64-noise01 --by-jacobian 0.5 0.3  # EMA images of the flattest latents
    python benchmarks/gan_probe.py runs/dcgan-mnistm64-os --bn              # the generator's BatchNorm statistics re-estimated
    python benchmarks/gan_probe.py runs/dcgan-mnistm64-os --d-batches       # how the discriminator's verdict rests on its batches
    python benchmarks/gan_probe.py runs/dcgan-carry --average snaps/*.safetensors  # the EMA averaged with earlier checkpoints' EMAs
    python benchmarks/gan_probe.py runs/dcgan-carry --snapshots             # the mean of the last k snapshots (zoo average --last k)

`zoo eval RUN/model.safetensors` judges the exported weights only (the EMA where the run keeps one).
A run carried in benchmarks/carry (its slim checkpoint alone) is probed as its EMA, the generator it exports.
While a run trains, the raw generator leads and the EMA follows about 1/(1 - decay) steps behind,
so both are worth a look. `--psi` multiplies the latent by psi (the "truncation" of BigGAN, done
by scaling): a generator whose unsure images sit in the latent's tails scores higher with psi < 1.
`--by-d` keeps the given shares of the EMA generator's images that the run's own discriminator rates
highest (what discriminator rejection sampling would keep): it helps only where the discriminator's
judgment agrees with the classifier's.
`--by-jacobian` keeps the given shares of the EMA generator's images whose latents have the smallest
generator Jacobian (Frobenius norm, estimated from 4 random directions): an unconditional generator maps
one connected latent onto digits that are apart, so the images between two digits come from latents
where the generator is steepest (the rejection of Tanielian et al., 2020); it needs no discriminator.
`--bn` compares the generator's BatchNorm running statistics (for the EMA, averages of the raw model's, which
need not match the averaged weights' own activations) with statistics re-estimated on 40 batches of 256
latents ("standing statistics", Brock et al., 2019) and with each sampled chunk's own batch statistics.
`--d-batches` shows what the raw discriminator's verdict rests on: its mean output on real MNIST-M (train
and test split, N each) and generated images in pure batches of 64 (as DCGAN trains it), with its running
statistics, and in batches half real and half generated, with the per-image AUC of real against generated.
`--average` takes copies of the run's checkpoint from earlier steps, oldest first, and averages the EMA weights
(BatchNorm's running statistics too) of the run's checkpoint and the last k of them, uniformly, for k = 1, 2, 4, ...
and all: an average over a longer stretch of the run than the EMA's own, made after the fact (what a longer
EMA decay would have given, without choosing it before training; "post-hoc EMA", Karras et al., 2024).
`--snapshots` does the same with the snapshots the run kept (`zoo train --ema-snapshot-every`): the mean of the
last k of them, as `zoo average RUN --last k` exports it.
Metrics are the `gan` evaluator's (classifier IS, FD, digit coverage) on N images, seed 0 (or `--seed`), no FID;
nothing is written.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch
from torch import nn

from zoo.cli import int_at_least
from zoo.data import load as load_data
from zoo.gan import GANMethod
from zoo.loading import build_method, load_any, load_file
from zoo.metrics.classifier_metrics import classifier_score, coverage_metrics
from zoo.metrics.gan import GANEvaluator, generate, real_images_like
from zoo.metrics.inception import quantize
from zoo.training import CHECKPOINT, SLIM_CHECKPOINT, mean_state
from zoo.training.runs import model_from_checkpoint, snapshots, steps_text
from zoo.weights import load_tree, read_weights


def generators(run: Path) -> dict[str, torch.nn.Module]:
    """Return the run's checkpoint as methods: "raw" and, when the run keeps an EMA, "ema".

    A run carried in benchmarks/carry holds its slim checkpoint alone (the discriminator and the EMA): "ema" only.
    """
    if not (run / "run.json").is_file() or not any((run / f).is_file() for f in (CHECKPOINT, SLIM_CHECKPOINT)):
        raise SystemExit(f"gan_probe: {run} is no `zoo train` run folder (run.json and {CHECKPOINT} or {SLIM_CHECKPOINT}). "
                         "Give a run folder of a GAN method, or a carried run in benchmarks/carry.")
    info = json.loads((run / "run.json").read_text())
    slim = not (run / CHECKPOINT).is_file()
    state = load_tree(run / (SLIM_CHECKPOINT if slim else CHECKPOINT))
    out = {}
    for kind in ("ema",) if slim else ("raw", "ema") if state["ema"] else ("raw",):
        m = build_method(info["method"], info["config"], training=True)
        m.load_state_dict(model_from_checkpoint(state, m.state_dict()))  # a slim one's generator: its EMA, as `--init-from` reads it
        if kind == "ema":
            m.load_state_dict({k.removeprefix("module."): v for k, v in state["ema"].items()}, strict=False)
        out[f"{kind} (step {int(state['step'])})"] = m.eval()
    return out


def by_discriminator(found: dict[str, torch.nn.Module], n: int, shares: list[float]) -> None:
    """Print the classifier IS and digit shares of the images the raw discriminator rates highest, for each share kept."""
    name, model = list(found.items())[-1]
    critic = next(iter(found.values())).discriminator
    images = generate(model, n, 0)
    with torch.no_grad():
        score = torch.cat([critic(images[i : i + 500].float() / 127.5 - 1).view(-1) for i in range(0, n, 500)])
        logits = load_any("classifier.mnistm", "cpu").logits(images.float() / 255)
    print_kept(f"{name}, n={n}, seed 0", logits, score, shares, "D's score", "by D")


def print_kept(what: str, logits: torch.Tensor, score: torch.Tensor, shares: list[float], score_name: str, by: str) -> None:
    """Print how `score` ranks with the classifier's confidence, and the metrics of the images it rates highest, for each share kept."""
    rank = lambda t: t.argsort().argsort().double()  # noqa: E731
    agree = torch.corrcoef(torch.stack([rank(score), rank(logits.softmax(1).max(1).values)]))[0, 1]
    print(f"{what}: rank correlation of {score_name} and the classifier's confidence {agree:.2f}")
    for share in [1.0, *shares]:
        kept = logits[score.argsort(descending=True)[: max(1, int(share * len(score)))]]
        c = coverage_metrics(kept)
        sure = float((kept.softmax(1).max(1).values > 0.9).double().mean())
        print(f"  top {share:.0%} {by}: classifier IS {classifier_score(kept):.2f}, digits {100 * c['coverage_min']:.1f}% - {100 * c['coverage_max']:.1f}%, "
              f"top probability > 0.9 for {100 * sure:.0f}%")


def jacobian_norms(generator: nn.Module, z: torch.Tensor, directions: int, g: torch.Generator, eps: float = 1e-2) -> torch.Tensor:
    """Return an unbiased estimate of each latent's squared Frobenius norm of the generator's Jacobian, ||dG/dz||_F^2.

    The mean of ||J v||^2 over `directions` random v ~ N(0, I), with J v taken by central differences
    (exact for a generator quadratic in z, and a close estimate for a smooth one at small `eps`).
    """
    total = torch.zeros(len(z), dtype=torch.float64)
    with torch.no_grad():
        for _ in range(directions):
            v = torch.randn(z.shape, generator=g).to(z.device)
            jv = (generator(z + eps * v) - generator(z - eps * v)) / (2 * eps)
            total += jv.flatten(1).double().pow(2).sum(1).cpu()
    return total / directions


def by_jacobian(found: dict[str, torch.nn.Module], n: int, shares: list[float], directions: int = 4, chunk: int = 250) -> None:
    """Print the classifier IS and digit shares of the EMA (else raw) images whose latents have the smallest generator Jacobian."""
    name, model = list(found.items())[-1]
    generator, g = model.generator.eval(), torch.Generator().manual_seed(0)
    images, norms = [], []
    for i in range(0, n, chunk):
        z = model.latent(min(chunk, n - i), g)
        with torch.no_grad():
            images.append(quantize(generator(z).add(1).mul(0.5)).cpu())
        norms.append(jacobian_norms(generator, z, directions, g))
    with torch.no_grad():
        logits = torch.cat([load_any("classifier.mnistm", "cpu").logits(x.float() / 255) for x in torch.cat(images).split(1000)])
    print_kept(f"{name}, n={n}, seed 0, {directions} directions", logits, -torch.cat(norms), shares, "-|J|_F", "by smallest |J|")


def bn_variants(model: torch.nn.Module, batches: int = 40, batch: int = 256) -> dict[str, torch.nn.Module]:
    """Return the model as is, with its generator's BatchNorm statistics re-estimated, and sampling with batch statistics."""
    standing, per_batch = copy.deepcopy(model), copy.deepcopy(model)
    norms = [m for m in standing.generator.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches below
    standing.generator.train()
    g = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for _ in range(batches):
            standing.generator(standing.latent(batch, g))
    standing.generator.eval()
    per_batch.generator.train()
    for m in per_batch.generator.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.track_running_stats = False  # train mode then normalises with the batch's statistics and updates nothing
    return {"running statistics": model, f"standing statistics ({batches} x {batch})": standing, "batch statistics (chunks of 256)": per_batch}


def d_batches(found: dict[str, torch.nn.Module], n: int, batch: int = 64) -> None:
    """Print the raw discriminator's mean outputs on real (train, test) and generated images in pure, running-statistics and mixed batches."""
    model = next(iter(found.values()))
    critic = model.discriminator
    fake = generate(model, n, 0).float() / 127.5 - 1
    real = {split: real_images_like(load_data("mnistm", split), fake[:1]).float()[:n] / 127.5 - 1 for split in ("train", "test")}

    def judge(x: torch.Tensor, train_mode: bool) -> torch.Tensor:
        critic.train(train_mode)
        with torch.no_grad():
            return torch.cat([critic(x[i : i + batch]).view(-1) for i in range(0, len(x), batch)])

    for train_mode, how in ((True, f"pure batches of {batch}, batch statistics"), (False, "running statistics")):
        out = {k: judge(x, train_mode) for k, x in (("real train", real["train"]), ("real test", real["test"]), ("generated", fake))}
        print(f"D in {how}: " + ", ".join(f"{k} {float(v.mean()):.3f}" for k, v in out.items()) + f" (n={n} each)")
    half = batch // 2
    mixed = torch.stack([torch.cat([real["train"][i : i + half], fake[i : i + half]]) for i in range(0, n - half + 1, half)])
    out = judge(mixed.flatten(0, 1), True).view(len(mixed), 2, half)
    on_real, on_fake = out[:, 0].flatten(), out[:, 1].flatten()
    auc = float((on_real[:, None] > on_fake[None, :]).double().mean())
    print(f"D in mixed batches ({half} real + {half} generated): real {float(on_real.mean()):.3f}, generated {float(on_fake.mean()):.3f}, "
          f"per-image AUC {auc:.3f}")


def averaged(run: Path, files: list[Path]) -> dict[str, torch.nn.Module]:
    """Return the run's EMA generator averaged with the EMA of the last k `files` (checkpoints of the run, oldest first),
    for k = 1, 2, 4, ... and all of them."""
    name, model = list(generators(run).items())[-1]
    if not name.startswith("ema"):
        raise SystemExit(f"{run}: the run keeps no EMA (zoo train --ema-decay), so there is nothing to average")
    emas = [load_tree(f)["ema"] for f in files] + [load_tree(run / CHECKPOINT)["ema"]]
    out = {name: model}
    ks = sorted({*(2 ** i for i in range(len(files).bit_length()) if 2 ** i < len(files)), len(files)})
    for k in ks:
        last = emas[-(k + 1):]
        mean = mean_state(last)
        m = copy.deepcopy(model)
        m.load_state_dict({key.removeprefix("module."): v for key, v in mean.items()}, strict=False)
        out[f"{name}, averaged with the last {k} checkpoint{'s' * (k > 1)}"] = m.eval()
    return out


def snapshot_means(run: Path) -> dict[str, torch.nn.Module]:
    """Return the mean of the run's last k snapshots (`zoo train --ema-snapshot-every`), for k = 1, 2, 4, ... and all of them:
    what `zoo average RUN --last k` would export."""
    kept = snapshots(run)
    if not kept:
        raise SystemExit(f"{run}: the run keeps no snapshots (zoo train --ema-snapshot-every N)")
    steps = list(kept)
    states = [read_weights(kept[s])[0] for s in steps]  # each file read once, for every k
    out = {}
    for k in sorted({*(2 ** i for i in range(len(steps).bit_length()) if 2 ** i < len(steps)), len(steps)}):
        m = load_file(kept[steps[-1]])
        m.load_state_dict(mean_state(states[-k:]), strict=False)
        out[f"mean of the last {k} snapshot{'s' * (k > 1)} ({steps_text(steps[-k:])})"] = m.eval()
    return out


def scaled_noise(model: GANMethod, psi: float) -> GANMethod:
    """Return `model` sampling from noise scaled by `psi` (truncation by scaling; 1 leaves it as it is), on the same instance."""
    draw = type(model)._sample_noise  # what sample(n, seed=...) draws its latents with
    model._sample_noise = lambda n, seed, model=model: draw(model, n, seed) * psi
    return model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path, help="a `zoo train` run folder of a GAN method")
    p.add_argument("--n", type=int_at_least(1), default=1000, help="images per trial (default 1000)")
    p.add_argument("--psi", type=float, nargs="*", default=[], help="latent scales to try on the EMA (else raw) generator")
    p.add_argument("--by-d", type=float, nargs="*", default=[], help="shares of the EMA (else raw) images to keep, ranked by the discriminator")
    p.add_argument("--by-jacobian", type=float, nargs="*", default=[],
                   help="shares of the EMA (else raw) images to keep, those whose latents have the smallest generator Jacobian")
    p.add_argument("--d-batches", action="store_true", help="what the raw discriminator's verdict rests on: pure, running-statistics and mixed batches")
    p.add_argument("--average", type=Path, nargs="*", default=[], help="checkpoints of the run from earlier steps, oldest first: their EMAs averaged with the run's")
    p.add_argument("--seed", type=int, default=0, help="the draw of the scored images (the floors are judged on seed 0: choose a variant, "
                   "such as an average's k, on another seed); not for --by-d, --by-jacobian and --d-batches, which draw seed 0")
    p.add_argument("--snapshots", action="store_true", help="the mean of the run's last k snapshots, as `zoo average --last k` exports it, for k = 1, 2, 4, ... and all")
    p.add_argument("--bn", action="store_true", help="also with the generator's BatchNorm statistics re-estimated, and with batch statistics")
    args = p.parse_args()
    if args.d_batches and args.n < 32:
        p.error(f"--d-batches needs --n of at least 32 (one mixed batch holds 32 real and 32 generated images), not {args.n}")
    if args.seed and (args.by_d or args.by_jacobian or args.d_batches):
        p.error("--seed is for the metric trials; --by-d, --by-jacobian and --d-batches draw seed 0")
    found = generators(args.run)
    if args.by_d:
        by_discriminator(found, args.n, args.by_d)
        return
    if args.by_jacobian:
        by_jacobian(found, args.n, args.by_jacobian)
        return
    if args.d_batches:
        d_batches(found, args.n)
        return
    if args.psi:
        name, model = list(found.items())[-1]
        trials = [(f"{name}, psi {psi:g}", model, psi) for psi in args.psi]
    elif args.snapshots:
        trials = [(name, model, 1.0) for name, model in snapshot_means(args.run).items()]
    elif args.average:
        trials = [(name, model, 1.0) for name, model in averaged(args.run, args.average).items()]
    elif args.bn:
        trials = [(f"{name}, {kind}", variant, 1.0) for name, model in found.items() for kind, variant in bn_variants(model).items()]
    else:
        trials = [(name, model, 1.0) for name, model in found.items()]
    for name, model, psi in trials:
        model = scaled_noise(model, psi)
        t = time.monotonic()
        r = GANEvaluator().evaluate(model, n=args.n, seed=args.seed, data="mnistm", split="test", classifier="classifier.mnistm", fid=False, progress=False)
        print(f"{name}: classifier IS {r['classifier_is']:.2f}, FD {r['classifier_fd']:.2f}, "
              f"digits {100 * r['coverage_min']:.1f}% - {100 * r['coverage_max']:.1f}% (n={args.n}, seed {args.seed}, {time.monotonic() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
