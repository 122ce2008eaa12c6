"""Peak memory of reading a folder of images (`zoo.data.load(folder)`), against the size of what it returns.

    python benchmarks/folder_memory.py --n 6000

writes N random 128x128 JPEGs into a temporary folder, reads its train split (about 9 files in 10; the rest are test) at
64x64 and prints the process's peak resident memory before and after, and the bytes of the image tensor.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image


def peak_mb() -> float:
    """Return this process's peak resident memory so far in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=6000, help="images in the folder")
    args = p.parse_args()
    from zoo.data import load

    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        for i in range(args.n):
            Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)).save(Path(tmp) / f"{i:05d}.jpg", quality=90)
        before = peak_mb()
        images = load(Path(tmp), "train").images
        after = peak_mb()
    print(f"{len(images)} images {tuple(images.shape[1:])}: the tensor holds {images.numel() / 2**20:.0f} MB; "
          f"peak memory {before:.0f} MB before the read, {after:.0f} MB after (+{after - before:.0f} MB)")


if __name__ == "__main__":
    main()
