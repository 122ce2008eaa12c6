"""The seed report's ContextUnet: a two-level U-Net conditioned on the time step and a class context.

It prints exactly as the report prints it for ``n_feat=256`` (``tests/fixtures/seed/ddpm_contextunet.txt``).
The network predicts the noise in ``x_t``; schedules and samplers live in :mod:`.schedule`.

Example::

    >>> net = ContextUnet(in_channels=3, n_feat=64, n_classes=10)
    >>> eps = net(torch.randn(8, 3, 28, 28), torch.rand(8), torch.eye(10)[torch.arange(8)])
    >>> eps.shape
    torch.Size([8, 3, 28, 28])
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["ConvBNGELU", "plain_layers", "ResidualConvBlock", "UnetDown", "UnetUp", "EmbedFC", "ContextUnet", "IMAGE_SIZE"]

#: The bottleneck pools 7x7 to one vector and ``up0`` unpools it with a 7x7 kernel: inputs are 28x28.
IMAGE_SIZE = 28
_SQRT2 = 2**0.5


def _fused_conv_gelu_available() -> bool:
    """Whether oneDNN's convolution with a fused GELU (the kernel torch.compile uses on CPUs) is there."""
    try:
        return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")
    except (AttributeError, RuntimeError):
        return False


_FUSED_CONV_GELU = _fused_conv_gelu_available()


@contextmanager
def plain_layers() -> Iterator[None]:
    """Inside this block every ConvBNGELU runs its three layers as written (for checks and timings)."""
    global _FUSED_CONV_GELU
    saved, _FUSED_CONV_GELU = _FUSED_CONV_GELU, False
    try:
        yield
    finally:
        _FUSED_CONV_GELU = saved


class ConvBNGELU(nn.Sequential):
    """3x3 Conv2d, BatchNorm2d, GELU; in CPU inference one oneDNN call with the BatchNorm folded into the conv.

    Training, autograd and other devices run the three layers as written. Inference on a CPU in
    float32 folds the BatchNorm's running statistics into the convolution's weights and lets
    oneDNN apply the GELU inside the convolution, which saves two passes over the activations
    (docs/ddpm.md has the timings). It prints as the seed's ``Sequential``.
    """

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout, 3, 1, 1), nn.BatchNorm2d(cout), nn.GELU())

    def _get_name(self) -> str:
        return "Sequential"

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if (
            not _FUSED_CONV_GELU
            or self.training
            or torch.is_grad_enabled()
            or x.device.type != "cpu"
            or x.dtype != torch.float32
            or torch.is_autocast_enabled("cpu")
        ):
            return super().forward(x)
        conv, bn = self[0], self[1]
        scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
        weight = (conv.weight * scale[:, None, None, None]).contiguous(memory_format=torch.channels_last)
        bias = (conv.bias - bn.running_mean) * scale + bn.bias
        return torch.ops.mkldnn._convolution_pointwise(x, weight, bias, [1, 1], [1, 1], [1, 1], 1, "gelu", [], "none")


