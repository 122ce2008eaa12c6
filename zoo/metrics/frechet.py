"""The Frechet distance between two Gaussians fitted to features: shared by Inception FID and the classifier's FD.

d^2 = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2)).

The trace of the matrix square root is computed as the sum of the square roots of the
eigenvalues of S_a^(1/2) S_b S_a^(1/2), a symmetric positive semi-definite matrix with the
same eigenvalues as S_a S_b: two symmetric eigendecompositions in float64, no complex parts
to discard (as scipy.linalg.sqrtm of the non-symmetric product gives).

Example::

    >>> a, b = gaussian_stats(torch.randn(5000, 64)), gaussian_stats(torch.randn(5000, 64) + 1)
    >>> frechet_distance(a, b)      # about 64 (= |mu_a - mu_b|^2) plus sampling noise
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from ..errors import ConfigError, WeightsError
from ..files import atomic_write
from ..weights import json_digest, tensors_digest

__all__ = ["FrechetBiasWarning", "GaussianStats", "gaussian_stats", "frechet_distance", "save_stats", "load_stats"]


class FrechetBiasWarning(UserWarning):
    """Fewer samples than feature dimensions: the covariance is singular and the distance biased."""


@dataclass(frozen=True)
class GaussianStats:
    """Mean (D,) and covariance (D, D) of `n` feature vectors, float64 on the CPU."""

    mu: torch.Tensor
    sigma: torch.Tensor
    n: int
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def dim(self) -> int:
        """Return the feature dimension D."""
        return int(self.mu.shape[0])


def warn_if_biased(n: int, d: int, what: str, stacklevel: int = 2) -> None:
    """Warn (FrechetBiasWarning) when statistics of `n` samples of `d`-dimensional features cannot give an unbiased distance.

    `stacklevel` as warnings.warn's, counted from the caller: 2 points at the caller's caller.
    """
    if n <= d:
        warnings.warn(
            f"{what}: {n} samples for {d}-dimensional features. The covariance has rank at most {n - 1} < {d}, "
            f"so the Frechet distance is biased (upward, and more so the fewer the samples) and not comparable "
            f"with distances computed from more samples. Use more than {d} samples (e.g. 10,000).",
            FrechetBiasWarning,
            stacklevel=stacklevel + 1,
        )


def gaussian_stats(features: torch.Tensor, what: str = "features") -> GaussianStats:
    """Return the mean and unbiased covariance of `features` (N, D); warn when N <= D."""
    if features.ndim != 2 or features.shape[0] < 2:
        raise ConfigError(f"{what}: expected a (N, D) feature matrix with N >= 2, got shape {tuple(features.shape)}.")
    n, d = features.shape
    if not torch.isfinite(features).all():
        raise ConfigError(f"{what}: the feature matrix holds NaN or inf values; check the images fed to the feature network.")
    warn_if_biased(n, d, what, stacklevel=2)
    x = features.detach().to("cpu", torch.float64)
    mu = x.mean(0)
    centred = x - mu
    sigma = centred.T @ centred / (n - 1)
    return GaussianStats(mu, sigma, int(n))


def _sqrt_psd(m: torch.Tensor) -> torch.Tensor:
    """Return the symmetric square root of a symmetric positive semi-definite matrix (negative eigenvalues clipped)."""
    vals, vecs = torch.linalg.eigh((m + m.T) / 2)
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.T


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    """Return the Frechet distance between the Gaussians `a` and `b` (same feature dimension)."""
    if a.dim != b.dim:
        raise ConfigError(f"Frechet distance between {a.dim}- and {b.dim}-dimensional features: both sets must come from the same feature network.")
    diff = a.mu - b.mu
    root_a = _sqrt_psd(a.sigma)
    inner = root_a @ b.sigma @ root_a
    trace_sqrt = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp_min(0).sqrt().sum()
    d = diff.dot(diff) + torch.trace(a.sigma) + torch.trace(b.sigma) - 2 * trace_sqrt
    return float(d.clamp_min(0))


def save_stats(path: str | os.PathLike[str], stats: GaussianStats) -> Path:
    """Write `stats` (and its meta as JSON) to a safetensors file atomically; return the path."""
    tensors = {"mu": stats.mu.contiguous(), "sigma": stats.sigma.contiguous()}
    meta = {"zoo.stats.n": str(stats.n), "zoo.stats.meta": json.dumps(stats.meta, sort_keys=True)}
    data = safetensors.torch.save(tensors, metadata={**meta, "zoo.stats.sha256": _stats_digest(tensors, meta)})
    with atomic_write(path) as f:
        f.write(data)
    return Path(path)


def load_stats(path: str | os.PathLike[str]) -> GaussianStats:
    """Return the statistics that :func:`save_stats` wrote to `path`."""
    path = Path(path)
    fix = "Delete it; it is recomputed on the next evaluation."
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        stats = GaussianStats(tensors["mu"], tensors["sigma"], int(meta["zoo.stats.n"]), json.loads(meta.get("zoo.stats.meta", "{}")))
    except Exception as e:  # noqa: BLE001 - safetensors raises its own types
        raise WeightsError(f"feature statistics file {path} cannot be read ({e}). {fix}") from None
    want = meta.pop("zoo.stats.sha256", None)
    if want is None:  # an older zoo's file, or a damaged key: nothing vouches for the values, so they are not used
        raise WeightsError(f"feature statistics file {path} has no digest to check its values against. {fix}")
    if _stats_digest(tensors, meta) != want:
        raise WeightsError(f"feature statistics file {path} is damaged: its values do not match the digest written with them. {fix}")
    return stats


def _stats_digest(tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> str:
    return json_digest({"tensors": tensors_digest(tensors), **meta})
