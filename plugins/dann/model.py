"""DANN's networks: the seed report's CNNModel (or a timm backbone) and the gradient reversal layer.

The seed's model prints exactly as the report shows it::

    >>> from zoo_plugins.dann.model import CNNModel
    >>> print(CNNModel())            # CNNModel((feature): Sequential((f_conv1): Conv2d(3, 64, ...
    >>> class_log_probs, domain_log_probs = CNNModel()(torch.rand(8, 3, 28, 28), coefficient=0.5)
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from zoo.errors import ConfigError

__all__ = [
    "GradientReversal",
    "reverse_gradient",
    "dann_coefficient",
    "SeedDropout2d",
    "SeedLogSoftmax",
    "seed_feature_extractor",
    "seed_feature_size",
    "timm_feature_extractor",
    "CNNModel",
]

NUM_CLASSES = 10
NUM_DOMAINS = 2


class GradientReversal(torch.autograd.Function):
    """Identity on the way forward; multiplies the gradient by -coefficient on the way back."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, coefficient: float) -> torch.Tensor:
        ctx.coefficient = coefficient
        return x.view_as(x)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad.neg() * ctx.coefficient, None


def reverse_gradient(x: torch.Tensor, coefficient: float) -> torch.Tensor:
    """Return `x` unchanged, with its gradient multiplied by -`coefficient` in the backward pass."""
    return GradientReversal.apply(x, coefficient)


def dann_coefficient(progress: float, gamma: float = 10.0) -> float:
    """Return the DANN paper's reversal coefficient lambda_p = 2 / (1 + exp(-gamma p)) - 1 at progress p in [0, 1]."""
    p = min(max(progress, 0.0), 1.0)
    return 2.0 / (1.0 + math.exp(-gamma * p)) - 1.0


class SeedDropout2d(nn.Dropout2d):
    """The seed's Dropout2d, which it also applies to (N, C) features after a Linear layer.

    On a 2-D input the seed's (older) torch dropped single elements, exactly as plain dropout
    does; today's torch warns that 2-D input to dropout2d is deprecated and will become an
    error. So 2-D input gets plain dropout (the seed's behaviour, without the warning) and
    4-D input channel-wise dropout; the module still prints as ``Dropout2d(p=0.5, ...)``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            return F.dropout(x, self.p, self.training, self.inplace)
        return super().forward(x)

    def _get_name(self) -> str:
        return "Dropout2d"


class SeedLogSoftmax(nn.LogSoftmax):
    """The seed's ``LogSoftmax(dim=None)`` on (N, classes) logits.

    With ``dim=None`` torch picks dim 1 for 2-D input but warns that the implicit choice is
    deprecated; this picks the same dim explicitly and still prints as ``LogSoftmax(dim=None)``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(x, dim=self.dim if self.dim is not None else (0 if x.dim() in (0, 1, 3) else 1))

    def _get_name(self) -> str:
        return "LogSoftmax"


def _sequential(*named: tuple[str, nn.Module]) -> nn.Sequential:
    """Return an nn.Sequential whose layers carry the given names (as the seed's repr shows them)."""
    return nn.Sequential(OrderedDict(named))


def seed_feature_extractor(channels: int = 3) -> nn.Sequential:
    """Return the seed's feature extractor: two conv5 blocks, `channels` -> 64 -> 50, each pooled by 2."""
    return _sequential(
        ("f_conv1", nn.Conv2d(channels, 64, kernel_size=5)),
        ("f_bn1", nn.BatchNorm2d(64)),
        ("f_pool1", nn.MaxPool2d(2)),
        ("f_relu1", nn.ReLU(True)),
        ("f_conv2", nn.Conv2d(64, 50, kernel_size=5)),
        ("f_bn2", nn.BatchNorm2d(50)),
        ("f_drop1", SeedDropout2d(0.5)),
        ("f_pool2", nn.MaxPool2d(2)),
        ("f_relu2", nn.ReLU(True)),
    )


