"""The digit classifier: any generator's images in, digits and features out; it learns."""

from __future__ import annotations

import pytest
import torch

from zoo.errors import ConfigError
from zoo.interfaces import Batch
from zoo.loading import build_method
from zoo_plugins.classifier import ClassifierConfig, augment


@pytest.fixture
def clf():
    torch.manual_seed(0)
    return build_method("classifier", {"width": 4}).eval()


def test_accepts_gan_samples_and_gray_images_of_any_square_size(clf) -> None:
    for shape in [(5, 3, 64, 64), (5, 1, 28, 28), (5, 3, 28, 28), (5, 1, 16, 16)]:
        x = torch.rand(shape)
        assert clf.predict(x).shape == (5,) and clf.predict(x).dtype == torch.int64
        assert clf.logits(x).shape == (5, 10)
        assert clf.features(x).shape == (5, clf.feature_dim) == (5, 16)


def test_features_and_logits_in_one_pass_equal_the_two_calls(clf) -> None:
    from zoo.metrics.classifier_metrics import features_and_logits

    x = torch.rand(300, 3, 64, 64)
    feats, logits = features_and_logits(clf, x)
    assert torch.equal(feats, clf.features(x)) and torch.equal(logits, clf.logits(x))
    calls = []
    clf.net.body.register_forward_hook(lambda *_: calls.append(1))
    clf.features(x)
    alone = len(calls)
    features_and_logits(clf, x)
    assert len(calls) == 2 * alone, "the evaluators judge 10,000 images: the network body runs once for both, as for features alone"


@pytest.mark.parametrize(("method", "config"), [("classifier", {"width": 4}), ("dann", {"image_size": 28})])
def test_a_predictor_held_in_training_mode_predicts_as_in_eval_mode_and_is_left_unchanged(method: str, config: dict) -> None:
    """A label must not depend on the images beside it, nor judging change BatchNorm's running statistics."""
    torch.manual_seed(0)
    model = build_method(method, config, training=True).train()
    x = torch.rand(40, 3, 28, 28)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    got = model.logits(x) if method == "classifier" else model.predict(x)
    assert model.training, "its own mode is given back"
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items()), "predicting changed the model"
    model.eval()
    assert torch.equal(got, model.logits(x) if method == "classifier" else model.predict(x))


@pytest.mark.parametrize(("method", "config"), [("classifier", {"width": 4}), ("dann", {"image_size": 28})])
@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_a_predictor_moved_to_another_precision_takes_its_images_in_it(method: str, config: dict, dtype: torch.dtype) -> None:
    """model.to(torch.float64) or .half(), as a sample's docstring allows, must not fail on float32 inputs."""
    import warnings

    torch.manual_seed(0)
    model = build_method(method, config).eval()
    x = torch.rand(8, 3, 28, 28, requires_grad=True)  # a batch that requires grad is checked without torch's warning too
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expected = model.predict(x)
        moved = build_method(method, config).eval()
        moved.load_state_dict(model.state_dict())
        got = moved.to(dtype).predict(x)
    assert got.shape == expected.shape and (got == expected).float().mean() >= 0.75
    if method == "classifier":
        from zoo.metrics.classifier_metrics import features_and_logits

        feats, logits = features_and_logits(moved, x)
        assert feats.dtype == logits.dtype == torch.float32


def test_the_transform_is_resize_to_28_rgb(clf) -> None:
    from zoo.data import adapt_images

    gray64 = torch.rand(3, 1, 64, 64)
    assert torch.equal(clf.logits(gray64), clf.logits(adapt_images(gray64, 28, 3)))


def test_bad_shapes_are_clear_errors(clf) -> None:
    with pytest.raises(ConfigError, match=r"\(N, C, H, W\); got \(3, 28, 28\)"):
        clf.predict(torch.rand(3, 28, 28))
    with pytest.raises(ConfigError, match=r"1 or 3 channels; got 2"):
        clf.predict(torch.rand(3, 2, 28, 28))
    with pytest.raises(ConfigError, match="empty batch"):
        clf.features(torch.rand(0, 3, 28, 28))


@pytest.mark.parametrize(
    ("images", "match"),
    [
        (torch.rand(2, 3, 28, 28) * 255, r"float images in \[0, 1\] \(or uint8\); got values in \[.*, 25\d"),  # 0-255 floats
        (torch.rand(2, 3, 28, 28) * 2 - 1, r"got values in \[-"),  # a generator's [-1, 1]
        (torch.randint(0, 256, (2, 3, 28, 28)), r"uint8 images or float images in \[0, 1\]; got torch\.int64"),
        (torch.full((2, 3, 28, 28), float("nan")), r"NaN or infinite values"),
    ],
)
def test_images_outside_the_unit_range_are_refused_not_classified(clf, images: torch.Tensor, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        clf.predict(images)
    assert clf.predict((torch.rand(2, 3, 28, 28) * 255).to(torch.uint8)).shape == (2,)  # uint8 is the other accepted form


def test_augmentation_keeps_shape_and_range_and_changes_the_images() -> None:
    x = torch.rand(8, 3, 28, 28)
    y = augment(x, ClassifierConfig())
    assert y.shape == x.shape and 0 <= float(y.min()) and float(y.max()) <= 1
    assert not torch.allclose(x, y)


def bars(n: int, seed: int) -> Batch:
    """Images whose label is where a bright bar lies (3 classes): a task a tiny CNN learns in a few steps."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = torch.rand(n, 3, 28, 28, generator=g) * 0.3
    for i, k in enumerate(y.tolist()):
        x[i, :, 4 + 8 * k : 8 + 8 * k, 4:24] = 1.0
    return Batch(x, y)


def test_a_tiny_classifier_learns_a_simple_task() -> None:
    torch.manual_seed(0)
    model = build_method("classifier", {"width": 8, "augment": False, "lr": 5e-3, "warmup_steps": 0}, training=True)
    model.optimizers = model.configure_optimizers()
    model.schedulers = model.configure_schedulers(30)
    model.train()
    for step in range(1, 31):
        model.train_step(bars(16, step), step)
        model.schedulers["net"].step_update(step)
    model.eval()
    test = bars(200, 999)
    assert float((model.predict(test.x) == test.y).float().mean()) > 0.9
