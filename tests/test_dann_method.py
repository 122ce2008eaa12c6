"""DANN as a zoo method: regimes and their data roles, schedules, training, predict and its bad input."""

from __future__ import annotations

import pytest
import torch

from zoo.data import ImageSet
from zoo.errors import CapabilityError, ConfigError, DataError
from zoo.interfaces import Batch
from zoo.loading import build_method
from zoo.training import TrainConfig, Trainer
from zoo.data import check_class_labels
from zoo_plugins.dann.method import DANN
from zoo_plugins.dann.model import dann_coefficient


def trainable(config: dict | None = None, total_steps: int = 100) -> DANN:
    """Return a DANN method ready for train_step, seeded."""
    torch.manual_seed(0)
    model = build_method("dann", config or {}, training=True)
    model.optimizers = model.configure_optimizers()
    model.schedulers = model.configure_schedulers(total_steps)
    return model.train()


def toy_domains(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return (source images, labels, target images): the class is which of 10 stripes is bright; the target is tinted and noisier."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    x = torch.rand(n, 3, 28, 28, generator=g) * 0.3
    for i, c in enumerate(labels.tolist()):
        x[i, :, 2 + 2 * c : 4 + 2 * c, 4:24] = 1.0
    target = (x * torch.tensor([1.0, 0.6, 0.3]).view(1, 3, 1, 1) + 0.2 * torch.rand(n, 3, 28, 28, generator=g)).clamp(0, 1)
    return x, labels, target


def test_regimes_ask_for_their_data_roles_and_never_for_target_labels() -> None:
    dann = build_method("dann", {}).data_spec()
    assert dann.roles == ("source", "target") and dann.labels and "target" in dann.unlabelled_roles
    assert build_method("dann", {"regime": "source_only"}).data_spec().roles == ("source",)
    assert dann.image_size == 28 and dann.channels == 3


def test_trainer_hands_dann_no_target_labels(tmp_path) -> None:
    g = torch.Generator().manual_seed(0)
    labelled = lambda name: ImageSet(torch.randint(0, 256, (8, 1, 16, 16), dtype=torch.uint8, generator=g), torch.randint(0, 10, (8,), generator=g), name, 10)  # noqa: E731
    trainer = Trainer("dann", {}, {"source": labelled("src"), "target": labelled("tgt")}, tmp_path, TrainConfig(steps=1, batch_size=4, device="cpu", progress=False))
    assert trainer.loaders["target"].labels is None and trainer.loaders["source"].labels is not None
    batch = trainer._next_batch()
    assert batch["target"].y is None and batch["target"].x.shape == (4, 3, 28, 28), "gray 16x16 is brought to 3x28x28"


def test_source_and_target_that_name_other_classes_are_refused_and_names_are_recorded(tmp_path) -> None:
    import json

    g = torch.Generator().manual_seed(0)
    def named(name: str, classes: tuple[str, ...]) -> ImageSet:
        return ImageSet(torch.randint(0, 256, (8, 3, 28, 28), dtype=torch.uint8, generator=g), torch.arange(8) % 2, name, 2, classes)

    cfg = TrainConfig(steps=1, batch_size=4, device="cpu", progress=False)
    with pytest.raises(ConfigError, match=r"name different classes: source: \['cat', 'dog'\], target: \['0', '1'\]"):
        Trainer("dann", {"n_classes": 2}, {"source": named("a", ("cat", "dog")), "target": named("b", ("0", "1"))}, tmp_path / "x", cfg)
    Trainer("dann", {"n_classes": 2}, {"source": named("a", ("cat", "dog")), "target": named("b", ("cat", "dog"))}, tmp_path / "y", cfg).fit()
    assert json.loads((tmp_path / "y" / "run.json").read_text())["classes"] == {"source": ["cat", "dog"]}, "the labels DANN reads"


def test_reversal_coefficient_follows_lambda_p_over_the_run() -> None:
    model = trainable(total_steps=200)
    assert model.coefficient(100) == pytest.approx(dann_coefficient(0.5))
    assert model.coefficient(0) == 0.0
    constant = trainable({"coefficient_schedule": "constant", "coefficient_max": 0.3})
    assert constant.coefficient(1) == constant.coefficient(150) == 0.3
    fresh = build_method("dann", {}, training=True)
    with pytest.raises(ConfigError, match="configure_schedulers"):
        fresh.coefficient(1)


def test_dann_learning_rate_annealing_matches_the_paper() -> None:
    model = trainable({"lr_schedule": "dann", "lr": 0.01, "optimizer": "sgd"}, total_steps=50)
    scheduler = model.schedulers["network"]
    scheduler.step_update(50)
    assert model.optimizers["network"].param_groups[0]["lr"] == pytest.approx(0.01 / 11**0.75)
    restored = trainable({"lr_schedule": "dann", "lr": 0.01, "optimizer": "sgd"}, total_steps=7).schedulers["network"]
    restored.load_state_dict(scheduler.state_dict())
    assert restored.total_steps == 50 and restored.base_lrs == scheduler.base_lrs


@pytest.mark.parametrize(("nesterov", "momentum"), [(True, 0.9), (False, 0.9), (False, 0.0)])
def test_sgd_is_nesterovs_by_default_and_the_papers_plain_momentum_on_request(nesterov: bool, momentum: float) -> None:
    group = trainable({"optimizer": "sgd", "nesterov": nesterov, "momentum": momentum}).optimizers["network"].param_groups[0]
    assert isinstance(trainable().optimizers["network"], torch.optim.SGD) and trainable().optimizers["network"].param_groups[0]["nesterov"]
    assert (group["nesterov"], group["momentum"]) == (nesterov, momentum)


def test_nesterov_without_momentum_is_a_config_error_naming_the_way_out() -> None:
    with pytest.raises(ConfigError, match="nesterov=false"):
        build_method("dann", {"momentum": 0.0})


def test_dann_step_reports_domain_loss_and_source_only_step_does_not() -> None:
    x, y, t = toy_domains(8)
    losses = trainable().train_step({"source": Batch(x, y), "target": Batch(t)}, 10)
    assert {"loss_class", "loss_domain", "coefficient", "acc_domain"} <= set(losses)
    losses = trainable({"regime": "source_only"}).train_step(Batch(x, y), 1)
    assert "loss_domain" not in losses and "loss_class" in losses


def test_dann_learns_the_source_task_while_the_domain_head_trains() -> None:
    x, y, t = toy_domains(512)
    model = trainable(total_steps=30)
    first = last = None
    for step in range(1, 31):
        i = torch.arange(16) + 16 * (step - 1)
        losses = model.train_step({"source": Batch(x[i], y[i]), "target": Batch(t[i])}, step)
        first = first or float(losses["loss_class"])
        last = float(losses["loss_class"])
    assert last < 0.7 * first
    assert float((model.predict(x[:256]) == y[:256]).float().mean()) > 0.8


def test_source_labels_outside_0_to_9_are_a_clear_error() -> None:
    x, y, t = toy_domains(4)
    with pytest.raises(DataError, match=r"source set has labels 0\.\.10.*0\.\.9"):
        trainable().train_step({"source": Batch(x, torch.tensor([0, 1, 2, 10])), "target": Batch(t)}, 1)
    with pytest.raises(DataError, match="no labels"):
        trainable().train_step({"source": Batch(x), "target": Batch(t)}, 1)
    with pytest.raises(DataError, match="target set 'usps'.*-1"):
        check_class_labels(torch.tensor([-1, 3]), "the target set 'usps'", 10)


def test_predict_takes_gray_rgb_any_square_size_uint8_or_float() -> None:
    torch.manual_seed(0)
    model = build_method("dann", {}).eval()
    g = torch.Generator().manual_seed(0)
    rgb = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8, generator=g)
    # features, not labels: an untrained network gives every image one label, which no input transform could change
    assert torch.allclose(model.features(rgb), model.features(rgb.float() / 255), atol=1e-6), "uint8 is read as /255"
    assert not torch.allclose(model.features(rgb), model.features(255 - rgb), atol=1e-3), "the features follow the pixels"
    gray = torch.rand(4, 1, 16, 16, generator=g)
    assert torch.allclose(model.features(gray), model.features(gray.expand(-1, 3, -1, -1)), atol=1e-6), "gray is repeated to RGB"
    assert torch.equal(model.predict(rgb), model.predict(rgb.float() / 255))
    assert model.predict(torch.rand(2, 3, 28, 28)).dtype == torch.int64


