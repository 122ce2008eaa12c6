"""`zoo eval` for DDPM models: a digit classifier judges samples of every sampler and guidance weight.

For each (sampler, steps, w) of the sweep it generates `n_per_class` images of every digit with one
seed, and measures the classifier's accuracy per class and on average, the Frechet distance between
the classifier's features of the samples and of a real test split, the network calls per image and
the images per second. The whole table is written where `out_md` (markdown) and `out_json` name (by
default nowhere); ``zoo eval --write`` records the headline metrics in the registry.

Example::

    zoo eval ddpm.mnistm --set n_per_class=10            # a quick CPU check
    zoo eval ddpm.mnistm --device cuda --set bf16=true --set out_md=sweep.md --write
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pydantic
import torch

from zoo import data as zdata
from zoo.bench import environment
from zoo.errors import INVOCATION, ConfigError, set_option
from zoo.files import atomic_write, check_writable
from zoo.interfaces import Method, Seed, device_name, evaluator_options, require_capability
from zoo.loading import load_any
from zoo.metrics.classifier_metrics import FeatureClassifier, check_feature_classifier, features_and_logits
from zoo.metrics.features import cached_stats
from zoo.metrics.frechet import GaussianStats, frechet_distance, gaussian_stats
from zoo.metrics.gan import judge_key
from zoo.progress import status
from zoo.weights import tensor_digest

from .method import DDPM, DEFAULT_GUIDANCE, DEFAULT_STEPS, sampling_progress
from .samplers import all_samplers, get_sampler

__all__ = ["SamplerSweep", "parse_samplers", "default_samplers", "network_calls", "DEFAULT_GUIDANCES"]

DEFAULT_GUIDANCES = (0.0, 0.5, 2.0)


def parse_samplers(spec: str | Sequence[str], n_T: int | None) -> list[tuple[str, int]]:
    """Return [(sampler, steps)] from NAME-STEPS items like 'ddpm-400' or 'ddim-25' (a comma-separated string or a list).

    NAME is any sampler there is (zoo's or a plugin's); one that runs all n_T steps (ddpm) takes STEPS = n_T only
    (`n_T` None: the form and names alone are checked).
    """
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if str(s).strip()]
    known = all_samplers()
    out = []
    for item in items:
        kind, _, steps = str(item).rpartition("-")
        if kind not in known or not steps.isdigit():
            forms = [f"{k}-{n_T or 'N_T'}" if known[k].all_steps else f"{k}-STEPS" for k in sorted(known)]
            raise ConfigError(f"sampler {item!r}: expected NAME-STEPS, one of {', '.join(forms)} (e.g. ddim-25).")
        if n_T is not None and ((known[kind].all_steps and int(steps) != n_T) or not 1 <= int(steps) <= n_T):
            raise ConfigError(f"sampler {item!r}: this model has n_T = {n_T}, so {kind} runs "
                              + (f"exactly {n_T} steps." if known[kind].all_steps else f"1..{n_T} steps."))
        out.append((kind, int(steps)))
    if not out:
        raise ConfigError("samplers is empty: give e.g. samplers=ddpm-400,ddim-25.")
    return out


def default_samplers(n_T: int) -> list[str]:
    """Return the sweep of a model with `n_T` steps: its full ancestral chain and DDIM with 10, 25 and 50 steps (those within n_T)."""
    return [f"ddpm-{n_T}"] + [f"ddim-{k}" for k in (10, 25, 50) if k <= n_T]


def network_calls(steps: int, guidance: float, per_step: int = 1) -> int:
    """Return the U-Net evaluations per image: `per_step` per step (the sampler's), twice with guidance (batched in one forward)."""
    return steps * per_step * (2 if guidance > 0 else 1)


def _load_classifier(name: str, device: torch.device) -> FeatureClassifier:
    """Return the judging classifier: a registry name or a .safetensors file, with predict() and features()."""
    model = load_any(name, device)
    if "predict" not in model.capabilities:
        raise ConfigError(f"classifier {name!r} cannot predict (capabilities: {sorted(model.capabilities)}); give a digit classifier such as classifier.mnistm.")
    return check_feature_classifier(model, name)


def _check_judge_classes(classifier: FeatureClassifier, name: str, n_classes: int, model: str, device: torch.device) -> None:
    """Refuse a judge whose classes are not the model's: its accuracy would score labels that mean something else."""
    with torch.no_grad():
        judged = classifier.logits(torch.zeros(1, 3, 28, 28, device=device)).shape[-1]
    if judged != n_classes:
        raise ConfigError(f"classifier {name!r} tells {judged} classes, and model {model!r} generates {n_classes}: it cannot judge them. "
                          f"Train one on the model's data (zoo train classifier --data DATA --set n_classes={n_classes} --out runs/judge) "
                          f"and pass {set_option('classifier', 'runs/judge')}.")


def _real_stats(classifier: FeatureClassifier, dataset: str, split: str, n_real: int, root: Path | None, device: torch.device) -> GaussianStats:
    """Return the Gaussian of the classifier's features of up to `n_real` real images (a fixed random subset).

    Cached as the `gan` evaluator caches its own (by the images and the judge, `judge_key`): 11 s of a sweep on a CPU.
    """
    real = zdata.load(dataset, split, root=root)
    g = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(real), generator=g)[:n_real] if n_real < len(real) else torch.arange(len(real))
    images = zdata.adapt_images(real.images[idx], 28, 3)
    what = f"{dataset} {split} features"

    def compute() -> GaussianStats:
        return gaussian_stats(classifier.features(images.to(device)), what=what)

    judge = judge_key(classifier)
    if judge is None:
        return compute()
    return cached_stats("classifier", {"real": tensor_digest(images), "evaluator": "ddpm_samplers", **judge}, compute, what=what)[0]


