"""`zoo average`: a run's export made the mean of its latest snapshots (``zoo train --ema-snapshot-every``).

An EMA with decay 0.999 averages over about a thousand steps. A GAN's generator keeps moving along a ridge of equally
good weights, and an average over a longer stretch, chosen after training, can sample better than the EMA itself
(a post-hoc EMA, as in Karras et al. 2024, in its simplest form: an equal-weight mean of snapshots). The mean replaces
the run's model.safetensors; summary.json says which snapshots made it, so `zoo register` records the recipe. The
plain EMA is the last snapshot: ``--last 1`` exports it again, and so does the run's next sitting.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError, WeightsError, option
from ..files import atomic_write, folder_lock, read_record
from ..loading import build_method, save_model
from ..weights import read_weights
from .runs import EXPORT, SNAPSHOTS, snapshots, steps_text


def mean_state(states: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Return the element-wise mean of `states` (same keys and shapes), summed in float64 and cast back; a tensor that is
    not floating (a BatchNorm's batch counter) is the last state's."""
    if not states:
        raise ValueError("mean_state needs at least one state")
    last = states[-1]
    return {k: (sum(s[k].double() for s in states) / len(states)).to(v.dtype) if v.is_floating_point() else v for k, v in last.items()}


def average_run(run: str | os.PathLike[str], last: int | None = None, *, command: str = "") -> dict[str, Any]:
    """Replace the run's exported weights with the mean of its last `last` snapshots (all of them if None); return the new summary."""
    run = Path(run)
    fix = "Give the --out folder of a `zoo train` run that ended, trained with --ema-snapshot-every N."
    for name in ("run.json", "summary.json"):
        if not (run / name).is_file():
            raise ConfigError(f"{run} is no finished training run: {name} is missing. {fix}")
    busy = f"run {run} is training now (a `zoo train` holds the folder); average its snapshots once that sitting has ended."
    with folder_lock(run, busy):
        info, summary = read_record(run / "run.json", fix), read_record(run / "summary.json", fix)
        kept = snapshots(run)
        if not kept:
            raise ConfigError(f"{run} keeps no snapshots ({run / SNAPSHOTS} holds no step-*.safetensors). {fix}")
        if last is not None and not 1 <= last <= len(kept):
            raise ConfigError(f"{option('last', last)}: {run} keeps {len(kept)} snapshot{'s' * (len(kept) > 1)} "
                              f"({steps_text(list(kept))}). Give a count from 1 to {len(kept)}.")
        if max(kept) != summary.get("steps"):
            raise WeightsError(f"{run}'s latest snapshot is of step {max(kept)}, and its export of step {summary.get('steps')}: they are "
                               "not one run's. Train the run on (a sitting ends with a snapshot of its export), then average.")
        steps = list(kept)[-(last or len(kept)):]
        method = build_method(info["method"], info["config"])
        states = []
        for s in steps:
            state, meta = read_weights(kept[s])
            if meta.method != method.name or type(method.config).model_validate(meta.config) != method.config:
                raise WeightsError(f"{kept[s]} holds weights of another model ({meta.method} with config {meta.config}) than the run's "
                                   f"({method.name} with config {method.config.model_dump()}). Remove it from {run / SNAPSHOTS}.")
            states.append(state)
        dtype = torch.float16 if (info.get("train") or {}).get("export_dtype") == "float16" else None
        sha = save_model(method, run / EXPORT, dtype=dtype, state=mean_state(states))
        summary = {**summary, "sha256": sha, "averaged": {"snapshots": steps, "command": command or "(not recorded)"}}
        with atomic_write(run / "summary.json", "w") as f:
            json.dump(summary, f, indent=2)
    return summary
