"""The noise schedule and the reverse-process update rules (DDPM ancestral, DDIM), apart from any network.

Time runs over the integers 0..n_T: ``x_0`` is an image, ``x_{n_T}`` is (almost) pure noise, and
``alphas_bar[0] = 1``. Images live in [-1, 1] here; the method converts to and from [0, 1].

Example::

    >>> s = NoiseSchedule.linear(400, 1e-4, 0.02)
    >>> x_t = s.add_noise(x0, noise, t)                      # training input at integer times t
    >>> ts = s.timesteps(25)                                 # [400, 384, ..., 16, 0]: 25 network calls
    >>> x = s.ddim_step(x, eps, ts[0], ts[1], eta=0.0)      # one DDIM update
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from zoo.errors import ConfigError
from zoo.interfaces import whole_number

__all__ = ["NoiseSchedule", "guided_eps"]


@dataclass(frozen=True)
class NoiseSchedule:
    """betas, alphas and alphas_bar indexed by t = 0..n_T (index 0 is the clean image: beta 0, alpha_bar 1)."""

    betas: torch.Tensor
    alphas_bar: torch.Tensor

    def __post_init__(self) -> None:
        # the steps take the network's eps and divide by sqrt(alpha_bar_t) and sqrt(1 - beta_t): at alpha_bar_t = 0 (zero terminal
        # SNR) or beta_t = 1 every sample would come out NaN, with no error until something reads the images
        ab, betas = self.alphas_bar[1:], self.betas[1:]
        if self.betas.ndim != 1 or self.betas.shape != self.alphas_bar.shape or len(betas) < 1:
            raise ConfigError(f"a noise schedule takes betas and alphas_bar of one length n_T + 1 >= 2 (index 0: the clean image); "
                              f"got shapes {tuple(self.betas.shape)} and {tuple(self.alphas_bar.shape)}.")
        if not (bool(torch.isfinite(ab).all()) and bool((ab > 0).all()) and bool((betas < 1).all()) and bool((betas >= 0).all())):
            raise ConfigError(f"a noise schedule needs 0 <= beta_t < 1 and alpha_bar_t > 0 for t = 1..n_T; got betas "
                              f"{float(betas.min()):.3g}..{float(betas.max()):.3g} and alpha_bar down to {float(ab.min()):.3g}. The samplers "
                              "take eps and divide by sqrt(alpha_bar_t), so zero terminal SNR would give NaN images: clip alpha_bar_T "
                              "above 0 (e.g. 1e-5), or beta_t below 1 (the cosine schedule clips it at 0.999).")

    @classmethod
    def linear(cls, n_T: int, beta_start: float, beta_end: float, device: torch.device | str = "cpu") -> NoiseSchedule:
        """Return Ho et al.'s schedule: beta_t linear from `beta_start` (t=1) to `beta_end` (t=n_T)."""
        if n_T < 1 or not 0 < beta_start <= beta_end < 1:
            raise ConfigError(f"a linear noise schedule needs n_T >= 1 and 0 < beta_start <= beta_end < 1, got n_T={n_T}, betas {beta_start}..{beta_end}.")
        # float64 for the cumulative product: 400 factors near 1 lose digits in float32
        betas = torch.cat([torch.zeros(1, dtype=torch.float64), torch.linspace(beta_start, beta_end, n_T, dtype=torch.float64)])
        alphas_bar = torch.cumprod(1 - betas, 0)
        return cls(betas.float().to(device), alphas_bar.float().to(device))

    @property
    def n_T(self) -> int:
        """Return the number of diffusion steps."""
        return self.betas.shape[0] - 1

    def to(self, device: torch.device | str) -> NoiseSchedule:
        """Return this schedule with its tensors on `device`."""
        return NoiseSchedule(self.betas.to(device), self.alphas_bar.to(device))

    def _at(self, values: torch.Tensor, t: torch.Tensor | int, like: torch.Tensor) -> torch.Tensor:
        v = values[t] if isinstance(t, int) else values[t.to(values.device)]
        return v.to(like.dtype).reshape(-1, *([1] * (like.ndim - 1))) if v.ndim else v.to(like.dtype)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Return x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise for integer times `t` (N,)."""
        ab = self._at(self.alphas_bar, t, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def timesteps(self, steps: int) -> list[int]:
        """Return `steps` + 1 integer times from n_T down to 0, evenly spaced: the sampler makes `steps` network calls."""
        steps = whole_number(steps, "steps", 1, self.n_T, hint=f"(n_T is {self.n_T}.) DDIM takes 10-50 steps well; sampler ddpm runs all {self.n_T}.")
        return [int(v) for v in torch.linspace(self.n_T, 0, steps + 1, dtype=torch.float64).round().long()]

    def ddpm_step(self, x_t: torch.Tensor, eps: torch.Tensor, t: int, noise: torch.Tensor | None) -> torch.Tensor:
        """Return x_{t-1} by the ancestral rule the seed uses: (x_t - beta_t / sqrt(1 - ab_t) eps) / sqrt(alpha_t) + sqrt(beta_t) z."""
        beta, ab = float(self.betas[t]), float(self.alphas_bar[t])
        mean = (x_t - beta / (1 - ab) ** 0.5 * eps) / (1 - beta) ** 0.5
        return mean if noise is None or t == 1 else mean + beta**0.5 * noise

    def predict_x0(self, x_t: torch.Tensor, eps: torch.Tensor, t: int) -> torch.Tensor:
        """Return the clean image that `eps` implies at time `t`."""
        ab = float(self.alphas_bar[t])
        return (x_t - (1 - ab) ** 0.5 * eps) / ab**0.5

    def ddim_step(self, x_t: torch.Tensor, eps: torch.Tensor, t: int, t_prev: int, eta: float = 0.0, noise: torch.Tensor | None = None) -> torch.Tensor:
        """Return x_{t_prev} by Song et al.'s DDIM rule (eta 0: deterministic; eta 1: DDPM-like variance)."""
        ab, ab_prev = float(self.alphas_bar[t]), float(self.alphas_bar[t_prev])
        # the clipped x0 keeps few-step samples in the data range, and the noise is the one that x0 implies: left as
        # predicted (diffusers' default), every step also moved x_t by sqrt(ab) (x0 - clipped x0) however short it
        # was, so more steps added more of it (DDIM-400 gave speckled, partly unreadable digits)
        x0 = self.predict_x0(x_t, eps, t).clamp(-1, 1)
        eps = (x_t - ab**0.5 * x0) / (1 - ab) ** 0.5
        sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)) ** 0.5
        out = ab_prev**0.5 * x0 + max(1 - ab_prev - sigma**2, 0.0) ** 0.5 * eps
        if sigma > 0 and noise is not None:
            out = out + sigma * noise
        return out


def guided_eps(eps_pair: torch.Tensor, guidance: float) -> torch.Tensor:
    """Return (1 + w) eps_cond - w eps_uncond from a batch holding the conditional half first (w = 0: the batch itself)."""
    if guidance == 0:
        return eps_pair
    cond, uncond = eps_pair.chunk(2)
    return (1 + guidance) * cond - guidance * uncond
