"""`zoo eval` on domain-adapted models (DANN's): the adaptation evaluator reads target and source from the entry and scores their test splits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import zoo
from zoo.data import ImageSet
from zoo.errors import ConfigError
from zoo.metrics import evaluate_model
from zoo.loading import build_method, param_count, save_model
from zoo.registration import update_entry
from zoo.metrics.adaptation import AdaptationEvaluator, accuracy, domain_accuracy


def toy_set(name: str, n: int, correct: int, domain: int) -> ImageSet:
    """Return a labelled gray 16x16 set whose first `correct` images carry their label in pixel (0, 0) and whose pixel (0, 1) marks the domain."""
    labels = torch.arange(n) % 10
    images = torch.zeros(n, 1, 16, 16, dtype=torch.uint8)
    images[:, 0, 0, 0] = torch.where(torch.arange(n) < correct, labels, (labels + 1) % 10).to(torch.uint8)
    images[:, 0, 0, 1] = 255 * domain
    return ImageSet(images, labels, name, 10)


#: The test splits differ from the train splits (which no evaluation should read) and from each other:
#: the source's test images are all predicted right, the target's 18 of 30.
SETS = {
    ("toy-src", "test"): toy_set("toy-src", 40, 40, 0), ("toy-tgt", "test"): toy_set("toy-tgt", 30, 18, 1),
    ("toy-src", "train"): toy_set("toy-src", 40, 0, 0), ("toy-tgt", "train"): toy_set("toy-tgt", 30, 0, 1),
    ("toy-flat", "test"): ImageSet(toy_set("toy-flat", 30, 18, 1).images, None, "toy-flat"),  # a folder of unlabelled target images
}


@pytest.fixture(autouse=True)
def toy_names_are_datasets(monkeypatch: pytest.MonkeyPatch) -> None:
    """SETS' names read as registered datasets (zoo.data.load is replaced where they are read): a plan checks its roles name one."""
    import zoo.data

    known = zoo.data.datasets
    monkeypatch.setattr(zoo.data, "datasets", lambda: {**known(), **{name: None for name, _ in SETS}})


