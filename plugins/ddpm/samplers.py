"""Reverse-process samplers, apart from the network and the noise schedule; a plugin adds its own.

A sampler says which integer times it visits and how it steps from one to the next, given the guided
noise prediction. The model keeps the rest: the network, the classes, the guidance and the per-image seeded
noise, so that a new sampler gets seeding, labels, batching, frames and the sweep for free. zoo's own are
``ddpm`` (the seed's ancestral sampler over all n_T steps), ``ddim`` (Song et al., with ``eta``) and ``dpmpp2m``
(Lu et al.'s DPM-Solver++(2M), second order at DDIM's cost).

Another plugin registers one through the hook ``zoo_register_ddpm_samplers`` (docs/ddpm.md, "A sampler of
your own")::

    class EulerAncestral(DiffusionSampler):
        name = "euler_a"

        def step(self, schedule, x, t, t_prev, eps, noise, state, options):
            ...  # x_{t_prev} from x_t, calling eps(x, t) for the network's guided prediction

    @zoo.hookimpl
    def zoo_register_ddpm_samplers():
        return [EulerAncestral()]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import pydantic
import torch

from zoo.errors import COMMAND_LINE, ConfigError, PluginError, closest, unknown_options
from zoo.interfaces import validate_config

from .schedule import NoiseSchedule

__all__ = ["DiffusionSampler", "SamplerOptions", "Ancestral", "DDIM", "DDIMOptions", "DPMSolverPP2M", "DPMSolverOptions",
           "all_samplers", "get_sampler", "check_sampler", "DEFAULT_STEPS", "HOOK"]

#: Steps when `sample` is given none, for samplers that take a number of steps (capped at n_T).
DEFAULT_STEPS = 50
#: The hook through which plugins register samplers (plugins/ddpm/hookspecs.py).
HOOK = "zoo_register_ddpm_samplers"
#: eps(x_t, t): the network's guided noise prediction at integer time t, one U-Net forward (two halves under guidance).
EpsFn = Callable[[torch.Tensor, int], torch.Tensor]
#: noise(): a fresh standard normal draw shaped like the batch, each image's from its own seeded generator.
NoiseFn = Callable[[], torch.Tensor]


class SamplerOptions(pydantic.BaseModel):
    """A sampler's own knobs, beyond `steps` and `guidance` (none here): subclass it and name it `Options`."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    @pydantic.field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, value: Any, info: pydantic.ValidationInfo) -> Any:
        # pydantic takes True as 1 (order=True would run order 1 without a word), so a knob that is no bool refuses one
        if isinstance(value, bool) and cls.model_fields[info.field_name].annotation is not bool:
            raise ValueError("expected a number, not true or false")
        return value


class DiffusionSampler:
    """A reverse-process rule: the times it visits (`timesteps`) and one update between two of them (`step`).

    Images live in [-1, 1]. Draw randomness only through `noise()`: with a seed, image i's draws then depend on the
    seed and i alone, whatever the batch. `state` is a dict kept across the steps of one batch (for a multistep
    solver's earlier predictions), fresh for each batch.
    """

    #: The name `sample(sampler=...)` takes: unique across plugins, without commas or spaces.
    name: ClassVar[str] = ""
    #: The sampler's knobs (a SamplerOptions subclass); `sample(**knobs)` is validated by it.
    Options: ClassVar[type[SamplerOptions]] = SamplerOptions
    #: Whether it runs every one of the model's n_T steps (then `steps` must be left out or n_T).
    all_steps: ClassVar[bool] = False
    #: Network forwards per step (a Heun step takes 2): the sweep's "calls" column counts them.
    calls_per_step: ClassVar[int] = 1

    def timesteps(self, schedule: NoiseSchedule, steps: int | None, options: SamplerOptions) -> list[int]:
        """Return the integer times from n_T down to 0 the sampler visits: `steps` network steps (None: its default)."""
        n_T = schedule.n_T
        if self.all_steps:
            if steps not in (None, n_T):
                raise ConfigError(f"sampler {self.name} runs all {n_T} steps, got steps {steps!r}. Leave steps out, or use a sampler "
                                  "that takes fewer (ddim).")
            return list(range(n_T, -1, -1))
        return schedule.timesteps(min(DEFAULT_STEPS, n_T) if steps is None else steps)

    def step(self, schedule: NoiseSchedule, x: torch.Tensor, t: int, t_prev: int, eps: EpsFn, noise: NoiseFn,
             state: dict[str, Any], options: SamplerOptions) -> torch.Tensor:
        """Return x_{t_prev} from `x` = x_t (t > t_prev >= 0)."""
        raise NotImplementedError(f"sampler {self.name!r} ({type(self).__qualname__}) does not define step()")

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}(name={self.name!r})"


