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
from zoo_plugins.dann.evaluate import DANNAccuracy, accuracy, subset


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
    guesses = torch.cat([model.domain_predict(toy_set("toy-src", 40, 0).images[:30]), model.domain_predict(toy_set("toy-tgt", 30, 1).images)])
    assert results["domain_accuracy"] == pytest.approx(float((guesses == (torch.arange(60) >= 30)).float().mean()))
    assert evaluate_model(registered) == {"dann_accuracy": results}, "evaluation is deterministic"


def test_eval_options_subset_and_skip_source(registered: str) -> None:
    results = evaluate_model(registered, overrides={"n": 12, "seed": 3, "source": "none"})["dann_accuracy"]
    assert results["target_n"] == 12 and results["seed"] == 3 and "source_accuracy" not in results and "domain_accuracy" not in results
    picked = subset(toy_set("toy-tgt", 30, 1), 12, seed=3)
    assert results["target_accuracy"] == pytest.approx(accuracy(zoo.load(registered), picked))
    with pytest.raises(ConfigError, match="dann_accuracy evaluator.*surely_not"):
        evaluate_model(registered, overrides={"surely_not": 1})


def test_eval_without_a_target_says_how_to_name_one() -> None:
    model = build_method("dann", {}).eval()
    with pytest.raises(ConfigError, match="--set target=NAME"):
        DANNAccuracy().evaluate(model, data_root=None, device=None)
