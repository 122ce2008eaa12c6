"""`syndigits`: an offline stand-in for SVHN, printed house-number-like digits on photographs.

Following the Syn Numbers recipe of Ganin et al. (2016, JMLR, sec. 5.1.3): digits rendered from
fonts, varying the text, position, orientation, background and stroke colours and the amount of
blur. Here the fonts are those matplotlib ships (:mod:`zoo.data.glyphs`), the backgrounds are
crops of the photographs and textures in zoo's packages (:mod:`zoo.data.photos`), and, like SVHN's
cropped digits, the labelled digit sits in the centre with neighbours of the same number at its
sides. Every image is composed with batched tensor operations on the CPU; each random draw comes
from :mod:`zoo.data._random`, so a seed gives the same set everywhere. It is a stand-in, not SVHN.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ._random import RandomStream
from ._types import ImageSet
from .cache import BuiltSet, cached_build
from .glyphs import CANVAS, DIGIT_FONTS, INK_HEIGHT, glyph_atlas, glyphs_digest
from .photos import MNISTM_PHOTOS, TEXTURES, load_photos, photos_digest

__all__ = ["BUILDER_VERSION", "SIZE", "SPLIT_SIZES", "build_syndigits", "load_syndigits", "syndigits_digest", "read_syndigits"]

BUILDER_VERSION = "1"
SIZE = 32
SPLIT_SIZES = {"train": 50_000, "test": 10_000}
BACKGROUNDS = MNISTM_PHOTOS + TEXTURES
CHUNK = 2048
_LUMA = np.array([0.299, 0.587, 0.114])


def _colours(rng: RandomStream, s: str, n: int, crop_mean: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return plate colours, stroke colours (N, 3) in [0, 1] with a luminance gap of at least 0.3, and texture weights."""
    colour = rng.uniform(f"{s}/plate", 3 * n).reshape(n, 3)
    grey = colour @ _LUMA
    plate = grey[:, None] + rng.uniform(f"{s}/saturation", n, 0.2, 1.0)[:, None] * (colour - grey[:, None])  # paint is rarely pure colour
    raw_photo = rng.choice(f"{s}/raw_photo", n, 0.3)  # some plates are the bare photograph
    plate[raw_photo] = crop_mean[raw_photo]
    texture = np.where(raw_photo, 1.0, rng.uniform(f"{s}/texture", n, 0.15, 0.8))
    ink = rng.uniform(f"{s}/ink", 3 * n).reshape(n, 3)
    y_plate, y_ink = plate @ _LUMA, ink @ _LUMA
    gap = rng.uniform(f"{s}/gap", n, 0.3, 0.7)
    dark_ink = y_plate >= 0.5
    # scale the ink towards black (or white) until its luminance is `gap` away from the plate's
    to_dark = np.minimum(1.0, np.maximum(y_plate - gap, 0.0) / np.maximum(y_ink, 1e-6))
    to_light = np.minimum(1.0, np.maximum(1.0 - y_plate - gap, 0.0) / np.maximum(1.0 - y_ink, 1e-6))
    ink = np.where(dark_ink[:, None], ink * to_dark[:, None], 1.0 - (1.0 - ink) * to_light[:, None])
    return plate, ink, texture


