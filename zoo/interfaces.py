"""The contracts between the core and a method plugin.

A method owns its networks, its optimizers and one training step; the generic
:class:`zoo.training.Trainer` owns the loop around it (data, device, autocast,
checkpoints, logs). A loaded model is the method built for inference, in eval mode.

Example::

    >>> import zoo
    >>> m = zoo.load("dcgan.mnist64")
    >>> m.capabilities
    frozenset({'sample'})
    >>> m.sample(4, seed=0).shape
    torch.Size([4, 3, 64, 64])
"""

from __future__ import annotations

import argparse
import json
import numbers
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Protocol, runtime_checkable

import pydantic
import torch
from torch import nn

from .argtypes import MOST, int_at_least, int_list, path_text, positive_int
from .errors import COMMAND_LINE, CapabilityError, ConfigError, option, unknown_options
from .parallel import average_gradients

__all__ = [
    "MethodConfig",
    "Method",
    "Batch",
    "DataSpec",
    "Sampler",
    "Predictor",
    "Evaluator",
    "Command",
    "validate_config",
    "describe_validation_error",
    "evaluator_options",
    "resolve_device",
    "device_name",
    "whole_number",
    "inference",
    "require_capability",
    "parse_set",
    "int_at_least",
    "positive_int",
    "int_list",
    "path_text",
    "CAPABILITIES",
    "starting_afresh",
    "filled_from_checkpoint",
]

#: The capabilities the core knows how to use.
CAPABILITIES = frozenset({"sample", "predict"})

_STARTING_AFRESH: ContextVar[bool] = ContextVar("zoo_starting_afresh", default=True)


def starting_afresh() -> bool:
    """Return whether a method built now for training starts from its own initialisation.

    False while the Trainer builds one that a checkpoint then fills whole (a resumed run, a ``--init-from``
    branch): a file a method reads only to start from (DANN's pretrained ``backbone_weights``) need not be
    there any more, and a method's ``__init__`` should not read it then.
    """
    return _STARTING_AFRESH.get()


@contextmanager
def filled_from_checkpoint(filled: bool = True) -> Iterator[None]:
    """Build methods inside this block (when `filled`) knowing a checkpoint gives their weights: `starting_afresh()` is False."""
    token = _STARTING_AFRESH.set(not filled)
    try:
        yield
    finally:
        _STARTING_AFRESH.reset(token)


#: The largest whole number a method's hyper-parameter may be, as a command-line count: a size or count past it
#: overflows torch's 64-bit arithmetic or asks for more memory than any machine has, a slip (10**20 for 100), not a model.
MAX_CONFIG_INT = MOST


class MethodConfig(pydantic.BaseModel):
    """Base of every method's hyper-parameters: unknown keys and wrong types are errors, and no whole number is past MAX_CONFIG_INT."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True, protected_namespaces=(), allow_inf_nan=False)

    @pydantic.field_validator("*", mode="after")
    @classmethod
    def _sizes_torch_can_take(cls, v: Any) -> Any:
        values = v if isinstance(v, (list, tuple)) else [v]
        if any(isinstance(x, int) and not isinstance(x, bool) and abs(x) > MAX_CONFIG_INT for x in values):
            raise ValueError(f"expected a whole number of at most {MAX_CONFIG_INT:,} in size; a size or count past that cannot be allocated")
        return v


def describe_validation_error(e: pydantic.ValidationError) -> str:
    """Return pydantic's errors as one line: 'key: problem (got value); ...'."""
    return "; ".join(
        f"{'.'.join(map(str, err['loc'])) or '(root)'}: {err['msg'].removeprefix('Value error, ')}"
        # a missing field's input, and a whole-object check's, is the whole object: not worth repeating
        + (f" (got {err['input']!r})" if err["loc"] and err["type"] not in ("extra_forbidden", "missing") else "")
        for err in e.errors()
    )


