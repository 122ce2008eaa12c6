"""DCGAN's discriminator targets (hard 1/0, the seed's two-sided 0.9/0.1, one-sided 0.9/0) and its batches (separate or mixed)."""

from __future__ import annotations

import pytest
import torch

import zoo_plugins.dcgan.method as dcgan
from zoo.interfaces import Batch
from zoo.loading import build_method


@pytest.mark.parametrize(
    ("options", "targets"),
    [({}, [1.0, 0.0, 1.0]), ({"soft_labels": True}, [0.9, 0.1, 1.0]), ({"soft_labels": True, "one_sided": True}, [0.9, 0.0, 1.0])],
)
def test_targets_of_real_fake_and_generator_terms(monkeypatch: pytest.MonkeyPatch, options: dict, targets: list[float]) -> None:
    seen: list[float] = []
    real_bce = dcgan._bce
    monkeypatch.setattr(dcgan, "_bce", lambda p, target: seen.append(target) or real_bce(p, target))
    m = build_method("dcgan", {"nz": 4, "ngf": 2, "ndf": 2, **options}, training=True)
    m.optimizers = m.configure_optimizers()
    losses = m.train_step(Batch(torch.rand(4, 3, 64, 64)), 1)
    assert seen == targets  # D on real, D on fake, then G's non-saturating term
    assert all(torch.isfinite(v) for v in losses.values())


@pytest.mark.parametrize(("mixed", "batches"), [(False, [4, 4, 4]), (True, [8, 8])])
def test_mixed_batches_put_real_and_generated_images_through_one_batchnorm(mixed: bool, batches: list[int]) -> None:
    torch.manual_seed(0)
    m = build_method("dcgan", {"nz": 4, "ngf": 2, "ndf": 2, "soft_labels": True, "mixed_batches": mixed}, training=True)
    m.optimizers = m.configure_optimizers()
    seen: list[int] = []
    m.discriminator.register_forward_hook(lambda mod, args, out: seen.append(args[0].shape[0]))
    losses = m.train_step(Batch(torch.rand(4, 3, 64, 64)), 1)
    assert seen == batches  # separate: D(real), D(fake), D(fake) for G; mixed: D(real + fake) twice
    assert all(torch.isfinite(v) for v in losses.values())
    assert 0 < float(losses["d_real"]) < 1 and 0 < float(losses["d_fake"]) < 1


@pytest.mark.parametrize("method", ["dcgan", "wgan_gp"])
def test_image_i_of_a_seed_is_the_same_whatever_n(method: str) -> None:
    # nz=100 (the seed's): n*nz is no multiple of 16 unless 4 divides n, where torch's CPU kernel drew the last image anew
    m = build_method(method, {"ngf": 2, "ndf": 2}).eval()
    assert m.config.nz == 100
    z, full = m._sample_noise(34, 3), m.sample(34, seed=3)
    for n in (1, 2, 3, 5, 33, 34):
        assert torch.equal(m._sample_noise(n, 3), z[:n]), n  # the latent exactly
        # the images up to the last float bit: a convolution's rounding may follow the batch size (1 ulp in 5 of 80 random inits)
        torch.testing.assert_close(m.sample(n, seed=3), full[:n], rtol=0, atol=1e-6, msg=f"n = {n}")
    assert not torch.equal(m.sample(3, seed=4), full[:3])


def test_the_discriminators_sigmoid_runs_in_float32_under_bf16_autocast() -> None:
    # bf16's sigmoid is exactly 1.0 from a logit of 6.25: the soft-label BCE then had neither loss nor gradient
    torch.manual_seed(0)
    d = build_method("dcgan", {"nz": 4, "ngf": 2, "ndf": 2}, training=True).discriminator.eval()
    x = torch.rand(8, 3, 64, 64)
    with torch.no_grad():
        last = d.main[-2]
        last.weight.mul_(8.0 / d.main[:-1](x).abs().mean())  # logits around 8
        logits = d.main[:-1](x).view(-1)
    high = (logits > 6.5) & (logits < 16)
    assert high.sum() >= 2, logits
    with torch.autocast("cpu", dtype=torch.bfloat16):
        p = d(x).view(-1)
    assert p.dtype == torch.float32 and (p[high] < 1).all() and (p > 0).all(), (logits, p)
    assert torch.equal(d(x), d.main(x)), "in float32 the forward is the seed's Sequential, bit for bit"


@pytest.mark.parametrize(("method", "lr"), [("dcgan", 2e-4), ("wgan_gp", 1e-4)])
def test_lr_d_sets_the_discriminators_rate_alone_and_both_follow_a_warmup(method: str, lr: float, tmp_path) -> None:
    from zoo.data import ImageSet
    from zoo.training import TrainConfig, Trainer

    tiny = {"nz": 4, "ngf": 2, "ndf": 2}
    same = build_method(method, tiny, training=True).configure_optimizers()
    assert [o.param_groups[0]["lr"] for o in same.values()] == [lr, lr], "without lr_d both run at lr"
    images = ImageSet(torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8), None, "random")
    trainer = Trainer(method, {**tiny, "lr_d": 4e-4}, {"train": images}, tmp_path,
                      TrainConfig(steps=2, batch_size=4, device="cpu", progress=False, lr_warmup=4))
    trainer.fit()
    rates = {k: o.param_groups[0]["lr"] for k, o in trainer.method.optimizers.items()}
    assert rates == pytest.approx({"generator": lr / 2, "discriminator": 4e-4 / 2}), "each from its own rate, halfway up the warm-up"


def test_a_seed_reaches_torchs_generator_as_it_is_which_the_recorded_figures_rest_on() -> None:
    """The gan evaluator samples with 48-bit chunk seeds; the registry's figures were made with them passed to torch unchanged."""
    from zoo.metrics.gan import chunk_seed

    m = build_method("dcgan", {"ngf": 2, "ndf": 2}).eval()
    s = chunk_seed(0, 0)
    assert s >= 2**32
    assert torch.equal(m._sample_noise(4, s), torch.randn(4, 100, 1, 1, generator=torch.Generator().manual_seed(s)))
