"""The benchmark runner: training-step and sampling/prediction throughput of methods and models.

Example::

    >>> from zoo.bench import bench_train_step, bench_inference
    >>> bench_train_step("wgan_gp", device="cpu", batch_size=64, steps=5)
    {'what': 'train_step', 'method': 'wgan_gp', 'steps_per_s': ..., 'images_per_s': ..., ...}
    >>> bench_inference("ddpm.mnistm", n=100, knobs={"steps": 25})
    {'what': 'sample', 'model': 'ddpm.mnistm', 'images_per_s': ..., ...}
"""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Mapping
from typing import Any

import torch

from .interfaces import device_name
from .loading import build_method, load
from .training import global_rng_kept, resolve_device

__all__ = ["bench_train_step", "bench_inference", "device_name", "environment", "load_average"]


def load_average() -> list[float] | None:
    """Return the machine's 1, 5 and 15-minute load averages, or None where there are none (Windows)."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def command_line() -> str:
    """Return the command this process runs, as a shell would retype it: the `zoo ...` command, else `python SCRIPT ARGS`."""
    from .errors import INVOCATION

    return INVOCATION.get() or shlex.join(["python", *sys.argv])


def provenance() -> dict[str, Any]:
    """Return what a results file records about how it was made: the command, then :func:`environment`."""
    return {"command": command_line(), **environment()}


def environment() -> dict[str, Any]:
    """Return what a benchmark result depends on: versions, the CPU and torch's threads on it, the date and the machine's load."""
    from . import __version__

    return {"zoo": __version__, "torch": torch.__version__, "python": platform.python_version(), "cpu": cpu_name(),
            "threads": torch.get_num_threads(), "date": datetime.datetime.now().isoformat(timespec="seconds"), "load_average": load_average()}


def cpu_name() -> str:
    """Return the processor's model name ('AMD EPYC 7763 64-Core Processor'; platform.processor() is empty on Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() == "model name":
                    return value.strip()
    except OSError:  # no /proc: macOS, Windows
        pass
    return platform.processor() or platform.machine() or "unknown"


def plugin_source(kind: str, name: str) -> str:
    """Return the distribution and version of the plugin that registers the `kind` `name` ('zoo 0.2.0', 'my-gan 0.1'; '?' if none)."""
    from .plugins import get_plugin_manager

    return get_plugin_manager().source_of(kind, name)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rate(x: float) -> float:
    """Return a rate to 4 significant digits (0.4283 steps/s, 372.9 images/s)."""
    return float(f"{x:.4g}")


def _timings(seconds: list[float]) -> tuple[dict[str, Any], float]:
    """Return the median time of the timed runs and every run's time, to 4 significant digits, and the median unrounded
    (the figure rates are computed from: a fast subject's 8.2e-05 s is no 0.0001 s, let alone 0)."""
    median = statistics.median(seconds)
    return {"seconds": _rate(median), "seconds_each": [_rate(t) for t in seconds]}, median


