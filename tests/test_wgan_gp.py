"""WGAN-GP's loss: the penalty's value, its float32 island under bf16, the n_critic schedule, no NaN from a fresh init."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from zoo.interfaces import Batch
from zoo.loading import build_method
from zoo_plugins.wgan_gp import WGANGPConfig, gradient_penalty


def trainable(config: dict) -> nn.Module:
    torch.manual_seed(0)
    model = build_method("wgan_gp", config, training=True)
    model.optimizers = model.configure_optimizers()
    return model.train()


def images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def test_defaults_are_the_papers() -> None:
    c = WGANGPConfig()
    assert (c.lr, c.beta1, c.beta2, c.n_critic, c.gp_lambda) == (1e-4, 0.0, 0.9, 5, 10.0)
    opt = trainable({"nz": 8, "ngf": 4, "ndf": 4}).optimizers["discriminator"]
    assert opt.param_groups[0]["lr"] == 1e-4 and opt.param_groups[0]["betas"] == (0.0, 0.9)


def test_penalty_of_a_linear_critic_is_its_weight_norm_minus_one_squared() -> None:
    # f(x) = <w, x> has gradient w at every interpolate, so the penalty is exactly (|w| - 1)^2
    critic = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 1, bias=False))
    with torch.no_grad():
        critic[1].weight.fill_(0.1)
    real, fake = torch.rand(5, 3, 8, 8), torch.rand(5, 3, 8, 8)
    want = (math.sqrt(3 * 8 * 8) * 0.1 - 1) ** 2
    assert float(gradient_penalty(critic, real, fake).detach()) == pytest.approx(want, rel=1e-5)


def test_penalty_runs_in_float32_under_bf16_autocast() -> None:
    torch.manual_seed(0)
    critic = build_method("wgan_gp", {"ndf": 8}, training=True).discriminator
    real, fake = images(4, 1) * 2 - 1, images(4, 2) * 2 - 1
    torch.manual_seed(1)
    plain = gradient_penalty(critic, real, fake)
    torch.manual_seed(1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_bf16 = gradient_penalty(critic, real.bfloat16(), fake.bfloat16())
    assert under_bf16.dtype == torch.float32
    # same interpolates, same float32 arithmetic: only the bf16 rounding of the inputs differs
    assert float(under_bf16.detach()) == pytest.approx(float(plain.detach()), rel=0.05)


def test_penalty_gradient_is_finite_where_the_critic_is_flat() -> None:
    # a critic with zero weights has zero input gradient: without the epsilon inside the norm,
    # d sqrt(s)/ds at s = 0 is infinite and the weights' gradient becomes NaN
    critic = nn.Sequential(nn.Conv2d(3, 1, 8, bias=False))
    nn.init.zeros_(critic[0].weight)
    gp = gradient_penalty(critic, torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8))
    gp.backward()
    assert float(gp.detach()) == pytest.approx(1.0, abs=1e-4)
    assert torch.isfinite(critic[0].weight.grad).all()


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16"])
def test_first_steps_from_a_fresh_init_are_finite(bf16: bool) -> None:
    model = trainable({"ngf": 8, "ndf": 8, "n_critic": 2})
    seen = set()
    for step in range(1, 4):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            losses = model.train_step(Batch(images(4, step)), step)
        assert all(math.isfinite(float(v)) for v in losses.values()), (step, losses)
        seen |= set(losses)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert seen == {"loss_d", "loss_g", "w_dist", "gp"}


def test_generator_moves_only_every_n_critic_steps_and_the_critic_every_step() -> None:
    model = trainable({"nz": 8, "ngf": 4, "ndf": 4, "n_critic": 3})
    g_moved, c_moved = [], []
    for step in range(1, 7):
        g0 = [p.clone() for p in model.generator.parameters()]
        c0 = [p.clone() for p in model.discriminator.parameters()]
        losses = model.train_step(Batch(images(4, step)), step)
        g_moved.append(any(not torch.equal(a, b) for a, b in zip(g0, model.generator.parameters())))
        c_moved.append(any(not torch.equal(a, b) for a, b in zip(c0, model.discriminator.parameters())))
        assert ("loss_g" in losses) == (step % 3 == 0)
    assert g_moved == [False, False, True, False, False, True]
    assert all(c_moved)
    assert all(p.requires_grad for p in model.discriminator.parameters())


def test_a_resumed_run_logs_what_an_unbroken_one_logs(tmp_path) -> None:
    # log_every 1 with n_critic 2: the generator's loss is logged on its own steps only, so a resume (which starts
    # with no generator step behind it) writes the same records as one sitting did (loss_g was missing after a resume)
    from zoo.data import ImageSet
    from zoo.training import Trainer, TrainConfig
    from zoo.viz import read_metrics_log

    data = {"train": ImageSet((images(8) * 255).to(torch.uint8), None, "random")}
    config = {"nz": 8, "ngf": 2, "ndf": 2, "n_critic": 2}
    logs = []
    for out, sittings in ((tmp_path / "one", [5]), (tmp_path / "two", [3, 5])):
        for steps in sittings:
            Trainer("wgan_gp", config, data, out, TrainConfig(steps=steps, batch_size=4, device="cpu", progress=False, log_every=1, seed=0)).fit()
        logs.append([{k: v for k, v in r.items() if k != "time"} for r in read_metrics_log(out / "metrics.jsonl")])
    assert logs[0] == logs[1]
    assert [("loss_g" in r) for r in logs[0]] == [False, True, False, True, False]
