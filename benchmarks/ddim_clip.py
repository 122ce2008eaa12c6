"""DDIM with a clipped x0: the noise as predicted (zoo before 2026-11-30, diffusers' default) against the noise the
clipped x0 implies (zoo now), on the shipped `ddpm.mnistm`, judged by `classifier.mnistm`.

    python benchmarks/ddim_clip.py --per-class 2 --steps 25 400 --out benchmarks/results/ddim_clip.json

Each rule samples the same guided (w = 2) images, seed 0; the script prints the classifier's accuracy and writes each
grid next to the JSON (rows of `per-class` images per digit, two digits a row).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import zoo
from zoo.bench import provenance
from zoo.files import atomic_write
from zoo.metrics.classifier_metrics import features_and_logits
from zoo_plugins.ddpm.schedule import NoiseSchedule

FIXED = NoiseSchedule.ddim_step


def predicted_noise_step(self: NoiseSchedule, x_t: torch.Tensor, eps: torch.Tensor, t: int, t_prev: int, eta: float = 0.0,
                         noise: torch.Tensor | None = None) -> torch.Tensor:
    """The DDIM update as zoo wrote it before 2026-11-30: x0 clipped, the predicted noise kept."""
    ab, ab_prev = float(self.alphas_bar[t]), float(self.alphas_bar[t_prev])
    x0 = self.predict_x0(x_t, eps, t).clamp(-1, 1)
    sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)) ** 0.5
    out = ab_prev**0.5 * x0 + max(1 - ab_prev - sigma**2, 0.0) ** 0.5 * eps
    return out + sigma * noise if sigma > 0 and noise is not None else out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-class", type=int, default=2)
    p.add_argument("--steps", type=int, nargs="+", default=[25, 400])
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/ddim_clip.json"))
    args = p.parse_args()
    made = provenance()
    model, clf = zoo.load("ddpm.mnistm"), zoo.load("classifier.mnistm")
    labels = [d for d in range(10) for _ in range(args.per_class)]
    rows = []
    try:
        for rule, step in (("predicted noise (before)", predicted_noise_step), ("noise of the clipped x0 (now)", FIXED)):
            NoiseSchedule.ddim_step = step
            for steps in args.steps:
                t0 = time.perf_counter()
                x = model.sample(len(labels), labels=labels, steps=steps, seed=0)
                seconds = time.perf_counter() - t0
                accuracy = float((features_and_logits(clf, x)[1].argmax(1) == torch.tensor(labels)).float().mean())
                grid = args.out.with_name(f"{args.out.stem}_{'before' if step is predicted_noise_step else 'now'}_ddim{steps}.png")
                zoo.save_grid(x, grid, nrow=2 * args.per_class)
                rows.append({"rule": rule, "steps": steps, "accuracy": accuracy, "images": len(labels), "seconds": round(seconds, 1), "grid": str(grid)})
                print(f"{rule:32s} DDIM-{steps:<4d} accuracy {accuracy:.3f} on {len(labels)} images ({seconds:.0f} s)  {grid}", flush=True)
    finally:
        NoiseSchedule.ddim_step = FIXED
    with atomic_write(args.out, "w") as f:
        json.dump({**made, "guidance": 2.0, "seed": 0, "rows": rows}, f, indent=2)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
