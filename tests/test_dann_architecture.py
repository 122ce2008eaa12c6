"""DANN's network: the seed report's exact CNNModel, its seed-era layers on today's torch, the reversal layer, timm backbones."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from zoo.errors import ConfigError, DataError
from zoo.printing import classic_repr
from zoo.loading import build_method
from zoo_plugins.dann.model import CNNModel, SeedDropout2d, dann_coefficient, reverse_gradient, seed_feature_size

from seed_prints import seed_print, squeezed

def test_cnnmodel_prints_as_the_seed_report() -> None:
    assert squeezed(classic_repr(build_method("dann", {}, training=True).network)) == seed_print("dann_cnnmodel")


def test_forward_gives_log_probabilities_of_ten_classes_and_two_domains_without_warnings() -> None:
    model = CNNModel().train()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the seed's Dropout2d on (N, C) and LogSoftmax(dim=None) must not warn
        class_lp, domain_lp = model(torch.rand(6, 3, 28, 28), coefficient=0.3)
    assert class_lp.shape == (6, 10) and domain_lp.shape == (6, 2)
    assert torch.allclose(class_lp.exp().sum(1), torch.ones(6), atol=1e-5)
    assert torch.allclose(domain_lp.exp().sum(1), torch.ones(6), atol=1e-5)
    assert model.features(torch.rand(2, 3, 28, 28)).shape == (2, 800) == (2, seed_feature_size(28))


def test_seed_dropout2d_drops_elements_of_flat_features_and_channels_of_maps() -> None:
    torch.manual_seed(0)
    drop = SeedDropout2d(0.5).train()
    flat = drop(torch.ones(400, 100))
    zero_rows = int((flat == 0).all(1).sum())
    # element-wise, as the seed's torch did: rows are never wholly dropped, about half of all elements are
    assert zero_rows == 0 and 0.45 < float((flat == 0).float().mean()) < 0.55
    assert set(flat.unique().tolist()) == {0.0, 2.0}
    maps = drop(torch.ones(8, 16, 5, 5))
    per_channel = maps.flatten(2)
    assert torch.equal(per_channel.amin(2), per_channel.amax(2)), "4-D input: whole channels are kept or dropped"
    assert repr(drop) == "Dropout2d(p=0.5, inplace=False)"
    assert torch.equal(drop.eval()(torch.ones(3, 4)), torch.ones(3, 4))


def test_gradient_reversal_is_identity_forward_and_negated_scaled_backward() -> None:
    x = torch.randn(4, 5, requires_grad=True)
    y = reverse_gradient(x, 0.7)
    assert torch.equal(y, x)
    upstream = torch.randn(4, 5)
    y.backward(upstream)
    assert torch.allclose(x.grad, -0.7 * upstream)


def test_reversal_coefficient_follows_the_dann_paper_schedule() -> None:
    assert dann_coefficient(0.0) == 0.0
    for p in (0.1, 0.25, 0.5, 0.9, 1.0):
        assert dann_coefficient(p) == pytest.approx(2 / (1 + math.exp(-10 * p)) - 1)
    values = [dann_coefficient(i / 20) for i in range(21)]
    assert values == sorted(values) and values[-1] < 1.0
    assert dann_coefficient(2.0) == dann_coefficient(1.0), "progress past the end is clamped"


def test_seed_cnn_rejects_images_too_small_for_its_two_conv_blocks() -> None:
    with pytest.raises(ConfigError, match="at least 16x16"):
        CNNModel(image_size=12)
    assert seed_feature_size(32) == 50 * 5 * 5


def test_timm_backbone_trains_and_predicts_on_32px_images() -> None:
    torch.manual_seed(0)
    model = build_method("dann", {"backbone": "test_resnet", "image_size": 32}, training=True)
    model.optimizers = model.configure_optimizers()
    model.configure_schedulers(4)
    from zoo.interfaces import Batch

    batch = {"source": Batch(torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])), "target": Batch(torch.rand(4, 3, 32, 32))}
    losses = model.train_step(batch, 1)
    assert math.isfinite(float(losses["loss"])) and "loss_domain" in losses
    assert model.network.class_classifier.c_fc1.in_features == model.network.feature.num_features
    assert model.predict(torch.rand(3, 1, 64, 64)).shape == (3,)


def test_unknown_backbone_and_pickled_backbone_weights_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not_a_timm_model"):
        build_method("dann", {"backbone": "not_a_timm_model"}, training=True)
    pth = tmp_path / "resnet.pth"
    pth.write_bytes(b"")
    with pytest.raises(ConfigError, match=r"\.safetensors"):
        build_method("dann", {"backbone": "test_resnet", "image_size": 32, "backbone_weights": str(pth)}, training=True)


def test_timm_backbone_reads_pretrained_weights_from_a_local_safetensors_file(tmp_path: Path) -> None:
    import timm

    torch.manual_seed(1)
    donor = timm.create_model("test_resnet", pretrained=False, num_classes=0)
    path = tmp_path / "test_resnet.safetensors"
    save_file({k: v.contiguous() for k, v in donor.state_dict().items()}, str(path))
    torch.manual_seed(2)
    model = build_method("dann", {"backbone": "test_resnet", "image_size": 32, "backbone_weights": str(path)}, training=True)
    for k, v in donor.state_dict().items():
        assert torch.equal(model.network.feature.state_dict()[k], v), k
    # a loaded (inference) model does not read the file: its weights come from the zoo weights file
    path.unlink()
    build_method("dann", {"backbone": "test_resnet", "image_size": 32, "backbone_weights": str(path)})


def test_a_run_begun_from_pretrained_weights_resumes_and_branches_without_the_file(tmp_path: Path) -> None:
    import json

    import timm

    from zoo.data import ImageSet
    from zoo.training import TrainConfig, Trainer

    path = tmp_path / "test_resnet.safetensors"
    save_file({k: v.contiguous() for k, v in timm.create_model("test_resnet", num_classes=0).state_dict().items()}, str(path))
    g = torch.Generator().manual_seed(0)
    digits = ImageSet(torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8, generator=g), torch.arange(8) % 10, "d", 10)
    cfg = {"regime": "source_only", "backbone": "test_resnet", "image_size": 32, "backbone_weights": str(path)}

    def fit(out: Path, steps: int, **kw: object) -> dict:
        train = TrainConfig(steps=steps, batch_size=4, device="cpu", progress=False, checkpoint_every=1, **kw)
        return Trainer("dann", cfg, {"source": digits}, out, train).fit()

    assert fit(tmp_path / "run", 2, max_minutes=1e-9)["steps"] == 1  # a first sitting that ran out of time after one step
    began = json.loads((tmp_path / "run" / "run.json").read_text())["config_files_sha256"]
    path.rename(tmp_path / "moved.safetensors")  # the pretrained file moved on after the first sitting
    assert fit(tmp_path / "run", 2)["resumed"], "the checkpoint holds every weight: the file is not read again"
    assert json.loads((tmp_path / "run" / "run.json").read_text())["config_files_sha256"] == began, "the record keeps what it began from"
    assert fit(tmp_path / "branch", 3, init_from=str(tmp_path / "run"))["steps"] == 3
    with pytest.raises(ConfigError, match=r"backbone_weights .*test_resnet\.safetensors.*expected an existing \.safetensors file"):
        fit(tmp_path / "fresh", 1)  # a new run starts from the file, and needs it


def test_backbone_weights_of_another_network_are_refused_not_loaded_loosely(tmp_path: Path) -> None:
    import timm

    cfg = {"backbone": "test_resnet", "image_size": 32}
    other = tmp_path / "test_efficientnet.safetensors"
    save_file({k: v.contiguous() for k, v in timm.create_model("test_efficientnet", num_classes=0).state_dict().items()}, str(other))
    with pytest.raises(ConfigError, match=r"backbone_weights .*test_efficientnet.safetensors.* (does not fit|cannot be read as) 'test_resnet'"):
        build_method("dann", {**cfg, "backbone_weights": str(other)}, training=True)  # timm loaded none of it, and said nothing
    deeper = {k: v.contiguous() for k, v in timm.create_model("test_resnet", num_classes=0).state_dict().items()}
    deeper["layer9.0.conv1.weight"] = torch.zeros(1)  # a deeper sibling's (resnet34 into resnet18): its first blocks would fill ours
    save_file(deeper, str(tmp_path / "deeper.safetensors"))
    with pytest.raises(ConfigError, match=r"has another network's 1 tensor\(s\) \(e.g. layer9.0.conv1.weight\)"):
        build_method("dann", {**cfg, "backbone_weights": str(tmp_path / "deeper.safetensors")}, training=True)
    floats = {k: v.contiguous() for k, v in timm.create_model("test_resnet", num_classes=0).named_parameters()}
    save_file(floats, str(tmp_path / "no_stats.safetensors"))  # BatchNorm's running statistics would stay at their init
    with pytest.raises(ConfigError, match=r"lacks \d+ tensor\(s\) \(e.g. bn1.running_mean\)"):
        build_method("dann", {**cfg, "backbone_weights": str(tmp_path / "no_stats.safetensors")}, training=True)
    (tmp_path / "broken.safetensors").write_bytes(b"\xff" * 16)
    with pytest.raises(ConfigError, match=r"broken.safetensors' cannot be read as 'test_resnet'"):
        build_method("dann", {**cfg, "backbone_weights": str(tmp_path / "broken.safetensors")}, training=True)


def test_zoo_info_of_a_model_whose_backbone_file_has_moved_shows_what_ships(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import timm

    import zoo
    from zoo.cli import main

    path = tmp_path / "test_resnet.safetensors"
    save_file({k: v.contiguous() for k, v in timm.create_model("test_resnet", num_classes=0).state_dict().items()}, str(path))
    model = build_method("dann", {"backbone": "test_resnet", "image_size": 32, "backbone_weights": str(path)}, training=True)
    zoo.save_model(model, tmp_path / "dann.safetensors")
    path.unlink()  # moved since: loading and judging the model never needed it, and zoo info failed on it
    assert main(["info", str(tmp_path / "dann.safetensors")]) == 0
    out = capsys.readouterr()
    assert "method 'dann'" in out.out and "the networks used only in training are left out" in out.err


def test_a_run_records_the_sha256_of_the_backbone_file_it_began_from(tmp_path: Path) -> None:
    import json

    import timm

    from zoo.data import ImageSet
    from zoo.training import TrainConfig, Trainer
    from zoo.weights import sha256_file

    path = tmp_path / "test_resnet.safetensors"
    save_file({k: v.contiguous() for k, v in timm.create_model("test_resnet", num_classes=0).state_dict().items()}, str(path))
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    roles = {"source": ImageSet(images, torch.arange(8) % 10, "src", 10), "target": ImageSet(images, None, "tgt")}
    cfg = TrainConfig(steps=1, batch_size=4, device="cpu", progress=False)
    Trainer("dann", {"backbone": "test_resnet", "image_size": 32, "backbone_weights": str(path)}, roles, tmp_path / "run", cfg).fit()
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["config_files_sha256"] == {"backbone_weights": sha256_file(path)}, "two files under one name would read alike otherwise"


def test_a_timm_network_with_two_classifier_heads_takes_its_own_file(tmp_path: Path) -> None:
    import timm

    from zoo_plugins.dann.model import timm_feature_extractor

    name = "deit_tiny_distilled_patch16_224"  # classifier ('head', 'head_dist'): a file with both heads is its own
    donor = timm.create_model(name)
    save_file({k: v.contiguous() for k, v in donor.state_dict().items()}, str(tmp_path / "deit.safetensors"))
    net = timm_feature_extractor(name, 3, str(tmp_path / "deit.safetensors"))
    assert torch.equal(net.state_dict()["patch_embed.proj.weight"], donor.state_dict()["patch_embed.proj.weight"])


def test_config_files_are_the_weights_files_the_config_names_and_a_resume_keeps_the_first_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    import timm

    from zoo.data import ImageSet
    from zoo.training import TrainConfig, Trainer
    from zoo_plugins.dann.method import check_class_labels

    monkeypatch.chdir(tmp_path)
    (tmp_path / "cnn").write_text("")  # a file that happens to bear a config value's name ('cnn', the backbone) is no config file
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    roles = {"source": ImageSet(images, torch.arange(8) % 10, "src", 10), "target": ImageSet(images, None, "tgt")}
    Trainer("dann", {"image_size": 32}, roles, tmp_path / "cnn_run", TrainConfig(steps=1, batch_size=4, device="cpu", progress=False)).fit()
    assert "config_files_sha256" not in json.loads((tmp_path / "cnn_run" / "run.json").read_text())
    path = tmp_path / "b.safetensors"
    save_file({k: v.contiguous() for k, v in timm.create_model("test_resnet", num_classes=0).state_dict().items()}, str(path))
    cfg = {"backbone": "test_resnet", "image_size": 32, "backbone_weights": str(path)}
    two = TrainConfig(steps=2, batch_size=4, device="cpu", progress=False)
    Trainer("dann", cfg, roles, tmp_path / "run", two.model_copy(update={"max_minutes": 1e-9})).fit()  # stops after its first step
    first = json.loads((tmp_path / "run" / "run.json").read_text())["config_files_sha256"]
    torch.manual_seed(9)
    save_file({k: v.contiguous() for k, v in timm.create_model("test_resnet", num_classes=0).state_dict().items()}, str(path))  # replaced
    assert Trainer("dann", cfg, roles, tmp_path / "run", two).fit()["resumed"]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["config_files_sha256"] == first, "the run began from the first file"
    with pytest.raises(DataError, match=r"0\.\.9"):
        check_class_labels(torch.tensor([0, 10]), "the source set")  # DANN's own name for the check, with its 10 digits