def _markdown(rows: list[dict[str, Any]], header: dict[str, Any]) -> str:
    command = header["command"] or f"zoo eval {header['model']} --set out_md={header['out_md']}"  # from Python: its equivalent
    lines = [
        f"# DDPM sampler sweep: {header['model']}",
        "",
        f"Written by `{command}` on {header['date']} (evaluator `ddpm_samplers`, bf16 {str(header['bf16']).lower()}) on {header['device']}: "
        f"{header['n_per_class']} images per digit, seed {header['seed']}, judged by `{header['classifier']}`; "
        f"Frechet distance (FD) in its feature space against {header['real']}.",
        "Calls: U-Net evaluations per image (guidance evaluates the conditional and unconditional halves in one forward that shares the encoder). Accuracy in %.",
        "",
        "| sampler | w | calls | mean acc | " + " | ".join(str(d) for d in range(10)) + " | FD | images/s |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in range(10)) + " | --- | --- |",
    ]
    for r in rows:
        per = " | ".join(f"{100 * a:.0f}" for a in r["per_class_accuracy"])
        lines.append(f"| {r['sampler']}-{r['steps']} | {r['guidance']:g} | {r['calls']} | {100 * r['accuracy']:.1f} | {per} | {r['frechet']:.2f} | {r['images_per_s']:.1f} |")
    return "\n".join(lines) + "\n"


class SamplerSweepOptions(pydantic.BaseModel):
    """Options of the `ddpm_samplers` evaluator (registry `evaluation` table, `zoo eval --set`)."""

    model_config = pydantic.ConfigDict(extra="forbid")
    classifier: str = pydantic.Field("classifier.mnistm", description="registered classifier, or a .safetensors file")
    data: str = pydantic.Field("mnistm", description="the real dataset (name or path)")
    split: str = "test"
    n_per_class: int = pydantic.Field(100, ge=2, description="images per digit and sampler (>= 2: the Frechet distance needs a covariance)")
    n_real: int = pydantic.Field(10000, ge=2, description="real images for the reference statistics")
    samplers: str | list[str] = pydantic.Field("", description="e.g. 'ddpm-400,ddim-25' ('': ddpm-n_T, ddim-10, ddim-25, ddim-50, those within the model's n_T)")
    guidance: float | list[float] = pydantic.Field(list(DEFAULT_GUIDANCES), description="guidance weight(s) w")
    seed: Seed = 0
    batch_size: int = pydantic.Field(1000, ge=1)
    bf16: bool = False
    progress: bool = pydantic.Field(True, description="a progress bar for each sampler run, on stderr")
    out_md: str = pydantic.Field("", description="write the markdown table here ('': no file)")
    out_json: str = pydantic.Field("", description="write the JSON table here ('': no file)")
    data_root: Path | None = None
    device: str | None = None


    @pydantic.field_validator("samplers")
    @classmethod
    def _known_samplers(cls, v: str | list[str]) -> str | list[str]:
        # names and form checked with the options (a registry plan `zoo eval` would refuse fails the contract too); the
        # steps against the model's n_T when it is known
        if v:
            try:
                parse_samplers(v, None)
            except ConfigError as e:  # pydantic adds the value given, after a period of its own
                raise ValueError(str(e).rstrip(".")) from None
        return v

    @pydantic.field_validator("guidance")
    @classmethod
    def _some_guidance(cls, v: float | list[float]) -> float | list[float]:
        ws = v if isinstance(v, list) else [v]
        if not ws:
            raise ValueError(f"an empty list sweeps no guidance weight; give one or more, e.g. [{DEFAULT_GUIDANCE:g}] or the default {list(DEFAULT_GUIDANCES)}")
        if not all(math.isfinite(w) for w in ws):
            raise ValueError("guidance weights are finite numbers (w = 0: unguided)")
        return v


