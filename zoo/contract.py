"""The plugin contract: tests every registered method and every registry entry must pass.

Run it on your own plugin (after ``pip install`` of your package)::

    pytest --pyargs zoo.contract --zoo-methods mymethod

Each method is built with its ``test_config`` (tiny networks) and exercised on CPU with
random inputs shaped by its ``data_spec``; nothing here needs data files or a GPU.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import zoo
from zoo.data import ImageSet
from zoo.errors import CapabilityError, ConfigError
from zoo.interfaces import CAPABILITIES, Method, MethodConfig, validate_config
from zoo.loading import build_method, load, load_file, param_count, save_model
from zoo.metrics import check_plan
from zoo.plugins import get_plugin_manager
from zoo.registry import entry
from zoo.training import TrainConfig, Trainer
from zoo.weights import resolve_weights, sha256_file

BATCH = 4


def tiny(name: str, training: bool = False) -> Method:
    """Return method `name` built with its test_config, seeded, on CPU."""
    torch.manual_seed(0)
    cls = get_plugin_manager().method(name)
    return build_method(name, checked_test_config(cls).model_dump(), training=training)


def checked_test_config(cls: type[Method]) -> MethodConfig:
    """Return the method's validated ``test_config``; an invalid one is named as the class attribute to fix."""
    return validate_config(cls.Config, cls.test_config, what=f"{cls.__qualname__}.test_config (method {cls.name!r})",
                           fix="Fix that class attribute: it holds the config overrides that make the method small for these tests.")


# ---- plugins: every hook answers, every item is of its kind ---------------------------------------

def test_every_plugin_loads_and_its_hooks_register_what_they_should() -> None:
    import warnings

    from zoo.plugins import ZooPluginWarning

    pm = get_plugin_manager()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ZooPluginWarning)  # each failure is kept in pm.infos, asserted below
        pm.methods(), pm.datasets(), pm.evaluators(), pm.commands(), pm.registry_files(), pm.collect_declared()  # and plugins' own hooks
    failed = [f"{i.name} ({i.source}): {i.status}" for i in pm.infos if i.status.startswith("failed")]
    assert not failed, "plugins that failed to load or whose hooks failed (zoo skips them with a warning):\n" + "\n".join(failed)


def test_plugin_datasets_that_need_no_files_read_as_image_sets() -> None:
    pm = get_plugin_manager()
    for name, info in pm.datasets().items():
        if info.folder or pm._sources.get(pm.plugin_of("dataset", name)) == "zoo core":
            continue  # a set read from files is checked where its files are; zoo's own are tested with zoo
        for split in info.splits:
            images = zoo.data.load(name, split)  # a reader that returns anything else is a PluginError naming it
            assert len(images) > 0 and images.num_classes == info.num_classes, \
                f"dataset {name!r} split {split!r}: {len(images)} images with num_classes {images.num_classes}; its DatasetInfo says {info.num_classes}"


# ---- methods ----------------------------------------------------------------------------------

def test_config_round_trip(zoo_method: str) -> None:
    cls = get_plugin_manager().method(zoo_method)
    cfg = checked_test_config(cls)
    assert validate_config(cls.Config, cfg.model_dump(), what=zoo_method) == cfg
    assert cls.Config.model_validate_json(cfg.model_dump_json()) == cfg


def test_config_rejects_unknown_keys_and_wrong_types(zoo_method: str) -> None:
    cls = get_plugin_manager().method(zoo_method)
    with pytest.raises(ConfigError, match="surely_not_a_key"):
        build_method(zoo_method, {"surely_not_a_key": 1})
    field = next(iter(cls.Config.model_fields), None)
    if field is not None:
        with pytest.raises(ConfigError, match=field):
            build_method(zoo_method, {field: {"not": "a valid value"}})


def test_every_config_field_has_a_default(zoo_method: str) -> None:
    # `zoo info NAME`, `zoo train NAME` without --set and `zoo.load` of an older file all build the method from
    # the defaults; a field without one makes the method unusable there (pydantic's "Field required")
    cls = get_plugin_manager().method(zoo_method)
    required = [name for name, field in cls.Config.model_fields.items() if field.is_required()]
    assert not required, (f"{cls.Config.__qualname__} field(s) {required} have no default, so `zoo info {zoo_method}` and "
                          f"`zoo train {zoo_method}` without --set fail; give each a default (e.g. pydantic.Field(64, ge=1)).")
    what, fix = f"{cls.Config.__qualname__} defaults (method {zoo_method!r})", "Make each default pass its own field's checks."
    defaults = validate_config(cls.Config, {}, what=what, fix=fix)  # default factories and model validators run here
    # pydantic does not check a default against its own field (Field(0, ge=1) passes): give them back as values
    validate_config(cls.Config, defaults.model_dump(), what=what, fix=fix)


