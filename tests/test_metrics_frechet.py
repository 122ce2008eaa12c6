"""The Frechet distance, written once for Inception FID and the classifier's FD."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from zoo.errors import ConfigError
from zoo.metrics.frechet import FrechetBiasWarning, GaussianStats, frechet_distance, gaussian_stats, load_stats, save_stats


def random_covariance(d: int, seed: int) -> torch.Tensor:
    a = torch.randn(d, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


def stats(mu: torch.Tensor, sigma: torch.Tensor) -> GaussianStats:
    return GaussianStats(mu.double(), sigma.double(), 1000)


def test_distance_of_a_gaussian_to_itself_is_zero() -> None:
    s = stats(torch.randn(16, dtype=torch.float64), random_covariance(16, 0))
    assert frechet_distance(s, s) == pytest.approx(0.0, abs=1e-8)


def test_diagonal_gaussians_match_the_closed_form() -> None:
    # for commuting (diagonal) covariances: |mu_a - mu_b|^2 + sum (sqrt(a_i) - sqrt(b_i))^2
    va, vb = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 1.0])
    a, b = stats(torch.zeros(3), torch.diag(va)), stats(torch.tensor([1.0, 2.0, 0.0]), torch.diag(vb))
    want = 5.0 + float(((va.sqrt() - vb.sqrt()) ** 2).sum())
    assert frechet_distance(a, b) == pytest.approx(want, rel=1e-10)


def test_matches_scipy_sqrtm_on_non_commuting_covariances() -> None:
    linalg = pytest.importorskip("scipy.linalg")
    sa, sb = random_covariance(20, 1), random_covariance(20, 2)
    mu_a, mu_b = torch.randn(20, dtype=torch.float64), torch.randn(20, dtype=torch.float64)
    root = linalg.sqrtm(sa.numpy() @ sb.numpy()).real
    want = float((mu_a - mu_b).pow(2).sum() + sa.trace() + sb.trace()) - 2 * float(root.trace())
    got = frechet_distance(stats(mu_a, sa), stats(mu_b, sb))
    assert got == pytest.approx(want, rel=1e-8)
    assert frechet_distance(stats(mu_b, sb), stats(mu_a, sa)) == pytest.approx(got, rel=1e-8)


def test_stats_of_samples_estimate_mean_and_covariance() -> None:
    x = torch.randn(20000, 4, generator=torch.Generator().manual_seed(0)) * torch.tensor([1.0, 2.0, 3.0, 4.0]) + 5
    s = gaussian_stats(x)
    assert s.n == 20000 and s.mu.dtype == torch.float64
    assert torch.allclose(s.mu, torch.full((4,), 5.0, dtype=torch.float64), atol=0.1)
    assert torch.allclose(s.sigma.diagonal(), torch.tensor([1.0, 4.0, 9.0, 16.0], dtype=torch.float64), rtol=0.05)
    # two samples of one Gaussian: a small distance, shrinking as n grows
    assert frechet_distance(s, gaussian_stats(x.flip(0)[:5000])) < 0.1


def test_fewer_samples_than_dimensions_warns_about_bias() -> None:
    with pytest.warns(FrechetBiasWarning, match=r"8 samples for 16-dimensional features.*biased.*Use more than 16 samples"):
        gaussian_stats(torch.randn(8, 16), what="test features")
    with pytest.warns(FrechetBiasWarning) as seen:
        gaussian_stats(torch.randn(5, 10))
    assert seen[0].filename == __file__, "the warning points at the line that asked for the statistics"


def test_bad_inputs_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="same feature network"):
        frechet_distance(stats(torch.zeros(3), torch.eye(3)), stats(torch.zeros(4), torch.eye(4)))
    with pytest.raises(ConfigError, match=r"\(N, D\) feature matrix"):
        gaussian_stats(torch.randn(10))
    with pytest.raises(ConfigError, match="NaN or inf"):
        gaussian_stats(torch.tensor([[0.0, math.nan], [1.0, 2.0], [3.0, 4.0]]))


def test_stats_round_trip_through_safetensors(tmp_path: Path) -> None:
    s = GaussianStats(torch.randn(5, dtype=torch.float64), random_covariance(5, 3), 77, {"source": "test"})
    back = load_stats(save_stats(tmp_path / "s.safetensors", s))
    assert torch.equal(back.mu, s.mu) and torch.equal(back.sigma, s.sigma) and back.n == 77 and back.meta == {"source": "test"}


def test_stats_without_their_digest_are_not_used(tmp_path: Path) -> None:
    """A file whose digest key was lost (a flipped byte in its name) vouches for nothing: recomputed, never used as it is."""
    import safetensors.torch

    from zoo.errors import WeightsError

    s = GaussianStats(torch.randn(5, dtype=torch.float64), random_covariance(5, 3), 77, {"source": "test"})
    path = save_stats(tmp_path / "s.safetensors", s)
    data = path.read_bytes().replace(b"zoo.stats.sha256", b"zoo.stats.sha257")
    path.write_bytes(data)
    assert "zoo.stats.sha257" in safetensors.safe_open(str(path), "pt").metadata()
    with pytest.raises(WeightsError, match="has no digest to check its values against"):
        load_stats(path)
