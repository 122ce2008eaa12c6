"""How large a run's checkpoint, slim checkpoint and exported weights are, per method, at its default size.

    python benchmarks/checkpoint_sizes.py [--methods dcgan wgan_gp] [--out results.json]

Trains each method two steps on random 64x64 images on the CPU (EMA 0.999, float16 export, as
benchmarks/gan_gpu.sh trains), then writes its slim checkpoint (zoo.training.slim_checkpoint) and prints
the three files' sizes in MiB. A lent GPU returns files of up to 16 MiB and 64 MiB in all, which is what
decides how a run travels from one lent GPU to the next (docs/gan.md).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from zoo.data import ImageSet
from zoo.files import atomic_write
from zoo.training import CHECKPOINT, EXPORT, TrainConfig, Trainer, slim_checkpoint


def sizes(method: str, folder: Path) -> dict[str, float]:
    """Return the MiB of `method`'s checkpoint, slim checkpoint and export after two steps trained into `folder`."""
    g = torch.Generator().manual_seed(0)
    data = ImageSet(torch.randint(0, 256, (8, 3, 64, 64), dtype=torch.uint8, generator=g), None, "random")
    cfg = TrainConfig(steps=2, batch_size=4, device="cpu", progress=False, ema_decay=0.999, export_dtype="float16")
    Trainer(method, {}, {"train": data}, folder, cfg).fit()
    slim = slim_checkpoint(folder)
    return {name: round((folder / name).stat().st_size / 2**20, 2) for name in (CHECKPOINT, slim.name, EXPORT)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", nargs="+", default=["dcgan", "wgan_gp"], help="methods to measure (their default configs)")
    p.add_argument("--out", type=Path, default=None, help="also write the sizes to this JSON file")
    args = p.parse_args()
    found = {}
    with tempfile.TemporaryDirectory() as tmp:
        for m in args.methods:
            found[m] = sizes(m, Path(tmp) / m)
            print(m, "  ".join(f"{k} {v} MiB" for k, v in found[m].items()))
    if args.out:
        with atomic_write(args.out, "w") as f:
            json.dump(found, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