def test_predict_bad_input_is_a_clear_error() -> None:
    model = build_method("dann", {}).eval()
    with pytest.raises(ConfigError, match="empty batch"):
        model.predict(torch.zeros(0, 3, 28, 28))
    with pytest.raises(ConfigError, match=r"\(N, C, H, W\).*unsqueeze"):
        model.predict(torch.rand(3, 28, 28))
    with pytest.raises(ConfigError, match=r"\[0, 1\].*255"):
        model.predict(torch.full((1, 3, 28, 28), 200.0))
    with pytest.raises(DataError, match="4-channel"):
        model.predict(torch.rand(1, 4, 28, 28))
    with pytest.raises(DataError, match="not square"):
        model.predict(torch.rand(1, 3, 28, 32))
    with pytest.raises(CapabilityError, match="predict"):
        model.sample(1)


def test_predict_leaves_a_training_model_in_training_mode() -> None:
    model = trainable()
    model.predict(torch.rand(2, 3, 28, 28))
    assert model.training and model.network.feature.f_bn1.training


def test_a_backbone_that_cannot_take_the_image_size_is_refused_before_training() -> None:
    with pytest.raises(ConfigError, match=r"backbone 'vit_tiny_patch16_224' cannot take 32x32 images .*224"):
        build_method("dann", {"backbone": "vit_tiny_patch16_224", "image_size": 32}, training=True)
    assert build_method("dann", {"backbone": "resnet18", "image_size": 32}) is not None, "a CNN backbone takes any size"


def test_a_folder_upsampled_to_a_larger_image_size_is_a_warning(tmp_path) -> None:
    import numpy as np
    from PIL import Image

    for c in ("a", "b"):
        (tmp_path / "big" / c).mkdir(parents=True)
        for i in range(5):
            Image.fromarray(np.full((128, 128, 3), 40 * i, np.uint8)).save(tmp_path / "big" / c / f"{i}.png")
    cfg = TrainConfig(steps=1, batch_size=2, device="cpu", progress=False)
    with pytest.warns(UserWarning, match=r"'big': zoo reads a folder of images at 64x64 at most, and method 'dann' takes 96x96"):
        Trainer("dann", {"image_size": 96, "n_classes": 2}, {"source": str(tmp_path / "big"), "target": str(tmp_path / "big")}, tmp_path / "run", cfg)