def test_capabilities_are_declared_and_implemented(zoo_method: str) -> None:
    cls = get_plugin_manager().method(zoo_method)
    assert cls.capabilities <= CAPABILITIES
    assert cls.capabilities, f"method {zoo_method!r} declares no capability: it should at least sample or predict"
    model = tiny(zoo_method)
    for cap in CAPABILITIES:
        implemented = getattr(cls, cap) is not getattr(Method, cap)
        assert implemented == (cap in cls.capabilities), f"{zoo_method}: capability {cap!r} declared={cap in cls.capabilities} but implemented={implemented}"
        if cap not in cls.capabilities:
            with pytest.raises(CapabilityError, match=zoo_method):
                getattr(model, cap)(1) if cap == "sample" else model.predict(torch.zeros(1, 3, 8, 8))


#: Train steps within which every optimizer must have moved its parameters (a schedule such as
#: WGAN-GP's n_critic may update some networks only every few steps; test_config keeps that small).
TRAIN_STEPS = 4


def trainable(name: str) -> Method:
    """Return method `name` built for training with its test_config, its optimizers and schedulers set, in train mode."""
    model = tiny(name, training=True)
    model.optimizers = model.configure_optimizers()
    model.schedulers = model.configure_schedulers(10)  # may read the optimizers
    return model.train()


def test_train_steps_give_finite_losses_and_every_optimizer_moves_its_parameters(zoo_method: str) -> None:
    model = trainable(zoo_method)
    assert model.optimizers, f"{zoo_method}: configure_optimizers returned no optimizer"
    # parameters only: a BatchNorm's running statistics change in a forward pass, with no optimizer step at all
    before = {name: [p.detach().clone() for g in opt.param_groups for p in g["params"]] for name, opt in model.optimizers.items()}
    spec = model.data_spec()
    for step in range(1, TRAIN_STEPS + 1):
        losses = model.train_step(spec.random_batch(BATCH, seed=step), step)
        assert losses, "train_step must return its losses"
        for k, v in losses.items():
            assert math.isfinite(float(v)), f"{zoo_method}: loss {k} = {float(v)} at step {step}"
            assert not getattr(v, "requires_grad", False), \
                f"{zoo_method}: loss {k} still holds its graph; return it detached (loss.detach()), or every logged step keeps a graph alive"
    still = [name for name, opt in model.optimizers.items()
             if all(torch.equal(b, p) for b, p in zip(before[name], (p for g in opt.param_groups for p in g["params"])))]
    assert not still, f"{zoo_method}: {TRAIN_STEPS} train steps left the parameters of optimizer(s) {still} unchanged"


def test_train_step_steps_every_optimizer_through_optimize(zoo_method: str) -> None:
    """A torchrun run averages the gradients over its processes in Method.optimize (zoo.parallel): an optimizer stepped
    anywhere else would update each process's weights from its own batch alone, and the copies would drift apart."""
    model = trainable(zoo_method)
    inside, outside = [False], set()
    optimize = model.optimize

    def tracked_optimize(name: str, loss: torch.Tensor) -> None:
        inside[0] = True
        try:
            optimize(name, loss)
        finally:
            inside[0] = False

    def tracked(name: str, step: Any) -> Any:
        def tracked_step(*args: Any, **kwargs: Any) -> Any:
            if not inside[0]:
                outside.add(name)
            return step(*args, **kwargs)
        return tracked_step

    model.optimize = tracked_optimize  # type: ignore[method-assign]
    for name, opt in model.optimizers.items():
        opt.step = tracked(name, opt.step)  # type: ignore[method-assign]
    spec = model.data_spec()
    for step in range(1, TRAIN_STEPS + 1):
        model.train_step(spec.random_batch(BATCH, seed=step), step)
    assert not outside, (f"{zoo_method}: train_step steps optimizer(s) {sorted(outside)} itself; step each through "
                         "self.optimize(name, loss), which averages the gradients over the processes of a torchrun run")


