"""The generic Trainer: the loop around a method's `train_step`.

It owns data loading, device and autocast, seeding, the progress bar, the JSON-lines
metrics log and its loss plot, atomic checkpoints every N steps, resume, the weights EMA
(timm's ModelEmaV3) and the final export. The method owns what one step does.

Example::

    >>> from zoo.training import Trainer, TrainConfig
    >>> from zoo import data
    >>> t = Trainer("dcgan", {"soft_labels": True}, {"train": data.load("mnist", root="../shared/data")},
    ...             "runs/dcgan", TrainConfig(steps=2000, batch_size=128))
    >>> summary = t.fit()       # runs/dcgan/model.safetensors, metrics.jsonl, loss.png, summary.json
"""

from __future__ import annotations

from ..interfaces import resolve_device
from ..weights import SLIM_CHECKPOINT
from .average import average_run, mean_state
from .config import TrainConfig
from .entry import train
from .runs import CHECKPOINT, EXPORT, RUN_FILES, check_run_folder, export_slim, slim_checkpoint
from .stopping import StopAfterStep
from .trainer import Trainer, global_rng_kept

__all__ = ["average_run", "mean_state", "TrainConfig", "Trainer", "train", "resolve_device", "check_run_folder", "slim_checkpoint", "export_slim", "StopAfterStep",
           "global_rng_kept", "CHECKPOINT", "EXPORT", "SLIM_CHECKPOINT", "RUN_FILES"]
