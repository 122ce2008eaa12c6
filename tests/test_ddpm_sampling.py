"""DDPM sampling and training on a tiny network: shapes, seeds, guidance batching, frames, bad input."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.errors import ConfigError
from zoo.interfaces import Batch
from zoo_plugins.ddpm.method import DDPM, _ImageNoise

N_T = 20


@pytest.fixture(scope="module")
def model() -> DDPM:
    torch.manual_seed(0)
    return zoo.build_method("ddpm", {"n_feat": 8, "n_T": N_T}).eval()


def count_forwards(model: DDPM) -> tuple[list[int], torch.utils.hooks.RemovableHandle]:
    sizes: list[int] = []
    handle = model.nn_model.register_forward_hook(lambda mod, args, out: sizes.append(out.shape[0]))
    return sizes, handle


def test_sample_shape_range_and_dtype(model: DDPM) -> None:
    x = model.sample(4, labels=[0, 1, 2, 9], seed=0, steps=3)
    assert x.shape == (4, 3, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) >= 0 and float(x.max()) <= 1


def test_image_i_depends_on_the_seed_and_i_alone(model: DDPM) -> None:
    five = model.sample(5, seed=3, steps=4)
    assert torch.allclose(model.sample(3, seed=3, steps=4), five[:3], atol=1e-5)
    assert torch.allclose(model.sample(5, seed=3, steps=4, batch_size=2), five, atol=1e-5)
    assert not torch.allclose(model.sample(5, seed=4, steps=4), five)
    ddpm = model.sample(2, seed=3, sampler="ddpm")
    assert torch.allclose(model.sample(1, seed=3, sampler="ddpm"), ddpm[:1], atol=1e-5)


def test_labels_none_cycles_through_the_classes(model: DDPM) -> None:
    assert torch.equal(model.sample(12, seed=1, steps=2), model.sample(12, labels=[i % 10 for i in range(12)], seed=1, steps=2))
    assert torch.equal(model.sample(3, labels=torch.tensor([4, 5, 6]), seed=1, steps=2), model.sample(3, labels=(4, 5, 6), seed=1, steps=2))


def test_labels_of_any_integer_type_are_taken_as_they_mean(model: DDPM) -> None:
    import numpy as np

    expected = model.sample(2, labels=[3, 4], seed=1, steps=2)
    for labels in (np.array([3, 4], dtype=np.uint64), torch.tensor([3, 4], dtype=torch.uint64), torch.tensor([3, 4], dtype=torch.int32)):
        assert torch.equal(model.sample(2, labels=labels, seed=1, steps=2), expected), labels
    with pytest.raises(ConfigError, match="labels must be a sequence of integers, got 3"):
        model.sample(1, labels=3, seed=0, steps=2)


def test_guidance_batches_both_passes_into_one_forward(model: DDPM) -> None:
    sizes, handle = count_forwards(model)
    try:
        model.sample(3, seed=0, steps=5, guidance=2.0)
        assert sizes == [6] * 5, "5 steps, each one forward of the conditional and unconditional halves"
        images: list[int] = []
        hook = model.nn_model.init_conv.register_forward_hook(lambda mod, args, out: images.append(out.shape[0]))
        try:
            model.sample(3, seed=0, steps=2, guidance=2.0)
        finally:
            hook.remove()
        assert images == [3, 3], "the encoder runs once per step for both halves"
        sizes.clear()
        sizes.clear()
        model.sample(3, seed=0, steps=5, guidance=0.0)
        assert sizes == [3] * 5, "w = 0 skips the unconditional half"
        sizes.clear()
        model.sample(2, seed=0, sampler="ddpm", guidance=0.5)
        assert sizes == [4] * N_T, "the ancestral sampler visits every step"
    finally:
        handle.remove()


def test_guidance_and_eta_change_the_samples(model: DDPM) -> None:
    base = model.sample(2, seed=0, steps=5, guidance=0.0)
    assert not torch.allclose(base, model.sample(2, seed=0, steps=5, guidance=2.0))
    assert not torch.allclose(base, model.sample(2, seed=0, steps=5, guidance=0.0, eta=1.0))
    assert torch.equal(model.sample(2, seed=0, steps=5, eta=1.0), model.sample(2, seed=0, steps=5, eta=1.0))


def test_frames_follow_the_reverse_process(model: DDPM, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    x = model.sample(2, seed=0, steps=4, callback=lambda t, x_t, start: seen.append(t))
    assert seen == [20, 15, 10, 5, 0]
    images, frames = model.sample_frames(2, [20, 19, 10, 0], seed=0, sampler="ddpm")
    assert list(frames) == [20, 19, 10, 0]
    assert all(f.shape == (2, 3, 28, 28) for f in frames.values())
    assert torch.equal(frames[0], images)
    start = _ImageNoise(0, range(2), (3, 28, 28), torch.device("cpu")).draw()
    assert torch.allclose(frames[20], start.add(1).mul(0.5).clamp(0, 1), atol=1e-6), "t = n_T shows the starting noise"
    assert not torch.allclose(x, images)
    calls: list[int] = []
    monkeypatch.setattr(model, "sample", lambda *a, **k: calls.append(1))  # the refusal comes before any sampling, naming the times it visits
    with pytest.raises(ConfigError, match=r"ddim sampler with 2 steps never visits times \[19\]: it visits 20, 10, 0\. .*times"):
        model.sample_frames(1, [19], seed=0, steps=2)
    assert calls == []
    with pytest.raises(ConfigError, match="0..20"):
        model.sample_frames(1, [21], seed=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"labels": [0, 10]}, "labels must lie in 0..9"),
        ({"labels": [-1, 0]}, "labels must lie in 0..9"),
        ({"labels": [0, 1, 2]}, "one integer class per image: 2"),
        ({"labels": [0.5, 1.0]}, "one integer class per image"),
        ({"labels": "ab"}, "labels"),
        ({"steps": 0}, "steps must be a whole number in 1..20"),
        ({"steps": 21}, "steps must be a whole number in 1..20"),
        ({"guidance": -0.5}, "guidance .* >= 0"),
        ({"guidance": float("nan")}, "guidance .* finite number >= 0, got nan"),  # every image would be NaN
        ({"guidance": float("inf")}, "guidance .* finite number >= 0, got inf"),
        ({"sampler": "euler"}, r"unknown sampler 'euler'\. Samplers: ddim, ddpm, dpmpp2m \(a plugin adds more"),
        ({"sampler": "ddmi"}, "Did you mean: .*ddim"),
        ({"sampler": "ddpm", "eta": 0.5}, r"sampler ddpm takes no sampling option \['eta'\]"),
        ({"eta": True}, r"eta: expected a number, not true or false \(got True\)"),
        ({"sampler": "dpmpp2m", "order": True}, "order: expected a number, not true or false"),
        ({"sampler": "ddpm", "steps": 10}, "runs all 20 steps"),
        ({"eta": 1.5}, "sampler ddim: eta: Input should be less than or equal to 1"),
        ({"temperature": 0.9}, "no sampling option"),
        ({"batch_size": 0}, "batch_size must be a whole number >= 1"),
        ({"batch_size": 1.5}, "batch_size must be a whole number >= 1, got 1.5"),
        ({"steps": 2.0}, "steps must be a whole number in 1..20, got 2.0"),
    ],
)
def test_bad_input_is_a_clear_error(model: DDPM, kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        model.sample(2, seed=0, **kwargs)


def test_eta_zero_is_taken_by_every_sampler_as_before_it_became_ddims_knob(model: DDPM) -> None:
    # a loop over samplers passing eta=0.0 (no noise) throughout worked before eta moved into DDIM's options
    assert torch.equal(model.sample(2, seed=0, sampler="ddpm", eta=0.0), model.sample(2, seed=0, sampler="ddpm"))


def test_n_must_be_positive(model: DDPM) -> None:
    with pytest.raises(ConfigError, match=r"sample\(n\) must be a whole number >= 1"):
        model.sample(0)


def test_training_drops_the_class_at_the_configured_rate() -> None:
    torch.manual_seed(0)
    m = zoo.build_method("ddpm", {"n_feat": 8, "n_T": N_T, "drop_prob": 0.5}, training=True)
    m.optimizers = m.configure_optimizers()
    contexts: list[torch.Tensor] = []
    m.nn_model.register_forward_hook(lambda mod, args, out: contexts.append(args[2]))
    m.train_step(Batch(torch.rand(200, 3, 28, 28), torch.randint(0, 10, (200,))), 1)
    dropped = float((contexts[0].sum(1) == 0).float().mean())
    assert 0.35 < dropped < 0.65
    assert set(contexts[0].sum(1).tolist()) == {0.0, 1.0}
    with pytest.raises(ConfigError, match="labelled"):
        m.train_step(Batch(torch.rand(2, 3, 28, 28), None), 2)


def test_learning_rate_decays_linearly_to_zero() -> None:
    m = zoo.build_method("ddpm", {"n_feat": 8, "lr": 1e-3}, training=True)
    m.optimizers = m.configure_optimizers()
    sched = m.configure_schedulers(100)["nn_model"]
    for step, want in ((0, 1e-3), (50, 5e-4), (100, 0.0)):
        sched.step_update(step)
        assert m.optimizers["nn_model"].param_groups[0]["lr"] == pytest.approx(want)
    assert zoo.build_method("ddpm", {"n_feat": 8, "lr_decay": False}).configure_schedulers(100) == {}


def test_a_few_steps_lower_the_loss_on_fixed_digits() -> None:
    torch.manual_seed(0)
    m = zoo.build_method("ddpm", {"n_feat": 8, "n_T": N_T, "lr": 3e-3}, training=True)
    m.optimizers = m.configure_optimizers()
    x = torch.zeros(16, 3, 28, 28)
    x[:, :, 8:20, 12:16] = 1.0  # a bar: something with structure to learn
    batch = Batch(x, torch.arange(16) % 10)
    g = torch.Generator().manual_seed(1)
    t, noise = torch.randint(1, N_T + 1, (16,), generator=g), torch.randn(16, 3, 28, 28, generator=g)

    def held_out_loss() -> float:
        m.eval()
        with torch.no_grad():
            eps = m.nn_model(m.schedule.add_noise(x * 2 - 1, noise, t), t.float() / N_T, m.one_hot(batch.y))
        m.train()
        return float(torch.nn.functional.mse_loss(eps, noise))

    m.train()
    before = held_out_loss()
    for step in range(1, 26):
        m.train_step(batch, step)
    assert held_out_loss() < 0.7 * before


def test_numpy_integers_are_whole_numbers_and_other_seeds_are_not(model: DDPM) -> None:
    import numpy as np

    assert model.sample(np.int64(1), seed=np.int64(3), steps=np.int64(2)).shape == (1, 3, 28, 28)
    for seed in ("a", 1.5):
        with pytest.raises(ConfigError, match=rf"seed must be a whole number in .*, got {seed!r}"):
            model.sample(1, seed=seed, steps=2)


def _solve_gaussian(sampler, times: list[int]) -> float:
    """Return the largest error at times[-1] of `sampler` stepping over `times` on data N(0, 0.3^2), whose noise prediction
    and probability-flow solution are known exactly (the ODE keeps x_t / sqrt(alpha_bar_t s^2 + 1 - alpha_bar_t) constant)."""
    from zoo_plugins.ddpm.schedule import NoiseSchedule

    schedule, sd = NoiseSchedule.linear(400, 1e-4, 0.02), 0.3

    def spread(t: int) -> float:
        ab = float(schedule.alphas_bar[t])
        return (ab * sd**2 + 1 - ab) ** 0.5

    def eps(x: torch.Tensor, t: int) -> torch.Tensor:
        return (1 - float(schedule.alphas_bar[t])) ** 0.5 * x / spread(t) ** 2

    x_T = torch.linspace(-2, 2, 9, dtype=torch.float64)
    options, state, x = sampler.Options(), {}, x_T.clone()
    for t, t_prev in zip(times, times[1:]):
        x = sampler.step(schedule, x, t, t_prev, eps, None, state, options)
    return float((x - x_T * spread(times[-1]) / spread(400)).abs().max())


def test_dpm_solver_is_second_order_where_ddim_is_first() -> None:
    from zoo_plugins.ddpm.samplers import DDIM, DPMSolverPP2M
    from zoo_plugins.ddpm.schedule import NoiseSchedule

    # to t = 20, where the steps keep shrinking as their number grows (the very last ones, into t = 0 where lambda is
    # infinite, do not: that step is first order in any solver, and its error is DDIM's and the solver's alike)
    runs = {k: [int(round(400 - 380 * i / k)) for i in range(k + 1)] for k in (19, 38, 76)}
    ddim = [_solve_gaussian(DDIM(), times) for times in runs.values()]
    dpm = [_solve_gaussian(DPMSolverPP2M(), times) for times in runs.values()]
    assert 1.8 < ddim[1] / ddim[2] < 2.2, ddim  # halving the step halves DDIM's error: first order
    assert dpm[1] / dpm[2] > 3.0 and dpm[0] < ddim[0] / 5, (dpm, ddim)  # 3.4x; 0.008 against DDIM's 0.051 at 19 steps
    # all the way to t = 0 on the sampler's own times: 0.028 against 0.081 at 20 steps, 0.0013 against 0.042 at 40
    schedule = NoiseSchedule.linear(400, 1e-4, 0.02)
    for steps, factor in ((20, 2), (40, 10)):
        times = schedule.timesteps(steps)
        assert _solve_gaussian(DPMSolverPP2M(), times) < _solve_gaussian(DDIM(), times) / factor


def test_dpm_solver_of_order_one_is_ddim(model: DDPM) -> None:
    first = model.sample(3, seed=0, sampler="dpmpp2m", steps=4, order=1)
    assert torch.allclose(first, model.sample(3, seed=0, sampler="ddim", steps=4), atol=1e-5)
    assert not torch.allclose(model.sample(3, seed=0, sampler="dpmpp2m", steps=4), first, atol=1e-3)  # the correction acts