def test_sample_shape_range_and_determinism(zoo_method: str) -> None:
    model = tiny(zoo_method).eval()
    if "sample" not in model.capabilities:
        pytest.skip("no sample capability")
    spec = model.data_spec()
    x = model.sample(3, seed=0)
    want = (3, spec.channels, spec.image_size, spec.image_size)
    assert isinstance(x, torch.Tensor) and tuple(x.shape) == want, f"sample(3) must return a tensor shaped {want} (from data_spec), got {getattr(x, 'shape', type(x))}"
    assert x.dtype == torch.float32, f"sample must return float32 images, got {x.dtype}"
    assert not x.is_inference() and not x.requires_grad, \
        "sample must return a plain tensor the caller can edit in place and train on: sample under torch.no_grad(), not torch.inference_mode()"
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0, f"sample must return images in [0, 1], got min {float(x.min()):.3g}, max {float(x.max()):.3g}"
    assert not torch.equal(x[0], x[1]), "the images of one call must differ from each other (each its own noise)"
    assert not model.training, "sample must leave an eval-mode model in eval mode"
    assert torch.equal(x, model.sample(3, seed=0)), "the same seed must give the same images"
    assert not torch.equal(x, model.sample(3, seed=1)), "another seed must give other images"
    state = torch.get_rng_state()
    model.sample(2, seed=5)
    assert torch.equal(state, torch.get_rng_state()), "a seeded sample must draw from its own generator, not reseed or advance torch's global one"
    for knobs in model.sample_variants:  # another sampler or guidance weight draws its noise by code of its own
        x = model.sample(3, seed=0, **knobs)
        assert tuple(x.shape) == want and 0.0 <= float(x.min()) and float(x.max()) <= 1.0, f"sample(3, **{knobs}) must return images shaped {want} in [0, 1]"
        assert torch.equal(x, model.sample(3, seed=0, **knobs)), f"with {knobs}, the same seed must give the same images"
        assert not torch.equal(x, model.sample(3, seed=1, **knobs)), f"with {knobs}, another seed must give other images"
        state = torch.get_rng_state()
        model.sample(2, seed=5, **knobs)
        assert torch.equal(state, torch.get_rng_state()), f"with {knobs}, a seeded sample must draw from its own generator, not torch's global one"


def test_sample_refuses_bad_requests(zoo_method: str) -> None:
    model = tiny(zoo_method).eval()
    if "sample" not in model.capabilities:
        pytest.skip("no sample capability")
    for n in (0, -2):
        with pytest.raises(ConfigError):
            model.sample(n, seed=0)
    with pytest.raises(ConfigError, match="surely_not_an_option"):
        model.sample(2, seed=0, surely_not_an_option=1)
    spec = model.data_spec()
    if not spec.labels:
        with pytest.raises(ConfigError):
            model.sample(2, labels=[0, 1], seed=0)  # an unconditional model must say so, not ignore the labels
        return
    k = spec.num_classes
    for bad in ([0, k], [-1, 0], [0], [0.5, 1.5], "ab"):  # out of range, negative, one label for two images, not whole numbers, text
        with pytest.raises(ConfigError):
            model.sample(2, labels=bad, seed=0)
    assert tuple(model.sample(2, labels=torch.tensor([0, k - 1]), seed=0).shape)[0] == 2, "labels may come as a tensor too"
    for knobs in ({}, *model.sample_variants):  # an unguided weight (w = 0) must still follow the labels
        assert not torch.equal(model.sample(2, labels=[0, 0], seed=0, **knobs), model.sample(2, labels=[k - 1, k - 1], seed=0, **knobs)), \
            f"a conditional model must follow its labels{f' with {knobs}' if knobs else ''}: other labels with the same seed must give other images"


def test_predict_shape_and_determinism(zoo_method: str) -> None:
    model = tiny(zoo_method).eval()
    if "predict" not in model.capabilities:
        pytest.skip("no predict capability")
    spec = model.data_spec()
    images = spec.random_images(5)
    y = model.predict(images)
    assert isinstance(y, torch.Tensor) and tuple(y.shape) == (5,) and y.dtype == torch.int64, \
        f"predict(5 images) must return an int64 tensor shaped (5,), got {getattr(y, 'dtype', type(y))} {tuple(getattr(y, 'shape', ()))}"
    assert 0 <= int(y.min()) and int(y.max()) < spec.num_classes, f"labels must lie in 0..{spec.num_classes - 1} (DataSpec.num_classes)"
    assert torch.equal(y, model.predict(images))
    assert not model.training, "predict must leave an eval-mode model in eval mode (in train mode BatchNorm and dropout make a label depend on the batch)"
    assert not y.is_inference(), "predict must return a plain tensor: predict under torch.no_grad(), not torch.inference_mode()"
    with pytest.raises(ConfigError):
        model.predict(images[:0])


