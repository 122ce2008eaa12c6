"""The generic Trainer: logs, plots, checkpoints, exact resume, EMA export, clear errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import safetensors.torch
import torch

import zoo
from zoo.data import ImageSet
from zoo.errors import ConfigError, ZooError
from zoo.plugins import PluginManager, reset_plugin_manager
from zoo.training import TrainConfig, Trainer
from zoo.viz import read_metrics_log

TINY = {"nz": 4, "ngf": 2, "ndf": 2, "soft_labels": True, "instance_noise": 0.01}


def images(n: int = 24, size: int = 20, channels: int = 1) -> ImageSet:
    g = torch.Generator().manual_seed(0)
    return ImageSet(torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=g), None, "random")


def train(out: Path, steps: int, **kw: object) -> dict:
    cfg = TrainConfig(steps=steps, batch_size=4, device="cpu", progress=False, log_every=1, checkpoint_every=2, **kw)
    return Trainer("dcgan", TINY, {"train": images()}, out, cfg).fit()


def test_fit_writes_weights_log_plot_and_summary(tmp_path: Path) -> None:
    summary = train(tmp_path, 3)
    for name in ("model.safetensors", "checkpoint.safetensors", "metrics.jsonl", "loss.png", "summary.json", "run.json"):
        assert (tmp_path / name).is_file(), name
    log = read_metrics_log(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in log] == [1, 2, 3] and {"loss_d", "loss_g", "lr", "time"} <= set(log[0])
    assert summary["steps"] == 3 and json.loads((tmp_path / "summary.json").read_text())["sha256"] == summary["sha256"]
    assert zoo.load_file(tmp_path / "model.safetensors").sample(2, seed=0).shape == (2, 3, 64, 64)


def test_a_run_that_is_training_loads_with_a_warning_and_its_export_window_is_not_called_corrupt(tmp_path: Path) -> None:
    # a TA collecting runs while a student's later sitting trains: zoo train holds the folder's lock (flock locks
    # belong to an open file, so holding it here stands for the other process)
    from zoo.files import folder_lock

    train(tmp_path / "run", 2)
    with folder_lock(tmp_path / "run", busy="busy"):
        with pytest.warns(UserWarning, match=r"run .*run is training now: its model\.safetensors holds the weights of its last finished sitting \(step 2\)"):
            zoo.load_file(tmp_path / "run" / "model.safetensors")
        summary = json.loads((tmp_path / "run" / "summary.json").read_text())
        (tmp_path / "run" / "summary.json").write_text(json.dumps({**summary, "sha256": "0" * 64}))  # the new weights, the old summary
        with pytest.raises(zoo.WeightsError, match=r"is training now and is writing its export .* Load it again in a few seconds"):
            zoo.load(tmp_path / "run")
        (tmp_path / "first").mkdir()
        with folder_lock(tmp_path / "first", busy="busy"), pytest.raises(zoo.WeightsError, match="it is training now, and its first sitting has not ended"):
            zoo.load(tmp_path / "first")
    with pytest.raises(zoo.WeightsError, match="does not match the sha256"):  # when nobody trains, a mismatch is what it says
        zoo.load(tmp_path / "run")


def test_resume_continues_exactly_where_it_stopped(tmp_path: Path) -> None:
    straight = train(tmp_path / "a", 4)
    train(tmp_path / "b", 2)
    resumed = train(tmp_path / "b", 4)
    assert resumed["resumed"] and resumed["steps"] == 4
    assert resumed["sha256"] == straight["sha256"], "2 + 2 resumed steps must equal 4 straight steps"
    assert [r["step"] for r in read_metrics_log(tmp_path / "b" / "metrics.jsonl")] == [1, 2, 3, 4]


def test_resume_refuses_a_folder_of_another_run(tmp_path: Path) -> None:
    train(tmp_path, 2)
    cfg = TrainConfig(steps=3, batch_size=4, device="cpu", progress=False)
    with pytest.raises(ConfigError, match=r"checkpoint of another run \(config: nz 4 there, 5 now\)\. Resume with the run's settings \(config with nz=4\)"):
        Trainer("dcgan", {**TINY, "nz": 5}, {"train": images()}, tmp_path, cfg).fit()
    other = ImageSet(255 - images().images, None, "random")  # the same name, other images (another folder called alike)
    with pytest.raises(ConfigError, match=r"checkpoint of another run \(data: other images under the same names \{'train': 'random'\}\)"):
        Trainer("dcgan", TINY, {"train": other}, tmp_path, cfg).fit()


def test_ema_weights_are_what_gets_exported(tmp_path: Path) -> None:
    trainer = Trainer("dcgan", TINY, {"train": images()}, tmp_path, TrainConfig(steps=3, batch_size=4, device="cpu", progress=False, ema_decay=0.5))
    trainer.fit()
    exported, _ = zoo.weights.read_weights(tmp_path / "model.safetensors")
    raw = trainer.method.inference_state_dict()
    key = "generator.main.0.weight"
    assert torch.equal(exported[key], trainer.ema.module.state_dict()[key])
    assert not torch.equal(exported[key], raw[key])


def test_ema_switched_on_at_a_resume_starts_from_the_resumed_weights(tmp_path: Path) -> None:
    train(tmp_path, 2)
    cfg = TrainConfig(steps=2, batch_size=4, device="cpu", progress=False, ema_decay=0.999)
    trainer = Trainer("dcgan", TINY, {"train": images()}, tmp_path, cfg)
    fresh = {k: v.clone() for k, v in trainer.ema.module.state_dict().items()}
    trainer.fit()  # nothing left to train: the EMA is the resumed model, untouched by the fresh init
    exported, _ = zoo.weights.read_weights(tmp_path / "model.safetensors")
    key = "generator.main.0.weight"
    assert torch.equal(exported[key], trainer.method.inference_state_dict()[key])
    assert not torch.equal(exported[key], fresh[key])


def test_lr_decay_falls_linearly_from_its_start_and_survives_a_resume(tmp_path: Path) -> None:
    straight = train(tmp_path / "a", 6, lr_decay_start=2)
    lrs = [r["lr"] for r in read_metrics_log(tmp_path / "a" / "metrics.jsonl")]
    assert lrs == pytest.approx([2e-4 * f for f in (1, 1, 1, 0.75, 0.5, 0.25)])
    train(tmp_path / "b", 3)  # no decay yet: a resumed run may add it
    resumed = train(tmp_path / "b", 6, lr_decay_start=2)
    assert resumed["sha256"] == straight["sha256"]


def test_lr_decay_is_refused_where_it_cannot_apply(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"lr_decay_start=6 must be below steps=6"):
        train(tmp_path / "a", 6, lr_decay_start=6)
    cfg = TrainConfig(steps=4, batch_size=4, device="cpu", progress=False, lr_decay_start=1)
    with pytest.raises(ConfigError, match=r"'classifier' schedules its own learning rates \(net\).*Drop it"):
        Trainer("classifier", {}, {"train": ImageSet(images(size=28, channels=3).images, torch.zeros(24, dtype=torch.long), "random", 10)}, tmp_path / "b", cfg)


def test_init_from_branches_a_run_with_its_weights_moments_and_ema(tmp_path: Path) -> None:
    train(tmp_path / "a", 4, ema_decay=0.5, lr_decay_start=1)  # ends at a quarter of the rate
    source = zoo.weights.load_tree(tmp_path / "a" / "checkpoint.safetensors")
    cfg = TrainConfig(steps=2, batch_size=4, device="cpu", progress=False, log_every=1, ema_decay=0.5, init_from=str(tmp_path / "a"))
    branch = Trainer("dcgan", {**TINY, "one_sided": True}, {"train": images()}, tmp_path / "b", cfg)
    info = branch._init_from(str(tmp_path / "a"))
    key = "generator.main.0.weight"
    assert torch.equal(branch.method.state_dict()[key], source["model"][key])
    assert torch.equal(branch.ema.module.state_dict()[key], source["ema"]["module." + key]), "the EMA continues the source's average"
    moments = branch.method.optimizers["generator"].state_dict()["state"][0]["exp_avg"]
    assert torch.equal(moments, source["optimizers"]["generator"]["state"][0]["exp_avg"])
    assert branch.method.optimizers["generator"].param_groups[0]["lr"] == 2e-4, "the rates are this run's, not the source's decayed ones"
    assert info["step"] == 4 and info["sha256"] == zoo.weights.sha256_file(tmp_path / "a" / "checkpoint.safetensors")

    summary = Trainer("dcgan", {**TINY, "one_sided": True}, {"train": images()}, tmp_path / "b", cfg).fit()
    assert summary["steps"] == 2 and [r["lr"] for r in read_metrics_log(tmp_path / "b" / "metrics.jsonl")] == [2e-4, 2e-4]
    assert json.loads((tmp_path / "b" / "run.json").read_text())["init_from"] == info
    cfg3 = cfg.model_copy(update={"steps": 3})
    Trainer("dcgan", {**TINY, "one_sided": True}, {"train": images()}, tmp_path / "b", cfg3).fit()  # a resume keeps the record
    assert json.loads((tmp_path / "b" / "run.json").read_text())["init_from"] == info


def test_lr_warmup_rises_linearly_under_a_decay_and_stays_what_the_run_set(tmp_path: Path) -> None:
    train(tmp_path / "a", 6, lr_warmup=4, lr_decay_start=3)
    lrs = [r["lr"] for r in read_metrics_log(tmp_path / "a" / "metrics.jsonl")]
    assert lrs == pytest.approx([2e-4 * f for f in (0.25, 0.5, 0.75, 1 * 1, 1 * 2 / 3, 1 / 3)])
    with pytest.raises(ConfigError, match=r"checkpoint trained with other settings \(lr_warmup 4 there, 2 now\).*lr_warmup=4"):
        train(tmp_path / "a", 8, lr_warmup=2, lr_decay_start=3)
    train(tmp_path / "b", 2)  # a run without one may not add one: it would lower the rates of the steps to come
    with pytest.raises(ConfigError, match=r"lr_warmup 0 there, 3 now"):
        train(tmp_path / "b", 4, lr_warmup=3)
    cfg = TrainConfig(steps=4, batch_size=4, device="cpu", progress=False, lr_warmup=2)
    with pytest.raises(ConfigError, match=r"'classifier' schedules its own learning rates \(net\); lr_warmup applies only.*Drop it"):
        Trainer("classifier", {}, {"train": ImageSet(images(size=28, channels=3).images, torch.zeros(24, dtype=torch.long), "random", 10)}, tmp_path / "c", cfg)


def test_a_slim_checkpoint_carries_weights_and_ema_in_half_precision_and_a_branch_starts_from_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from zoo.training import SLIM_CHECKPOINT, slim_checkpoint

    train(tmp_path / "a", 3, ema_decay=0.5)
    full = zoo.weights.load_tree(tmp_path / "a" / "checkpoint.safetensors")
    path = slim_checkpoint(tmp_path / "a")
    slim = zoo.weights.load_tree(path)
    assert path == tmp_path / "a" / SLIM_CHECKPOINT and slim["step"] == 3 and slim["optimizers"] == {}
    assert {"loaders", "rng"}.isdisjoint(slim) and path.stat().st_size < (tmp_path / "a" / "checkpoint.safetensors").stat().st_size / 3
    key, count, d_key = "generator.main.0.weight", "generator.main.1.num_batches_tracked", "discriminator.main.0.weight"
    assert not any(k.startswith("generator.") for k in slim["model"]), "the EMA stands in for the raw generator"
    assert slim["model"][d_key].dtype == torch.float16 and torch.equal(slim["model"][d_key], full["model"][d_key].half())
    assert slim["ema"]["module." + count].dtype == torch.int64 and slim["ema"]["module." + key].dtype == torch.float16
    from zoo.training.runs import model_from_checkpoint
    keys = list(full["model"]) + ["not.a.weight"]
    filled = model_from_checkpoint(slim, keys)  # what a branch and gan_probe load: the generator back from the EMA
    assert set(filled) == set(full["model"]) and filled[key] is slim["ema"]["module." + key] and filled[d_key] is slim["model"][d_key]
    assert model_from_checkpoint(full, keys) == full["model"], "a full checkpoint's weights come back as they are"
    raw = zoo.weights.load_tree(slim_checkpoint(tmp_path / "a", keep_raw=True))
    assert torch.equal(raw["model"][key], full["model"][key].half()) and raw["model"][count].dtype == torch.int64
    slim_checkpoint(tmp_path / "a")

    carried = tmp_path / "carried"  # what travels: the slim checkpoint and the run's records, not the full checkpoint
    carried.mkdir()
    for name in (SLIM_CHECKPOINT, "run.json", "summary.json"):
        (carried / name).write_bytes((tmp_path / "a" / name).read_bytes())
    cfg = TrainConfig(steps=2, batch_size=4, device="cpu", progress=False, log_every=1, ema_decay=0.5, init_from=str(carried))
    branch = Trainer("dcgan", TINY, {"train": images()}, tmp_path / "b", cfg)
    info = branch._init_from(str(carried))
    assert torch.equal(branch.method.state_dict()[key], full["ema"]["module." + key].half().float()), "the generator starts from the EMA"
    assert torch.equal(branch.method.state_dict()[d_key], full["model"][d_key].half().float())
    assert torch.equal(branch.ema.module.state_dict()[key], full["ema"]["module." + key].half().float())
    assert branch.method.optimizers["generator"].state_dict()["state"] == {}, "no moments came: Adam starts afresh"
    assert info["step"] == 3 and info["checkpoint"] == str(carried / SLIM_CHECKPOINT)
    err = capsys.readouterr().err
    assert "keeps no optimizer moments" in err and "other settings" not in err, "the source's recipe, kept: nothing to say"
    Trainer("dcgan", {**TINY, "instance_noise": 0.1}, {"train": images()}, tmp_path / "d", cfg.model_copy(update={"ema_decay": 0.0}))._init_from(str(carried))
    err = capsys.readouterr().err  # a branch command that forgot the source's options: said, not refused (a branch may mean it)
    assert "this branch trains with other settings than the run it comes from (instance_noise 0.01 there, 0.1 here; ema_decay 0.5 there, 0.0 here)" in err, err
    assert "give config with instance_noise=0.01 and ema_decay=0.5" in err, err

    warm = cfg.model_copy(update={"lr_warmup": 2})
    assert Trainer("dcgan", TINY, {"train": images()}, tmp_path / "c", warm).fit()["steps"] == 2
    assert "keeps no optimizer moments" not in capsys.readouterr().err, "eased in: nothing to say"
    assert [r["lr"] for r in read_metrics_log(tmp_path / "c" / "metrics.jsonl")] == pytest.approx([1e-4, 2e-4])
    with pytest.raises(ConfigError, match=r"no checkpoint.safetensors there to slim"):
        slim_checkpoint(carried)
    from zoo.errors import OutputError
    with pytest.raises(OutputError, match=r"holds a run's checkpoint.slim.safetensors .* cannot be resumed.*init_from="):
        Trainer("dcgan", TINY, {"train": images()}, carried, cfg.model_copy(update={"init_from": None})).fit()  # afresh, over its records
    assert sorted(p.name for p in carried.iterdir()) == [SLIM_CHECKPOINT, "run.json", "summary.json"]

    labelled = {"train": ImageSet(images(size=28, channels=3).images, torch.arange(24) % 10, "random", 10)}
    Trainer("classifier", {}, labelled, tmp_path / "clf", TrainConfig(steps=1, batch_size=4, device="cpu", progress=False)).fit()
    slim_checkpoint(tmp_path / "clf")
    branch = TrainConfig(steps=1, batch_size=4, device="cpu", progress=False, init_from=str(tmp_path / "clf" / SLIM_CHECKPOINT))
    Trainer("classifier", {}, labelled, tmp_path / "clf2", branch).fit()
    assert "moments" not in capsys.readouterr().err, "a method with schedulers of its own is not told to warm up, which it refuses"

    state = zoo.weights.load_tree(tmp_path / "a" / "checkpoint.safetensors")
    state["model"][d_key].view(-1)[:2] = torch.tensor([float("-inf"), 1e6])  # one value already infinite, one that overflows float16
    zoo.weights.save_tree(tmp_path / "a" / "checkpoint.safetensors", state)
    with pytest.raises(ConfigError, match=rf"weights {d_key} overflow torch.float16"):
        slim_checkpoint(tmp_path / "a")


@pytest.mark.parametrize("ema_decay", [0.5, 0.0])
def test_a_carried_run_gives_back_its_exported_weights_and_says_how(tmp_path: Path, ema_decay: float) -> None:
    """A run carried as its slim checkpoint alone (benchmarks/carry) cannot be sampled as it is: the refusals say how
    to get its weights, and export_slim writes them, with an EMA the very file the run exported (float16)."""
    from zoo.loading import load_any
    from zoo.training import SLIM_CHECKPOINT, export_slim, slim_checkpoint

    summary = train(tmp_path / "a", 3, ema_decay=ema_decay, export_dtype="float16")
    slim_checkpoint(tmp_path / "a")
    carried = tmp_path / "carried"
    carried.mkdir()
    for name in (SLIM_CHECKPOINT, "run.json", "summary.json"):
        (carried / name).write_bytes((tmp_path / "a" / name).read_bytes())
    for given in (carried, carried / SLIM_CHECKPOINT):
        with pytest.raises(ZooError, match=rf"is a run carried as its {SLIM_CHECKPOINT}, without exported weights: .*export_slim\('{carried}', '{carried}/model.safetensors'\)"):
            load_any(given)
    with pytest.raises(ZooError, match=rf"is a run carried as its {SLIM_CHECKPOINT}"):
        zoo.registration.register_run(carried, "dcgan.carried", path=tmp_path / "r.toml")
    for own in (SLIM_CHECKPOINT, "run.json", "summary.json"):
        with pytest.raises(ConfigError, match=r"is one of the run's own records"):
            export_slim(carried, carried / own)
    out = export_slim(carried, tmp_path / "w.safetensors")
    if ema_decay:
        assert zoo.weights.sha256_file(out) == summary["sha256"], "the run's own export, byte for byte"
    else:  # the raw weights, from their half-precision copy
        assert torch.equal(load_any(out).state_dict()["generator.main.0.weight"], load_any(tmp_path / "a").state_dict()["generator.main.0.weight"])
    assert sorted(p.name for p in carried.iterdir()) == [SLIM_CHECKPOINT, "run.json", "summary.json"]
    with pytest.raises(ConfigError, match=r"no checkpoint.slim.safetensors there"):
        export_slim(tmp_path / "a" / "nothing", tmp_path / "x.safetensors")


def test_init_from_names_what_does_not_fit(tmp_path: Path) -> None:
    train(tmp_path / "a", 1)
    def branch(source: Path, config: dict = TINY) -> None:
        cfg = TrainConfig(steps=1, batch_size=4, device="cpu", progress=False, init_from=str(source))
        Trainer("dcgan", config, {"train": images()}, tmp_path / "b", cfg).fit()
    with pytest.raises(ConfigError, match=r"init_from='.*nowhere': no checkpoint.safetensors \(nor checkpoint.slim.safetensors\) there"):
        branch(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match=r"its weights do not fit method 'dcgan' with this config"):
        branch(tmp_path / "a", {**TINY, "ngf": 3})
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    (tmp_path / "a" / "run.json").write_text(json.dumps({**run, "method": "wgan_gp"}))
    with pytest.raises(ConfigError, match=r"that run trained method 'wgan_gp', this one trains 'dcgan'"):
        branch(tmp_path / "a")
    assert not (tmp_path / "b").exists(), "a refused branch leaves no folder behind"


def test_a_run_from_before_a_config_field_existed_still_resumes(tmp_path: Path) -> None:
    train(tmp_path, 2)
    run = json.loads((tmp_path / "run.json").read_text())
    del run["config"]["one_sided"]  # as written before the field was added
    (tmp_path / "run.json").write_text(json.dumps(run))
    assert train(tmp_path, 3)["resumed"]


def test_float16_export_halves_the_file_and_still_loads(tmp_path: Path) -> None:
    train(tmp_path / "a", 1)
    train(tmp_path / "b", 1, export_dtype="float16")
    a, b = (tmp_path / "a" / "model.safetensors").stat().st_size, (tmp_path / "b" / "model.safetensors").stat().st_size
    assert b < 0.6 * a
    assert zoo.load_file(tmp_path / "b" / "model.safetensors").generator.main[0].weight.dtype == torch.float32


def test_wrong_data_roles_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"trains on data roles \['train'\], got \['source'\]"):
        Trainer("dcgan", TINY, {"source": images()}, tmp_path, TrainConfig(steps=1, device="cpu"))


def test_unknown_trainer_setting_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the trainer.*epochs"):
        Trainer("dcgan", TINY, {"train": images()}, tmp_path, {"epochs": 3})


def test_cuda_without_a_gpu_is_a_clear_error(tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        Trainer("dcgan", TINY, {"train": images()}, tmp_path, TrainConfig(steps=1, device="cuda"))


def test_a_dataset_smaller_than_a_batch_is_named(tmp_path: Path) -> None:
    with pytest.raises(zoo.DataError, match=r"'random' has 3 images, fewer than one batch of 4"):
        Trainer("dcgan", TINY, {"train": images(n=3)}, tmp_path, TrainConfig(steps=1, batch_size=4, device="cpu"))


def test_bf16_autocast_trains_with_finite_losses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo_plugins.dcgan.method import DCGAN

    seen = []
    step_of = DCGAN.train_step
    monkeypatch.setattr(DCGAN, "train_step", lambda self, batch, step: (
        seen.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu"))), step_of(self, batch, step))[1])
    summary = train(tmp_path, 2, bf16=True)
    assert seen == [(True, torch.bfloat16)] * 2, "each step runs under bfloat16 autocast"
    assert all(torch.isfinite(torch.tensor(v)) for k, v in summary["last"].items() if k.startswith("loss"))
    seen.clear()
    train(tmp_path / "f32", 1)
    assert seen == [(False, torch.bfloat16)], "and only with bf16"


def test_channels_last_training_matches_the_default_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # without instance noise: randn_like draws a channels-last tensor in another order
    monkeypatch.setitem(TINY, "instance_noise", 0.0)
    train(tmp_path / "a", 2)
    b = train(tmp_path / "b", 2, channels_last=True)
    wa, _ = zoo.weights.read_weights(tmp_path / "a" / "model.safetensors")
    wb, _ = zoo.weights.read_weights(tmp_path / "b" / "model.safetensors")
    assert b["steps"] == 2 and wa.keys() == wb.keys()
    # Adam turns float rounding differences of near-zero gradients into steps of up to lr each
    for k in wa:
        assert torch.allclose(wa[k].float(), wb[k].float(), atol=2 * 2 * 2e-4), k


@pytest.mark.parametrize(
    ("before", "after", "field"),
    [
        ({}, {"batch_size": 8}, "batch_size 4 there, 8 now"),
        ({}, {"seed": 7}, "seed 0 there, 7 now"),  # the loaders restore the checkpoint's order: a new seed would be recorded, not used
        ({}, {"bf16": True}, "bf16 False there, True now"),
        ({"ema_decay": 0.5}, {"ema_decay": 0.9}, "ema_decay 0.5 there, 0.9 now"),
        ({"lr_decay_start": 1}, {}, "lr_decay_start 1 there, None now"),  # the optimizer would keep the decayed rate for good
    ],
)
def test_resume_refuses_settings_that_would_mix_two_runs(tmp_path: Path, before: dict, after: dict, field: str) -> None:
    train(tmp_path, 2, **before)
    settings = {"steps": 4, "batch_size": 4, "device": "cpu", "progress": False, "log_every": 1, "checkpoint_every": 2, **before, **after}
    if "lr_decay_start" in before and "lr_decay_start" not in after:
        settings.pop("lr_decay_start")
    with pytest.raises(ConfigError, match=rf"trained with other settings \({field}\).*init_from='{tmp_path}'"):
        Trainer("dcgan", TINY, {"train": images()}, tmp_path, TrainConfig(**settings)).fit()


def test_resume_refuses_steps_below_the_checkpoint(tmp_path: Path) -> None:
    train(tmp_path, 4)
    with pytest.raises(ConfigError, match=r"checkpoint at step 4, past steps=2\. Give steps=4 or more"):
        train(tmp_path, 2)


def test_a_fresh_run_does_not_extend_a_log_left_by_one_that_died_before_its_first_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "loss_d": 9.0}) + "\n" for s in (1, 2, 3)))
    (tmp_path / "run.json").write_text("{}")  # what such a run leaves: its record (written first) and its log
    train(tmp_path, 2)
    assert [r["step"] for r in read_metrics_log(tmp_path / "metrics.jsonl")] == [1, 2]


def test_a_branch_ema_averages_on_from_its_source(tmp_path: Path) -> None:
    train(tmp_path / "a", 2, ema_decay=0.5)
    cfg = TrainConfig(steps=1, batch_size=4, device="cpu", progress=False, ema_decay=0.5, init_from=str(tmp_path / "a"))
    branch = Trainer("dcgan", TINY, {"train": images()}, tmp_path / "b", cfg)
    branch.fit()
    key = "generator.main.0.weight"
    source_ema = zoo.weights.load_tree(tmp_path / "a" / "checkpoint.safetensors")["ema"]["module." + key]
    raw = branch.method.inference_state_dict()[key]
    assert torch.allclose(branch.ema.module.state_dict()[key], 0.5 * source_ema + 0.5 * raw)  # not the raw weights copied over


def test_out_that_is_a_file_is_an_output_error(tmp_path: Path) -> None:
    from zoo.errors import OutputError

    (tmp_path / "a_file").write_text("x")
    for out, message in ((tmp_path / "a_file", r"a_file'? is a file; expected a run folder"), (tmp_path / "a_file" / "run", r"a_file is not a folder")):
        with pytest.raises(OutputError, match=message):
            train(out, 1)


def test_labels_outside_the_method_classes_are_named(tmp_path: Path) -> None:
    data = ImageSet(images(size=28, channels=3).images, torch.arange(24) % 10, "digits10", 10)
    cfg = TrainConfig(steps=1, batch_size=4, device="cpu", progress=False)
    with pytest.raises(ConfigError, match=r"'digits10' has 10 classes, and method 'ddpm' with this config takes 5 classes \(labels 0\.\.4\)\. Train with config=\{'n_classes': 10\}"):
        Trainer("ddpm", {"n_classes": 5, "n_feat": 8, "n_T": 10}, {"train": data}, tmp_path, cfg)
    unnamed = ImageSet(data.images, data.labels, "labels-only", None)  # no class count of its own: its labels say what it needs
    with pytest.raises(ConfigError, match=r"'labels-only' has labels up to 9, .* takes 5 classes .*config=\{'n_classes': 10\}"):
        Trainer("ddpm", {"n_classes": 5, "n_feat": 8, "n_T": 10}, {"train": unnamed}, tmp_path, cfg)
    with pytest.raises(ConfigError, match=r"method 'classifier' trains on labelled train data, and 'random' has no labels"):
        Trainer("classifier", {}, {"train": images(size=28, channels=3)}, tmp_path, cfg)


@pytest.mark.parametrize("method", ["ddpm", "dann", "classifier"])
def test_a_folder_with_fewer_classes_than_the_model_is_refused_naming_n_classes(method: str, tmp_path: Path) -> None:
    # three class subfolders given to a 10-class model would train seven classes no image shows, and sample or predict them
    shapes = ImageSet(images(size=28, channels=3).images, torch.arange(24) % 3, "shapes", 3, ("circle", "square", "stripe"))
    roles = {"source": shapes, "target": images(size=28, channels=3)} if method == "dann" else {"train": shapes}
    cfg = TrainConfig(steps=1, batch_size=4, device="cpu", progress=False)
    small = {"ddpm": {"n_feat": 8, "n_T": 10}, "classifier": {"width": 4}}.get(method, {})
    with pytest.raises(ConfigError, match=rf"'shapes' has 3 classes \(circle, square, stripe\), and method '{method}' with this config takes 10 .* config=\{{'n_classes': 3\}}"):
        Trainer(method, small, roles, tmp_path / "refused", cfg)
    summary = Trainer(method, {**small, "n_classes": 3}, roles, tmp_path / "run", cfg).fit()
    assert summary["steps"] == 1
    model = zoo.load_file(tmp_path / "run" / "model.safetensors")
    if method == "ddpm":
        with pytest.raises(ConfigError, match=r"0\.\.2"):
            model.sample(1, labels=[3], seed=0, steps=2)
    else:
        assert int(model.predict(shapes.images[:8]).max()) <= 2, "predictions name only the folder's classes"


def test_a_run_that_diverges_stops_with_an_error_valid_json_and_nothing_exported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from zoo.cli import main
    from zoo.errors import TrainingError
    from zoo_plugins.dcgan.method import DCGAN

    step = DCGAN.train_step

    def blows_up(self: DCGAN, batch: object, i: int) -> dict:
        out = step(self, batch, i)
        return {**out, "loss_d": float("nan")} if i >= 3 else out

    monkeypatch.setattr(DCGAN, "train_step", blows_up)
    with pytest.raises(TrainingError, match=r"diverged by step 3: its logged losses at step 3 hold NaN .*\(loss_d\)"):
        train(tmp_path / "run", 5)
    run = tmp_path / "run"
    strict = [json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} is not JSON")) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in strict] == [1, 2, 3] and strict[-1]["loss_d"] is None, "the diverged value is logged as null"
    assert not (run / "model.safetensors").exists() and not (run / "summary.json").exists()
    assert (run / "checkpoint.safetensors").is_file(), "the step-2 checkpoint, from before it, stays"

    # weights that turn NaN between logged steps are caught at the checkpoint, before anything is written
    def poisons(self: DCGAN, batch: object, i: int) -> dict:
        out = step(self, batch, i)
        if i == 3:  # after the last step's losses (finite, logged): only the weights are not, and fit's checkpoint sees them
            with torch.no_grad():
                next(iter(self.parameters())).fill_(float("inf"))
        return out

    monkeypatch.setattr(DCGAN, "train_step", poisons)
    cfg = TrainConfig(steps=3, batch_size=4, device="cpu", progress=False, log_every=10, checkpoint_every=0)
    with pytest.raises(TrainingError, match="its weights hold NaN or infinite"):
        Trainer("dcgan", TINY, {"train": images()}, tmp_path / "weights", cfg).fit()
    assert sorted(p.name for p in (tmp_path / "weights").iterdir() if not p.name.startswith(".")) == ["metrics.jsonl", "run.json"]
    monkeypatch.setattr(DCGAN, "train_step", blows_up)
    argv = ["train", "dcgan", "--data", "digits", "--steps", "4", "--batch-size", "4", "--device", "cpu", "--quiet", "--log-every", "1",
            "--out", str(tmp_path / "cli"), *[a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]]
    assert main(argv) == 6 and "zoo train: error: training diverged by step 3" in capsys.readouterr().err


def test_a_sitting_that_exports_nothing_does_not_become_the_registered_weights_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.errors import TrainingError
    from zoo.registration import register_run
    from zoo_plugins.dcgan.method import DCGAN

    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    cfg = TrainConfig(steps=4, batch_size=4, device="cpu", progress=False, log_every=1, max_minutes=1e-9)
    Trainer("dcgan", TINY, {"train": images()}, tmp_path / "run", cfg, command="zoo train first").fit()  # exports step 1
    step = DCGAN.train_step
    monkeypatch.setattr(DCGAN, "train_step", lambda self, b, i: {**step(self, b, i), "loss_d": float("nan")})
    with pytest.raises(TrainingError):
        Trainer("dcgan", TINY, {"train": images()}, tmp_path / "run", cfg.model_copy(update={"max_minutes": None}), command="zoo train second").fit()
    e = register_run(tmp_path / "run", "dcgan.first", data="random")
    assert e.training.command == "zoo train first" and e.training.steps == 1, "the sitting that made the weights, not the one that diverged"


def test_ctrl_c_finishes_the_step_saves_a_checkpoint_and_the_run_resumes_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal

    from zoo_plugins.dcgan.method import DCGAN

    straight = train(tmp_path / "a", 4)
    step_of = DCGAN.train_step

    def interrupted_at_3(self, batch, step):  # Ctrl-C arrives in the middle of step 3
        if step == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return step_of(self, batch, step)

    monkeypatch.setattr(DCGAN, "train_step", interrupted_at_3)
    with pytest.raises(KeyboardInterrupt, match="stopped at step 3 of 4"):
        Trainer("dcgan", TINY, {"train": images()}, tmp_path / "b", TrainConfig(steps=4, batch_size=4, device="cpu", progress=False, log_every=1, checkpoint_every=0)).fit()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "the handler is put back"
    assert not (tmp_path / "b" / "summary.json").exists(), "an interrupted run is not a finished one"
    monkeypatch.setattr(DCGAN, "train_step", step_of)
    resumed = train(tmp_path / "b", 4)
    assert resumed["resumed"] and resumed["sha256"] == straight["sha256"], "3 steps, Ctrl-C, 1 more must equal 4 straight"


def test_ctrl_c_in_the_last_step_still_exports_and_an_ignored_ctrl_c_stays_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal

    from zoo_plugins.dcgan.method import DCGAN

    step_of = DCGAN.train_step
    monkeypatch.setattr(DCGAN, "train_step", lambda self, batch, step: (step == 3 and os.kill(os.getpid(), signal.SIGINT), step_of(self, batch, step))[1])
    summary = train(tmp_path / "a", 3)  # the training is complete: nothing to resume, so it exports as usual
    assert summary["steps"] == 3 and (tmp_path / "a" / "model.safetensors").is_file()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell's `zoo train ... &` starts it
    try:
        summary = train(tmp_path / "b", 4)  # the Ctrl-C at step 3 is ignored, as its starter asked
        assert summary["steps"] == 4 and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_sigterm_stops_after_the_step_like_ctrl_c_and_the_run_resumes_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal

    from zoo.errors import Stopped
    from zoo_plugins.dcgan.method import DCGAN

    straight = train(tmp_path / "a", 4)
    step_of = DCGAN.train_step
    monkeypatch.setattr(DCGAN, "train_step", lambda self, batch, step: (step == 2 and os.kill(os.getpid(), signal.SIGTERM), step_of(self, batch, step))[1])
    with pytest.raises(Stopped, match="stopped at step 2 of 4") as stopped:
        train(tmp_path / "b", 4)
    assert stopped.value.signum == signal.SIGTERM and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, "the handler is put back"
    assert stopped.value.step == 2, "a caller that stops a run learns where from the exception, not its text"
    monkeypatch.setattr(DCGAN, "train_step", step_of)
    assert train(tmp_path / "b", 4)["sha256"] == straight["sha256"], "2 steps, SIGTERM, 2 more must equal 4 straight"


def test_a_damaged_checkpoint_or_run_record_is_named_not_resumed(tmp_path: Path) -> None:
    from zoo.errors import WeightsError

    train(tmp_path / "a", 2)
    ckpt = tmp_path / "a" / "checkpoint.safetensors"
    good = ckpt.read_bytes()
    data = bytearray(good)
    data[-3] ^= 0x10  # one bit of one tensor: it still parses, and would resume silently
    ckpt.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=r"checkpoint .*checkpoint\.safetensors is damaged: .*Restore it, or start afresh in another run folder"):
        train(tmp_path / "a", 4)
    with pytest.raises(WeightsError, match=r"is damaged: .*init_from=.* takes a run folder of `zoo train` or its checkpoint\.safetensors"):
        train(tmp_path / "b", 4, init_from=str(tmp_path / "a"))
    ckpt.write_bytes(good)
    with pytest.raises(WeightsError, match=r"model\.safetensors is not a zoo checkpoint \(.*a weights file, perhaps\)\. init_from=.* takes a run folder"):
        train(tmp_path / "b", 4, init_from=str(tmp_path / "a" / "model.safetensors"))
    (tmp_path / "a" / "run.json").write_text('{"method": "dcgan", "con')
    with pytest.raises(ConfigError, match=r"run\.json is damaged \(.*\); expected the JSON object `zoo train` writes\. Restore it"):
        train(tmp_path / "a", 4)
    assert not (tmp_path / "b").exists(), "a refused branch leaves no folder"


def test_temporaries_of_a_killed_run_are_swept_when_it_resumes(tmp_path: Path) -> None:
    train(tmp_path, 2)
    left = [tmp_path / ".checkpoint.safetensors.abc123xy.tmp", tmp_path / ".run.json.x1x1x1x1.tmp"]  # what SIGKILL mid-write leaves
    for p in left:
        p.write_bytes(b"half")
    (tmp_path / ".notes.txt.tmp").write_text("the user's")
    train(tmp_path, 3)
    assert not any(p.exists() for p in left) and (tmp_path / ".notes.txt.tmp").exists(), "only the run's own files' temporaries go"


class Scaled(zoo.Method):
    """A method that keeps a parameter and a buffer on itself, beside its one module (as a plugin may)."""

    name = "scaled_test"
    capabilities = frozenset({"sample"})

    def __init__(self, config: object = None, *, training: bool = False) -> None:
        super().__init__(config, training=training)
        self.body = torch.nn.Linear(1, 1)
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.register_buffer("seen", torch.zeros(()))

    def data_spec(self) -> zoo.DataSpec:
        return zoo.DataSpec(image_size=4, channels=1)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"all": torch.optim.SGD(self.parameters(), lr=0.5)}

    def train_step(self, batch: zoo.Batch, step: int) -> dict[str, torch.Tensor]:
        loss = (self.scale * self.body(batch.x.mean((1, 2, 3))[:, None]) - 3).pow(2).mean()
        self.optimize("all", loss)
        self.seen += 1
        return {"loss": loss.detach()}

    def sample(self, n: int, labels: object = None, seed: int | None = None, **knobs: object) -> torch.Tensor:
        return (self.scale * self.body(torch.ones(n, 1))).sigmoid().view(n, 1, 1, 1).expand(n, 1, 4, 4)


def installed(*methods: type[zoo.Method]) -> Iterator[None]:
    """Make `methods` known to zoo, as a plugin registering them would, until the generator is closed."""
    class Plugin:
        @staticmethod
        @zoo.hookimpl
        def zoo_register_methods() -> list[type[zoo.Method]]:
            return list(methods)

    pm = PluginManager()
    pm.register(Plugin, name="test_methods")
    reset_plugin_manager(pm)
    yield
    reset_plugin_manager()


@pytest.fixture
def scaled() -> Iterator[None]:
    yield from installed(Scaled)


class LabelledScaled(Scaled):
    """A plugin's labelled method with 5 classes and no n_classes option."""

    name = "labelled_test"

    def data_spec(self) -> zoo.DataSpec:
        return zoo.DataSpec(image_size=4, channels=1, labels=True, num_classes=5)


