"""Write the contact sheets of the built and stand-in digit sets to docs/figures/ (one row per class).

    python benchmarks/contact_sheets.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from zoo import data
from zoo.viz import save_grid

FIGURES = Path(__file__).resolve().parent.parent / "docs" / "figures"


def class_rows(images: torch.Tensor, labels: torch.Tensor, per_class: int) -> torch.Tensor:
    """Return `per_class` images of each class 0..9 in order, as float in [0, 1]."""
    idx = torch.cat([torch.nonzero(labels == c)[:per_class, 0] for c in range(10)])
    return images[idx].float() / 255


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data-dir", default=None, help="folder holding mnist/ (for mnistm); default $ZOO_DATA")
    p.add_argument("--per-class", type=int, default=12)
    p.add_argument("--out", type=Path, default=FIGURES)
    args = p.parse_args()
    for name, scale in (("mnistm", 3), ("digits", 3), ("syndigits", 3)):
        s = data.load(name, "test", root=args.data_dir)
        x = class_rows(s.images, s.labels, args.per_class)
        x = torch.nn.functional.interpolate(x, scale_factor=scale, mode="nearest")  # pixels stay visible
        path = save_grid(x, args.out / f"{name}.png", nrow=args.per_class)
        print(f"wrote {path} ({name} test split, {args.per_class} per class, rows 0..9)")


if __name__ == "__main__":
    main()
