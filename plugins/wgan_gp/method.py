"""WGAN-GP: critic loss mean(fake) - mean(real) + lambda * gradient penalty, n_critic critic steps per generator step."""

from __future__ import annotations

import pydantic
import torch
from torch import nn

from zoo.gan import GANConfig, GANMethod
from zoo.interfaces import Batch

__all__ = ["WGANGPConfig", "WGANGP", "gradient_penalty"]


class WGANGPConfig(GANConfig):
    """WGAN-GP's hyper-parameters: Adam 1e-4 with betas (0.0, 0.9), lambda 10, five critic steps per generator step."""

    lr: float = pydantic.Field(1e-4, gt=0)
    beta1: float = pydantic.Field(0.0, ge=0, lt=1)
    beta2: float = pydantic.Field(0.9, ge=0, lt=1)
    n_critic: int = pydantic.Field(5, ge=1, description="critic updates per generator update")
    gp_lambda: float = pydantic.Field(10.0, ge=0, description="weight of the gradient penalty")
    gp_eps: float = pydantic.Field(1e-10, gt=0, description="added inside the square root of the gradient norm")


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Return mean((||grad critic(x_hat)||_2 - 1)^2) over random interpolates x_hat of `real` and `fake`, in float32.

    Autocast is switched off here even when the step runs under bf16: the penalty differentiates
    through a gradient, and bf16's 8-bit mantissa turns that second-order term into noise. (On an Ampere or
    newer GPU, torch's default, ``torch.backends.cudnn.allow_tf32``, still runs the convolutions in TF32, with
    an 11-bit mantissa; set it to False for full float32.)
    `eps` inside the square root keeps the norm's own gradient finite where a gradient is zero.
    """
    with torch.autocast(real.device.type, enabled=False):
        real, fake = real.detach().float(), fake.detach().float()
        alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
        x_hat = torch.lerp(fake, real, alpha).requires_grad_(True)
        score = critic(x_hat).float()
        (grad,) = torch.autograd.grad(score.sum(), x_hat, create_graph=True)
        norm = torch.sqrt(grad.flatten(1).pow(2).sum(1) + eps)
        return (norm - 1).pow(2).mean()


class WGANGP(GANMethod):
    """WGAN-GP on 64x64 images: the DCGAN generator and an InstanceNorm critic without Sigmoid."""

    name = "wgan_gp"
    Config = WGANGPConfig
    discriminator_kind = ("instance", False)
    test_config = {"nz": 8, "ngf": 4, "ndf": 4, "n_critic": 2}
    config: WGANGPConfig

    @property
    def step_cycle(self) -> int:
        """Return n_critic: the critic steps of one round, the last of which also updates the generator."""
        return self.config.n_critic

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        """One critic update; every `n_critic`-th step also one generator update. Returns the losses.

        ``loss_d`` is the critic's loss with the penalty, ``w_dist`` its Wasserstein estimate
        mean(critic(real)) - mean(critic(fake)), ``gp`` the penalty, and ``loss_g`` the generator's loss on
        the steps that update it (a value carried over to the other steps would not survive a resume).
        """
        c = self.config
        critic = self.discriminator
        real = batch.x * 2 - 1
        with torch.no_grad():
            fake = self.generator(self.latent(real.shape[0]))
        c_real = critic(real).float().mean()
        c_fake = critic(fake).float().mean()
        gp = gradient_penalty(critic, real, fake, c.gp_eps)
        loss_d = c_fake - c_real + c.gp_lambda * gp
        self.optimize("discriminator", loss_d)
        out = {"loss_d": loss_d.detach(), "w_dist": (c_real - c_fake).detach(), "gp": gp.detach()}

        if step % c.n_critic == 0:
            critic.requires_grad_(False)  # the generator's loss needs no gradient of the critic's weights
            try:
                loss_g = -critic(self.generator(self.latent(real.shape[0]))).float().mean()
                self.optimize("generator", loss_g)
            finally:
                critic.requires_grad_(True)
            out["loss_g"] = loss_g.detach()
        return out