def test_fewer_classes_pass_a_method_without_n_classes_and_a_run_begun_before_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import warnings

    import zoo.training as training

    shapes = ImageSet(images(size=28, channels=3).images, torch.arange(24) % 3, "shapes", 3, ("circle", "square", "stripe"))
    cfg = TrainConfig(steps=2, batch_size=4, device="cpu", progress=False)
    # a run that began before zoo compared class counts (a 10-class classifier on 3 folders) goes on as it began
    with monkeypatch.context() as m:
        m.setattr(training.Trainer, "_check_class_count", lambda *a: None)
        Trainer("classifier", {"width": 4}, {"train": shapes}, tmp_path / "old", cfg.model_copy(update={"max_minutes": 1e-9})).fit()
    with pytest.warns(UserWarning, match=r"'shapes' has 3 classes and this run's model 10: resuming it as it began.*config=\{'n_classes': 3\}"):
        assert Trainer("classifier", {"width": 4}, {"train": shapes}, tmp_path / "old", cfg).fit()["steps"] == 2
    # a plugin's labelled method with no n_classes option: labels within its classes are all the trainer can check
    plugin = installed(LabelledScaled)
    next(plugin)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert Trainer("labelled_test", {}, {"train": shapes}, tmp_path / "plugin", cfg).fit()["steps"] == 2
    finally:
        next(plugin, None)  # zoo's own plugins again


