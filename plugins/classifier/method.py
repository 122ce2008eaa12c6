"""The digit classifier as a zoo method: trains on labelled digits, judges any image a generator makes.

Every image it is given goes through one fixed transform before the network: images in [0, 1]
(N, C, H, W) with 1 or 3 channels and any square size are turned to RGB (gray repeated on three
channels) and resized to 28x28 with antialiased bilinear interpolation (``zoo.data.adapt_images``),
then mapped to [-1, 1]. So 64x64 GAN samples and 28x28 MNIST-M images are judged alike.
"""

from __future__ import annotations

import math
from typing import Any

import pydantic
import torch
import torch.nn.functional as F

from zoo.data import adapt_images, check_image_batch
from zoo.errors import ConfigError, DataError
from zoo.interfaces import Batch, DataSpec, Method, MethodConfig, inference

from .model import NUM_CLASSES, DigitCNN

__all__ = ["ClassifierConfig", "DigitClassifier", "augment", "INPUT_SIZE"]

INPUT_SIZE = 28
_CHUNK = 2048


class ClassifierConfig(MethodConfig):
    """The classifier's network width and its training recipe (AdamW, warm-up then cosine, light augmentation)."""

    width: int = pydantic.Field(32, ge=1, description="channels of the first stage (the features have 4 * width)")
    dropout: float = pydantic.Field(0.2, ge=0, lt=1)
    n_classes: int = pydantic.Field(NUM_CLASSES, ge=2, le=100_000, description="classes of the training data (10 digits; a folder: its class subfolders)")
    lr: float = pydantic.Field(2e-3, gt=0)
    weight_decay: float = pydantic.Field(1e-2, ge=0)
    warmup_steps: int = pydantic.Field(100, ge=0)
    augment: bool = pydantic.Field(True, description="random shift, rotation, scale and brightness/contrast while training")
    max_shift: float = pydantic.Field(0.15, ge=0, le=1, description="largest shift, as a fraction of half the image side")
    max_rotation: float = pydantic.Field(12.0, ge=0, le=180, description="largest rotation in degrees")
    max_scale: float = pydantic.Field(0.1, ge=0, lt=1, description="zoom drawn from [1 - max_scale, 1 + max_scale]")
    round_trip: float = pydantic.Field(0.0, ge=0, le=1, description="share of images resized to 64x64 and back, as GAN samples reach the network (the shipped classifier.mnistm was trained without; try 0.5)")


