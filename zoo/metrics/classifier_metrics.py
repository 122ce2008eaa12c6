"""Judging generated digits with a digit classifier: Frechet distance in its feature space, its "Inception Score", class coverage.

Any model with ``features(images) -> (N, D)`` and ``logits(images) -> (N, K)`` taking images in
[0, 1] can judge (the `classifier` plugin's models do).
"""

from __future__ import annotations

import math
from typing import Any, Protocol, runtime_checkable

import torch

from ..errors import ConfigError
from ..interfaces import inference

__all__ = ["FeatureClassifier", "check_feature_classifier", "classifier_score", "class_shares", "coverage_metrics"]


@runtime_checkable
class FeatureClassifier(Protocol):
    """A classifier that also gives its penultimate features.

    One that can give both from one pass adds ``features_and_logits(images)``; :func:`features_and_logits` uses it.
    """

    def features(self, images: torch.Tensor) -> torch.Tensor: ...

    def logits(self, images: torch.Tensor) -> torch.Tensor: ...


def features_and_logits(clf: FeatureClassifier, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return `clf`'s features and logits of `images`: from one pass where it offers ``features_and_logits``, else from two.

    A judge judges in inference mode: without gradients, and a module in training mode (a model you hold, with its
    dropout) is put in eval mode for the call and back after, so that it scores the same images the same each time.
    """
    with inference(clf) if isinstance(clf, torch.nn.Module) else torch.no_grad():
        both = getattr(clf, "features_and_logits", None)
        return both(images) if callable(both) else (clf.features(images), clf.logits(images))


def check_feature_classifier(model: Any, name: str) -> FeatureClassifier:
    """Return `model` if it has `features` and `logits`, else raise a ConfigError naming it."""
    if not isinstance(model, FeatureClassifier):
        raise ConfigError(
            f"model {name!r} cannot judge generated images: it needs features(images) and logits(images) "
            f"(a `classifier` model such as classifier.mnistm has both). Pass classifier=<such a model>."
        )
    return model


def classifier_score(logits: torch.Tensor) -> float:
    """Return exp(E_x KL(p(y|x) || p(y))): the Inception Score computed with the classifier's softmax (1 to K)."""
    if logits.ndim != 2 or logits.shape[0] == 0:
        raise ConfigError(f"classifier score: expected logits shaped (N, K) with N >= 1, got {tuple(logits.shape)}.")
    log_p = torch.log_softmax(logits.double(), dim=1)
    p = log_p.exp()
    log_marginal = torch.log(p.mean(0).clamp_min(1e-300))
    kl = (p * (log_p - log_marginal)).sum(1).mean()
    return float(math.exp(float(kl)))


def class_shares(predicted: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Return the share (float64, sums to 1) of each class among the `predicted` labels."""
    if predicted.numel() == 0:
        raise ConfigError("class coverage of 0 images: generate at least one image.")
    if int(predicted.min()) < 0 or int(predicted.max()) >= num_classes:  # dropped, the shares would not sum to 1
        raise ConfigError(f"class coverage: labels must lie in 0..{num_classes - 1}; got {int(predicted.min())}..{int(predicted.max())}.")
    return torch.bincount(predicted.cpu().long(), minlength=num_classes)[:num_classes].double() / predicted.numel()


def coverage_metrics(logits: torch.Tensor) -> dict[str, float]:
    """Return the share of each predicted class (coverage_0..K-1) and the smallest and largest share."""
    if not bool(torch.isfinite(logits).all()):
        raise ConfigError("class coverage: the classifier's logits hold NaN or infinite values; check its weights and the images.")
    shares = class_shares(logits.argmax(1), logits.shape[1])
    out = {f"coverage_{k}": float(s) for k, s in enumerate(shares)}
    out["coverage_min"], out["coverage_max"] = float(shares.min()), float(shares.max())
    return out