class Masked(Scaled):
    """A plugin's method that keeps a causal attention mask (-inf above the diagonal) as a buffer, as transformers do."""

    name = "masked_test"

    def __init__(self, config: object = None, *, training: bool = False) -> None:
        super().__init__(config, training=training)
        self.register_buffer("mask", torch.full((3, 3), float("-inf")).triu(1))


def test_an_infinite_buffer_is_no_divergence_but_a_nan_one_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.errors import TrainingError
    from zoo.registration import register_run

    monkeypatch.setenv("ZOO_REGISTRY", str(tmp_path / "registry.toml"))
    plugin = installed(Masked)
    next(plugin)
    try:
        cfg = TrainConfig(steps=2, batch_size=4, device="cpu", progress=False)
        assert Trainer("masked_test", {}, {"train": images()}, tmp_path / "run", cfg).fit()["steps"] == 2
        assert register_run(tmp_path / "run", "masked.ok", data="random").params > 0, "its mask is meant, not diverged"
        monkeypatch.setattr(Masked, "train_step", lambda self, b, i: (self.seen.fill_(float("nan")), {"loss": torch.tensor(1.0)})[1])
        with pytest.raises(TrainingError, match=r"its weights hold NaN or infinite values \(seen\)"):
            Trainer("masked_test", {}, {"train": images()}, tmp_path / "nan", cfg).fit()
    finally:
        next(plugin, None)


