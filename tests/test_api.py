"""The Python API mirrors the command line: zoo.train -> zoo.register -> zoo.load -> zoo.evaluate."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import zoo
from zoo.data import ImageSet

from test_metrics_gan import real_folder

TINY = {"nz": 4, "ngf": 2, "ndf": 2}


def digits_like(n: int = 16) -> ImageSet:
    g = torch.Generator().manual_seed(0)
    return ImageSet(torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g), None, "random")


def test_train_register_load_evaluate_from_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    summary = zoo.train("dcgan", digits_like(), tmp_path / "run", config=TINY, steps=2, batch_size=4, device="cpu", progress=False)
    assert summary["steps"] == 2 and Path(summary["weights"]).is_file()
    entry = zoo.register(tmp_path / "run", "dcgan.api", data="random")
    assert entry.params == zoo.entry("dcgan.api").params
    # a run from Python records the call that started it, as a command line run records the line
    assert entry.training.command == "zoo.train('dcgan', <ImageSet 'random', 16 images>, " \
        f"'{tmp_path / 'run'}', config={{'nz': 4, 'ngf': 2, 'ndf': 2}}, steps=2, batch_size=4, device='cpu', progress=False)"
    assert zoo.load("dcgan.api").sample(2, seed=0).shape == (2, 3, 64, 64)
    clf = zoo.train("classifier", ImageSet(digits_like().images.expand(-1, 3, -1, -1).contiguous(), torch.arange(16) % 10, "random"),
                    tmp_path / "clf", config={"width": 4}, steps=1, batch_size=4, device="cpu", progress=False)
    # paths as Path objects, and one evaluator named as a string, as people write them in Python
    metrics = zoo.evaluate(Path(summary["weights"]), only="gan", n=24, data=real_folder(tmp_path / "real"), split="train",
                           classifier=Path(clf["weights"]), fid=False, progress=False)
    assert metrics["gan"]["n"] == 24 and 1.0 <= metrics["gan"]["classifier_is"] <= 10.0


def test_train_checks_settings_and_options_before_reading_data(tmp_path: Path) -> None:
    with pytest.raises(zoo.ConfigError, match=r"invalid config for the training settings: stepz"):
        zoo.train("dcgan", "surely-not-a-dataset", tmp_path / "run", stepz=2)
    with pytest.raises(zoo.ConfigError, match=r"invalid config for method 'dcgan': nzz"):
        zoo.train("dcgan", "surely-not-a-dataset", tmp_path / "run", config={"nzz": 3}, steps=2)
    with pytest.raises(zoo.UnknownNameError, match="surely-not-a-dataset"):
        zoo.train("dcgan", "surely-not-a-dataset", tmp_path / "run", steps=2)
    assert not (tmp_path / "run").exists()


def test_train_checks_the_data_roles_before_reading_data_and_names_python_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # DANN trains on a source and a target: one dataset is refused before it is read, in Python's words
    with pytest.raises(zoo.ConfigError, match=r"roles \['source', 'target'\], got \['train'\]\. Give data=\{'source': NAME, 'target': NAME\}\.$"):
        zoo.train("dann", "surely-not-a-dataset", tmp_path / "run", steps=2)
    monkeypatch.delenv("ZOO_DATA", raising=False)
    with pytest.raises(zoo.DataError, match=r"with data_root='DIR' \(root= in zoo\.data\.load\) or the ZOO_DATA environment variable, or pass the path itself as data\.$"):
        zoo.train("dcgan", "mnist", tmp_path / "run", steps=2)
    with pytest.raises(zoo.ConfigError, match=r"lr_decay_start=2 must be below steps=2"):
        zoo.train("dcgan", digits_like(), tmp_path / "run", config=TINY, steps=2, batch_size=4, device="cpu", lr_decay_start=2)
    assert not (tmp_path / "run").exists()


def test_the_lazy_names_are_listed_and_a_registry_zoo_does_not_read_is_warned_about(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert {"train", "evaluate", "register"} <= set(dir(zoo))  # tab completion finds them
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    zoo.train("dcgan", digits_like(), tmp_path / "run", config=TINY, steps=1, batch_size=4, device="cpu", progress=False)
    with pytest.warns(UserWarning, match="zoo does not read"):
        zoo.register(tmp_path / "run", "dcgan.elsewhere", data="random", registry=tmp_path / "other.toml")
