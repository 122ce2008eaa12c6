"""The digit classifier's network: four conv layers with BatchNorm in three stages, global pooling, a linear head."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["NUM_CLASSES", "DigitCNN"]

NUM_CLASSES = 10


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class DigitCNN(nn.Module):
    """(N, 3, 28, 28) -> features (N, 4 * width) -> logits (N, num_classes); about 130k parameters at width 32."""

    def __init__(self, width: int = 32, dropout: float = 0.2, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        w = width
        # pooling right after the first conv: 15M multiply-adds per image, 1.5x fewer than a second
        # conv at full resolution (which matters when it is trained on two CPU cores), and still a
        # 22-pixel receptive field before the global pooling
        self.body = nn.Sequential(
            *_conv_bn_relu(3, w), nn.MaxPool2d(2),  # 28 -> 14
            *_conv_bn_relu(w, 2 * w), *_conv_bn_relu(2 * w, 2 * w), nn.MaxPool2d(2),  # 14 -> 7
            *_conv_bn_relu(2 * w, 4 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * w, num_classes))
        self.feature_dim = 4 * w

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Return the penultimate features (N, 4 * width) of images normalised to [-1, 1]."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