def test_an_ema_averages_and_exports_the_tensors_a_method_keeps_on_itself(tmp_path: Path, scaled: object) -> None:
    cfg = TrainConfig(steps=3, batch_size=4, device="cpu", progress=False, ema_decay=0.5)
    trainer = Trainer("scaled_test", {}, {"train": images(size=4)}, tmp_path, cfg)
    trainer.fit()
    shipped = safetensors.torch.load_file(tmp_path / "model.safetensors")
    assert set(shipped) == set(trainer.method.inference_state_dict()), "the export holds every shipped tensor"
    assert shipped["scale"] == trainer.ema.module.scale and shipped["scale"] != trainer.method.scale, "the EMA's average, not the raw weight"
    assert shipped["seen"] == trainer.ema.module.seen != trainer.method.seen  # timm's EMA averages float buffers too
    assert zoo.load_file(tmp_path / "model.safetensors").sample(2).shape == (2, 1, 4, 4)


def labelled(n: int = 24) -> ImageSet:
    g = torch.Generator().manual_seed(0)
    return ImageSet(torch.randint(0, 256, (n, 3, 28, 28), dtype=torch.uint8, generator=g), torch.arange(n) % 10, "random", 10)


def test_a_run_whose_schedule_spans_its_length_resumes_only_with_that_length(tmp_path: Path) -> None:
    ddpm = {"n_feat": 8, "n_T": 20}  # lr 1e-4 falling linearly to 0 over the run (timm's PolyLRScheduler)
    cfg = TrainConfig(steps=4, batch_size=8, device="cpu", progress=False, log_every=1)
    Trainer("ddpm", ddpm, {"train": labelled()}, tmp_path / "a", cfg).fit()
    lrs = [r["lr"] for r in read_metrics_log(tmp_path / "a" / "metrics.jsonl")]
    assert lrs == pytest.approx([1e-4, 0.75e-4, 0.5e-4, 0.25e-4]), "each step logs the rate it used"
    longer = cfg.model_copy(update={"steps": 8})
    with pytest.raises(ConfigError, match=r"4-step run, and method 'ddpm' plans its schedule over the run's length.*steps=4.*init_from="):
        Trainer("ddpm", ddpm, {"train": labelled()}, tmp_path / "a", longer).fit()  # it used to train steps 5-8 at rate 0
    branched = longer.model_copy(update={"init_from": str(tmp_path / "a")})
    Trainer("ddpm", ddpm, {"train": labelled()}, tmp_path / "b", branched).fit()
    assert read_metrics_log(tmp_path / "b" / "metrics.jsonl")[4]["lr"] == pytest.approx(0.5e-4), "a branch runs a schedule of its own"


