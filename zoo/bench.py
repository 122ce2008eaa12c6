"""The benchmark runner: training-step and sampling/prediction throughput of methods and models.

Example::

    >>> from zoo.bench import bench_train_step, bench_inference
    >>> bench_train_step("wgan_gp", device="cpu", batch_size=64, steps=5)
    {'what': 'train_step', 'method': 'wgan_gp', 'steps_per_s': ..., 'images_per_s': ..., ...}
    >>> bench_inference("ddpm.mnistm", n=100, knobs={"steps": 25})
    {'what': 'sample', 'model': 'ddpm.mnistm', 'images_per_s': ..., ...}
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Mapping
from typing import Any

import torch

from .registry import build_method, load
from .training import resolve_device

__all__ = ["bench_train_step", "bench_inference", "device_name", "environment"]


def device_name(device: torch.device) -> str:
    """Return a human name for `device` (the GPU's name, or the CPU and its core count)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def environment() -> dict[str, str]:
    """Return the versions a benchmark result depends on."""
    from . import __version__

    return {"zoo": __version__, "torch": torch.__version__, "python": platform.python_version(), "threads": str(torch.get_num_threads())}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_train_step(
    method: str,
    config: Mapping[str, Any] | None = None,
    *,
    device: str = "auto",
    batch_size: int = 64,
    steps: int = 10,
    warmup: int = 2,
    bf16: bool = False,
) -> dict[str, Any]:
    """Return the train-step throughput of `method` on random data (steps/s and images/s)."""
    dev = resolve_device(device)
    torch.manual_seed(0)
    model = build_method(method, config, training=True).to(dev).train()
    model.optimizers = model.configure_optimizers()
    model.schedulers = model.configure_schedulers(warmup + steps)
    batch = model.data_spec().random_batch(batch_size, device=dev)
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16)
    for step in range(1, warmup + 1):
        with autocast:
            model.train_step(batch, step)
    _sync(dev)
    t0 = time.perf_counter()
    for step in range(warmup + 1, warmup + steps + 1):
        with autocast:
            losses = model.train_step(batch, step)
    {k: float(v) for k, v in losses.items()}  # the last losses, read back: forces completion
    _sync(dev)
    dt = time.perf_counter() - t0
    return {
        "what": "train_step", "method": method, "config": model.config.model_dump(), "device": device_name(dev), "bf16": bf16,
        "batch_size": batch_size, "steps": steps, "seconds": round(dt, 4),
        "steps_per_s": round(steps / dt, 3), "images_per_s": round(steps * batch_size / dt, 1), **environment(),
    }


def bench_inference(
    name: str,
    *,
    n: int = 64,
    device: str = "auto",
    knobs: Mapping[str, Any] | None = None,
    repeats: int = 1,
    bf16: bool = False,
) -> dict[str, Any]:
    """Return images/s of a registered model's `sample` (or `predict`, for classifiers) over `repeats` timed runs."""
    dev = resolve_device(device)
    model = load(name, device=dev)
    spec = model.data_spec()
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16)
    if "sample" in model.capabilities:
        run = lambda: model.sample(n, seed=0, **(knobs or {}))  # noqa: E731
        what = "sample"
    else:
        images = torch.rand(n, spec.channels, spec.image_size, spec.image_size, device=dev)
        run = lambda: model.predict(images)  # noqa: E731
        what = "predict"
    with torch.inference_mode(), autocast:
        run()  # warm-up
        _sync(dev)
        t0 = time.perf_counter()
        for _ in range(repeats):
            run()
        _sync(dev)
    dt = (time.perf_counter() - t0) / repeats
    return {
        "what": what, "model": name, "knobs": dict(knobs or {}), "device": device_name(dev), "bf16": bf16, "n": n,
        "seconds": round(dt, 4), "images_per_s": round(n / dt, 2), **environment(),
    }
