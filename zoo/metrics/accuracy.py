"""The `accuracy` evaluator: a classifier's accuracy on a labelled split, overall and for its worst class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import torch

from ..data import load as load_data
from ..errors import ConfigError, DataError
from ..interfaces import Method, Seed, evaluator_options, require_capability

__all__ = ["AccuracyOptions", "AccuracyEvaluator", "accuracy_metrics", "predict_labels"]


class AccuracyOptions(pydantic.BaseModel):
    """Options of the `accuracy` evaluator."""

    model_config = pydantic.ConfigDict(extra="forbid")
    data: str = pydantic.Field("mnistm", description="labelled dataset (name or path)")
    split: str = "test"
    n: int | None = pydantic.Field(None, ge=1, description="evaluate n images drawn with seed (default: all)")
    seed: Seed = pydantic.Field(0, description="which n images (ImageSet.random_subset, as every evaluator draws them)")
    batch: int = pydantic.Field(1000, ge=1)
    data_root: Path | None = None
    device: str | None = None


def accuracy_metrics(predicted: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Return the accuracy, the count, and the lowest per-class accuracy of `predicted` against `labels` (both (N,) integer labels)."""
    for what, t in (("predicted", predicted), ("labels", labels)):
        if not isinstance(t, torch.Tensor) or t.ndim != 1 or t.is_floating_point() or t.is_complex():
            got = f"{t.dtype} shaped {tuple(t.shape)}" if isinstance(t, torch.Tensor) else type(t).__name__
            raise ConfigError(f"accuracy: {what} must be integer class labels shaped (N,); got {got}. Take logits.argmax(1) of a classifier's scores.")
    if len(predicted) != len(labels) or len(labels) == 0:
        raise ConfigError(f"accuracy: {len(predicted)} predictions for {len(labels)} labels; expected one for each of at least one image.")
    predicted, labels = predicted.cpu().long(), labels.cpu().long()
    correct = (predicted == labels).double()
    per_class = [float(correct[labels == k].mean()) for k in torch.unique(labels).tolist()]
    return {"accuracy": float(correct.mean()), "accuracy_n": int(len(labels)), "accuracy_worst_class": min(per_class)}


def predict_labels(model: Method, images: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """Return `model.predict` of `images` (uint8 or [0, 1] floats, as a dataset holds them) in batches of `batch`, on the CPU."""
    return torch.cat([model.predict(images[i : i + batch]).cpu() for i in range(0, len(images), batch)])


class AccuracyEvaluator:
    """Accuracy of a model with `predict` on a labelled split (all of it unless `n` is given)."""

    name = "accuracy"
    Options = AccuracyOptions

    def evaluate(self, model: Method, **options: Any) -> dict[str, float]:
        """Return accuracy, accuracy_n (images evaluated), accuracy_worst_class, and the subset's seed where `n` is given."""
        o: AccuracyOptions = evaluator_options(self.Options, options, self.name)
        require_capability(model, "predict", self.name, "Use the 'gan' evaluator for generators.")
        data = load_data(o.data, o.split, root=o.data_root)
        if data.labels is None:
            raise DataError(f"dataset {o.data!r} split {o.split!r} has no labels, so accuracy cannot be measured. Pick a labelled set.")
        data = data.random_subset(o.n, o.seed)
        return {**accuracy_metrics(predict_labels(model, data.images, o.batch), data.labels), **({"seed": o.seed} if o.n is not None else {})}  # the seed drew the subset
