"""The conditional DDPM of the seed report: noise-prediction training with context dropout, guided DDPM/DDIM sampling.

Example::

    >>> import zoo
    >>> m = zoo.load("ddpm.mnistm")
    >>> x = m.sample(100, labels=[d for d in range(10) for _ in range(10)], steps=25, seed=0)   # DDIM-25
    >>> x = m.sample(10, labels=range(10), sampler="ddpm", guidance=2.0, seed=0)                 # all 400 steps
"""

from __future__ import annotations

import math
import numbers

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Literal

import pydantic
import torch
import torch.nn.functional as F

from zoo.errors import COMMAND_LINE, ConfigError, option
from zoo.interfaces import Batch, DataSpec, Method, MethodConfig, check_seed, whole_number
from zoo.progress import progress_bar

from .model import IMAGE_SIZE, ContextUnet
from .samplers import DEFAULT_STEPS, DiffusionSampler, SamplerOptions, all_samplers, plan
from .schedule import NoiseSchedule, guided_eps

__all__ = ["DDPMConfig", "DDPM", "FrameCallback", "DEFAULT_STEPS", "DEFAULT_GUIDANCE"]

#: Guidance weight w when `sample` is given none: eps = (1 + w) eps(x, c) - w eps(x, no class).
DEFAULT_GUIDANCE = 2.0
#: Called as callback(t, x_t, start): the state at integer time t (in [0, 1]) of the images start, start+1, ...
FrameCallback = Callable[[int, torch.Tensor, int], None]