def test_predict_takes_the_images_evaluators_pass(zoo_method: str) -> None:
    """An evaluator passes its dataset's images as they are: uint8 or [0, 1] floats, any size, 1 or 3 channels."""
    model = tiny(zoo_method).eval()
    if "predict" not in model.capabilities:
        pytest.skip("no predict capability")
    spec = model.data_spec()
    as_bytes = spec.random_images(5).mul(255).round().to(torch.uint8)
    other_channels = as_bytes[:, :1] if as_bytes.shape[1] != 1 else as_bytes.expand(-1, 3, -1, -1)
    larger = torch.nn.functional.interpolate(as_bytes.float(), scale_factor=1.25).round().to(torch.uint8)
    for what, x in (("uint8", as_bytes), (f"{other_channels.shape[1]}-channel", other_channels), (f"{larger.shape[-1]}x{larger.shape[-1]}", larger)):
        try:
            y = model.predict(x)
        except Exception as e:  # noqa: BLE001 (the message says what to do)
            raise AssertionError(
                f"{zoo_method}.predict failed on {what} images ({type(e).__name__}: {e}). An evaluator passes its dataset's images as "
                "they are: call zoo.data.check_image_batch, then zoo.data.adapt_images(images, size, channels) (docs/plugins.md)."
            ) from None
        assert isinstance(y, torch.Tensor) and tuple(y.shape) == (5,) and y.dtype == torch.int64 and 0 <= int(y.min()) and int(y.max()) < spec.num_classes, \
            f"predict({what} images) must return int64 labels in 0..{spec.num_classes - 1} shaped (5,)"
    assert torch.equal(model.predict(as_bytes), model.predict(as_bytes.float() / 255)), (
        f"{zoo_method}.predict gives other labels for uint8 images than for the same images as floats in [0, 1]: "
        "scale uint8 input to [0, 1] (zoo.data.adapt_images does)"
    )


def test_save_then_load_gives_identical_tensors(zoo_method: str, tmp_path: Path) -> None:
    model = trainable(zoo_method)
    for step in range(1, TRAIN_STEPS + 1):  # trained, so that state the weights file misses (a plain attribute, a dict) shows
        model.train_step(model.data_spec().random_batch(BATCH, seed=step), step)
    model.eval()
    path = tmp_path / "m.safetensors"
    save_model(model, path)
    loaded = load_file(path)
    want, got = model.inference_state_dict(), loaded.inference_state_dict()
    assert want.keys() == got.keys()
    for k in want:
        assert torch.equal(want[k], got[k]), k
    assert not any(k.startswith(tuple(f"{m}." for m in model.training_modules)) for k in got), "training-only modules must not ship"
    if "sample" in model.capabilities:
        assert torch.equal(model.sample(2, seed=3), loaded.sample(2, seed=3)), \
            "samples changed across save -> load of a trained model: it keeps state outside its state_dict (register it as a parameter or buffer)"
    if "predict" in model.capabilities:  # a tensor the file does not carry would show here
        images = model.data_spec().random_images(5)
        assert torch.equal(model.predict(images), loaded.predict(images)), "predictions changed across save -> load"


