"""Classifier metrics: its Inception Score, class coverage, and the features/logits protocol."""

from __future__ import annotations

import math

import pytest
import torch

from zoo.errors import ConfigError
from zoo.metrics.classifier_metrics import check_feature_classifier, class_shares, classifier_score, coverage_metrics
from zoo.loading import build_method

CONFIDENT = 50.0  # logit margin that makes softmax one-hot to float64 precision


def one_hot_logits(labels: list[int], k: int = 10) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(labels), k).double() * CONFIDENT


def test_score_is_the_number_of_classes_when_confident_and_balanced() -> None:
    assert classifier_score(one_hot_logits(list(range(10)) * 3)) == pytest.approx(10.0, rel=1e-9)
    assert classifier_score(one_hot_logits([0, 1] * 5)) == pytest.approx(2.0, rel=1e-9)


def test_score_is_one_for_a_single_class_or_for_unsure_predictions() -> None:
    assert classifier_score(one_hot_logits([3] * 7)) == pytest.approx(1.0, abs=1e-9)
    assert classifier_score(torch.zeros(7, 10)) == pytest.approx(1.0, abs=1e-9)


def test_score_of_a_known_mixture() -> None:
    # every image p = (0.5, 0.5, 0, ...) on classes (2i, 2i+1) for i in 0..4: KL to the uniform marginal = log 5
    p = torch.zeros(5, 10, dtype=torch.float64)
    for i in range(5):
        p[i, 2 * i] = p[i, 2 * i + 1] = 0.5
    logits = torch.log(p.clamp_min(1e-300))
    assert classifier_score(logits) == pytest.approx(5.0, rel=1e-9)
    assert math.isfinite(classifier_score(torch.randn(100, 10)))


def test_coverage_shares_sum_to_one_and_report_extremes() -> None:
    shares = class_shares(torch.tensor([0, 0, 1, 9]), 10)
    assert shares.tolist() == [0.5, 0.25] + [0.0] * 7 + [0.25]
    m = coverage_metrics(one_hot_logits([0, 0, 1, 9]))
    assert m["coverage_0"] == 0.5 and m["coverage_min"] == 0.0 and m["coverage_max"] == 0.5
    assert sum(m[f"coverage_{k}"] for k in range(10)) == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="0 images"):
        class_shares(torch.tensor([], dtype=torch.long), 10)
    with pytest.raises(ConfigError, match=r"labels must lie in 0\.\.9; got 0\.\.12"):
        class_shares(torch.tensor([0, 1, 12]), 10)  # dropped, the shares would sum to 2/3
    with pytest.raises(ConfigError, match="NaN or infinite"):
        coverage_metrics(torch.full((4, 10), float("nan")))  # argmax of NaN is 0: 'all digit 0', quietly


def test_only_models_with_features_and_logits_can_judge() -> None:
    clf = build_method("classifier", {"width": 4})
    assert check_feature_classifier(clf, "c") is clf
    with pytest.raises(ConfigError, match=r"model 'dcgan.x' cannot judge generated images: it needs features\(images\) and logits\(images\)"):
        check_feature_classifier(build_method("dcgan", {"nz": 8, "ngf": 4, "ndf": 4}), "dcgan.x")