@pytest.fixture
def registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Register a DANN model for 'toy-src' -> 'toy-tgt' in a temporary registry whose predictions read the pixels SETS set; return its name."""
    from zoo_plugins.dann.method import DANN

    registry = tmp_path / "registry.toml"
    monkeypatch.setenv("ZOO_REGISTRY", str(registry))
    torch.manual_seed(0)
    model = build_method("dann", {})
    sha = save_model(model, tmp_path / "weights" / "toy.safetensors")
    update_entry("dann.toy", {"method": "dann", "config": {}, "weights": "weights/toy.safetensors", "sha256": sha, "data": "source=toy-src+target=toy-tgt", "params": param_count(model)}, registry)
    monkeypatch.setattr("zoo.data.load", lambda name, split, root=None: SETS[(name, split)])
    # a random network predicts one class and one domain for every image, which no accuracy could tell apart
    monkeypatch.setattr(DANN, "predict", lambda self, images: images[:, 0, 0, 0].long())
    monkeypatch.setattr(DANN, "domain_predict", lambda self, images: (images[:, 0, 0, 1] > 127).long())
    return "dann.toy"


def test_eval_scores_the_entrys_target_and_source_test_splits(registered: str) -> None:
    results = evaluate_model(registered)["adaptation"]
    assert results["target_accuracy"] == pytest.approx(18 / 30) and results["source_accuracy"] == 1.0, "the test splits, each in its role"
    model = zoo.load(registered)
    assert results["target_accuracy"] == pytest.approx(accuracy(model, SETS[("toy-tgt", "test")]))
    assert results["target_n"] == 30 and results["source_n"] == 40 and results["seed"] == 0
    assert results["target_accuracy_worst_class"] == pytest.approx(1 / 3) and results["source_accuracy_worst_class"] == 1.0  # 8 and 9: 1 of 3
    assert results["domain_accuracy"] == 1.0, "the domain head tells source (0) from target (1)"
    assert evaluate_model(registered) == {"adaptation": results}, "evaluation is deterministic"
    swapped = evaluate_model(registered, overrides={"source": "toy-tgt", "target": "toy-src"})["adaptation"]
    assert swapped["domain_accuracy"] == 0.0 and swapped["target_accuracy"] == 1.0


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
    results = evaluate_model(registered, overrides={"n": 12, "seed": 3, "source": "none"})["adaptation"]
    assert results["target_n"] == 12 and results["seed"] == 3 and "source_accuracy" not in results and "domain_accuracy" not in results
    picked = SETS[("toy-tgt", "test")].random_subset(12, 3)
    assert results["target_accuracy"] == pytest.approx(float((picked.images[:, 0, 0, 0].long() == picked.labels).float().mean()))
    assert results["target_accuracy"] == pytest.approx(accuracy(zoo.load(registered), picked))
    with pytest.raises(ConfigError, match="adaptation evaluator.*surely_not"):
        evaluate_model(registered, overrides={"surely_not": 1})


def test_eval_without_a_target_says_how_to_name_one() -> None:
    model = build_method("dann", {}).eval()
    with pytest.raises(ConfigError, match=r"pass one with target='NAME'"):  # from Python; `zoo eval` says --set target=NAME
        AdaptationEvaluator().evaluate(model, data_root=None, device=None)


def test_a_run_folder_is_scored_on_the_sets_its_run_json_names(tmp_path: Path) -> None:
    from zoo.metrics import plan_evaluation
    from zoo.training import TrainConfig, Trainer

    cfg = TrainConfig(steps=1, batch_size=4, device="cpu", progress=False)
    roles = {"source": SETS[("toy-src", "train")], "target": SETS[("toy-tgt", "train")]}
    Trainer("dann", {"image_size": 16, "channels": 1}, roles, tmp_path / "run", cfg).fit()
    plan, _ = plan_evaluation(str(tmp_path / "run"))  # as `zoo eval RUN` plans it: no --set target= needed
    assert {k: plan["adaptation"][k] for k in ("source", "target")} == {"source": "toy-src", "target": "toy-tgt"}
    plan, _ = plan_evaluation(str(tmp_path / "run"), overrides={"target": "digits"})
    assert plan["adaptation"]["target"] == "digits" and plan["adaptation"]["source"] == "toy-src", "what is given wins"
    import json

    run_json = tmp_path / "run" / "run.json"
    roles = {"source": str(tmp_path / "sets+v=2" / "src"), "target": str(tmp_path / "sets+v=2" / "tgt")}  # '+ROLE=' inside a path: not split
    for folder in roles.values():
        Path(folder).mkdir(parents=True)
    run_json.write_text(json.dumps({**json.loads(run_json.read_text()), "data_sources": roles}))
    plan, _ = plan_evaluation(str(tmp_path / "run"))
    assert {k: plan["adaptation"][k] for k in roles} == roles
    Path(roles["target"]).rmdir()  # moved since: said before any model is judged, with the option that names another
    from zoo.errors import DataError

    with pytest.raises(DataError, match=r"run .*run \(its run.json\) trained on .*tgt, which does not exist here .*target='NAME_OR_PATH'"):
        plan_evaluation(str(tmp_path / "run"))
    assert plan_evaluation(str(tmp_path / "run"), overrides={"target": "digits"})[0]["adaptation"]["target"] == "digits"
    run_json.write_text(json.dumps({**json.loads(run_json.read_text()), "data_sources": {**roles, "target": "my phone photos"}}))
    with pytest.raises(ConfigError, match=r"records its target data as 'my phone photos', which names no dataset .* target='NAME_OR_PATH'"):
        plan_evaluation(str(tmp_path / "run"))


def test_an_unlabelled_target_is_judged_by_the_domain_head_alone(registered: str) -> None:
    with pytest.warns(UserWarning, match="the target set 'toy-flat' has no labels, so its accuracy is not measured"):
        results = evaluate_model(registered, overrides={"target": "toy-flat"})["adaptation"]
    assert "target_accuracy" not in results and results["source_accuracy"] == 1.0 and results["domain_accuracy"] == 1.0
    from zoo.errors import DataError

    with pytest.warns(UserWarning), pytest.raises(DataError, match="nothing to measure"):
        evaluate_model(registered, overrides={"target": "toy-flat", "source": "none"})


def test_a_registry_file_that_names_the_evaluators_earlier_name_still_evaluates(registered: str) -> None:
    import os

    update_entry(registered, {"evaluation": {"dann_accuracy": {"n": 12}}}, Path(os.environ["ZOO_REGISTRY"]))
    assert evaluate_model(registered)["dann_accuracy"] == evaluate_model(registered, only=["adaptation"], overrides={"n": 12})["adaptation"]