class TensorUse(TorchDispatchMode):
    """Record the storage of every tensor that an operator computes with while the mode is on.

    It listens below autograd, at the operator level, so reading a tensor's metadata
    (``p.device``, ``p.shape``, as ``Method.device`` does) is not a use, nor is taking a view
    (``p.T.shape``); computing with the tensor or any view of it is.
    """

    def __init__(self) -> None:
        super().__init__()
        self.storages: set[int] = set()

    def _note(self, value: object) -> None:
        if isinstance(value, torch.Tensor):
            if value.layout == torch.strided:  # sparse and opaque (MKLDNN) tensors have no storage; they are made from dense ones
                self.storages.add(value.untyped_storage().data_ptr())
        elif isinstance(value, (list, tuple)):
            for v in value:
                self._note(v)
        elif isinstance(value, dict):
            for v in value.values():
                self._note(v)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 (torch's signature)
        if not func.is_view:  # a view shares the storage: what is later computed with it counts
            self._note(args)
            self._note(kwargs or {})
        return func(*args, **(kwargs or {}))

    def touched(self, tensor: torch.Tensor) -> bool:
        return tensor.untyped_storage().data_ptr() in self.storages


def test_every_shipped_parameter_serves_inference(zoo_method: str) -> None:
    model = tiny(zoo_method).eval()
    spec = model.data_spec()
    with TensorUse() as use:
        if "sample" in model.capabilities:
            model.sample(2, seed=0)
            if spec.labels:
                model.sample(2, labels=[0, spec.num_classes - 1], seed=0)
            for knobs in model.sample_variants:  # networks a sampling option switches on
                model.sample(2, seed=0, **knobs)
        if "predict" in model.capabilities:
            model.predict(spec.random_images(2))
        assert isinstance(model.image_methods, tuple) and all(isinstance(m, str) for m in model.image_methods), \
            f"{zoo_method}: image_methods must be a tuple of method names, e.g. ('encode',), not {model.image_methods!r}"
        for name in model.image_methods:
            fn = getattr(model, name, None)
            assert callable(fn), f"{zoo_method}: image_methods names {name!r}, which the method does not have"
            out = fn(spec.random_images(2))
            assert isinstance(out, torch.Tensor) and out.shape[0] == 2, f"{zoo_method}.{name}(images) must return a tensor with one row per image"
    # remove_duplicate=False: a shipped layer tied to a training-only one is checked under its shipped name too
    unused = [name for name, p in model.named_parameters(remove_duplicate=False) if model.ships(name) and p.numel() and not use.touched(p)]
    assert not unused, (
        f"{zoo_method}: its weights file would ship {len(unused)} parameter tensor(s) that neither sample (with its sample_variants "
        f"{list(model.sample_variants)}), predict nor its image_methods {list(model.image_methods)} use "
        f"({', '.join(unused[:5])}{', ...' if len(unused) > 5 else ''}). A network needed only for "
        f"training must be built only with training=True and named in training_modules; one a loaded model needs for "
        f"another method must name that method in image_methods, and one only a sampling option uses must name those options "
        f"in sample_variants (docs/plugins.md)."
    )


def test_default_evaluation_names_installed_evaluators_with_valid_options(zoo_method: str) -> None:
    cls = get_plugin_manager().method(zoo_method)
    check_plan(cls.default_evaluation, f"method {zoo_method!r} (its default_evaluation)")


def test_trainer_runs_the_method_and_exports(zoo_method: str, tmp_path: Path) -> None:
    cls = get_plugin_manager().method(zoo_method)
    spec = tiny(zoo_method).data_spec()
    n = 2 * BATCH
    g = torch.Generator().manual_seed(0)
    data = {role: ImageSet(torch.randint(0, 256, (n, spec.channels, spec.image_size, spec.image_size), dtype=torch.uint8, generator=g),
                           torch.randint(0, spec.num_classes, (n,), generator=g), f"random-{role}", spec.num_classes) for role in spec.roles}
    summary = Trainer(zoo_method, cls.test_config, data, tmp_path, TrainConfig(steps=2, batch_size=BATCH, device="cpu", progress=False, log_every=1)).fit()
    assert summary["steps"] == 2
    assert load_file(summary["weights"]).name == zoo_method


# ---- registry entries -----------------------------------------------------------------------------

def test_entry_validates_and_its_file_hashes_right(zoo_model: str) -> None:
    e = entry(zoo_model)
    cls = get_plugin_manager().method(e.method)
    validate_config(cls.Config, e.config, what=zoo_model)
    path = resolve_weights(e.weights, e.sha256, e.base_dir)
    assert path.is_file(), f"{zoo_model}: weights {path} missing"
    assert sha256_file(path) == e.sha256


def test_entry_evaluation_plan_is_runnable(zoo_model: str) -> None:
    e = entry(zoo_model)
    plan = e.evaluation or get_plugin_manager().method(e.method).default_evaluation
    assert plan, (f"{zoo_model}: no evaluation plan, so `zoo eval {zoo_model}` stops: its registry entry has no evaluation table and "
                  f"method {e.method!r} no default_evaluation. Give the method a default_evaluation (e.g. {{'gan': {{'n': 1000}}}}) "
                  f"or the entry a [models.\"{zoo_model}\".evaluation.EVALUATOR] table.")
    check_plan(plan, f"model {zoo_model!r}")


def test_entry_loads_with_its_recorded_parameter_count(zoo_model: str) -> None:
    model = load(zoo_model)
    assert not model.training
    assert param_count(model) == entry(zoo_model).params
    assert zoo_model in zoo.list()
