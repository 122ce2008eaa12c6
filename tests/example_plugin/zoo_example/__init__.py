"""A diagonal Gaussian over pixels: the smallest honest generative model, as a zoo plugin."""

from __future__ import annotations

from typing import Any

import pydantic
import torch
from torch import nn

import zoo
from zoo.errors import ConfigError
from zoo.interfaces import whole_number


class GaussianConfig(zoo.MethodConfig):
    """Hyper-parameters of the pixel Gaussian."""

    image_size: int = pydantic.Field(16, ge=1)
    channels: int = pydantic.Field(3, ge=1)
    lr: float = pydantic.Field(0.05, gt=0)


class Gaussian(zoo.Method):
    """Independent normal per pixel, fitted by maximum likelihood."""

    name = "gaussian"
    Config = GaussianConfig
    capabilities = frozenset({"sample"})
    test_config = {"image_size": 8}
    config: GaussianConfig

    def __init__(self, config: Any = None, *, training: bool = False) -> None:
        super().__init__(config, training=training)
        c = self.config
        self.density = nn.ParameterDict({
            "mean": nn.Parameter(torch.full((c.channels, c.image_size, c.image_size), 0.5)),
            "log_std": nn.Parameter(torch.full((c.channels, c.image_size, c.image_size), -1.0)),
        })

    def data_spec(self) -> zoo.DataSpec:
        """Return the image size and channels the model covers."""
        return zoo.DataSpec(image_size=self.config.image_size, channels=self.config.channels)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Return one Adam optimizer."""
        return {"density": torch.optim.Adam(self.parameters(), lr=self.config.lr)}

    def train_step(self, batch: zoo.Batch, step: int) -> dict[str, torch.Tensor]:
        """One step of Gaussian negative log-likelihood; returns it."""
        d = self.density
        nll = (d["log_std"] + 0.5 * ((batch.x - d["mean"]) / d["log_std"].exp()) ** 2).mean()
        self.optimize("density", nll)
        return {"loss_nll": nll.detach()}

    @torch.no_grad()
    def sample(self, n: int, labels: Any = None, seed: int | None = None, **knobs: Any) -> torch.Tensor:
        """Return `n` images drawn from the fitted Gaussian, clamped to [0, 1]."""
        if labels is not None or knobs:
            raise ConfigError(f"model {self.zoo_name!r} takes no labels or sampling options; got labels={labels!r}, options {sorted(knobs)}.")
        n = whole_number(n, "sample(n)", low=1)  # a ConfigError for 0, -2 or 2.5
        d = self.density
        noise = torch.randn(n, *d["mean"].shape, generator=self.generator_for(seed), device=self.device)
        return (d["mean"] + d["log_std"].exp() * noise).clamp(0, 1)


@zoo.hookimpl
def zoo_register_methods() -> list[type[zoo.Method]]:
    """Register the Gaussian method."""
    return [Gaussian]
