"""The Python API mirrors the command line: zoo.train -> zoo.register -> zoo.load -> zoo.evaluate."""

from __future__ import annotations

import ast
import inspect
import platform
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
    # the versions the numbers depend on travel from the run's summary into the registry
    assert entry.training.software == summary["software"] == f"zoo {zoo.__version__}, torch {torch.__version__}, python {platform.python_version()}"
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
    with pytest.raises(zoo.DataError, match=r"with data_root='DIR' \(root= in zoo\.data\.load\) or the ZOO_DATA environment variable, or pass the path itself as data='PATH'\.$"):
        zoo.train("dcgan", "mnist", tmp_path / "run", steps=2)
    with pytest.raises(zoo.ConfigError, match=r"lr_decay_start=2 must be below steps=2"):
        zoo.train("dcgan", digits_like(), tmp_path / "run", config=TINY, steps=2, batch_size=4, device="cpu", lr_decay_start=2)
    assert not (tmp_path / "run").exists()


def test_the_lazy_names_are_listed_and_a_registry_zoo_does_not_read_is_warned_about(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert {"train", "evaluate", "register"} <= set(dir(zoo))  # tab completion finds them
    # the public names are written three times in zoo/__init__.py: the lazy table, __all__ and the type checkers' imports
    assert set(zoo.__all__) == (set(zoo._LAZY) - {"list"}) | {"__version__", "methods"}
    block = next(node for node in ast.walk(ast.parse(inspect.getsource(zoo))) if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING")
    typed = {alias.asname or alias.name for imp in block.body if isinstance(imp, ast.ImportFrom) for alias in imp.names}
    typed |= {target.id for node in block.body if isinstance(node, ast.Assign) for target in node.targets}
    assert typed - {"list_models"} == set(zoo._LAZY)
    star: dict = {}
    exec("from zoo import *", star)  # a notebook habit: it must not replace the built-in list with zoo.list
    assert "list" not in star and {"load", "train", "Method"} <= set(star)
    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    zoo.train("dcgan", digits_like(), tmp_path / "run", config=TINY, steps=1, batch_size=4, device="cpu", progress=False)
    with pytest.warns(UserWarning, match="zoo does not read"):
        zoo.register(tmp_path / "run", "dcgan.elsewhere", data="random", registry=tmp_path / "other.toml")


def test_loading_and_training_leave_the_callers_rng_alone(tmp_path: Path) -> None:
    torch.manual_seed(0)
    expected = torch.randn(3)
    torch.manual_seed(0)
    zoo.load("classifier.mnistm")  # building the model draws its random init before the weights replace it
    zoo.load_file(zoo.entry("dcgan.mnist64").base_dir / zoo.entry("dcgan.mnist64").weights)
    zoo.train("dcgan", digits_like(), tmp_path / "run", config=TINY, steps=1, batch_size=4, device="cpu", progress=False, seed=7)
    assert torch.equal(torch.randn(3), expected), "a caller's seeded stream must go on as if zoo had not run"


def test_python_values_people_pass_get_zoo_answers(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    from zoo.errors import ConfigError

    clf = zoo.load("classifier.mnistm")
    with pytest.raises(ConfigError, match=r"takes a torch tensor of images .*got a numpy\.ndarray\. Convert it with torch\.from_numpy\(array\)"):
        clf.predict(np.zeros((2, 3, 28, 28), dtype=np.float32))
    with pytest.raises(ConfigError, match=r"got a PIL\.Image\. Convert it with torchvision\.transforms\.functional\.pil_to_tensor"):
        clf.predict(Image.new("RGB", (28, 28)))
    with pytest.raises(ConfigError, match=r"got a list\. Convert it with torch\.stack\(images\)"):
        zoo.save_grid([torch.rand(3, 8, 8)], tmp_path / "g.png")
    with pytest.raises(ConfigError, match=r"nrow \(images per row\) must be a whole number >= 1, got 0"):
        zoo.save_grid(torch.rand(2, 3, 8, 8), tmp_path / "g.png", nrow=0)
    g = zoo.load(Path(zoo.entry("dcgan.mnist64").base_dir / zoo.entry("dcgan.mnist64").weights))  # a pathlib.Path: that file
    with pytest.raises(ConfigError, match=r"seed must be a whole number in .*got 18446744073709551616\. torch's generators take 64-bit seeds"):
        g.sample(1, seed=2**64)
    assert g.sample(1, seed=np.int64(3)).shape == (1, 3, 64, 64)
    x = g.sample(2, seed=0)
    x.clamp_(0.1, 0.9)  # a plain tensor: editable in place
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match=r"device 0 was asked for but CUDA is not available"):
            zoo.load("dcgan.mnist64", device=0)  # device 0 is cuda:0, never quietly the cpu


def test_a_device_zoo_does_not_run_on_is_a_config_error(capsys: pytest.CaptureFixture[str]) -> None:
    from zoo.cli import main
    from zoo.errors import ConfigError

    for device in ("meta", torch.device("meta"), "xpu"):
        with pytest.raises(ConfigError, match=r"is not one zoo runs on\. Use auto, cpu, cuda, cuda:N or \(on Apple silicon\) mps"):
            zoo.load("dcgan.mnist64", device=device)
    if not torch.backends.mps.is_available():
        with pytest.raises(ConfigError, match=r"device 'mps' was asked for but Apple's MPS backend is not available here"):
            zoo.load("dcgan.mnist64", device="mps")
    assert main(["sample", "dcgan.mnist64", "-n", "1", "--device", "meta", "--out", "never.png"]) == 2
    assert main(["bench", "--model", "dcgan.mnist64", "-n", "1", "--device", "meta"]) == 2
    assert capsys.readouterr().err.count("is not one zoo runs on") == 2


def test_ddpm_knobs_take_numpy_numbers_and_its_samples_are_plain_tensors() -> None:
    import numpy as np

    model = zoo.loading.build_method("ddpm", {"n_feat": 8, "n_T": 10}).eval()
    x = model.sample(2, seed=0, steps=2, guidance=np.float32(2.0), eta=np.float32(0.5))
    assert torch.equal(x, model.sample(2, seed=0, steps=2, guidance=2.0, eta=0.5))
    x[:, 0] = 0  # in place: was refused as an inference tensor
    torch.nn.Conv2d(3, 2, 3)(x).sum().backward()  # and it can be trained on


def test_errors_from_python_name_python_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.errors import ConfigError

    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    zoo.train("dcgan", digits_like(), tmp_path / "run", config=TINY, steps=1, batch_size=4, device="cpu", progress=False)
    with pytest.raises(ConfigError, match=r"^data is empty: .* or leave data out"):
        zoo.register(tmp_path / "run", "dcgan.x", data=" ")
    with pytest.raises(ConfigError, match=r"and data says 'mnistm'\. .*leave data out"):
        zoo.register(tmp_path / "run", "dcgan.x", data="mnistm")
    (tmp_path / "nope").mkdir()  # a run folder whose training never began
    with pytest.raises(zoo.WeightsError, match=r"is not a finished training run: run\.json is missing\. Run zoo\.train\(\.\.\., out='.*nope'\) to the end"):
        zoo.register(tmp_path / "nope", "dcgan.x")
    with pytest.raises(ConfigError, match=r"runs/nope/ does not exist \(a path, by its form, not a model name\)"):
        zoo.load("runs/nope/")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_a_model_moved_to_another_precision_samples_in_it(dtype: torch.dtype) -> None:
    for name, kw, tol in (("dcgan", {}, 0.05), ("ddpm", {"steps": 2}, 0.1)):
        torch.manual_seed(0)
        model = zoo.loading.build_method(name, {"nz": 8, "ngf": 4} if name == "dcgan" else {"n_feat": 8, "n_T": 10}).eval()
        want = model.sample(2, seed=0, **kw)
        got = model.to(dtype).sample(2, seed=0, **kw)  # raised "Input type (float) and weight type (half) should be the same"
        assert got.dtype == torch.float32 and float((got - want).abs().max()) < tol, (name, dtype)


def test_zoo_load_takes_a_weights_file_or_run_folder_written_as_a_string(tmp_path: Path) -> None:
    e = zoo.entry("dcgan.mnist64")
    path = str(e.base_dir / e.weights)
    assert torch.equal(zoo.load(path).sample(1, seed=0), zoo.load("dcgan.mnist64").sample(1, seed=0))
