"""benchmarks/gan_probe.py: --bn on copies of the model, and the checks of its arguments."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from zoo.loading import build_method

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import gan_probe  # noqa: E402


def test_bn_variants_reestimate_on_copies_and_leave_the_model_alone() -> None:
    torch.manual_seed(0)
    model = build_method("dcgan", {"nz": 8, "ngf": 4, "ndf": 4}).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    variants = gan_probe.bn_variants(model, batches=3, batch=16)
    assert list(variants.values())[0] is model and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())

    standing = list(variants.values())[1]
    norm = next(m for m in standing.generator.modules() if isinstance(m, nn.BatchNorm2d))
    assert int(norm.num_batches_tracked) == 3 and not torch.allclose(norm.running_var, torch.ones_like(norm.running_var))
    assert not standing.generator.training

    per_batch = list(variants.values())[2]
    alone, together = per_batch.sample(1, seed=1), per_batch.sample(4, seed=1)[:1]
    assert not torch.allclose(alone, together), "with batch statistics an image depends on the others in its batch"
    assert torch.allclose(model.sample(1, seed=1), model.sample(4, seed=1)[:1], atol=1e-6), "with running statistics it does not"


def test_d_batches_prints_pure_running_and_mixed_verdicts(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from zoo.data import ImageSet

    torch.manual_seed(0)
    model = build_method("dcgan", {"nz": 8, "ngf": 4, "ndf": 4}, training=True)
    real = ImageSet(torch.randint(0, 256, (40, 3, 28, 28), dtype=torch.uint8), None, "fake-mnistm")
    monkeypatch.setattr(gan_probe, "load_data", lambda name, split: real)
    gan_probe.d_batches({"raw (step 1)": model}, n=32, batch=8)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["D in pure batches of 8, batch statistics", "D in running statistics", "D in mixed batches (4 real + 4 generated)"]
    assert 0.0 <= float(lines[2].rsplit("AUC ", 1)[1]) <= 1.0


def test_jacobian_norms_match_the_closed_form_of_a_quadratic_generator() -> None:
    z = torch.tensor([[1.0, 0.0, 2.0], [0.5, -1.0, 0.0], [3.0, 3.0, 3.0]])
    est = gan_probe.jacobian_norms(lambda x: x.pow(2), z, directions=4000, g=torch.Generator().manual_seed(0))
    exact = 4 * z.double().pow(2).sum(1)  # J = diag(2z), ||J||_F^2 = 4 ||z||^2
    assert torch.allclose(est, exact, rtol=0.1), (est, exact)
    assert est.argsort().tolist() == exact.argsort().tolist()


def test_by_jacobian_prints_every_share(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    class Judge:
        def logits(self, x: torch.Tensor) -> torch.Tensor:
            return torch.randn(len(x), 10, generator=torch.Generator().manual_seed(len(x)))

    torch.manual_seed(0)
    model = build_method("dcgan", {"nz": 8, "ngf": 4, "ndf": 4}).eval()
    monkeypatch.setattr(gan_probe, "load_any", lambda name, device: Judge())
    gan_probe.by_jacobian({"ema (step 1)": model}, n=40, shares=[0.5, 0.25], directions=2, chunk=16)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ema (step 1), n=40, seed 0, 2 directions: rank correlation of -|J|_F")
    assert [line.split(":")[0].strip() for line in lines[1:]] == [f"top {s} by smallest |J|" for s in ("100%", "50%", "25%")]


def test_print_kept_keeps_the_highest_scores(capsys: pytest.CaptureFixture) -> None:
    from zoo.metrics.classifier_metrics import classifier_score

    logits = torch.zeros(4, 10)
    logits[1, 0], logits[2, 3], logits[3, 7] = 1.0, 20.0, 5.0  # top probabilities 0.10, 0.23, 1.00, 0.94
    gan_probe.print_kept("probe", logits, torch.tensor([0.0, 1.0, 2.0, 3.0]), [0.5], "s", "by s")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "probe: rank correlation of s and the classifier's confidence 0.80"
    assert lines[1].startswith(f"  top 100% by s: classifier IS {classifier_score(logits):.2f}, ")
    assert lines[2] == f"  top 50% by s: classifier IS {classifier_score(logits[2:]):.2f}, digits 0.0% - 50.0%, top probability > 0.9 for 100%"


def test_d_batches_refuses_fewer_images_than_one_mixed_batch(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "argv", ["gan_probe.py", str(tmp_path), "--d-batches", "--n", "10"])
    with pytest.raises(SystemExit):
        gan_probe.main()
    assert "--d-batches needs --n of at least 32" in capsys.readouterr().err


def test_psi_scales_the_noise_a_seeded_sample_draws() -> None:
    # sample(n, seed=...) draws through GANMethod._sample_noise: a probe that scaled latent() instead was ignored
    model = build_method("dcgan", {"nz": 8, "ngf": 4, "ndf": 4}).eval()
    plain = model.sample(4, seed=0)
    z = model._sample_noise(4, 0)
    half = gan_probe.scaled_noise(model, 0.5)
    assert torch.allclose(half.sample(4, seed=0), model.generator(z * 0.5).add(1).mul(0.5).clamp(0, 1), atol=1e-6)
    assert not torch.allclose(half.sample(4, seed=0), plain)


def test_average_is_the_mean_of_the_last_k_emas_and_leaves_the_run_alone(tmp_path: Path) -> None:
    import shutil

    from zoo.training import CHECKPOINT, TrainConfig, Trainer
    from zoo.weights import load_tree

    from test_training import TINY, images

    torch.manual_seed(0)
    run, snaps = tmp_path / "run", []
    for steps in (1, 2, 3, 4):  # a copy of the checkpoint after each sitting, the last one the run's own
        Trainer("dcgan", TINY, {"train": images()}, run, TrainConfig(steps=steps, batch_size=4, device="cpu", progress=False, ema_decay=0.5)).fit()
        snaps.append(tmp_path / f"step{steps}.safetensors")
        shutil.copy2(run / CHECKPOINT, snaps[-1])
    found = gan_probe.averaged(run, snaps[:3])
    assert [name.split(", ")[-1] for name in found] == ["ema (step 4)", "averaged with the last 1 checkpoint", "averaged with the last 2 checkpoints",
                                                        "averaged with the last 3 checkpoints"]
    emas = [load_tree(f)["ema"] for f in snaps]
    key = next(k for k, v in emas[0].items() if v.is_floating_point() and v.dim() == 4)  # a generator convolution's weight
    for (name, model), k in zip(list(found.items())[1:], (1, 2, 3)):
        want = sum(e[key].double() for e in emas[-(k + 1):]) / (k + 1)
        assert torch.allclose(model.state_dict()[key.removeprefix("module.")].double(), want, atol=1e-6), name
    assert torch.equal(list(found.values())[0].state_dict()[key.removeprefix("module.")], emas[-1][key]), "the run's own EMA is left as it was"
    no_ema = tmp_path / "plain"
    Trainer("dcgan", TINY, {"train": images()}, no_ema, TrainConfig(steps=1, batch_size=4, device="cpu", progress=False)).fit()
    with pytest.raises(SystemExit, match="keeps no EMA"):
        gan_probe.averaged(no_ema, snaps[:1])


def test_snapshot_means_are_what_zoo_average_exports(tmp_path: Path) -> None:
    from zoo.training import TrainConfig, Trainer, average_run
    from zoo.weights import read_weights

    from test_training import TINY, images

    run = tmp_path / "run"
    Trainer("dcgan", TINY, {"train": images()}, run,
            TrainConfig(steps=3, batch_size=4, device="cpu", progress=False, ema_decay=0.5, ema_snapshot_every=1)).fit()
    found = gan_probe.snapshot_means(run)
    assert list(found) == ["mean of the last 1 snapshot (step 3)", "mean of the last 2 snapshots (steps 2-3)", "mean of the last 3 snapshots (steps 1-3)"]
    for k, model in zip((1, 2, 3), found.values()):
        average_run(run, k)
        exported, _ = read_weights(run / "model.safetensors")
        assert all(torch.equal(model.state_dict()[key], v) for key, v in exported.items()), k
    with pytest.raises(SystemExit, match="keeps no snapshots"):
        gan_probe.snapshot_means(tmp_path)


def test_seed_draws_the_scored_images_and_is_refused_where_seed_0_is_fixed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                                                            tmp_path: Path) -> None:
    seen = []

    class Evaluator:
        def evaluate(self, model: object, *, n: int, seed: int, **kw: object) -> dict:
            seen.append(seed)
            return {"classifier_is": 7.0, "classifier_fd": 0.3, "coverage_min": 0.08, "coverage_max": 0.12}

    monkeypatch.setattr(gan_probe, "generators", lambda run: {"ema (step 4)": nn.Identity()})
    monkeypatch.setattr(gan_probe, "scaled_noise", lambda model, psi: model)
    monkeypatch.setattr(gan_probe, "GANEvaluator", Evaluator)
    monkeypatch.setattr(sys, "argv", ["gan_probe.py", str(tmp_path), "--n", "10", "--seed", "3"])
    gan_probe.main()
    assert seen == [3] and "(n=10, seed 3," in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", ["gan_probe.py", str(tmp_path), "--by-d", "0.5", "--seed", "3"])
    with pytest.raises(SystemExit):
        gan_probe.main()
    assert "--seed is for the metric trials" in capsys.readouterr().err


def test_a_carried_run_probes_as_its_ema_the_weights_it_exports(tmp_path: Path) -> None:
    """A run in benchmarks/carry holds its slim checkpoint alone: its generator is the EMA export_slim writes."""
    import shutil

    from zoo.training import CHECKPOINT, TrainConfig, Trainer, export_slim, slim_checkpoint
    from zoo.weights import read_weights

    from test_training import TINY, images

    run = tmp_path / "run"
    Trainer("dcgan", TINY, {"train": images()}, run, TrainConfig(steps=2, batch_size=4, device="cpu", progress=False, ema_decay=0.5)).fit()
    slim_checkpoint(run)
    carried = tmp_path / "carried"
    carried.mkdir()
    for f in ("checkpoint.slim.safetensors", "run.json", "summary.json"):
        shutil.copy2(run / f, carried / f)
    assert not (carried / CHECKPOINT).exists()
    found = gan_probe.generators(carried)
    assert list(found) == ["ema (step 2)"]
    export_slim(carried, tmp_path / "export.safetensors")
    exported, _ = read_weights(tmp_path / "export.safetensors")
    model = found["ema (step 2)"].state_dict()
    assert all(torch.equal(model[k].to(v.dtype), v) for k, v in exported.items())
    with pytest.raises(SystemExit, match="is no `zoo train` run folder"):
        gan_probe.generators(tmp_path)
