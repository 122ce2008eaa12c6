"""Images per second that TensorLoader delivers for each dataset present, on CPU (a benchmark, not a test).

    python benchmarks/data_throughput.py --data-dir ../shared/data

Writes benchmarks/results/data_throughput.json. Two settings per dataset: the native size and
channels, and adapted to 64x64 RGB (what the GANs take), both in batches of 128.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from zoo import data
from zoo.bench import provenance
from zoo.data import TensorLoader
from zoo.data.registry import data_root, is_present
from zoo.files import atomic_write

RESULTS = Path(__file__).resolve().parent / "results" / "data_throughput.json"


def images_per_second(loader: TensorLoader, seconds: float) -> float:
    """Return the images per second `loader` delivers over about `seconds` (after two warm-up batches)."""
    for _ in range(2):
        next(loader)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        n += len(next(loader))
    return n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    root = data_root(args.data_dir)
    made = provenance()  # the command with every flag (--seconds changes the figures), the date, versions, the load at the start
    rows = []
    for name, info in sorted(data.datasets().items()):
        if not is_present(info, root):
            print(f"{name:10s} not present here: skipped")
            continue
        t0 = time.perf_counter()
        s = data.load(name, "train", root=args.data_dir)
        load_s = time.perf_counter() - t0
        row = {"dataset": name, "images": len(s), "shape": list(s.shape), "load_seconds": round(load_s, 2)}
        for key, size, channels in (("native", None, None), ("64x64_rgb", 64, 3)):
            loader = TensorLoader(s, args.batch_size, size=size, channels=channels, device="cpu")
            row[f"images_per_s_{key}"] = round(images_per_second(loader, args.seconds))
        rows.append(row)
        print(f"{name:10s} {len(s):6d} images {str(tuple(s.shape)):14s} load {load_s:6.2f} s   "
              f"{row['images_per_s_native']:>9,} img/s native   {row['images_per_s_64x64_rgb']:>8,} img/s at 64x64 RGB")
    result = {
        **made,
        "device": "cpu",
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "batch_size": args.batch_size,
        "results": rows,
    }
    with atomic_write(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