@global_rng_kept()  # it seeds torch (repeatable random batches and init); the caller's generators stay as they were
def bench_train_step(
    method: str,
    config: Mapping[str, Any] | None = None,
    *,
    device: str = "auto",
    batch_size: int = 64,
    steps: int = 10,
    warmup: int = 2,
    bf16: bool = False,
    repeats: int = 1,
    channels_last: bool = False,
) -> dict[str, Any]:
    """Return the train-step throughput of `method` on random data: steps/s and images/s, from the median of `repeats` timed runs.

    `bf16` and `channels_last` are `zoo train`'s ``--bf16`` and ``--channels-last``: bfloat16 autocast, and the
    model and its batches in NHWC memory format.

    Steps are counted in whole cycles of the method (``Method.step_cycle``: WGAN-GP's five critic
    steps, the last of which also updates the generator), so `steps` and `warmup` are rounded up to
    multiples of it and every timed run does the same work. Images count every role's batch (DANN reads
    a source and a target batch per step).
    """
    dev = resolve_device(device)
    torch.manual_seed(0)
    model = build_method(method, config, training=True).to(dev).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    cycle = model.step_cycle
    steps, warmup = -(-steps // cycle) * cycle, -(-max(warmup, 1) // cycle) * cycle
    model.optimizers = model.configure_optimizers()
    model.schedulers = model.configure_schedulers(warmup + steps * repeats)
    spec = model.data_spec()
    batch = spec.random_batch(batch_size, device=dev)
    if channels_last:  # the model was made NHWC before its optimizers, as the trainer does
        for b in batch.values() if isinstance(batch, dict) else [batch]:
            b.x = b.x.contiguous(memory_format=torch.channels_last)
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16)
    step = 0

    def run(n: int) -> None:
        nonlocal step
        for _ in range(n):
            step += 1
            with autocast:
                losses = model.train_step(batch, step)
        {k: float(v) for k, v in losses.items()}  # the last losses, read back: forces completion
        _sync(dev)

    run(warmup)
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(steps)
        seconds.append(time.perf_counter() - t0)
    timing, median = _timings(seconds)
    per_step = batch_size * len(spec.roles)
    return {
        "what": "train_step", "method": method, "plugin": plugin_source("method", method), "config": model.config.model_dump(),
        "device": device_name(dev), "bf16": bf16, "channels_last": channels_last, "batch_size": batch_size, "images_per_step": per_step,
        "cycle": cycle, "warmup": warmup, "steps": steps, "repeats": repeats, "seed": 0, **timing,
        "steps_per_s": _rate(steps / median), "images_per_s": _rate(steps * per_step / median), **environment(),
    }


def _weights_sha256(name: str) -> str:
    """Return the sha256 of the weights file a model argument names (a registry entry's own, else the file's)."""
    from .registry import find_entry, weights_file
    from .weights import sha256_file

    found = find_entry(name) if isinstance(name, str) else None
    return found.sha256 if found is not None else sha256_file(weights_file(name))


def check_options(model: Any, knobs: Mapping[str, Any], name: str) -> None:
    """Raise a ConfigError unless `model`'s sample (or predict) takes every option in `knobs` by name."""
    from .errors import ConfigError

    try:
        model.check_sample_options(knobs)
    except ConfigError as e:
        if not getattr(e, "unknown", None):  # a wrong value: the model's own words say it all
            raise
        raise ConfigError(f"{e} Set them for the models that take them (--set {name}:KEY=VALUE).") from None


def sample_options(model: Any, knobs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the sampling options a call used: `sample`'s defaults (a DDPM sampler's knobs too) updated by `knobs`."""
    return model.sample_options(knobs)


def bench_inference(
    name: str,
    *,
    n: int = 64,
    device: str = "auto",
    knobs: Mapping[str, Any] | None = None,
    repeats: int = 1,
    bf16: bool = False,
) -> dict[str, Any]:
    """Return images/s of a registered model's `sample` (seed 0; or `predict`, for classifiers), from the median of `repeats` timed runs."""
    dev = resolve_device(device)
    model = load(name, device=dev)
    spec = model.data_spec()
    autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16)
    if "sample" in model.capabilities:
        run = lambda: model.sample(n, seed=0, **(knobs or {}))  # noqa: E731
        what = "sample"
    else:
        images = spec.random_images(n).to(dev)
        run = lambda: model.predict(images)  # noqa: E731
        what = "predict"
    seconds = []
    with torch.inference_mode(), autocast:
        run()  # warm-up
        _sync(dev)
        for _ in range(repeats):
            t0 = time.perf_counter()
            run()
            _sync(dev)
            seconds.append(time.perf_counter() - t0)
    timing, median = _timings(seconds)
    return {
        "what": what, "model": name, "method": model.name, "plugin": plugin_source("method", model.name),
        "weights_sha256": _weights_sha256(name), "knobs": dict(knobs or {}), **({"seed": 0, "sample_options": sample_options(model, knobs)} if what == "sample" else {}),
        "device": device_name(dev),
        "bf16": bf16, "n": n, "repeats": repeats, **timing, "images_per_s": _rate(n / median), **environment(),
    }