def parse_set(items: Sequence[str]) -> dict[str, Any]:
    """Return ``--set key=value`` items as a dict, values parsed as JSON when they parse (1e-4, true, [1,2]), else kept as text.

    Every command that takes ``--set`` (the core's and plugins') parses it here.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set lr=2e-4")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def validate_config(
    cls: type[pydantic.BaseModel], values: Mapping[str, Any] | None, *, what: str, fix: str | None = None
) -> Any:
    """Return `cls(**values)`, turning pydantic's error into a :class:`ConfigError` naming `what` and how to `fix` it."""
    if fix is None:
        fix = "Fix the key or value (e.g. `--set key=value`)." if COMMAND_LINE.get() else "Fix the key or value."
    try:
        return cls.model_validate(dict(values or {}))
    except pydantic.ValidationError as e:
        problems = describe_validation_error(e)
        fields = ", ".join(cls.model_fields)
        raise ConfigError(
            f"invalid config for {what}: {problems}. Valid keys: {fields}. {fix}"
        ) from None


@dataclass
class Batch:
    """One batch as a method's `train_step` receives it: images in [0, 1], NCHW float, on the device."""

    x: torch.Tensor
    y: torch.Tensor | None = None

    def __len__(self) -> int:
        return self.x.shape[0]


@dataclass(frozen=True)
class DataSpec:
    """What a method needs from its data: the trainer resizes and converts to this."""

    image_size: int
    channels: int = 3
    labels: bool = False
    #: With `labels`: the labels the method takes lie in 0..num_classes-1 (the trainer checks the data against it).
    num_classes: int = 10
    #: Data roles the method trains on; one role gives `train_step` a Batch, several a dict of them.
    roles: tuple[str, ...] = ("train",)
    #: Roles whose labels the method never reads (e.g. DANN's target): the trainer drops them.
    unlabelled_roles: tuple[str, ...] = ()

    def random_images(self, n: int, seed: int = 0) -> torch.Tensor:
        """Return `n` random float images in [0, 1] of this size and channel count (on the CPU)."""
        g = torch.Generator().manual_seed(seed)
        return torch.rand(n, self.channels, self.image_size, self.image_size, generator=g)

    def random_batch(self, n: int, seed: int = 0, device: torch.device | str = "cpu") -> Batch | dict[str, Batch]:
        """Return what `train_step` takes, with `n` random images (and labels where they are read): one Batch, or one per role."""
        g = torch.Generator().manual_seed(fold_seed(seed + 1))
        batches = {
            role: Batch(self.random_images(n, seed + i).to(device),
                        torch.randint(0, self.num_classes, (n,), generator=g).to(device) if self.labels and role not in self.unlabelled_roles else None)
            for i, role in enumerate(self.roles)
        }
        return batches[self.roles[0]] if len(self.roles) == 1 else batches


