"""The loop's settings (`TrainConfig`), and which of them a resumed run must keep."""

from __future__ import annotations

from typing import Literal

import pydantic

from ..interfaces import Seed

#: Loop settings a resumed run must keep: they change which batches it sees or what a step computes.
RESUME_FIXED = ("batch_size", "seed", "bf16", "grad_clip")


#: The loop settings a checkpoint records beside its state. A resume is checked against them rather than run.json's, which a
#: sitting rewrites as it begins: one killed before its first checkpoint leaves settings there that no checkpoint was made with.
CHECKPOINT_SETTINGS = (*RESUME_FIXED, "ema_decay", "lr_decay_start", "lr_warmup", "steps")


class TrainConfig(pydantic.BaseModel):
    """Settings of the loop (the method's hyper-parameters live in its own Config)."""

    model_config = pydantic.ConfigDict(extra="forbid", allow_inf_nan=False)
    steps: int = pydantic.Field(1000, ge=1, description="optimisation steps (one batch each)")
    batch_size: int = pydantic.Field(64, ge=1)
    device: str = pydantic.Field("auto", description="auto, cpu, cuda, cuda:N or mps")
    bf16: bool = pydantic.Field(False, description="bfloat16 autocast for the forward passes")
    seed: Seed = 0
    checkpoint_every: int = pydantic.Field(500, ge=0, description="steps between checkpoints (0: only at the end)")
    log_every: int = pydantic.Field(10, ge=1)
    ema_decay: float = pydantic.Field(0.0, ge=0.0, lt=1.0, description="EMA of the exported weights (0: off)")
    ema_snapshot_every: int = pydantic.Field(
        0, ge=0, description="steps between snapshots of the exported weights (the EMA's, when one runs) kept in the run folder's "
        "snapshots/, and one at the end of each sitting (0: none); `zoo average` averages the latest of them into the export"
    )
    grad_clip: float | None = pydantic.Field(None, gt=0)
    max_minutes: float | None = pydantic.Field(None, gt=0, description="stop (and export) after this much wall time")
    lr_decay_start: int | None = pydantic.Field(
        None, ge=0, description="from this step on, every learning rate falls linearly towards zero at `steps` (for methods without schedulers of their own)"
    )
    lr_warmup: int = pydantic.Field(
        0, ge=0, description="the first N steps' learning rates rise linearly to the configured ones, step k at k/N of them (for methods "
        "without schedulers of their own); eases in a branch from a slim checkpoint, whose optimizer moments start afresh"
    )
    init_from: str | None = pydantic.Field(
        None, description="branch from another run (its folder or checkpoint file, full or slim): its weights, EMA and optimizer moments (a slim "
        "checkpoint has none); rates, steps and data order are this run's"
    )
    export_dtype: Literal["float32", "float16"] = "float32"
    channels_last: bool = pydantic.Field(False, description="NHWC memory format for model and batches (faster convolutions on CPUs)")
    progress: bool = True