def _background_crops(rng: RandomStream, s: str, n: int, photos: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Return (N, 3, 32, 32) crops of random photographs, random square windows of 24..96 px, flipped at random."""
    which = rng.integers(f"{s}/photo", n, len(photos))
    window = rng.uniform(f"{s}/window", n, 24.0, 96.0)
    flip = np.where(rng.choice(f"{s}/flip", n, 0.5), -1.0, 1.0)
    # windows over 48 px are read from the half-size photo, so no crop is shrunk by more than 1.5x (aliasing)
    level = (window > 48).astype(np.int64)
    group = which * 2 + level
    order = np.argsort(group, kind="stable")
    steps = torch.arange(SIZE, dtype=torch.float32).add_(0.5).div_(SIZE).sub_(0.5)  # pixel centres across a window of size 1
    as_col = lambda a: torch.from_numpy(a.astype(np.float32))[:, None]  # noqa: E731
    pieces = []
    for g in np.unique(group):  # one grid_sample per photo and level: its crops stacked as one tall grid
        sel = order[np.searchsorted(group[order], g, "left") : np.searchsorted(group[order], g, "right")]
        k = len(sel)
        photo = photos[g // 2][0]
        h, w = photo.shape[-2:]
        win = np.minimum(window[sel], min(h, w) - 1)
        cx = win / 2 + rng.uniform(f"{s}/cx{g}", k) * (w - win)
        cy = win / 2 + rng.uniform(f"{s}/cy{g}", k) * (h - win)
        gx = as_col(2 * cx / w - 1) + as_col(2 * flip[sel] * win / w) * steps  # (k, 32), normalised photo x
        gy = as_col(2 * cy / h - 1) + as_col(2 * win / h) * steps
        grid = torch.stack([gx[:, None, :].expand(k, SIZE, SIZE), gy[:, :, None].expand(k, SIZE, SIZE)], -1)
        crops = F.grid_sample(photos[g // 2][g % 2], grid.view(1, k * SIZE, SIZE, 2), mode="bilinear", padding_mode="border", align_corners=False)
        pieces.append(crops.view(3, k, SIZE, SIZE))
    stacked = torch.cat(pieces, 1)  # (3, N, 32, 32) in group order
    return stacked.transpose(0, 1)[torch.from_numpy(np.argsort(order))]


def _glyph_thetas(rng: RandomStream, s: str, n: int, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return affine maps (N, 2, 3) from image to glyph-canvas coordinates for the centre digit and its left and right neighbours."""
    height = rng.uniform(f"{s}/height", n, 0.5, 0.85)  # ink height as a fraction of the image height
    stretch = rng.uniform(f"{s}/stretch", n, 0.8, 1.25)
    angle = np.clip(rng.normal(f"{s}/angle", n) * 6.0, -15.0, 15.0) * math.pi / 180
    shear = rng.uniform(f"{s}/shear", n, -0.15, 0.15)
    centre = rng.uniform(f"{s}/centre", 2 * n, -2.5 / 16, 2.5 / 16).reshape(n, 2)
    spacing = rng.uniform(f"{s}/spacing", 2 * n, 0.05, 0.35).reshape(n, 2) * INK_HEIGHT
    k = (INK_HEIGHT / CANVAS) / height  # glyph units per image unit
    cos, sin = np.cos(angle), np.sin(angle)
    # A = k * [[1/stretch, shear], [0, 1]] @ rotation(-angle): image offsets -> glyph offsets
    a = np.empty((n, 2, 2))
    a[:, 0, 0] = k * (cos / stretch - shear * sin)
    a[:, 0, 1] = k * (sin / stretch + shear * cos)
    a[:, 1, 0] = -k * sin
    a[:, 1, 1] = k * cos
    theta = np.concatenate([a, -(a @ centre[:, :, None])], axis=2)
    half = CANVAS / 2
    left_dx = (widths[:, 0] / 2 + widths[:, 1] / 2 + spacing[:, 0]) / half  # centre-to-centre, in glyph units
    right_dx = (widths[:, 0] / 2 + widths[:, 2] / 2 + spacing[:, 1]) / half
    left, right = theta.copy(), theta.copy()
    left[:, 0, 2] += left_dx
    right[:, 0, 2] -= right_dx
    return theta, left, right


def _blur(x: torch.Tensor, sigma: torch.Tensor, radius: int = 3) -> torch.Tensor:
    """Return `x` (N, C, H, W) blurred by a separable Gaussian with one sigma per image (near 0 = unchanged)."""
    n, c, h, w = x.shape
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (taps[None, :] / sigma.clamp(min=1e-2)[:, None]) ** 2)
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (N*C, taps): one kernel per image, for each channel
    # a grouped convolution applies N different kernels in one call
    y = F.pad(x.reshape(1, n * c, h, w), (radius, radius, 0, 0), mode="replicate")
    y = F.conv2d(y, k.view(n * c, 1, 1, -1), groups=n * c)
    y = F.pad(y, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(y, k.view(n * c, 1, -1, 1), groups=n * c).view(n, c, h, w)


def _compose(
    rng: RandomStream, s: str, n: int, photos: list[tuple[torch.Tensor, torch.Tensor]], masks: torch.Tensor, widths: torch.Tensor, noise_bank: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return `n` uint8 images (N, 3, 32, 32) and their labels, all drawn from stream `s`."""
    n_fonts = masks.shape[0]
    digits = rng.integers(f"{s}/digits", 3 * n, 10).reshape(n, 3)  # centre, left, right
    font = rng.integers(f"{s}/font", n, n_fonts)
    present = np.stack([np.ones(n, bool), rng.choice(f"{s}/left", n, 0.6), rng.choice(f"{s}/right", n, 0.6)], 1)
    w = widths[torch.from_numpy(font)[:, None], torch.from_numpy(digits)].numpy()
    thetas = _glyph_thetas(rng, s, n, w)
    ink_mask = None
    for slot, theta in enumerate(thetas):
        theta[~present[:, slot], 0, 2] += 100.0  # an absent neighbour is moved far off its canvas: it samples zeros
        glyph = masks[torch.from_numpy(font), torch.from_numpy(digits[:, slot])].unsqueeze(1)
        grid = F.affine_grid(torch.from_numpy(theta.astype(np.float32)), [n, 1, SIZE, SIZE], align_corners=False)
        m = F.grid_sample(glyph, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        ink_mask = m if ink_mask is None else torch.maximum(ink_mask, m)
    crops = _background_crops(rng, s, n, photos)
    crop_mean = crops.mean((2, 3)).double().numpy()
    plate, ink, texture = _colours(rng, s, n, crop_mean)
    as_t = lambda a: torch.from_numpy(a.astype(np.float32)).view(n, -1, 1, 1)  # noqa: E731
    # plate colour plus the photograph's texture around its own mean: plate + texture * (crop - mean)
    background = torch.addcmul(as_t(plate - texture[:, None] * crop_mean), crops, as_t(texture)).clamp_(0, 1)
    image = torch.lerp(background, as_t(ink).expand_as(background), ink_mask)
    image = _blur(image, torch.from_numpy(rng.uniform(f"{s}/blur", n, 0.0, 1.2).astype(np.float32)))
    noise = noise_bank[torch.from_numpy(rng.integers(f"{s}/noise", n, len(noise_bank)))]
    image.addcmul_(noise, as_t(rng.uniform(f"{s}/noise_level", n, 0.0, 0.04) * math.sqrt(12.0)))  # uniform noise, std up to 0.04
    return image.mul_(255).round_().clamp_(0, 255).to(torch.uint8), torch.from_numpy(digits[:, 0])


def build_syndigits(sizes: dict[str, int] | None = None, seed: int = 0) -> dict[str, ImageSet]:
    """Return syndigits' splits (uint8 3x32x32, labels 0..9), `sizes` images each (default SPLIT_SIZES), without the cache."""
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    masks, widths = glyph_atlas(DIGIT_FONTS)
    photos = []
    for p in load_photos(BACKGROUNDS):
        full = torch.from_numpy(p.astype(np.float32) / 255).permute(2, 0, 1)[None].contiguous()
        photos.append((full, F.interpolate(full, scale_factor=0.5, mode="bilinear", antialias=True, align_corners=False)))
    rng = RandomStream(seed)
    # per-pixel noise drawn once as a bank of tiles: drawing 3,072 values per image would dominate the build
    noise_bank = torch.from_numpy((rng.uniform("noise_bank", 512 * 3 * SIZE * SIZE) - 0.5).astype(np.float32)).view(512, 3, SIZE, SIZE)
    out = {}
    for split, total in sizes.items():
        images, labels = [], []
        for start in range(0, total, CHUNK):
            x, y = _compose(rng, f"{split}/{start}", min(CHUNK, total - start), photos, masks, widths, noise_bank)
            images.append(x)
            labels.append(y)
        out[split] = ImageSet(torch.cat(images), torch.cat(labels), "syndigits", 10)
    return out


def load_syndigits(sizes: dict[str, int] | None = None, seed: int = 0, only: tuple[str, ...] | None = None) -> BuiltSet:
    """Return the built syndigits (splits, content digest, cache folder), building it once per recipe and seed; `only` limits what a cache hit reads."""
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    parts = {
        "builder": "syndigits", "version": BUILDER_VERSION, "seed": seed, "sizes": sizes,
        "fonts": list(DIGIT_FONTS), "glyphs_sha256": glyphs_digest(DIGIT_FONTS),
        "photos": list(BACKGROUNDS), "photos_sha256": photos_digest(BACKGROUNDS),
        "torch": torch.__version__,  # the build resamples and blurs in float32, whose kernels may change between releases
    }
    return cached_build("syndigits", parts, lambda: build_syndigits(sizes, seed), only=only)


def syndigits_digest(seed: int = 0) -> str:
    """Return the sha256 content digest of the default syndigits build: equal digests mean identical pixels and labels."""
    return load_syndigits(seed=seed).digest


def read_syndigits(split: str, folder: Path | None = None) -> ImageSet:
    """Return split `split` of the syndigits stand-in (built once and cached); `folder` is unused."""
    return load_syndigits(only=(split,)).splits[split]
