"""DCGAN: BCE loss, Adam 2e-4 (0.5, 0.999), N(0, 0.02) init; soft labels and instance noise as options."""

from __future__ import annotations

import pydantic
import torch
import torch.nn.functional as F

from zoo.gan import GANConfig, GANMethod
from zoo.interfaces import Batch


class DCGANConfig(GANConfig):
    """DCGAN's hyper-parameters; the seed's tricks are `soft_labels` and `instance_noise`."""

    soft_labels: bool = pydantic.Field(False, description="discriminator targets 0.9 (real) / 0.1 (fake) instead of 1 / 0")
    one_sided: bool = pydantic.Field(
        False, description="with soft_labels, keep the fake target at 0 (one-sided smoothing): a 0.1 fake target lets samples stay where the data has none"
    )
    instance_noise: float = pydantic.Field(0.0, ge=0, description="std of the normal noise added to the discriminator's inputs (seed: 0.01)")
    mixed_batches: bool = pydantic.Field(
        False, description="the discriminator sees real and generated images in one batch, so its BatchNorm statistics are shared and "
        "it must judge each image on its own (the seed keeps them in separate batches)"
    )


def _bce(p: torch.Tensor, target: float) -> torch.Tensor:
    # outside autocast: binary_cross_entropy on a Sigmoid output is unsafe in half precision
    with torch.autocast(p.device.type, enabled=False):
        p = p.float().view(-1)
        return F.binary_cross_entropy(p, torch.full_like(p, target))


class DCGAN(GANMethod):
    """DCGAN on 64x64 images."""

    name = "dcgan"
    Config = DCGANConfig
    discriminator_kind = ("batch", True)
    config: DCGANConfig

    def _noisy(self, x: torch.Tensor) -> torch.Tensor:
        s = self.config.instance_noise
        return x + s * torch.randn_like(x) if s else x

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        """One discriminator and one generator update; returns their losses and D's mean outputs."""
        c = self.config
        real = batch.x * 2 - 1
        real_t, fake_t = (0.9, 0.0 if c.one_sided else 0.1) if c.soft_labels else (1.0, 0.0)
        n = real.shape[0]
        fake = self.generator(self.latent(n))

        if c.mixed_batches:
            d_real, d_fake = self.discriminator(self._noisy(torch.cat([real, fake.detach()]))).split(n)
        else:
            d_real, d_fake = self.discriminator(self._noisy(real)), self.discriminator(self._noisy(fake.detach()))
        loss_d = _bce(d_real, real_t) + _bce(d_fake, fake_t)
        self.optimize("discriminator", loss_d)

        if c.mixed_batches:  # the generator is judged in the same company as in D's update
            d_gen = self.discriminator(self._noisy(torch.cat([real, fake])))[n:]
        else:
            d_gen = self.discriminator(self._noisy(fake))
        loss_g = _bce(d_gen, 1.0)
        self.optimize("generator", loss_g)
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(), "d_real": d_real.detach().float().mean(), "d_fake": d_fake.detach().float().mean()}
