"""Sanity checks of the built sets, on CPU (a benchmark, not a test).

    python benchmarks/standin_sanity.py --data-dir ../shared/data

1. Times building MNIST-M and syndigits into an empty cache, then loading each from the cache.
2. Trains a small CNN on each stand-in's train split (and on MNIST-M's) and reports test
   accuracy: high accuracy says the labels match the pictures.
Writes benchmarks/results/data_standin_sanity.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from zoo import data
from zoo.bench import provenance
from zoo.data import ImageSet, TensorLoader
from zoo.data.mnistm import load_mnistm
from zoo.data.registry import data_root
from zoo.data.syndigits import load_syndigits
from zoo.files import atomic_write

RESULTS = Path(__file__).resolve().parent / "results" / "data_standin_sanity.json"
SIZE = 32


class SmallCNN(nn.Module):
    """Three conv blocks and a linear head: about 25 k parameters, small enough to train in minutes on 2 cores."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        blocks, c = [], channels
        for width in (16, 32, 64):
            blocks += [nn.Conv2d(c, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2)]
            c = width
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))


def accuracy(model: nn.Module, s: ImageSet, channels: int) -> float:
    """Return the fraction of `s` that `model` classifies right."""
    model.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(s), 1000):
            x = data.adapt_images(s.images[i : i + 1000], SIZE, channels)
            right += int((model(x).argmax(1) == s.labels[i : i + 1000]).sum())
    return right / len(s)


def train_and_test(name: str, root: str | None, steps: int) -> dict[str, object]:
    """Return the test accuracy of a small CNN trained `steps` batches of 128 on `name`'s train split."""
    torch.manual_seed(0)
    train, test = data.load(name, "train", root=root), data.load(name, "test", root=root)
    channels = train.shape[0]
    model = SmallCNN(channels)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    loader = TensorLoader(train, 128, size=SIZE, channels=channels, seed=0)
    t0 = time.perf_counter()
    model.train()
    for _ in range(steps):
        batch = next(loader)
        loss = F.cross_entropy(model(batch.x), batch.y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    seconds = time.perf_counter() - t0
    acc = accuracy(model, test, channels)
    print(f"{name:10s} train {len(train):6d}  test {len(test):6d}  {steps} steps ({steps * 128 / len(train):.1f} epochs) in {seconds:5.0f} s  test accuracy {acc:.4f}")
    return {"dataset": name, "train_images": len(train), "test_images": len(test), "steps": steps, "batch_size": 128,
            "epochs": round(steps * 128 / len(train), 2), "train_seconds": round(seconds, 1), "test_accuracy": round(acc, 4)}


def time_builds(root: Path | None) -> dict[str, object]:
    """Return the seconds to build MNIST-M and syndigits into an empty cache and to load each back, and their digests."""
    out: dict[str, object] = {}
    old = os.environ.get("ZOO_CACHE")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ZOO_CACHE"] = tmp
        try:
            for name, load in (("mnistm", lambda: load_mnistm(root / "mnist")), ("syndigits", load_syndigits)):
                if name == "mnistm" and (root is None or not (root / "mnist").is_dir()):
                    print("mnistm: no DATA/mnist here, build not timed")
                    continue
                t0 = time.perf_counter()
                built = load()
                build_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                cached = load()
                load_s = time.perf_counter() - t0
                assert cached.from_cache and cached.digest == built.digest
                sizes = {k: len(v) for k, v in built.splits.items()}
                print(f"{name:10s} built {sizes} in {build_s:5.1f} s (composing {built.build_seconds:.1f} s), loaded from cache in {load_s:4.2f} s, digest {built.digest[:16]}")
                out[name] = {"build_seconds": round(build_s, 2), "compose_seconds": round(built.build_seconds, 2), "cached_load_seconds": round(load_s, 2),
                             "sizes": sizes, "content_digest": built.digest}
        finally:
            if old is None:
                os.environ.pop("ZOO_CACHE", None)
            else:
                os.environ["ZOO_CACHE"] = old
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--skip-builds", action="store_true")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    root = data_root(args.data_dir)
    result: dict[str, object] = {
        **provenance(),  # the command with every flag, the date and versions
        "cpu_count": os.cpu_count(),  # torch's threads and the load average at the start: in provenance()
    }
    if not args.skip_builds:
        result["builds"] = time_builds(root)
    runs = [("digits", 300), ("syndigits", 800)]
    if root is not None and (root / "mnist").is_dir():
        runs.append(("mnistm", 400))
    result["cnn"] = [train_and_test(name, args.data_dir, steps) for name, steps in runs]
    with atomic_write(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