def test_a_begun_lr_decay_keeps_the_runs_length_and_one_yet_to_begin_does_not(tmp_path: Path) -> None:
    train(tmp_path / "a", 4, lr_decay_start=2)
    with pytest.raises(ConfigError, match=r"falling since step 2 towards the last step.*steps=4"):
        train(tmp_path / "a", 6, lr_decay_start=2)
    train(tmp_path / "b", 6, lr_decay_start=2, max_minutes=1e-9)  # the time limit stops it after step 1, before the decay
    assert train(tmp_path / "b", 8, lr_decay_start=2)["steps"] == 8


def test_a_run_the_time_limit_stops_says_so_and_its_summary_tells_a_scheduler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # a relative --out, as typed at a shell
    summary = train(Path("run"), 6, max_minutes=1e-9)
    assert (summary["steps"], summary["steps_planned"]) == (1, 6), "reached and planned: a scheduler compares the two"
    assert "max_minutes=1e-09 reached at step 1 of 6; exported that" in capsys.readouterr().err
    assert Path(summary["weights"]).is_absolute() and Path(summary["weights"]) == tmp_path / "run" / "model.safetensors"


def test_any_64_bit_seed_trains_and_a_larger_one_is_refused_where_it_is_given(tmp_path: Path) -> None:
    import pydantic

    from zoo.metrics.accuracy import AccuracyOptions

    for seed in (10**14, 2**64 - 1, -(2**63)):  # `--seed $(date +%s%N)`: the loaders derive seed * 1_000_003 + epoch from it
        assert train(tmp_path / str(seed), 1, seed=seed)["steps"] == 1
    import numpy as np

    assert TrainConfig(seed=np.int64(2**62 + 1)).seed == 2**62 + 1 and TrainConfig(seed=np.uint64(2**64 - 1)).seed == 2**64 - 1, "exact, not via float"
    for bad in (2**64, -(2**63) - 1):
        with pytest.raises(pydantic.ValidationError, match=rf"seed.*-9223372036854775808\.\.18446744073709551615 .*got {bad}"):
            TrainConfig(seed=bad)
        with pytest.raises(pydantic.ValidationError, match="seed"):
            AccuracyOptions(seed=bad)