class ResidualConvBlock(nn.Module):
    """Two 3x3 conv + BatchNorm + GELU layers; with ``residual`` the input (or first layer's output) is added back."""

    def __init__(self, in_channels: int, out_channels: int, residual: bool = False) -> None:
        super().__init__()
        self.residual = residual
        self.same_channels = in_channels == out_channels
        self.conv1 = ConvBNGELU(in_channels, out_channels)
        self.conv2 = ConvBNGELU(out_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h1 = self.conv1(x)
        h2 = self.conv2(h1)
        if not self.residual:
            return h2
        # when the widths differ the skip starts after conv1; dividing by sqrt(2) keeps the variance of the sum
        return ((x if self.same_channels else h1) + h2) / _SQRT2


class UnetDown(nn.Module):
    """A residual block then 2x max-pooling: halves the resolution."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(ResidualConvBlock(in_channels, out_channels), nn.MaxPool2d(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class UnetUp(nn.Module):
    """Concatenates the skip connection, upsamples 2x with a transposed conv, then two residual blocks."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.ConvTranspose2d(in_channels, out_channels, 2, 2),
            ResidualConvBlock(out_channels, out_channels),
            ResidualConvBlock(out_channels, out_channels),
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.model(torch.cat((x, skip), 1))


class EmbedFC(nn.Module):
    """A two-layer MLP that embeds a time value or a class context vector: (N, input_dim) -> (N, emb_dim, 1, 1)."""

    def __init__(self, input_dim: int, emb_dim: int) -> None:
        super().__init__()
        self.input_dim, self.emb_dim = input_dim, emb_dim
        self.model = nn.Sequential(nn.Linear(input_dim, emb_dim), nn.GELU(), nn.Linear(emb_dim, emb_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.reshape(-1, self.input_dim)).view(-1, self.emb_dim, 1, 1)


class ContextUnet(nn.Module):
    """Noise predictor eps(x_t, t, context) for 28x28 images; `context` is one-hot (zeros: unconditional)."""

    def __init__(self, in_channels: int = 3, n_feat: int = 256, n_classes: int = 10) -> None:
        super().__init__()
        if n_feat % 8:
            raise ValueError(f"ContextUnet needs n_feat divisible by 8 (GroupNorm with 8 groups), got {n_feat}")
        self.in_channels, self.n_feat, self.n_classes = in_channels, n_feat, n_classes
        # module order is the report's print order
        self.init_conv = ResidualConvBlock(in_channels, n_feat, residual=True)
        self.down1 = UnetDown(n_feat, n_feat)
        self.down2 = UnetDown(n_feat, 2 * n_feat)
        self.to_vec = nn.Sequential(nn.AvgPool2d(7), nn.GELU())
        self.timeembed1 = EmbedFC(1, 2 * n_feat)
        self.timeembed2 = EmbedFC(1, n_feat)
        self.contextembed1 = EmbedFC(n_classes, 2 * n_feat)
        self.contextembed2 = EmbedFC(n_classes, n_feat)
        self.up0 = nn.Sequential(nn.ConvTranspose2d(2 * n_feat, 2 * n_feat, 7, 7), nn.GroupNorm(8, 2 * n_feat), nn.ReLU())
        self.up1 = UnetUp(4 * n_feat, n_feat)
        self.up2 = UnetUp(2 * n_feat, n_feat)
        self.out = nn.Sequential(
            nn.Conv2d(2 * n_feat, n_feat, 3, 1, 1),
            nn.GroupNorm(8, n_feat),
            nn.ReLU(),
            nn.Conv2d(n_feat, in_channels, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Return the predicted noise for `x` (N, C, 28, 28) at times `t` in [0, 1] with one-hot `context`.

        `t` and `context` hold N rows, or k * N: the encoder (``init_conv`` to ``to_vec``) sees neither,
        so it runs once on `x` and its features serve each of the k groups of rows; the result has
        k * N rows, group i for ``t[i*N:(i+1)*N]``. Classifier-free guidance passes k = 2
        (conditional and unconditional) and saves the encoder's second pass.
        """
        n, rows = x.shape[0], context.shape[0]
        if n == 0 or rows % n or t.shape[0] != rows:
            raise ValueError(f"t and context need N or a multiple of N rows for N = {n} images, got {t.shape[0]} and {rows}")
        x = self.init_conv(x)
        down1 = self.down1(x)
        down2 = self.down2(down1)
        hidden = self.to_vec(down2)
        if rows != n:
            x, down1, down2, hidden = (torch.cat([h] * (rows // n)) for h in (x, down1, down2, hidden))
        t = t.to(x.dtype).reshape(-1, 1)
        context = context.to(x.dtype)
        # the context scales and the time shifts the features of both upsampling stages
        up1 = self.up0(hidden)
        up2 = self.up1(self.contextembed1(context) * up1 + self.timeembed1(t), down2)
        up3 = self.up2(self.contextembed2(context) * up2 + self.timeembed2(t), down1)
        return self.out(torch.cat((up3, x), 1))
