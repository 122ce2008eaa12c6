"""DDPM speed: seconds per U-Net forward by width, and images/s of DDPM-400 and DDIM-25 sampling.

Run from the repository root::

    python benchmarks/ddpm_speed.py --threads 2                    # CPU, as the done-criterion asks
    python benchmarks/ddpm_speed.py --device cuda --bf16           # GPU
    python benchmarks/ddpm_speed.py --model runs/ddpm/model.safetensors --threads 2

It writes benchmarks/results/ddpm_speed_<device>.json (or --out) and prints one line per figure.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from zoo.bench import provenance
from zoo.files import atomic_write
from zoo.loading import load_any
from zoo.training import resolve_device
from zoo_plugins.ddpm.model import ContextUnet, plain_layers

GRID_LABELS = [d for d in range(10) for _ in range(10)]


def _timed(fn: Callable[[], Any], device: torch.device, repeats: int) -> float:
    """Return the mean seconds of `repeats` calls of `fn` after one warm-up call."""
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - t0) / repeats


def forward_seconds(n_feat: int, batch: int, device: torch.device, channels_last: bool, autocast: Any, repeats: int) -> float:
    """Return seconds per forward of a randomly initialised ContextUnet of width `n_feat` on `batch` images."""
    torch.manual_seed(0)
    net = ContextUnet(3, n_feat, 10).to(device).eval()
    x = torch.randn(batch, 3, 28, 28, device=device)
    if channels_last:
        net, x = net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    t, c = torch.rand(batch, device=device), torch.eye(10, device=device)[torch.arange(batch, device=device) % 10]
    with torch.inference_mode(), autocast:
        return _timed(lambda: net(x, t, c), device, repeats)


def guided_step_seconds(net: ContextUnet, images: int, device: torch.device, autocast: Any, repeats: int) -> dict[str, float]:
    """Return seconds of one guided step's forward on `images` images: as first written and as sampling runs it now.

    "before": the plain layers on the doubled batch (x twice); "after": the encoder once on x,
    BatchNorm folded and GELU fused into the convolutions (CPU). Both give the same noise prediction.
    """
    x = torch.randn(images, net.in_channels, 28, 28, device=device).contiguous(memory_format=torch.channels_last)
    t = torch.rand(images, device=device).repeat(2)
    c = torch.cat([torch.eye(net.n_classes, device=device)[torch.arange(images, device=device) % net.n_classes], torch.zeros(images, net.n_classes, device=device)])
    with torch.inference_mode(), autocast:
        with plain_layers():
            before = _timed(lambda: net(torch.cat([x, x]), t, c), device, repeats)
        after = _timed(lambda: net(x, t, c), device, repeats)
        with plain_layers(), FlopCounterMode(display=False) as full:  # the counter does not know oneDNN's fused op
            net(x[:1], t[:1], c[:1])
        with plain_layers(), FlopCounterMode(display=False) as encoder:
            net.to_vec(net.down2(net.down1(net.init_conv(x[:1]))))
    return {
        "images": images, "before_s": round(before, 4), "after_s": round(after, 4), "speedup": round(before / after, 2),
        "gflop_per_image": round(full.get_total_flops() / 1e9, 3), "encoder_gflop_per_image": round(encoder.get_total_flops() / 1e9, 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="ddpm.mnistm", help="registered name or .safetensors file ('' to skip sampling)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (the done-criterion: 2)")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    p.add_argument("--widths", default="32,64,128", help="n_feat values for the forward timings ('' to skip)")
    p.add_argument("--forward-batch", type=int, default=200, help="images per timed forward (200 = 100 images with guidance)")
    p.add_argument("--ddpm-n", type=int, default=10, help="images for the DDPM-400 timing (CPU: keep it small)")
    p.add_argument("--ddim-n", type=int, default=100, help="images for the DDIM-25 timing")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16) if args.bf16 else nullcontext()
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    result: dict[str, Any] = {**provenance(), "device": name, "bf16": args.bf16, "forward": [], "sampling": []}

    for w in [int(v) for v in args.widths.split(",") if v]:
        for cl in (False, True):
            s = forward_seconds(w, args.forward_batch, dev, cl, autocast, args.repeats)
            result["forward"].append({"n_feat": w, "batch": args.forward_batch, "channels_last": cl, "seconds": round(s, 4)})
            print(f"forward n_feat={w} batch={args.forward_batch} channels_last={cl}: {s:.3f} s", flush=True)

    if args.model:
        model = load_any(args.model, dev)
        result["model"] = {"name": args.model, "config": model.config.model_dump()}
        step = guided_step_seconds(model.nn_model, args.forward_batch // 2, dev, autocast, max(args.repeats, 3))
        result["guided_step"] = step
        print(f"guided step of {step['images']} images: {step['before_s']:.3f} s as first written (plain layers, x twice), "
              f"{step['after_s']:.3f} s now (shared encoder, fused conv+BN+GELU): {step['speedup']:.2f}x; "
              f"{step['gflop_per_image']} GFLOP a forward per image, {step['encoder_gflop_per_image']} of them the encoder's", flush=True)
        runs = [
            ("ddpm-400", args.ddpm_n, {"sampler": "ddpm"}),
            ("ddim-25", args.ddim_n, {"sampler": "ddim", "steps": 25}),
        ]
        for label, n, knobs in runs:
            labels = [i % 10 for i in range(n)] if n != 100 else GRID_LABELS
            with autocast:
                s = _timed(lambda: model.sample(n, labels=labels, seed=0, **knobs), dev, args.repeats)
            result["sampling"].append({"sampler": label, "n": n, "guidance": 2.0, "seconds": round(s, 3), "images_per_s": round(n / s, 2)})
            print(f"{label}: {n} images in {s:.2f} s = {n / s:.2f} images/s (guided, w=2)", flush=True)

    out = Path(args.out or f"benchmarks/results/ddpm_speed_{dev.type}.json")
    with atomic_write(out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
