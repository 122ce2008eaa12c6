"""The `accuracy` evaluator: a classifier on a labelled split."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from zoo.data.folder import is_test_file
from zoo.errors import CapabilityError, ConfigError
from zoo.metrics.accuracy import AccuracyEvaluator, accuracy_metrics
from zoo.loading import build_method


def test_accuracy_count_and_worst_class() -> None:
    m = accuracy_metrics(torch.tensor([0, 1, 1, 2, 2, 2]), torch.tensor([0, 1, 0, 2, 2, 1]))
    assert m == {"accuracy": pytest.approx(4 / 6), "accuracy_n": 6, "accuracy_worst_class": 0.5}


def test_predictions_that_are_not_one_label_per_image_are_refused() -> None:
    labels = torch.arange(10) % 3
    # an (N, 1) column would compare as an N x N table, and logits or probabilities as truncated floats: all quietly wrong
    for bad, message in ((labels[:, None], r"predicted must be integer class labels shaped \(N,\); got torch.int64 shaped \(10, 1\)"),
                         (torch.rand(10, 3), r"got torch.float32 shaped \(10, 3\).*argmax"), (labels.float(), "torch.float32"),
                         (labels[:4], "4 predictions for 10 labels")):
        with pytest.raises(ConfigError, match=message):
            accuracy_metrics(bad, labels)
    with pytest.raises(ConfigError, match="0 predictions for 0 labels"):
        accuracy_metrics(labels[:0], labels[:0])


def labelled_folder(folder: Path, per_class: int = 3) -> Path:
    """Write an ImageFolder layout: one subfolder per digit class, small random PNGs."""
    g = torch.Generator().manual_seed(0)
    for k in range(3):
        (folder / str(k)).mkdir(parents=True)
        for i in range(per_class * 10):
            Image.fromarray(torch.randint(0, 256, (20, 20, 3), generator=g, dtype=torch.uint8).numpy()).save(folder / str(k) / f"{i}.png")
    return folder


def test_evaluator_runs_predict_over_the_split(tmp_path: Path) -> None:
    folder = labelled_folder(tmp_path / "digits")
    clf = build_method("classifier", {"width": 4}).eval()
    m = AccuracyEvaluator().evaluate(clf, data=str(folder), split="test", data_root=None, device=None)
    assert m["accuracy_n"] == sum(is_test_file(f"{k}/{i}.png") for k in range(3) for i in range(30)) == 10 and 0.0 <= m["accuracy"] <= 1.0
    assert AccuracyEvaluator().evaluate(clf, data=str(folder), split="train", n=5, batch=2, seed=4)["seed"] == 4, "the seed that drew the 5"
    assert "seed" not in AccuracyEvaluator().evaluate(clf, data=str(folder), split="test"), "all of the split: no draw, no seed"


def test_n_images_are_the_same_draw_in_every_evaluator(tmp_path: Path) -> None:
    from zoo import data
    from zoo.metrics.adaptation import AdaptationEvaluator

    folder = labelled_folder(tmp_path / "digits")
    split = data.load(folder, "train")  # sorted by class: the first 5 images would all be class 0
    picked = split.random_subset(5, seed=0)
    index = torch.randperm(len(split), generator=torch.Generator().manual_seed(0))[:5].sort().values  # the draw, written out
    assert torch.equal(picked.images, split.images[index]) and len(set(picked.labels.tolist())) > 1
    seen = []
    clf = build_method("classifier", {"width": 4}).eval()
    clf.predict = lambda images: (seen.append(images.clone()), torch.zeros(len(images), dtype=torch.long))[1]
    AccuracyEvaluator().evaluate(clf, data=str(folder), split="train", n=5)
    assert torch.equal(seen[0], picked.images), "the accuracy evaluator judges those same images, as the dataset holds them"
    AdaptationEvaluator().evaluate(clf, target=str(folder), source="none", split="train", n=5)
    assert torch.equal(seen[1], picked.images), "and so does the adaptation evaluator"


def test_a_generator_cannot_be_evaluated_for_accuracy(tmp_path: Path) -> None:
    gan = build_method("wgan_gp", {"nz": 8, "ngf": 4, "ndf": 4}).eval()
    with pytest.raises(CapabilityError, match="cannot be evaluated by 'accuracy': it cannot predict"):
        AccuracyEvaluator().evaluate(gan, data=str(tmp_path))
