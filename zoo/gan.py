"""What the GAN plugins share: the DCGAN-style 64x64 networks and unconditional sampling.

The networks print exactly as in the seed report (``Generator(main: Sequential(...))``);
DCGAN uses the discriminator with BatchNorm and a Sigmoid, WGAN-GP the same body with
InstanceNorm and no Sigmoid (a critic).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import pydantic
import torch
from torch import nn

from .errors import ConfigError, option, unknown_options
from .interfaces import DataSpec, Method, MethodConfig, whole_number

__all__ = ["Generator", "Discriminator", "dcgan_init", "GANConfig", "GANMethod"]


class Generator(nn.Module):
    """z (N, nz, 1, 1) -> image (N, nc, 64, 64) in [-1, 1]: five transposed convolutions."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3) -> None:
        super().__init__()
        widths = [ngf * 8, ngf * 4, ngf * 2, ngf]
        layers: list[nn.Module] = [nn.ConvTranspose2d(nz, widths[0], 4, 1, 0, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for cin, cout in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class Discriminator(nn.Module):
    """image (N, nc, 64, 64) -> score (N, 1, 1, 1): BatchNorm + Sigmoid (DCGAN) or InstanceNorm, no Sigmoid (critic)."""

    def __init__(self, ndf: int = 64, nc: int = 3, norm: Literal["batch", "instance"] = "batch", sigmoid: bool = True) -> None:
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm == "batch" else (lambda c: nn.InstanceNorm2d(c, affine=False))
        widths = [ndf, ndf * 2, ndf * 4, ndf * 8]
        layers: list[nn.Module] = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        for cin, cout in zip(widths, widths[1:]):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), norm_layer(cout), nn.LeakyReLU(0.2, inplace=True)]
        layers.append(nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False))
        if sigmoid:
            layers.append(nn.Sigmoid())
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(self.main[-1], nn.Sigmoid):
            return self.main(x)
        # the Sigmoid in float32: in bfloat16 (autocast) it gives exactly 1.0 from a logit of 6.25 on, where the BCE
        # that follows has no gradient; in float32 from 16.6. A float32 input is unchanged.
        for layer in self.main[:-1]:
            x = layer(x)
        return self.main[-1](x.float())


def dcgan_init(module: nn.Module) -> None:
    """Initialise as the DCGAN paper: conv weights ~ N(0, 0.02), norm scales ~ N(1, 0.02), biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, (nn.BatchNorm2d, nn.InstanceNorm2d)) and module.weight is not None:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class GANConfig(MethodConfig):
    """Hyper-parameters every 64x64 GAN here shares."""

    nz: int = pydantic.Field(100, ge=1, description="latent size")
    ngf: int = pydantic.Field(64, ge=1, description="generator width")
    ndf: int = pydantic.Field(64, ge=1, description="discriminator width")
    channels: Literal[1, 3] = 3
    lr: float = pydantic.Field(2e-4, gt=0)
    lr_d: float | None = pydantic.Field(
        None, gt=0, description="the discriminator's (critic's) learning rate where it differs from the generator's `lr` (two time-scale "
        "updates, TTUR: Heusel et al., 2017, train D at a higher rate than G)"
    )
    beta1: float = pydantic.Field(0.5, ge=0, lt=1)
    beta2: float = pydantic.Field(0.999, ge=0, lt=1)


class GANMethod(Method):
    """An unconditional 64x64 GAN: a generator (shipped) and a discriminator (training only)."""

    Config: ClassVar[type[GANConfig]] = GANConfig
    capabilities = frozenset({"sample"})
    training_modules = ("discriminator",)
    #: Set by subclasses: (norm, sigmoid) of the discriminator.
    discriminator_kind: ClassVar[tuple[Literal["batch", "instance"], bool]] = ("batch", True)
    sample_chunk: ClassVar[int] = 256
    test_config = {"nz": 8, "ngf": 4, "ndf": 4}
    #: 10,000 samples judged by the shipped digit classifier against MNIST-M's test split, the set
    #: the issue's GANs train on; a registry entry trained on other data names its own (`data = ...`).
    default_evaluation: ClassVar[dict[str, dict[str, Any]]] = {
        "gan": {"n": 10000, "seed": 0, "data": "mnistm", "classifier": "classifier.mnistm", "fid": True, "kid": True}
    }
    config: GANConfig

    def __init__(self, config: GANConfig | dict[str, Any] | None = None, *, training: bool = False) -> None:
        super().__init__(config, training=training)
        c = self.config
        self.generator = Generator(c.nz, c.ngf, c.channels)
        self.generator.apply(dcgan_init)
        if training:
            norm, sigmoid = self.discriminator_kind
            self.discriminator = Discriminator(c.ndf, c.channels, norm=norm, sigmoid=sigmoid)
            self.discriminator.apply(dcgan_init)

    def data_spec(self) -> DataSpec:
        """Return 64x64 images with the configured channels, no labels."""
        return DataSpec(image_size=64, channels=self.config.channels)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Return Adam for the generator (at `lr`) and the discriminator (at `lr_d`, else `lr`), timm's factory."""
        import timm.optim  # training only: importing timm costs seconds that `zoo sample` need not pay

        c = self.config
        rates = {"generator": c.lr, "discriminator": c.lr if c.lr_d is None else c.lr_d}
        return {
            name: timm.optim.create_optimizer_v2(getattr(self, name), opt="adam", lr=lr, betas=(c.beta1, c.beta2), weight_decay=0.0)
            for name, lr in rates.items()
        }

    def latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Return `n` latent vectors shaped (n, nz, 1, 1) on the model's device."""
        return torch.randn(n, self.config.nz, 1, 1, generator=generator, device=self.device)

    def _sample_noise(self, n: int, seed: int | None) -> torch.Tensor:
        """Return the latents of `n` images; with a seed, image i's are the same whatever `n` (and on any device).

        They are drawn on the CPU (a CUDA draw lays its values out by its size) in whole blocks of 16 values, then cut
        to n: torch's CPU normal kernel draws the last 16 values of a draw afresh when its size is no multiple of 16.
        """
        if seed is None:
            return self.latent(n)
        nz, m = self.config.nz, n
        while m * nz % 16 or m * nz < 16:
            m += 1
        z = torch.randn(m, nz, 1, 1, generator=self.generator_for(seed, torch.device("cpu")))[:n]
        return z.to(self.device)

    def check_sample_options(self, knobs: Mapping[str, Any]) -> None:
        """Refuse every sampling option: a GAN's sample takes none."""
        if knobs:
            raise unknown_options(f"model {self.zoo_name!r} takes no sampling options; got {sorted(knobs)}.", knobs)

    @torch.no_grad()
    def sample(self, n: int, labels: Sequence[int] | torch.Tensor | None = None, seed: int | None = None, **knobs: Any) -> torch.Tensor:
        """Return `n` images in [0, 1], (n, channels, 64, 64); the same `seed` gives the same images."""
        if labels is not None:
            raise ConfigError(f"model {self.zoo_name!r} is unconditional: it takes no labels. Sample without them (leave {option('labels')} out).")
        self.check_sample_options(knobs)
        n = whole_number(n, "sample(n)", low=1)
        z = self._sample_noise(n, seed)
        z = z.to(next(self.generator.parameters()).dtype)  # a model moved to half or bfloat16 (`.half()`) takes its own precision
        out = [self.generator(z[i : i + self.sample_chunk]).float() for i in range(0, n, self.sample_chunk)]
        return torch.cat(out).add_(1).mul_(0.5).clamp_(0, 1)