class Ancestral(DiffusionSampler):
    """The seed's ancestral DDPM sampler (Ho et al.): every one of the n_T steps, fresh noise at each but the last."""

    name = "ddpm"
    all_steps = True

    def step(self, schedule: NoiseSchedule, x: torch.Tensor, t: int, t_prev: int, eps: EpsFn, noise: NoiseFn,
             state: dict[str, Any], options: SamplerOptions) -> torch.Tensor:
        return schedule.ddpm_step(x, eps(x, t), t, noise() if t > 1 else None)


class DDIMOptions(SamplerOptions):
    """DDIM's knob."""

    eta: float = pydantic.Field(0.0, ge=0, le=1, description="0: deterministic DDIM; 1: DDPM-like noise")


class DDIM(DiffusionSampler):
    """Song et al.'s DDIM over evenly spaced times (default 50 steps), with clipped x0 and `eta` (0: deterministic)."""

    name = "ddim"
    Options = DDIMOptions

    def step(self, schedule: NoiseSchedule, x: torch.Tensor, t: int, t_prev: int, eps: EpsFn, noise: NoiseFn,
             state: dict[str, Any], options: SamplerOptions) -> torch.Tensor:
        eta = options.eta  # type: ignore[attr-defined]
        return schedule.ddim_step(x, eps(x, t), t, t_prev, eta, noise() if eta > 0 and t_prev > 0 else None)


class DPMSolverOptions(SamplerOptions):
    """DPM-Solver++(2M)'s knob."""

    order: Literal[1, 2] = pydantic.Field(2, description="2: the multistep second-order update; 1: its first-order step, which is DDIM's (eta 0)")


class DPMSolverPP2M(DiffusionSampler):
    """Lu et al.'s DPM-Solver++(2M) (2022): the probability-flow ODE solved in the data prediction, second order from the
    step before's prediction (no extra network call), over evenly spaced times (default 50 steps; 10-20 do well).

    The predicted x0 is clipped to [-1, 1] as DDIM's is; the last step lands on the prediction (sigma_0 = 0), first
    order, as diffusers' ``lower_order_final``. With ``order=1`` every step is DDIM's deterministic one.
    """

    name = "dpmpp2m"
    Options = DPMSolverOptions

    def step(self, schedule: NoiseSchedule, x: torch.Tensor, t: int, t_prev: int, eps: EpsFn, noise: NoiseFn,
             state: dict[str, Any], options: SamplerOptions) -> torch.Tensor:
        x0 = schedule.predict_x0(x, eps(x, t), t).clamp(-1, 1)
        if t_prev == 0:
            return x0
        ab, ab_prev = float(schedule.alphas_bar[t]), float(schedule.alphas_bar[t_prev])
        h = _half_log_snr(ab_prev) - _half_log_snr(ab)  # > 0: the step in lambda = log(alpha / sigma)
        d = x0
        if options.order == 2 and "x0" in state:  # the multistep correction from the previous prediction
            r = state["h"] / h
            d = (1 + 1 / (2 * r)) * x0 - 1 / (2 * r) * state["x0"]
        state["x0"], state["h"] = x0, h
        return ((1 - ab_prev) / (1 - ab)) ** 0.5 * x - ab_prev**0.5 * math.expm1(-h) * d


def _half_log_snr(alpha_bar: float) -> float:
    """Return lambda = log(alpha / sigma) = log(alpha_bar / (1 - alpha_bar)) / 2."""
    return 0.5 * math.log(alpha_bar / (1 - alpha_bar))

#: zoo's own samplers, always there (also where the DDPM plugin's hook is not, e.g. a plugin manager built by hand).
BUILTIN = (Ancestral(), DDIM(), DPMSolverPP2M())


