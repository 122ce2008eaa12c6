"""Training WGAN-GP on a folder of real images (e.g. faces) works end to end through the `zoo` command."""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from zoo.cli import main
from zoo.loading import load_file


def write_shapes_folder(folder: Path, n: int = 20, size: tuple[int, int] = (80, 72)) -> Path:
    """Write `n` non-square PNGs of random ellipses and rectangles into `folder`; return it."""
    rng = random.Random(0)
    folder.mkdir(parents=True)
    for i in range(n):
        im = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(im)
        for _ in range(3):
            x0, y0 = rng.randrange(size[0] // 2), rng.randrange(size[1] // 2)
            box = (x0, y0, x0 + rng.randrange(10, size[0] // 2), y0 + rng.randrange(10, size[1] // 2))
            shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
            shape(box, fill=tuple(rng.randrange(256) for _ in range(3)))
        im.save(folder / f"face_{i:03d}.png")
    return folder


def test_train_on_an_image_folder_then_load_and_sample(tmp_path: Path) -> None:
    folder = write_shapes_folder(tmp_path / "faces")
    out = tmp_path / "run"
    status = main([
        "train", "wgan_gp", "--data", str(folder), "--set", "nz=8", "--set", "ngf=4", "--set", "ndf=4", "--set", "n_critic=2",
        "--steps", "2", "--batch-size", "4", "--device", "cpu", "--log-every", "1", "--out", str(out), "--quiet",
    ])
    assert status == 0
    assert json.loads((out / "run.json").read_text())["data"] == {"train": "faces"}
    model = load_file(out / "model.safetensors")
    assert model.name == "wgan_gp" and model.config.nz == 8
    images = model.sample(3, seed=0)
    assert images.shape == (3, 3, 64, 64) and torch.isfinite(images).all()
    assert (out / "metrics.jsonl").read_text().count("\n") == 2