def test_a_run_on_small_folder_images_read_at_64_before_says_why_it_cannot_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    from PIL import Image

    import zoo.data.folder as folder

    digits = tmp_path / "digits"
    for c in range(10):
        (digits / str(c)).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((28, 28, 3), 20 * c + i, np.uint8)).save(digits / str(c) / f"{i}.png")
    cfg = TrainConfig(steps=2, batch_size=4, device="cpu", progress=False, max_minutes=1e-9)
    with monkeypatch.context() as m:  # as zoo read folders before 2026-11-30: at 64x64 whatever their size
        m.setattr(folder, "common_side", lambda files, most=64: 64)
        Trainer("classifier", {"width": 4}, {"train": str(digits)}, tmp_path / "run", cfg).fit()
    with pytest.raises(ConfigError, match=r"or the same files read anew: .*\(train 28x28\), where it read 64x64 before; .*\. .*init_from="):
        Trainer("classifier", {"width": 4}, {"train": str(digits)}, tmp_path / "run", cfg).fit()
    with monkeypatch.context() as m:  # read at the same side, split by another rule (as before 2026-12-01): here, none held out
        m.setattr(folder, "is_test_file", lambda path: False)
        Trainer("classifier", {"width": 4}, {"train": str(digits)}, tmp_path / "split", cfg).fit()
    with pytest.raises(ConfigError, match=r"or the same files split anew: .*a hash of each file's path \(train\), where it took every 10th file before\)\. .*init_from="):
        Trainer("classifier", {"width": 4}, {"train": str(digits)}, tmp_path / "split", cfg).fit()
    # one unreadable file does not change the side the others share
    (digits / "3" / "broken.png").write_bytes(b"not a png")
    assert folder.common_side(folder.list_images(digits)[0]) == 28