def augment(x: torch.Tensor, c: ClassifierConfig) -> torch.Tensor:
    """Return `x` (N, C, H, W in [0, 1]) under a random affine warp, brightness/contrast jitter and, for a share, a 64x64 round trip."""
    n = x.shape[0]
    if c.round_trip > 0:
        # 64x64 GAN samples reach the network through the same antialiased resize; without seeing
        # that slight blur in training, the classifier is less sure of such images (IS 8.8 vs 9.2 on real data)
        chosen = torch.rand(n, device=x.device) < c.round_trip
        if chosen.any():
            x = x.clone()
            x[chosen] = adapt_images(adapt_images(x[chosen], 64, None), x.shape[-1], None)
    r = torch.rand(n, 6, device=x.device) * 2 - 1
    angle = r[:, 0] * math.radians(c.max_rotation)
    inv_scale = 1.0 / (1.0 + r[:, 1] * c.max_scale)
    cos, sin = torch.cos(angle) * inv_scale, torch.sin(angle) * inv_scale
    theta = torch.stack([torch.stack([cos, -sin, r[:, 2] * c.max_shift], 1), torch.stack([sin, cos, r[:, 3] * c.max_shift], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # border padding repeats MNIST-M's photo background instead of drawing a black frame
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast, brightness = 1.0 + 0.2 * r[:, 4].view(n, 1, 1, 1), 0.1 * r[:, 5].view(n, 1, 1, 1)
    return ((x - mean) * contrast + mean + brightness).clamp_(0, 1)


class DigitClassifier(Method):
    """A small CNN that classifies digits (n_classes: 10) and gives the features the GAN metrics compare."""

    name = "classifier"
    Config = ClassifierConfig
    capabilities = frozenset({"predict"})
    test_config = {"width": 4}
    default_evaluation = {"accuracy": {"data": "mnistm", "split": "test"}}
    config: ClassifierConfig

    def __init__(self, config: ClassifierConfig | dict[str, Any] | None = None, *, training: bool = False) -> None:
        super().__init__(config, training=training)
        self.net = DigitCNN(self.config.width, self.config.dropout, self.config.n_classes)

    @property
    def feature_dim(self) -> int:
        """Return the size of one feature vector."""
        return self.net.feature_dim

    def data_spec(self) -> DataSpec:
        """Return 28x28 RGB images with labels."""
        return DataSpec(image_size=INPUT_SIZE, channels=3, labels=True, num_classes=self.config.n_classes)

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Return AdamW (timm's factory; no weight decay on norms and biases)."""
        import timm.optim  # training only, see zoo.gan

        return {"net": timm.optim.create_optimizer_v2(self.net, opt="adamw", lr=self.config.lr, weight_decay=self.config.weight_decay)}

    def configure_schedulers(self, total_steps: int) -> dict[str, Any]:
        """Return timm's cosine schedule over `total_steps`, after a linear warm-up."""
        import timm.scheduler

        warmup = min(self.config.warmup_steps, total_steps // 10)
        return {
            "net": timm.scheduler.CosineLRScheduler(
                self.optimizers["net"], t_initial=max(total_steps, 1), lr_min=self.config.lr * 0.01,
                warmup_t=warmup, warmup_lr_init=self.config.lr * 0.01, t_in_epochs=False,
            )
        }

    def train_step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        """One cross-entropy step on an (augmented) labelled batch; returns the loss and the batch accuracy."""
        if batch.y is None:
            raise DataError(f"method {self.name!r} trains on labelled digits, but the batch has no labels. Train it on a labelled set such as mnistm.")
        x = augment(batch.x, self.config) if self.config.augment else batch.x
        logits = self.net(x * 2 - 1).float()
        loss = F.cross_entropy(logits, batch.y)
        self.optimize("net", loss)
        return {"loss": loss.detach(), "accuracy": (logits.detach().argmax(1) == batch.y).float().mean()}

    # ---- inference: any image size, 1 or 3 channels -----------------------------------------------
    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Return `images` ([0, 1], (N, 1|3, S, S)) as the network's input: RGB 28x28 in [-1, 1] on the model's device."""
        check_image_batch(images, f"model {self.zoo_name!r}")
        if images.shape[1] not in (1, 3):
            raise ConfigError(f"model {self.zoo_name!r} classifies images with 1 or 3 channels; got {images.shape[1]} (shape {tuple(images.shape)}).")
        # in the weights' own precision: a model moved with .half() or .to(torch.float64) takes its images so
        return (adapt_images(images.to(self.device), INPUT_SIZE, 3) * 2 - 1).to(next(self.parameters()).dtype)

    def _chunked(self, images: torch.Tensor, fn: Any) -> torch.Tensor:
        check_image_batch(images, f"model {self.zoo_name!r}")  # before len(): a PIL image or an array gets zoo's message
        with inference(self):  # also when held in training mode: a label that depends on its batch, and changed BatchNorm statistics, otherwise
            return torch.cat([fn(self.prepare(images[i : i + _CHUNK])).float() for i in range(0, max(len(images), 1), _CHUNK)])

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Return the penultimate-layer features (N, feature_dim) of `images` in [0, 1]."""
        return self._chunked(images, self.net.features)

    def features_and_logits(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return `features(images)` and `logits(images)` from one pass of the network's body (half the work of both)."""
        feats = self.features(images)
        with inference(self):
            return feats, self.net.head(feats.to(self.device, next(self.parameters()).dtype)).float()

    @torch.no_grad()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Return the class logits (N, n_classes) of `images` in [0, 1]."""
        return self._chunked(images, self.net)

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Return the predicted digit (int64, (N,)) of each image in [0, 1], any square size, 1 or 3 channels."""
        return self.logits(images).argmax(1)