class Method(nn.Module):
    """Base class of a method: networks + optimizers + one training step.

    Subclasses set ``name``, ``Config``, ``capabilities``, build their networks in
    ``__init__`` (the networks needed only for training, such as a discriminator, only
    when ``training=True``), and implement :meth:`configure_optimizers` and
    :meth:`train_step`, plus :meth:`sample` and/or :meth:`predict`.
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type[MethodConfig]] = MethodConfig
    #: The validated config, an instance of ``Config`` (a subclass narrows it: ``config: MyConfig``).
    config: MethodConfig
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: Submodules that exist only for training; they are left out of exported weights.
    training_modules: ClassVar[tuple[str, ...]] = ()
    #: Methods beyond sample/predict that a loaded model offers, each called as ``fn(images)`` on
    #: images in [0, 1] (DANN's ``domain_predict``). Every shipped parameter must serve sample,
    #: predict or one of these; the contract suite calls them to check that.
    image_methods: ClassVar[tuple[str, ...]] = ()
    #: Sampling options (``{knob: value}`` each) that take another path through `sample`: another sampler, an
    #: unguided weight, a refiner used only with ``refine=True``. The contract suite also samples with each: its
    #: seeding, torch's global RNG and the labels are checked under it, and networks it uses count as used.
    #: Options of the contract's tiny model (`test_config`).
    sample_variants: ClassVar[tuple[dict[str, Any], ...]] = ()
    #: Config overrides that make the method small enough for the CPU contract tests.
    test_config: ClassVar[dict[str, Any]] = {}
    #: What `zoo eval` runs when a registry entry names no evaluation: evaluator name -> options.
    default_evaluation: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, config: MethodConfig | Mapping[str, Any] | None = None, *, training: bool = False) -> None:
        super().__init__()
        if isinstance(config, self.Config):
            self.config = config
        else:
            values = config.model_dump() if isinstance(config, MethodConfig) else config
            self.config = validate_config(self.Config, values, what=f"method {self.name!r}")
        #: Set by zoo.load: the registry name this model was loaded as, for messages.
        self.zoo_name: str = self.name
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, Any] = {}
        self.grad_clip: float | None = None

    # ---- what a plugin implements -------------------------------------------------------------
    def data_spec(self) -> DataSpec:
        """Return what this method needs from its data."""
        raise NotImplementedError(f"method {self.name!r} does not say what data it trains on (data_spec)")

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Return the optimizers by name (built with timm's factory where it fits)."""
        raise NotImplementedError(f"method {self.name!r} cannot be trained (configure_optimizers)")

    def configure_schedulers(self, total_steps: int) -> dict[str, Any]:
        """Return learning-rate schedulers by name; each gets `step_update(step)` after every step."""
        return {}

    def train_step(self, batch: Batch | dict[str, Batch], step: int) -> dict[str, float | torch.Tensor]:
        """Run one optimisation step on `batch` and return the losses by name (floats or detached 0-d tensors).

        Tensors are turned into floats only on logged steps, so returning them spares a GPU a sync every step.
        """
        raise NotImplementedError(f"method {self.name!r} cannot be trained (train_step)")

    def sample(self, n: int, labels: Sequence[int] | torch.Tensor | None = None, seed: int | None = None, **knobs: Any) -> torch.Tensor:
        """Return `n` generated images in [0, 1], NCHW float32."""
        raise self._lacks("sample")

    def check_sample_options(self, knobs: Mapping[str, Any]) -> None:
        """Raise a ConfigError unless `sample` takes every option in `knobs`, before any work (`zoo bench` checks each subject so).

        By default the options are the keyword arguments `sample` names besides n, labels and seed; a `sample` that also
        takes ``**knobs`` judges those itself, when called (override this to judge them before: DDPM, the GANs). The
        error's `unknown` lists the options it does not take.
        """
        import inspect

        params = inspect.signature(self.sample).parameters if "sample" in self.capabilities else {}
        if any(p.kind is p.VAR_KEYWORD for p in params.values()) and type(self).sample is not Method.sample:
            return
        takes = [k for k, p in params.items() if p.kind is p.KEYWORD_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and k not in ("n", "labels", "seed"))]
        unknown = sorted(set(knobs) - set(takes))
        if unknown:
            raise unknown_options(f"model {self.zoo_name!r} takes {'the sampling options ' + ', '.join(takes) if takes else 'no options'}; "
                                  f"got {unknown}.", unknown)

    def sample_options(self, knobs: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Return the options a `sample` call with `knobs` runs with, for a record: by default `sample`'s keyword defaults
        (numbers, text, None) updated by `knobs`; a method whose `sample` takes options through ``**knobs`` adds their defaults."""
        import inspect

        defaults = {k: p.default for k, p in inspect.signature(self.sample).parameters.items()
                    if p.kind is p.KEYWORD_ONLY and (p.default is None or isinstance(p.default, (bool, int, float, str)))}
        return {**defaults, **(knobs or {})}

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Return the predicted class index of each image (images in [0, 1], NCHW)."""
        raise self._lacks("predict")

    @property
    def uses_run_length(self) -> bool:
        """Return whether training follows the run's length (as given to configure_schedulers): a resume then keeps its steps.

        True where a scheduler runs; a method whose steps read the length otherwise (DANN's reversal coefficient) says so.
        """
        return bool(self.schedulers)

    @property
    def step_cycle(self) -> int:
        """Return how many train steps make one full round of updates (1; WGAN-GP: n_critic): `zoo bench` times whole rounds."""
        return 1

    # ---- helpers for plugins ------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        """Return the device of the first parameter (cpu for a module without parameters)."""
        p = next(self.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    def optimize(self, name: str, loss: torch.Tensor) -> None:
        """Zero the grads of optimizer `name`, back-propagate `loss`, average the grads over the run's processes (a
        torchrun run: zoo.parallel), clip if asked, and step. A train_step steps its optimizers through here."""
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(p for g in opt.param_groups for p in g["params"])
        if self.grad_clip:
            params = [p for g in opt.param_groups for p in g["params"] if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
        opt.step()

    def generator_for(self, seed: int | None, device: torch.device | None = None) -> torch.Generator | None:
        """Return a torch.Generator seeded with `seed` on the model's device, or None for no seed."""
        if seed is None:
            return None
        g = torch.Generator(device=device or self.device)
        g.manual_seed(check_seed(seed))
        return g

    def inference_modules(self) -> Iterator[tuple[str, nn.Module]]:
        """Yield the named child modules that a shipped model keeps."""
        for name, module in self.named_children():
            if name not in self.training_modules:
                yield name, module

    def ships(self, key: str) -> bool:
        """Return whether the state-dict or parameter name `key` is part of what a weights file ships."""
        return not key.startswith(tuple(f"{m}." for m in self.training_modules))

    def inference_state_dict(self) -> dict[str, torch.Tensor]:
        """Return the state dict of the inference modules (and of tensors kept on the method itself): what a weights file ships."""
        return {k: v for k, v in self.state_dict().items() if self.ships(k)}

    def _lacks(self, capability: str) -> CapabilityError:
        can = ", ".join(sorted(self.capabilities)) or "nothing beyond training"
        return CapabilityError(
            f"model {self.zoo_name!r} (method {self.name!r}) cannot {capability}: it can {can}. "
            f"Pick a model with the {capability!r} capability (`zoo list`)."
        )

    def extra_repr(self) -> str:
        return ""


@runtime_checkable
class Sampler(Protocol):
    """Anything that generates images: ``sample(n, labels=None, seed=None, **knobs)`` in [0, 1], NCHW."""

    def sample(self, n: int, labels: Sequence[int] | torch.Tensor | None = None, seed: int | None = None, **knobs: Any) -> torch.Tensor: ...


@runtime_checkable
class Predictor(Protocol):
    """Anything that classifies images: ``predict(images) -> class indices``."""

    def predict(self, images: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Evaluator(Protocol):
    """Named metrics: ``evaluate(model, **options) -> {metric: value}``, stating the sample count and seed.

    ``options`` come from the registry entry's ``evaluation`` table and ``zoo eval --set``;
    ``data_root`` (a Path or None) and ``device`` are passed where ``Options`` declares them (always
    where there is no ``Options``). Every returned value must be a finite number. An evaluator that declares
    ``Options`` (a pydantic model; optional) has a plan's options checked before anything runs
    (``zoo.metrics.check_plan``, also in the contract suite). ``output_options`` (optional, a set of option
    names) are those that change where results go or what is shown, never the figures (``progress``, a table's
    file): ``zoo eval --write`` takes them with ``--set``; a registry entry's table may set only the on/off ones
    (a file to write is the caller's to name).
    """

    name: str

    def evaluate(self, model: Method, **options: Any) -> dict[str, float]: ...


@contextmanager
def inference(module: torch.nn.Module) -> Iterator[None]:
    """Run the block with `module` in eval mode and without gradients, then give it back its own mode.

    What a predictor or judge needs: a label must not depend on the batch beside it (BatchNorm's batch statistics, dropout),
    and judging must not change the model (BatchNorm's running statistics), also when the caller holds it in training mode.
    """
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was_training)


def whole_number(value: Any, what: str, low: int | None = None, high: int | None = None, hint: str = "") -> int:
    """Return `value` as an int if it is a whole number (Python's or numpy's, not a bool) in [low, high], else raise ConfigError."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok and (low is None or value >= low) and (high is None or value <= high):
        return int(value)
    span = f" in {low}..{high}" if low is not None and high is not None else f" >= {low}" if low is not None else ""
    raise ConfigError(f"{what} must be a whole number{span}, got {value!r}.{' ' + hint if hint else ''}")


#: The seeds torch's generators take (64 bits, negative ones mapped above): an option typed `Seed` is refused outside them
#: where it is given, not deep inside torch.
SEED_RANGE = (-(2**63), 2**64 - 1)


def _exact_int(value: Any) -> Any:
    """Return a whole number of any kind (numpy's int64, uint64) as a Python int: pydantic's lax mode goes through float past 2**53."""
    return int(value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value


def _seed_in_range(value: int) -> int:
    if not SEED_RANGE[0] <= value <= SEED_RANGE[1]:  # said exactly: pydantic's own le= message prints 2**64 - 1 as a float
        raise ValueError(f"a seed is a whole number in {SEED_RANGE[0]}..{SEED_RANGE[1]} (torch's 64-bit seeds), got {value}")
    return value


Seed = Annotated[int, pydantic.BeforeValidator(_exact_int), pydantic.AfterValidator(_seed_in_range)]


def fold_seed(value: int) -> int:
    """Return `value` where torch takes it as a seed, else it modulo 2**64: for seeds derived from one (seed * 1_000_003 + epoch)."""
    return value if SEED_RANGE[0] <= value <= SEED_RANGE[1] else value % 2**64


def check_seed(seed: Any) -> int:
    """Return `seed` as an int if torch can seed a generator with it (a whole number in -2**63 .. 2**64 - 1), else raise ConfigError.

    torch's CPU generator keeps a seed's low 32 bits: seeds that agree there (0 and 2**32, -1 and 2**32 - 1) give the same
    draws. zoo keeps that as it is, since the recorded figures rest on it (the `gan` evaluator's chunk seeds are 48-bit).
    """
    return whole_number(seed, "seed", *SEED_RANGE, hint="torch's generators take 64-bit seeds.")


def device_name(device: torch.device) -> str:
    """Return what a figure measured on `device` ran on: the GPU's name, or the CPU threads torch uses and the machine's cores."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads, {os.cpu_count()} cores)"


def software() -> str:
    """Return the versions a run's numbers depend on: zoo's, torch's (its build names the CUDA it carries) and Python's."""
    import platform

    from . import __version__

    return f"zoo {__version__}, torch {torch.__version__}, python {platform.python_version()}"


def resolve_device(device: str | torch.device) -> torch.device:
    """Return the torch device for 'auto' (cuda when available), 'cpu', 'cuda', 'cuda:N', 'mps' or a ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        d = device if isinstance(device, torch.device) else torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device {device!r} is not a device torch knows. Use auto, cpu, cuda, cuda:N or mps.") from None
    if d.type not in ("cpu", "cuda", "mps"):  # meta holds no data, and zoo runs on no other backend
        raise ConfigError(f"device {str(device)!r} is not one zoo runs on. Use auto, cpu, cuda, cuda:N or (on Apple silicon) mps.")
    if d.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {str(device)!r} was asked for but Apple's MPS backend is not available here. Use {option('device', 'cpu')} or auto.")
    if d.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} was asked for but CUDA is not available here. Use {option('device', 'cpu')} or auto.")
        if d.index is not None and d.index >= torch.cuda.device_count():
            raise ConfigError(f"device {device!r} was asked for but this machine has {torch.cuda.device_count()} CUDA device(s). Use cuda:0 .. cuda:{torch.cuda.device_count() - 1}.")
    return d


def evaluator_options(cls: type[pydantic.BaseModel], options: Mapping[str, Any], evaluator: str) -> Any:
    """Return an evaluator's options validated by `cls` (a ``torch.device`` passed as ``device`` becomes its name)."""
    if options.get("device") is not None:
        options = {**options, "device": str(options["device"])}
    return validate_config(cls, options, what=f"the {evaluator} evaluator")


def require_capability(model: Any, capability: str, evaluator: str, hint: str) -> None:
    """Raise :class:`CapabilityError` unless `model` can `capability`, naming the model, `evaluator`, what it can do and `hint`."""
    if capability not in getattr(model, "capabilities", ()):
        can = ", ".join(sorted(getattr(model, "capabilities", ()))) or "nothing"
        raise CapabilityError(
            f"model {getattr(model, 'zoo_name', model)!r} cannot be evaluated by {evaluator!r}: it cannot {capability} (it can {can}). {hint}"
        )


@dataclass(frozen=True)
class Command:
    """An extra `zoo` sub-command a plugin contributes (``zoo_register_commands``)."""

    name: str
    help: str
    example: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
