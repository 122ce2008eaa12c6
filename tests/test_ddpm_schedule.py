"""The noise schedule and the DDPM/DDIM update rules, checked against closed forms."""

from __future__ import annotations

import pytest
import torch

from zoo.errors import ConfigError
from zoo_plugins.ddpm.schedule import NoiseSchedule, guided_eps


@pytest.fixture
def schedule() -> NoiseSchedule:
    return NoiseSchedule.linear(400, 1e-4, 0.02)


def test_linear_betas_and_alphas_bar(schedule: NoiseSchedule) -> None:
    assert schedule.n_T == 400
    assert schedule.betas[0] == 0 and schedule.alphas_bar[0] == 1
    assert torch.isclose(schedule.betas[1], torch.tensor(1e-4)) and torch.isclose(schedule.betas[400], torch.tensor(0.02))
    assert torch.allclose(schedule.betas[1:].diff(), torch.full((399,), (0.02 - 1e-4) / 399), atol=1e-8)
    assert (schedule.alphas_bar.diff() < 0).all()
    # about exp(-sum of betas) = exp(-4.02): x_400 still keeps 13% of the image's scale, as in the seed
    assert abs(float(schedule.alphas_bar[400]) ** 0.5 - 0.1322) < 5e-4


def test_add_noise_has_the_marginal_variance(schedule: NoiseSchedule) -> None:
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(4000, 1, 4, 4, generator=g)
    t = torch.full((4000,), 200)
    x_t = schedule.add_noise(torch.ones_like(noise), noise, t)
    ab = float(schedule.alphas_bar[200])
    assert abs(float(x_t.mean()) - ab**0.5) < 0.01
    assert abs(float(x_t.std()) - (1 - ab) ** 0.5) < 0.01


def test_timesteps_are_even_and_bounded(schedule: NoiseSchedule) -> None:
    ts = schedule.timesteps(25)
    assert len(ts) == 26 and ts[0] == 400 and ts[-1] == 0 and ts[1] == 384
    assert all(a > b for a, b in zip(ts, ts[1:]))
    assert schedule.timesteps(400) == list(range(400, -1, -1))
    for bad in (0, 401, -3, True, 2.5):
        with pytest.raises(ConfigError, match="steps must be a whole number in 1..400"):
            schedule.timesteps(bad)  # type: ignore[arg-type]


def test_ddim_with_the_true_noise_lands_on_the_forward_marginal(schedule: NoiseSchedule) -> None:
    g = torch.Generator().manual_seed(1)
    x0, eps = torch.rand(8, 3, 5, 5, generator=g) * 2 - 1, torch.randn(8, 3, 5, 5, generator=g)
    x_t = schedule.add_noise(x0, eps, torch.full((8,), 300))
    x_prev = schedule.ddim_step(x_t, eps, 300, 120, eta=0.0)
    assert torch.allclose(x_prev, schedule.add_noise(x0, eps, torch.full((8,), 120)), atol=1e-5)
    assert torch.allclose(schedule.ddim_step(x_t, eps, 300, 0), x0, atol=1e-5)


def test_a_ddim_step_moves_x_only_as_far_as_the_step_is_long_when_x0_is_clipped(schedule: NoiseSchedule) -> None:
    # a guided prediction's x0 far outside [-1, 1] is clipped; the noise must then be the one the clipped x0 implies,
    # or every step, however short, jumps by sqrt(ab) (x0 - clipped x0) and many steps pile it up (DDIM-400's speckle)
    g = torch.Generator().manual_seed(3)
    x_t, eps = torch.randn(4, 3, 5, 5, generator=g), torch.randn(4, 3, 5, 5, generator=g) * 3
    assert schedule.predict_x0(x_t, eps, 400).abs().max() > 1, "the case under test: x0 is clipped"
    assert torch.allclose(schedule.ddim_step(x_t, eps, 400, 400), x_t, atol=1e-5), "a step of length 0 leaves x_t"
    one = schedule.ddim_step(x_t, eps, 400, 399)
    assert (one - x_t).abs().max() < 0.05, "one step of 400 moves x_t a little"


def test_ddpm_step_mean_is_the_posterior_mean(schedule: NoiseSchedule) -> None:
    g = torch.Generator().manual_seed(2)
    x0, eps = torch.rand(4, 3, 5, 5, generator=g) * 2 - 1, torch.randn(4, 3, 5, 5, generator=g)
    t = 250
    x_t = schedule.add_noise(x0, eps, torch.full((4,), t))
    beta, ab, ab_prev = (float(v) for v in (schedule.betas[t], schedule.alphas_bar[t], schedule.alphas_bar[t - 1]))
    # Ho et al. (2020), eq. 7: the mean of q(x_{t-1} | x_t, x_0)
    posterior = ab_prev**0.5 * beta / (1 - ab) * x0 + (1 - beta) ** 0.5 * (1 - ab_prev) / (1 - ab) * x_t
    assert torch.allclose(schedule.ddpm_step(x_t, eps, t, None), posterior, atol=1e-5)
    z = torch.randn(4, 3, 5, 5, generator=g)
    assert torch.allclose(schedule.ddpm_step(x_t, eps, t, z) - posterior, beta**0.5 * z, atol=1e-5)
    assert torch.equal(schedule.ddpm_step(x_t, eps, 1, z), schedule.ddpm_step(x_t, eps, 1, None)), "no noise on the last step"


def test_ddim_eta_adds_noise_only_when_positive(schedule: NoiseSchedule) -> None:
    x, eps, z = torch.zeros(2, 1, 3, 3), torch.ones(2, 1, 3, 3) * 0.1, torch.ones(2, 1, 3, 3)
    assert torch.equal(schedule.ddim_step(x, eps, 200, 100, 0.0, z), schedule.ddim_step(x, eps, 200, 100, 0.0, None))
    assert not torch.equal(schedule.ddim_step(x, eps, 200, 100, 1.0, z), schedule.ddim_step(x, eps, 200, 100, 1.0, None))


def test_guided_eps_combines_the_halves() -> None:
    cond, uncond = torch.full((2, 1), 1.0), torch.full((2, 1), 3.0)
    pair = torch.cat([cond, uncond])
    assert torch.equal(guided_eps(cond, 0.0), cond)
    assert torch.equal(guided_eps(pair, 2.0), 3 * cond - 2 * uncond)


def test_bad_schedule_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="beta_start <= beta_end"):
        NoiseSchedule.linear(10, 0.1, 0.01)


def test_a_schedule_the_samplers_cannot_run_is_refused_when_built() -> None:
    from zoo.errors import ConfigError
    from zoo_plugins.ddpm.schedule import NoiseSchedule

    good = NoiseSchedule.linear(10, 1e-4, 0.02)
    zero_snr = good.alphas_bar.clone()
    zero_snr[-1] = 0.0  # zero terminal SNR: the eps steps divide by sqrt(alpha_bar_T), and every image came out NaN
    with pytest.raises(ConfigError, match=r"alpha_bar_t > 0.*zero terminal SNR would give NaN images"):
        NoiseSchedule(good.betas, zero_snr)
    betas = good.betas.clone()
    betas[-1] = 1.0
    with pytest.raises(ConfigError, match=r"0 <= beta_t < 1"):
        NoiseSchedule(betas, good.alphas_bar)