def test_a_method_whose_course_does_not_follow_the_length_may_resume_with_other_steps(tmp_path: Path) -> None:
    ddpm = {"n_feat": 8, "n_T": 20, "lr_decay": False}  # no schedule: the run's length changes nothing along the way
    cfg = TrainConfig(steps=2, batch_size=8, device="cpu", progress=False)
    Trainer("ddpm", ddpm, {"train": labelled()}, tmp_path, cfg).fit()
    assert Trainer("ddpm", ddpm, {"train": labelled()}, tmp_path, cfg.model_copy(update={"steps": 3})).fit()["steps"] == 3
    assert not zoo.build_method("dann", {"coefficient_schedule": "constant", "lr_schedule": "constant"}).uses_run_length
    assert zoo.build_method("dann", {"lr_schedule": "constant"}).uses_run_length, "lambda_p follows the run's progress"


def test_a_run_folder_takes_one_trainer_at_a_time(tmp_path: Path) -> None:
    from zoo.errors import OutputError
    from zoo.files import folder_lock

    (tmp_path / "run").mkdir()
    with folder_lock(tmp_path / "run"):  # as another `zoo train --out run` holds it
        with pytest.raises(OutputError, match=r"another process is training into .*run\. Wait for it to finish"):
            train(tmp_path / "run", 2)
    assert train(tmp_path / "run", 2)["steps"] == 2
    with pytest.raises(ConfigError, match=r"no checkpoint.safetensors \(nor checkpoint.slim.safetensors\) there"):  # refused before training: no folder left behind
        train(tmp_path / "new" / "deeper", 1, init_from=str(tmp_path / "nowhere"))
    assert not (tmp_path / "new").exists()


class TorchScheduled(Scaled):
    """Scaled with a plain torch.optim.lr_scheduler schedule, as a plugin author reaches for first."""

    name = "torch_scheduled_test"

    def configure_schedulers(self, total_steps: int) -> dict[str, object]:
        return {"all": torch.optim.lr_scheduler.LambdaLR(self.optimizers["all"], lambda k: 1 - k / total_steps)}


class NoSchedule(Scaled):
    name = "no_schedule_test"

    def configure_schedulers(self, total_steps: int) -> dict[str, object]:
        return {"all": object()}


@pytest.fixture
def scheduled() -> Iterator[None]:
    yield from installed(TorchScheduled, NoSchedule)