@contextmanager
def sampling_progress(model: DDPM, n: int, desc: str, *, steps: int | None = None, sampler: str = "ddim", guidance: float = DEFAULT_GUIDANCE,
                      batch_size: int | None = None, enabled: bool = True, knobs: dict[str, Any] | None = None) -> Iterator[FrameCallback]:
    """Yield a `sample` callback that shows the network steps of sampling `n` images with these options as a progress bar.

    The bar opens at the first state sampling reaches, after `sample`'s own checks: a refused request shows none.
    """
    _, times, _ = model._plan(steps, sampler, guidance, knobs or {})
    total = -(-n // (batch_size or model.sample_batch)) * (len(times) - 1)
    bar = None
    started: set[int] = set()

    def callback(t: int, x: torch.Tensor, start: int) -> None:
        nonlocal bar
        if bar is None:
            bar = progress_bar(total, desc, unit="step", enabled=enabled)
        if start in started:  # a batch's first state is its starting noise: no step yet
            bar.update(1)
        else:
            started.add(start)

    try:
        yield callback
    finally:
        if bar is not None:
            bar.close()


class DDPMConfig(MethodConfig):
    """The seed's hyper-parameters; n_feat=256 is the printed network, smaller widths run faster on CPUs."""

    n_feat: int = pydantic.Field(256, ge=8, multiple_of=8, description="U-Net width (GroupNorm needs a multiple of 8)")
    n_classes: int = pydantic.Field(10, ge=1)
    channels: Literal[1, 3] = 3
    n_T: int = pydantic.Field(400, ge=1, description="diffusion steps")
    beta_start: float = pydantic.Field(1e-4, gt=0, lt=1)
    beta_end: float = pydantic.Field(0.02, gt=0, lt=1)
    drop_prob: float = pydantic.Field(0.1, ge=0, lt=1, description="probability of training a sample without its class (classifier-free guidance)")
    lr: float = pydantic.Field(1e-4, gt=0)
    lr_decay: bool = pydantic.Field(True, description="decay the learning rate linearly to 0 over the run")

    @pydantic.model_validator(mode="after")
    def _betas_ordered(self) -> DDPMConfig:
        if self.beta_start > self.beta_end:
            raise ValueError(f"beta_start ({self.beta_start}) must not exceed beta_end ({self.beta_end})")
        return self


class _ImageNoise:
    """Gaussian noise per image: with a seed, image i's draws come from its own generator, so they
    do not depend on n, the batch size or which other images are sampled alongside."""

    def __init__(self, seed: int | None, indices: range, shape: tuple[int, ...], device: torch.device) -> None:
        self.shape, self.device, self.n = shape, device, len(indices)
        self.generators = None
        if seed is not None:
            self.generators = [torch.Generator(device=device) for _ in indices]
            for g, i in zip(self.generators, indices):
                # the CPU generator keeps only 32 bits of a seed; images of one seed stay distinct below a million
                g.manual_seed((int(seed) * 1_000_003 + i) & 0xFFFFFFFF)

    def draw(self) -> torch.Tensor:
        """Return one (n, *shape) draw of standard normal noise."""
        if self.generators is None:
            return torch.randn(self.n, *self.shape, device=self.device)
        return torch.stack([torch.randn(self.shape, generator=g, device=self.device) for g in self.generators])


def _whole_numbers(labels: Iterable[Any]) -> list[Any]:
    """Return `labels` as a list, numpy's unsigned integers (which torch does not take) as Python ints."""
    return [int(v) if isinstance(v, numbers.Integral) and not isinstance(v, (bool, torch.Tensor)) else v for v in labels]


class DDPM(Method):
    """Class-conditional DDPM (seed report, problem 2) with classifier-free guidance; DDPM, DDIM and DPM-Solver++ samplers (and a plugin's)."""

    name = "ddpm"
    Config = DDPMConfig
    capabilities = frozenset({"sample"})
    test_config = {"n_feat": 8, "n_T": 20}
    default_evaluation = {"ddpm_samplers": {}}
    #: sample()'s own keyword arguments; the others it takes are the sampler's knobs.
    _OWN: ClassVar[frozenset[str]] = frozenset({"steps", "sampler", "guidance", "callback", "batch_size"})
    #: Images per reverse-process batch (each batch is one forward per step, twice the size with guidance).
    sample_batch: ClassVar[int] = 500
    config: DDPMConfig

    @property  # type: ignore[override]  # a ClassVar on Method: here it depends on the samplers plugins add
    def sample_variants(self) -> tuple[dict[str, Any], ...]:
        """The contract checks seeding, torch's global RNG and labels on these paths too: the ancestral sampler's fresh noise,
        the unguided pass, and every other sampler, zoo's and those plugins add (one drawing from torch's generator fails)."""
        others = tuple({"sampler": name} for name in all_samplers() if name not in ("ddim", "ddpm"))  # ddim: sample()'s default
        return ({"sampler": "ddpm"}, {"guidance": 0.0}, *others)

    def __init__(self, config: DDPMConfig | dict[str, Any] | None = None, *, training: bool = False) -> None:
        super().__init__(config, training=training)
        c = self.config
        # channels-last runs the convolutions faster on CPUs and on GPUs' tensor cores (docs/ddpm.md has the timings)
        self.nn_model = ContextUnet(c.channels, c.n_feat, c.n_classes).to(memory_format=torch.channels_last)
        # the schedule is derived from the config, so it is not part of the weights
        self.schedule = NoiseSchedule.linear(c.n_T, c.beta_start, c.beta_end)

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> DDPM:
        super()._apply(fn, recurse)
        self.schedule = self.schedule.to(self.device)
        return self

    # ---- training -------------------------------------------------------------------------------
    def data_spec(self) -> DataSpec:
        """Return 28x28 images with the configured channels and their class labels."""
        return DataSpec(image_size=IMAGE_SIZE, channels=self.config.channels, labels=True, num_classes=self.config.n_classes)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Return Adam on the U-Net (timm's factory), as the seed trains it."""
        import timm.optim  # training only, see zoo.gan

        return {"nn_model": timm.optim.create_optimizer_v2(self.nn_model, opt="adam", lr=self.config.lr, weight_decay=0.0)}

    def configure_schedulers(self, total_steps: int) -> dict[str, Any]:
        """Return the linear decay of the learning rate to 0 over `total_steps` (none when lr_decay is off)."""
        if not self.config.lr_decay:
            return {}
        import timm.scheduler

        sched = timm.scheduler.PolyLRScheduler(self.optimizers["nn_model"], t_initial=max(total_steps, 1), power=1.0, lr_min=0.0, t_in_epochs=False)
        return {"nn_model": sched}

    def one_hot(self, labels: torch.Tensor) -> torch.Tensor:
        """Return the (N, n_classes) float context of integer `labels`."""
        return F.one_hot(labels, self.config.n_classes).float()

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        """One Adam step on the noise-prediction MSE at uniform random t, dropping each class with drop_prob."""
        if batch.y is None:
            raise ConfigError("ddpm trains on labelled images: the batch came without labels. Train on a dataset with labels (e.g. --data mnistm).")
        x0 = (batch.x * 2 - 1).contiguous(memory_format=torch.channels_last)
        n = x0.shape[0]
        t = torch.randint(1, self.config.n_T + 1, (n,), device=x0.device)
        noise = torch.randn_like(x0)
        keep = (torch.rand(n, device=x0.device) >= self.config.drop_prob).float()
        context = self.one_hot(batch.y) * keep[:, None]
        eps = self.nn_model(self.schedule.add_noise(x0, noise, t), t.float() / self.config.n_T, context)
        loss = F.mse_loss(eps.float(), noise)
        self.optimize("nn_model", loss)
        return {"loss": loss.detach()}

    # ---- sampling -------------------------------------------------------------------------------
    def check_labels(self, n: int, labels: Sequence[int] | torch.Tensor | None) -> torch.Tensor:
        """Return `labels` as an int64 tensor of length `n` on the model's device (None: 0, 1, ..., 9, 0, 1, ...)."""
        k = self.config.n_classes
        if labels is None:
            return torch.arange(n, device=self.device) % k
        try:
            t = torch.as_tensor(labels if isinstance(labels, torch.Tensor) else _whole_numbers(labels))
        except (TypeError, ValueError, RuntimeError):  # RuntimeError: an integer beyond 64 bits
            strings = isinstance(labels, Iterable) and any(isinstance(x, str) for x in labels)
            names = " Class names map to their numbers with zoo.class_names(NAME_OR_RUN).index(name)." if strings else ""
            raise ConfigError(f"labels must be a sequence of integers, got {labels!r}.{names}") from None
        if not t.is_floating_point() and t.dtype != torch.int64:
            t = t.long()  # torch's unsigned 64-bit tensors have no min() (a value past 2**63 comes out negative: refused below)
        if t.ndim != 1 or t.numel() != n or (t.numel() and t.is_floating_point()):
            raise ConfigError(
                f"labels must hold one integer class per image: {n} of them, got shape {tuple(t.shape)} ({t.dtype}). "
                + (f"E.g. --labels 0,1,2 for 3 images (one class each), or leave --labels out to cycle through 0..{k - 1}."
                   if COMMAND_LINE.get() else f"E.g. labels=[d for d in range({k}) for _ in range({max(n // k, 1)})], or labels=None to cycle through 0..{k - 1}.")
            )
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= k):
            raise ConfigError(f"labels must lie in 0..{k - 1} (the model has {k} classes), found {int(t.min())}..{int(t.max())}.")
        return t.long().to(self.device)

    def _plan(self, steps: int | None, sampler: str, guidance: float, knobs: dict[str, Any]) -> tuple[DiffusionSampler, list[int], SamplerOptions]:
        """Return the sampler, the times it visits and its options for these `sample` arguments; refuse wrong ones."""
        if not isinstance(guidance, numbers.Real) or isinstance(guidance, bool) or not 0 <= guidance < math.inf:  # NaN fails too; numpy's pass
            raise ConfigError(f"guidance (w) must be a finite number >= 0, got {guidance!r}. w = 0 is purely conditional; the seed uses 0, 0.5 and 2.")
        return plan(sampler, steps, knobs, self.schedule)

    def _plan_call(self, options: Mapping[str, Any]) -> tuple[DiffusionSampler, list[int], SamplerOptions]:
        """Return `_plan` for `sample`'s keyword arguments as a call gives them (its defaults for those left out)."""
        knobs = {k: v for k, v in options.items() if k not in self._OWN | {"labels", "seed"}}
        return self._plan(options.get("steps"), options.get("sampler", "ddim"), options.get("guidance", DEFAULT_GUIDANCE), knobs)

    def check_sample_options(self, knobs: Mapping[str, Any]) -> None:
        """Refuse an unknown sampler, a knob it does not take, or wrong steps or guidance, before any sampling."""
        self._plan_call(knobs)

    def sample_options(self, knobs: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Return the options a `sample` call with `knobs` runs with: sample()'s defaults and the sampler's knobs (ddim's eta)."""
        out = super().sample_options(knobs)
        return {**out, **self._plan_call(out)[2].model_dump()}

    def _eps(self, x: torch.Tensor, t: int, context: torch.Tensor, guidance: float) -> torch.Tensor:
        """Return the guided noise prediction; the conditional and unconditional halves share one forward.

        Both halves see the same `x`, so the U-Net's encoder runs once for the pair (ContextUnet.forward).
        """
        tt = torch.full((x.shape[0],), t / self.config.n_T, device=x.device)
        w = next(self.nn_model.parameters()).dtype  # a model moved to half or bfloat16 (`.half()`) takes its own precision
        x, tt, context = x.to(w), tt.to(w), context.to(w)
        if guidance == 0:
            return self.nn_model(x, tt, context).float()
        pair = self.nn_model(x, torch.cat([tt, tt]), torch.cat([context, torch.zeros_like(context)]))
        return guided_eps(pair.float(), guidance)

    def _reverse(self, labels: torch.Tensor, start: int, times: list[int], sampler: DiffusionSampler, options: SamplerOptions,
                 guidance: float, seed: int | None, callback: FrameCallback | None) -> torch.Tensor:
        c = self.config
        noise = _ImageNoise(seed, range(start, start + len(labels)), (c.channels, IMAGE_SIZE, IMAGE_SIZE), self.device)
        x = noise.draw().contiguous(memory_format=torch.channels_last)
        context = self.one_hot(labels)

        def eps(x_t: torch.Tensor, t: int) -> torch.Tensor:
            return self._eps(x_t, t, context, guidance)

        state: dict[str, Any] = {}
        if callback is not None:
            callback(times[0], x.add(1).mul_(0.5).clamp_(0, 1), start)
        for t, t_prev in zip(times, times[1:]):
            x = sampler.step(self.schedule, x, t, t_prev, eps, noise.draw, state, options)
            if callback is not None:
                callback(t_prev, x.add(1).mul_(0.5).clamp_(0, 1), start)
        return x

    @torch.no_grad()  # not inference_mode: the caller may edit the images in place or train on them
    def sample(
        self,
        n: int,
        labels: Sequence[int] | torch.Tensor | None = None,
        seed: int | None = None,
        *,
        steps: int | None = None,
        sampler: str = "ddim",
        guidance: float = DEFAULT_GUIDANCE,
        callback: FrameCallback | None = None,
        batch_size: int | None = None,
        **knobs: Any,
    ) -> torch.Tensor:
        """Return `n` images (n, C, 28, 28) in [0, 1] of the classes `labels` (None: cycles 0..9).

        ``sampler="ddim"`` takes `steps` network calls (default 50) and the knob `eta`; ``"ddpm"`` is the
        seed's ancestral sampler over all n_T steps; a plugin's sampler takes its own knobs
        (``zoo_plugins.ddpm.samplers``). `guidance` is the classifier-free weight w.
        The same `seed` gives image i the same noise whatever `n` and `batch_size` (the image, to float
        rounding: about 1e-5, as kernels sum in another order for another batch). `callback(t, x_t, start)`
        sees each intermediate state (in [0, 1]) of the batch starting at image `start`.
        """
        n = whole_number(n, "sample(n)", low=1)
        seed = None if seed is None else check_seed(seed)
        if callback is not None and not callable(callback):  # e.g. `--set callback=x` from the command line
            raise ConfigError(f"callback must be a function callback(t, x_t, start), got {callback!r}; it is for Python, not --set.")
        rule, times, options = self._plan(steps, sampler, guidance, knobs)
        label_t = self.check_labels(n, labels)
        chunk = self.sample_batch if batch_size is None else whole_number(batch_size, "batch_size", low=1)
        out = [
            self._reverse(label_t[s : s + chunk], s, times, rule, options, float(guidance), seed, callback)
            for s in range(0, n, chunk)
        ]
        return torch.cat(out).float().add_(1).mul_(0.5).clamp_(0, 1)

    def sample_frames(self, n: int, times: Sequence[int], **sample_options: Any) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Return the `n` samples and their states at the integer `times` (e.g. 400, 399, ..., 0), each (n, C, 28, 28)."""
        wanted = {int(t) for t in times}
        bad = sorted(t for t in wanted if not 0 <= t <= self.config.n_T)
        if bad:
            raise ConfigError(f"frame times must lie in 0..{self.config.n_T}, got {bad}.")
        o = {"steps": None, "sampler": "ddim", **sample_options}  # sample()'s defaults, for the message below
        _, visited, _ = self._plan_call(sample_options)
        missing = sorted(wanted - set(visited))
        if missing:  # before the sampling, which takes minutes
            shown = ", ".join(map(str, visited)) if len(visited) <= 30 else ", ".join(map(str, visited[:12])) + ", ..., 0"
            raise ConfigError(
                f"the {o['sampler']} sampler{'' if o['steps'] is None else ' with ' + str(o['steps']) + ' steps'} never visits times {missing}: "
                f"it visits {shown}. Choose frame times among those ({option('times')}), or use sampler ddpm, which visits every time."
            )
        parts: dict[int, list[torch.Tensor]] = {t: [] for t in wanted}
        also = sample_options.pop("callback", None)  # the caller's own (e.g. a progress bar) sees every state too

        def keep(t: int, x: torch.Tensor, start: int) -> None:
            if t in parts:
                parts[t].append(x.clone())
            if also is not None:
                also(t, x, start)

        images = self.sample(n, callback=keep, **sample_options)
        return images, {t: torch.cat(p) for t, p in sorted(parts.items(), reverse=True)}
