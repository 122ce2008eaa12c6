"""Natural photographs that ship inside pip packages zoo depends on: backgrounds for MNIST-M and syndigits.

Only files inside the installed wheels are used (never scikit-image's fetched extras), read
straight from the package folders with Pillow so nothing is downloaded and no heavy package is
imported. Licenses are recorded here and in docs/data.md.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError

__all__ = ["Photo", "PHOTOS", "MNISTM_PHOTOS", "TEXTURES", "photo_path", "load_photo", "load_photos", "photos_digest"]


@dataclass(frozen=True)
class Photo:
    """A photograph inside an installed package, with its provenance."""

    name: str
    package: str
    file: str  # relative to the package folder
    license: str
    credit: str


PHOTOS: tuple[Photo, ...] = (
    Photo("astronaut", "skimage", "data/astronaut.png", "public domain", "NASA, Eileen Collins (skimage.data.astronaut)"),
    Photo("chelsea", "skimage", "data/chelsea.png", "CC0", "Stefan van der Walt (skimage.data.chelsea)"),
    Photo("coffee", "skimage", "data/coffee.png", "CC0", "Rachel Michetti (skimage.data.coffee)"),
    Photo("rocket", "skimage", "data/rocket.jpg", "public domain", "SpaceX, DSCOVR launch (skimage.data.rocket)"),
    Photo("immunohistochemistry", "skimage", "data/ihc.png", "no known copyright restrictions", "CMMI (skimage.data.immunohistochemistry)"),
    Photo("china", "sklearn", "datasets/images/china.jpg", "CC BY 2.0", "danielbuechele on Flickr (sklearn load_sample_images)"),
    Photo("flower", "sklearn", "datasets/images/flower.jpg", "CC BY 2.0", "vultilion on Flickr (sklearn load_sample_images)"),
    Photo("grace_hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "public domain (U.S. Navy photograph)", "James S. Davis, U.S. Navy (matplotlib sample data)"),
    # grayscale textures: walls and ground, the surfaces house numbers sit on (syndigits only)
    Photo("brick", "skimage", "data/brick.png", "CC0", "CC0Textures Bricks25 (skimage.data.brick)"),
    Photo("grass", "skimage", "data/grass.png", "CC0", "linolafett on DeviantArt (skimage.data.grass)"),
    Photo("gravel", "skimage", "data/gravel.png", "CC0", "CC0Textures Gravel04 (skimage.data.gravel)"),
)

#: Colour photographs for MNIST-M (Ganin & Lempitsky used colour photos from BSDS500).
MNISTM_PHOTOS: tuple[str, ...] = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "china", "flower", "grace_hopper")
#: Grayscale textures, added to the colour photos as syndigits backgrounds.
TEXTURES: tuple[str, ...] = ("brick", "grass", "gravel")

_BY_NAME = {p.name: p for p in PHOTOS}


def _package_dir(package: str) -> Path:
    """Return the installed folder of `package` without importing it (importing sklearn takes seconds)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"package {package!r} is not installed; zoo reads its bundled photographs. Install it: pip install {package}.")
    return Path(next(iter(spec.submodule_search_locations)))


def photo_path(name: str) -> Path:
    """Return the file of the photograph called `name`."""
    if name not in _BY_NAME:
        raise DataError(f"unknown photograph {name!r}; known: {', '.join(_BY_NAME)}.")
    p = _BY_NAME[name]
    path = _package_dir(p.package) / p.file
    if not path.is_file():
        raise DataError(f"photograph {name!r} not found at {path}: the installed {p.package} does not carry {p.file}. Reinstall {p.package}.")
    return path


@lru_cache(maxsize=None)
def load_photo(name: str) -> np.ndarray:
    """Return photograph `name` as a read-only uint8 RGB array (H, W, 3)."""
    path = photo_path(name)
    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except OSError as e:
        raise DataError(f"cannot read photograph {path} ({e}). Reinstall the package that carries it.") from None
    arr.flags.writeable = False
    return arr


def load_photos(names: tuple[str, ...]) -> list[np.ndarray]:
    """Return the photographs called `names`, in order."""
    return [load_photo(n) for n in names]


def photos_digest(names: tuple[str, ...]) -> str:
    """Return a sha256 over the decoded pixels of `names`: it changes only when a photo's pixels do."""
    h = hashlib.sha256()
    for n, a in zip(names, load_photos(names)):
        h.update(f"{n}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()