def test_a_torch_lr_scheduler_steps_once_a_step_and_resumes_exactly(tmp_path: Path, scheduled: object) -> None:
    cfg = TrainConfig(steps=4, batch_size=4, device="cpu", progress=False, log_every=1, checkpoint_every=2)
    straight = Trainer("torch_scheduled_test", {}, {"train": images(size=4)}, tmp_path / "a", cfg).fit()
    assert [r["lr"] for r in read_metrics_log(tmp_path / "a" / "metrics.jsonl")] == pytest.approx([0.5, 0.375, 0.25, 0.125])
    two = cfg.model_copy(update={"max_minutes": 1e-9})  # stops after step 1 with a checkpoint
    Trainer("torch_scheduled_test", {}, {"train": images(size=4)}, tmp_path / "b", two).fit()
    assert Trainer("torch_scheduled_test", {}, {"train": images(size=4)}, tmp_path / "b", cfg).fit()["sha256"] == straight["sha256"]
    with pytest.raises(ConfigError, match=r"scheduler 'all' \(object\) has neither step_update\(step\).*nor step\(\)"):
        Trainer("no_schedule_test", {}, {"train": images(size=4)}, tmp_path / "c", cfg)


def test_a_finished_run_without_its_checkpoint_or_a_dangling_link_is_refused(tmp_path: Path) -> None:
    from zoo.errors import OutputError

    train(tmp_path / "done", 2)
    (tmp_path / "done" / "checkpoint.safetensors").unlink()  # as someone saving disk space would
    model = (tmp_path / "done" / "model.safetensors").read_bytes()
    with pytest.raises(OutputError, match=r"holds a run's model\.safetensors but no checkpoint\.safetensors to go on from"):
        train(tmp_path / "done", 3)
    assert (tmp_path / "done" / "model.safetensors").read_bytes() == model, "the exported model is not retrained over"
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    with pytest.raises(OutputError, match=r"link' is a symbolic link to .*nowhere, which does not exist"):
        train(tmp_path / "link", 1)


class Unprefixed(Scaled):
    """A plugin's method whose loss is not named loss*: what it logs is all there is to plot."""

    name = "unprefixed_test"

    def train_step(self, batch: zoo.Batch, step: int) -> dict[str, torch.Tensor]:
        return {"nll": super().train_step(batch, step)["loss"]}


class Clocked(Scaled):
    """A plugin's method that returns a value under a name the trainer's log keeps for itself."""

    name = "clocked_test"

    def train_step(self, batch: zoo.Batch, step: int) -> dict[str, torch.Tensor]:
        return {**super().train_step(batch, step), "time": torch.tensor(0.5)}


def test_a_method_may_name_its_losses_freely_but_not_as_the_trainers_own_fields(tmp_path: Path) -> None:
    from zoo.viz import read_metrics_log

    cfg = TrainConfig(steps=2, batch_size=4, device="cpu", progress=False)
    data = {"train": images()}
    plugin = installed(Unprefixed, Clocked)
    next(plugin)
    try:
        assert Trainer("unprefixed_test", {}, data, tmp_path / "nll", cfg).fit()["steps"] == 2  # it failed once exported: no loss_* to plot
        assert (tmp_path / "nll" / "loss.png").is_file() and "nll" in read_metrics_log(tmp_path / "nll" / "metrics.jsonl")[-1]
        with pytest.raises(zoo.errors.PluginError, match=r"'clocked_test'.s train_step returned \['time'\], which the trainer's log"):
            Trainer("clocked_test", {}, data, tmp_path / "clock", cfg).fit()
    finally:
        next(plugin, None)


def test_a_damaged_metrics_line_is_skipped_with_a_warning_and_a_torn_last_line_quietly(tmp_path: Path) -> None:
    log = tmp_path / "metrics.jsonl"
    lines = [b'{"step": 1, "loss_d": 0.5}', b'{"step": 2, "loss_d": 0.5\xff}', b"[1, 2]", b'{"step": "3"}', b'{"step": null}',
             b'{"step": 4}']
    log.write_bytes(b"\n".join(lines) + b"\n" + b'{"step": 5, "lo')  # the last line half-written: a run killed mid-write
    with pytest.warns(UserWarning, match=r"metrics log .*metrics\.jsonl: skipped lines 2, 3, 4, 5, not a record like") as caught:
        assert [r["step"] for r in read_metrics_log(log)] == [1, 4]
    assert len(caught) == 1
    log.write_bytes(b'{"step": 1}\n{"step": 2, "lo')
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [r["step"] for r in read_metrics_log(log)] == [1]


def test_a_resume_goes_on_past_a_damaged_log_line_and_names_a_run_record_of_the_wrong_types(tmp_path: Path) -> None:
    import shutil

    train(tmp_path / "a", 2)
    for name in ("b", "c"):
        shutil.copytree(tmp_path / "a", tmp_path / name)
    with (tmp_path / "a" / "metrics.jsonl").open("ab") as f:
        f.write(b'{"step": 1, "loss_d": 0.5\xff}\n')
    with pytest.warns(UserWarning, match=r"metrics\.jsonl: skipped line 3, not a record"):
        train(tmp_path / "a", 3)
    assert [r["step"] for r in read_metrics_log(tmp_path / "a" / "metrics.jsonl")] == [1, 2, 3]
    for name, field, value in (("b", "train", "x"), ("c", "earlier_sittings", 5)):
        run = json.loads((tmp_path / name / "run.json").read_text())
        (tmp_path / name / "run.json").write_text(json.dumps({**run, field: value}))
        with pytest.raises(ConfigError, match=rf"run\.json is damaged: its {field} is {json.dumps(value)}; expected .* Restore it"):
            train(tmp_path / name, 3)
    with pytest.raises(ConfigError, match=r"run\.json is damaged: its train is \"x\"; expected .* init_from="):  # a branch from it too
        train(tmp_path / "d", 3, init_from=str(tmp_path / "b"))


def test_a_sitting_killed_before_its_first_checkpoint_leaves_the_run_resumable_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sitting rewrites run.json as it begins; killed before it saves a step, its settings were never the checkpoint's."""
    train(tmp_path, 2)  # its checkpoint at step 2, no EMA, no decay
    first = json.loads((tmp_path / "run.json").read_text())
    died = {"n": 0}

    def killed(self: Trainer, *a: object) -> None:
        died["n"] += 1
        raise KeyboardInterrupt  # as SIGKILL would leave it: run.json written, no checkpoint after it

    with monkeypatch.context() as m:
        m.setattr(Trainer, "_loop", killed)
        for change in ({"ema_decay": 0.5}, {"lr_decay_start": 3}):
            with pytest.raises(KeyboardInterrupt):
                train(tmp_path, 4, **change)
            assert json.loads((tmp_path / "run.json").read_text())["train"][next(iter(change))] == next(iter(change.values()))
    assert died["n"] == 2
    summary = train(tmp_path, 4)  # the run's own settings: not refused for the dead sittings' EMA or decay
    assert summary["steps"] == 4
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["earlier_sittings"] == [{"command": first["command"], "steps": 2}], "the sittings that saved no step are not recorded"
    train(tmp_path / "b", 2)  # and a checkpoint made with an EMA still refuses another decay, whatever run.json says
    train(tmp_path / "c", 2, ema_decay=0.5)
    (tmp_path / "c" / "run.json").write_text((tmp_path / "b" / "run.json").read_text().replace(str(tmp_path / "b"), str(tmp_path / "c")))
    with pytest.raises(ConfigError, match=r"trained with other settings \(ema_decay 0.5 there, 0.9 now\)"):
        train(tmp_path / "c", 4, ema_decay=0.9)