def seed_feature_size(image_size: int) -> int:
    """Return the length of the seed extractor's flattened output for square `image_size` input (800 at 28)."""
    side = ((image_size - 4) // 2 - 4) // 2
    if side < 1:
        raise ConfigError(f"the seed's CNN needs images of at least 16x16 pixels (two 5x5 convolutions, two 2x pools); got image_size={image_size}. Use a larger image_size.")
    return 50 * side * side


def timm_feature_extractor(name: str, channels: int = 3, weights_file: str | None = None) -> nn.Module:
    """Return timm model `name` with its classifier removed (pooled features), randomly initialised or from a local file."""
    import timm

    if not timm.is_model(name):
        raise ConfigError(f"backbone {name!r} is neither 'cnn' (the seed's network) nor a timm model name. Use backbone=cnn or a name from timm.list_models(), e.g. resnet18.")
    if weights_file is None:
        return timm.create_model(name, pretrained=False, num_classes=0, in_chans=channels)
    path = Path(weights_file)
    if path.suffix != ".safetensors" or not path.is_file():
        # a .pth/.bin file would be unpickled: zoo reads weights from safetensors files only
        raise ConfigError(f"backbone_weights {weights_file!r}: expected an existing .safetensors file of {name!r}'s pretrained weights on this machine. Convert or download it first; zoo never fetches or unpickles weights.")
    from safetensors import SafetensorError, safe_open

    fix = f"Give a .safetensors file of {name!r} itself (timm.create_model({name!r}).state_dict(), saved with safetensors)."
    try:
        with safe_open(path, "pt") as f:
            keys = set(f.keys())
        # timm loads a pretrained file loosely (strict=False) once the classifier is removed: another network's file, or one
        # with other layers, would leave the backbone randomly initialised, or part of it, and say nothing
        net = timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": str(path)}, num_classes=0, in_chans=channels)
    except (SafetensorError, RuntimeError, OSError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ConfigError(f"backbone_weights {weights_file!r} cannot be read as {name!r}'s weights ({first}). {fix}") from None
    heads = net.pretrained_cfg.get("classifier") or ()
    heads = tuple(f"{h}." for h in ((heads,) if isinstance(heads, str) else heads))  # a distilled ViT has two
    missing = sorted(k for k in net.state_dict() if k not in keys and not k.endswith(".num_batches_tracked"))  # torch's counter may be left out
    extra = sorted(k for k in keys - set(net.state_dict()) if not k.startswith(heads))  # the classifier zoo removes may be in it
    if missing or extra:
        said = "; ".join(f"{what} {len(ks)} tensor(s) (e.g. {ks[0]})" for what, ks in (("lacks", missing), ("has another network's", extra)) if ks)
        raise ConfigError(f"backbone_weights {weights_file!r} does not fit {name!r}: it {said}. {fix}")
    return net


def check_backbone_input(net: nn.Module, name: str, channels: int, image_size: int) -> None:
    """Raise ConfigError unless timm backbone `name` takes (channels, image_size, image_size) images: a ViT's patch grid is fixed.

    One forward pass of a blank image, in eval mode, before any training (else the first step fails with timm's assertion).
    """
    was = net.training
    net.eval()
    try:
        with torch.no_grad():
            net(torch.zeros(1, channels, image_size, image_size))
    except (AssertionError, RuntimeError, ValueError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ConfigError(f"backbone {name!r} cannot take {image_size}x{image_size} images ({first}). Set image_size to the size it takes "
                          "(224 for most vit_* models), or use a backbone that takes any size, e.g. resnet18.") from None
    finally:
        net.train(was)


class CNNModel(nn.Module):
    """The seed report's DANN network: feature extractor, class classifier and domain classifier.

    ``forward`` returns log-probabilities of the `num_classes` classes (the seed's 10 digits) and of the 2 domains (source 0,
    target 1); the domain classifier sees the features through a gradient reversal layer.
    """

    def __init__(self, channels: int = 3, image_size: int = 28, backbone: str = "cnn", backbone_weights: str | None = None,
                 num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        if backbone == "cnn":
            self.feature = seed_feature_extractor(channels)
            width = seed_feature_size(image_size)
        else:
            self.feature = timm_feature_extractor(backbone, channels, backbone_weights)
            check_backbone_input(self.feature, backbone, channels, image_size)
            width = int(self.feature.num_features)
        self.class_classifier = _sequential(
            ("c_fc1", nn.Linear(width, 100)),
            ("c_bn1", nn.BatchNorm1d(100)),
            ("c_relu1", nn.ReLU(True)),
            ("c_drop1", SeedDropout2d(0.5)),
            ("c_fc2", nn.Linear(100, 100)),
            ("c_bn2", nn.BatchNorm1d(100)),
            ("c_relu2", nn.ReLU(True)),
            ("c_fc3", nn.Linear(100, num_classes)),
            ("c_softmax", SeedLogSoftmax(dim=None)),
        )
        self.domain_classifier = _sequential(
            ("d_fc1", nn.Linear(width, 100)),
            ("d_bn1", nn.BatchNorm1d(100)),
            ("d_relu1", nn.ReLU(True)),
            ("d_fc2", nn.Linear(100, NUM_DOMAINS)),
            ("d_softmax", nn.LogSoftmax(dim=1)),
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Return the flattened features (N, width) of images `x` (N, C, H, W)."""
        return self.feature(x).flatten(1)

    def forward(self, x: torch.Tensor, coefficient: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (class log-probabilities (N, 10), domain log-probabilities (N, 2)) of images `x`."""
        f = self.features(x)
        return self.class_classifier(f), self.domain_classifier(reverse_gradient(f, coefficient))
