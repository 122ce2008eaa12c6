"""`zoo eval` on DANN models: the dann_accuracy evaluator reads target and source from the entry and scores their test splits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import zoo
from zoo.data import ImageSet
from zoo.errors import ConfigError
from zoo.metrics import evaluate_model
from zoo.registry import build_method, param_count, save_model, update_entry
from zoo_plugins.dann.evaluate import DANNAccuracy, accuracy, domain_accuracy, subset


def toy_set(name: str, n: int, seed: int) -> ImageSet:
    """Return a labelled random uint8 set of gray 16x16 images."""
    g = torch.Generator().manual_seed(seed)
    return ImageSet(torch.randint(0, 256, (n, 1, 16, 16), dtype=torch.uint8, generator=g), torch.arange(n) % 10, name, 10)


@pytest.fixture
def registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Register a fresh DANN model trained on 'toy-src' -> 'toy-tgt' in a temporary registry; return its name."""
    registry = tmp_path / "registry.toml"
    monkeypatch.setenv("ZOO_REGISTRY", str(registry))
    torch.manual_seed(0)
    model = build_method("dann", {})
    sha = save_model(model, tmp_path / "weights" / "toy.safetensors")
    update_entry("dann.toy", {"method": "dann", "config": {}, "weights": "weights/toy.safetensors", "sha256": sha, "data": "source=toy-src+target=toy-tgt", "params": param_count(model)}, registry)
    sets = {"toy-src": toy_set("toy-src", 40, 0), "toy-tgt": toy_set("toy-tgt", 30, 1)}
    monkeypatch.setattr("zoo_plugins.dann.scenarios.data.load", lambda name, split, root=None: sets[name])
    return "dann.toy"


def test_eval_scores_the_entrys_target_and_source_test_splits(registered: str) -> None:
    results = evaluate_model(registered)["dann_accuracy"]
    model = zoo.load(registered)
    assert results["target_accuracy"] == pytest.approx(accuracy(model, toy_set("toy-tgt", 30, 1)))
    assert results["source_accuracy"] == pytest.approx(accuracy(model, toy_set("toy-src", 40, 0)))
    assert results["target_n"] == 30 and results["source_n"] == 40 and results["seed"] == 0
    assert 0 <= results["target_accuracy_worst_class"] <= results["target_accuracy"]
    guesses = torch.cat([model.domain_predict(toy_set("toy-src", 40, 0).random_subset(30, 0).images), model.domain_predict(toy_set("toy-tgt", 30, 1).images)])
    assert results["domain_accuracy"] == pytest.approx(float((guesses == (torch.arange(60) >= 30)).float().mean()))
    assert evaluate_model(registered) == {"dann_accuracy": results}, "evaluation is deterministic"


def test_domain_accuracy_draws_from_the_larger_set_not_its_first_images() -> None:
    class Bright:
        """A domain head that calls an image 'target' (1) when its first pixel is bright."""

        def domain_predict(self, images: torch.Tensor) -> torch.Tensor:
            return (images[:, 0, 0, 0] > 127).long()

    pixels = torch.full((100, 1, 4, 4), 255, dtype=torch.uint8)
    pixels[:10] = 0  # the source's first ten look like source; the other 90 like target
    source, target = ImageSet(pixels, None, "src", 10), ImageSet(torch.full((10, 1, 4, 4), 255, dtype=torch.uint8), None, "tgt", 10)
    drawn = source.random_subset(10, 5)
    expected = (int((drawn.images[:, 0, 0, 0] == 0).sum()) + 10) / 20
    assert domain_accuracy(Bright(), source, target, seed=5) == pytest.approx(expected)
    assert expected < 1.0, "the first ten alone would score 1.0"


def test_eval_options_subset_and_skip_source(registered: str) -> None:
    results = evaluate_model(registered, overrides={"n": 12, "seed": 3, "source": "none"})["dann_accuracy"]
    assert results["target_n"] == 12 and results["seed"] == 3 and "source_accuracy" not in results and "domain_accuracy" not in results
    picked = subset(toy_set("toy-tgt", 30, 1), 12, seed=3)
    assert results["target_accuracy"] == pytest.approx(accuracy(zoo.load(registered), picked))
    with pytest.raises(ConfigError, match="dann_accuracy evaluator.*surely_not"):
        evaluate_model(registered, overrides={"surely_not": 1})


def test_eval_without_a_target_says_how_to_name_one() -> None:
    model = build_method("dann", {}).eval()
    with pytest.raises(ConfigError, match=r"pass one with target='NAME'"):  # from Python; `zoo eval` says --set target=NAME
        DANNAccuracy().evaluate(model, data_root=None, device=None)