class SamplerSweep:
    """Evaluator `ddpm_samplers`: classifier accuracy and Frechet distance over samplers x guidance weights."""

    name = "ddpm_samplers"
    Options = SamplerSweepOptions
    output_options = frozenset({"out_md", "out_json", "progress"})  # where the tables go: `zoo eval --write` takes them

    def evaluate(self, model: Method, **options: Any) -> dict[str, float]:
        """Run the sweep on `model`; write the table to `out_md` and `out_json` (skip with ''); return the headline metrics."""
        o: SamplerSweepOptions = evaluator_options(self.Options, options, self.name)
        require_capability(model, "sample", self.name, "It judges a class-conditional DDPM's samples.")
        if not isinstance(model, DDPM):  # a plugin's variant of it (another schedule, v-prediction) samples alike
            raise ConfigError(f"the {self.name} evaluator sweeps DDPM samplers, but model {model.zoo_name!r} is method {model.name!r}, "
                              "no DDPM (zoo_plugins.ddpm.DDPM or a subclass). Use the 'gan' evaluator for other generators.")
        for out in (o.out_md, o.out_json):  # the sweep takes an hour on a CPU: refuse an unwritable table before it
            if out:
                check_writable(out)
        dev = model.device
        weights = o.guidance if isinstance(o.guidance, list) else [o.guidance]
        plan = [(s, k, w) for s, k in parse_samplers(o.samplers or default_samplers(model.config.n_T), model.config.n_T) for w in weights]
        clf = _load_classifier(o.classifier, dev)
        k = model.config.n_classes
        _check_judge_classes(clf, o.classifier, k, model.zoo_name, dev)
        real = _real_stats(clf, o.data, o.split, o.n_real, o.data_root, dev)
        labels = torch.arange(k).repeat_interleave(o.n_per_class)
        autocast = torch.autocast(dev.type, dtype=torch.bfloat16) if o.bf16 else nullcontext()
        rows = []
        for i, (sampler, steps, w) in enumerate(plan, 1):  # the default sweep takes an hour on a CPU: a bar for each run
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
            with autocast, sampling_progress(model, len(labels), f"{self.name} {i}/{len(plan)}: {sampler}-{steps} w={w:g}", steps=steps,
                                             sampler=sampler, guidance=w, batch_size=o.batch_size, enabled=o.progress) as callback:
                images = model.sample(len(labels), labels=labels, seed=o.seed, sampler=sampler, steps=steps, guidance=w, batch_size=o.batch_size,
                                      callback=callback)
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            seconds = time.perf_counter() - t0
            feats, logits = features_and_logits(clf, images)
            pred = logits.argmax(1).cpu()
            hits = (pred == labels).float()
            rows.append({
                "sampler": sampler, "steps": steps, "guidance": w, "calls": network_calls(steps, w, get_sampler(sampler).calls_per_step),
                "accuracy": float(hits.mean()), "per_class_accuracy": [float(hits[labels == d].mean()) for d in range(k)],
                "frechet": frechet_distance(gaussian_stats(feats, what=f"{sampler}-{steps} samples"), real),
                "seconds": seconds, "images_per_s": len(labels) / seconds,
            })
        header = {
            "model": model.zoo_name, "classifier": o.classifier, "out_md": o.out_md,
            "real": f"{real.n} images of {o.data} {o.split}",
            "n_per_class": o.n_per_class, "seed": o.seed, "bf16": o.bf16,
            "device": device_name(dev),
            # the `zoo eval` command as typed (its --set options change the table; None from Python), the date, versions, load
            **environment(), "command": INVOCATION.get(),
        }
        if o.out_md:
            with atomic_write(o.out_md, "w") as f:
                f.write(_markdown(rows, header))
        if o.out_json:
            with atomic_write(o.out_json, "w") as f:
                json.dump({**header, "rows": rows}, f, indent=2)
        if o.out_md or o.out_json:
            status(f"{self.name}: wrote {' and '.join(p for p in (o.out_md, o.out_json) if p)}")
        return _headline(rows, o.n_per_class, o.seed)


def _headline(rows: list[dict[str, Any]], n_per_class: int, seed: int) -> dict[str, float]:
    """Return the registry's metrics: each sampler at the default w (else at the first w swept), the w, sample count and seed."""
    w = DEFAULT_GUIDANCE if any(r["guidance"] == DEFAULT_GUIDANCE for r in rows) else rows[0]["guidance"]
    out: dict[str, float] = {}
    for r in rows:
        if r["guidance"] != w:
            continue
        tag = f"{r['sampler']}{r['steps']}"
        out[f"accuracy_{tag}"] = r["accuracy"]
        out[f"frechet_{tag}"] = r["frechet"]
        out[f"images_per_s_{tag}"] = r["images_per_s"]
    out.update({"guidance": float(w), "default_ddim_steps": DEFAULT_STEPS, "n_per_class": n_per_class, "seed": seed})
    return out