def check_sampler(item: Any, plugin: str) -> None:
    """Refuse what a plugin registers as a sampler unless it is a DiffusionSampler with a usable name and Options."""
    if not isinstance(item, DiffusionSampler):
        raise PluginError(f"plugin {plugin!r} registered {item!r} as a DDPM sampler; expected an instance of a "
                          "zoo_plugins.ddpm.DiffusionSampler subclass.")
    name = item.name
    if not isinstance(name, str) or not name or any(c in name for c in ", \t\n") or name.rsplit("-", 1)[-1].isdigit():
        raise PluginError(f"plugin {plugin!r} registered the DDPM sampler {type(item).__qualname__} named {name!r}; a sampler needs a "
                          "name without commas or spaces, not ending in -DIGITS (the sweep writes NAME-STEPS).")
    if type(item).step is DiffusionSampler.step:
        raise PluginError(f"plugin {plugin!r} registered the DDPM sampler {name!r} ({type(item).__qualname__}) without a step(): "
                          "a sampler defines step(schedule, x, t, t_prev, eps, noise, state, options)")
    if not (isinstance(item.Options, type) and issubclass(item.Options, SamplerOptions)):
        raise PluginError(f"the DDPM sampler {name!r} of plugin {plugin!r} has Options {item.Options!r}; expected a "
                          "zoo_plugins.ddpm.SamplerOptions subclass.")


def all_samplers() -> dict[str, DiffusionSampler]:
    """Return every DDPM sampler by name: zoo's own and those plugins register."""
    from zoo.plugins import get_plugin_manager

    pm = get_plugin_manager()
    if not pm.has_hook(HOOK):  # the DDPM plugin itself is not registered with this manager
        return {s.name: s for s in BUILTIN}
    return pm.collect(HOOK)  # with the kind, key and check hookspecs.py declares


def get_sampler(name: Any) -> DiffusionSampler:
    """Return the sampler called `name`, or raise a ConfigError naming those there are."""
    found = all_samplers()
    if not isinstance(name, str) or name not in found:
        from zoo.plugins import get_plugin_manager

        near = closest(name, found) if isinstance(name, str) else []
        raise ConfigError(f"unknown sampler {name!r}." + (f" Did you mean: {', '.join(near)}?" if near else "")
                          + f" Samplers: {', '.join(sorted(found))} (a plugin adds more: docs/ddpm.md, 'A sampler of your own')."
                          + get_plugin_manager().failures())
    return found[name]


def plan(sampler: Any, steps: int | None, knobs: dict[str, Any], schedule: NoiseSchedule) -> tuple[DiffusionSampler, list[int], SamplerOptions]:
    """Return the sampler called `sampler`, the times it visits with `steps`, and its `knobs` validated; refuse a wrong one."""
    s = get_sampler(sampler)
    eta = knobs.get("eta")
    if eta is not None and not isinstance(eta, bool) and eta == 0 and "eta" not in s.Options.model_fields:
        knobs = {k: v for k, v in knobs.items() if k != "eta"}  # no noise: every sampler's, as it was before eta became DDIM's knob
    unknown = sorted(set(knobs) - set(s.Options.model_fields))
    if unknown:
        own = ", ".join(s.Options.model_fields)
        if COMMAND_LINE.get():  # callback is Python's; batch_size is no knob for the figure commands
            first = next(iter(s.Options.model_fields), "")
            takes = "it takes steps, sampler and guidance" + (f" and, with sampler {s.name}, {own} (--set {first}=VALUE)." if own
                                                              else f"; sampler {s.name} has none of its own.")
        else:
            takes = ("sample() takes steps, sampler, guidance, callback, batch_size"
                     + (f" and, with sampler {s.name}, {own}." if own else f" (sampler {s.name} has no options of its own)."))
        raise unknown_options(f"sampler {s.name} takes no sampling option {unknown}; {takes}", unknown)
    options = validate_config(s.Options, knobs, what=f"sampler {s.name}")
    if steps is not None and not s.all_steps:
        schedule.timesteps(steps)  # a whole number in 1..n_T, checked for every sampler: a plugin's timesteps() gets it sound
    times = s.timesteps(schedule, steps, options)
    n_T = schedule.n_T
    if (not isinstance(times, list) or len(times) < 2 or any(type(t) is not int for t in times)  # 0.0 would index the schedule
            or times[0] != n_T or times[-1] != 0 or any(t <= u for t, u in zip(times, times[1:]))):
        from zoo.plugins import get_plugin_manager

        raise PluginError(f"sampler {s.name!r} ({type(s).__qualname__}, plugin {get_plugin_manager().plugin_of('DDPM sampler', s.name)!r}) gave "
                          f"the times {times!r}; timesteps() must return a list of integers falling strictly from n_T = {n_T} to 0.")
    return s, times, options
