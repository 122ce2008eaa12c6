"""A folder of images (flat, or one subfolder per class as ImageFolder): center-cropped and resized."""

from __future__ import annotations

import hashlib
import struct
import unicodedata
import zlib
from concurrent.futures import ThreadPoolExecutor
from operator import attrgetter
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DataError
from ._types import ImageSet

__all__ = ["IMAGE_SUFFIXES", "list_images", "is_test_file", "open_image", "read_image", "read_folder", "image_folder_layout"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff")
MIN_SIDE = 16
#: The side a folder's images are brought to, unless they all share a smaller one (28x28 digits stay 28x28).
FOLDER_SIDE = 64
#: What PIL raises for a damaged file: besides OSError, a truncated PNG raises SyntaxError ("broken PNG file"), a BMP
#: with a bad palette or a TIFF with a bad tile ValueError, and damaged headers or compressed chunks struct.error or zlib.error.
_IMAGE_ERRORS = (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError, struct.error, zlib.error)
#: Formats whose tiles (the parts of the file PIL decodes) always cover the whole image: one tile for PNG (interlaced
#: too), JPEG (progressive too) and BMP; a grid of strips or tiles for TIFF. Not GIF: its first frame may cover part of
#: the screen, the rest being background.
_TILES_COVER = frozenset({"PNG", "JPEG", "MPO", "BMP", "TIFF"})


def _images_in(folder: Path) -> list[Path]:
    """Return the image files directly in `folder`, sorted by name; hidden ones (macOS's ._x.png, .DS_Store) are not images.

    Names sort as strings (case first, as torchvision's ImageFolder): Windows' Path order ignores case, and would give
    the same folder other labels and another train/test split than Linux and macOS.
    """
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()), key=attrgetter("name"))


#: Folders that file servers add inside every folder, with thumbnails of its images (Synology's): not the user's images.
_SERVICE_FOLDERS = frozenset({"@eaDir", "__MACOSX"})


def _images_below(folder: Path) -> Path | None:
    """Return an image file in a subfolder of `folder`, at any depth, or None.

    Hidden and file-server folders are passed over, and so are linked folders (a link to a parent would loop forever);
    the walk keeps its own stack, so no depth of folders exhausts Python's.
    """
    stack = [folder]
    while stack:
        for d in sorted(stack.pop().iterdir()):
            if d.is_dir() and not d.is_symlink() and not d.name.startswith(".") and d.name not in _SERVICE_FOLDERS:
                if found := next(iter(_images_in(d)), None):
                    return found
                stack.append(d)
    return None


def list_images(folder: Path) -> tuple[list[Path], list[int] | None, list[str]]:
    """Return the image files under `folder`, their class indices (ImageFolder layout) or None, and class names."""
    flat = _images_in(folder)
    subfolders = sorted((d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".") and d.name not in _SERVICE_FOLDERS),
                        key=attrgetter("name"))
    per_class = {d.name: _images_in(d) for d in subfolders}
    if flat:
        nested = [c for c, found in per_class.items() if found]
        if nested:  # either layout alone is clear; both would leave one part out
            raise DataError(
                f"{folder} holds {len(flat)} images and subfolder(s) with images ({', '.join(nested[:5])}{', ...' if len(nested) > 5 else ''}): "
                "expected a flat folder of images or one subfolder per class, not both. Move the top-level images into a "
                "subfolder (a class of their own) or the subfolders out."
            )
    # images deeper than the level read (cat/more/x.png; a flat folder's sub/deeper/x.png) would be left out without a word
    deeper = _images_below(folder) if flat else next((f for d in subfolders if (f := _images_below(d))), None)
    if deeper is not None:
        raise DataError(
            f"{folder} holds images below the level zoo reads (e.g. {deeper.relative_to(folder).as_posix()}): expected a flat folder of images "
            "or one subfolder per class with its images directly in it. Move them up into their class folder, or out."
        )
    if flat:
        return flat, None, []
    if not any(per_class.values()):
        raise DataError(f"no images found in {folder}: expected image files ({', '.join(IMAGE_SUFFIXES)}) in it or in one subfolder per class.")
    empty = [c for c, found in per_class.items() if not found]
    if empty:  # a class without images would still take a label index, and every later class's label would shift
        raise DataError(f"class folder(s) {', '.join(empty)} in {folder} hold no images ({', '.join(IMAGE_SUFFIXES)}). Add images or move the folder(s) out.")
    classes = list(per_class)
    labels = [i for i, c in enumerate(classes) for _ in per_class[c]]
    return [p for c in classes for p in per_class[c]], labels, classes


def is_test_file(relative: str) -> bool:
    """Whether the image at `relative` (its path in the folder, '/'-separated: 'x.png', 'cat/x.png') is a test image.

    About one image in ten is, chosen by the sha256 of that path alone (Unicode NFC, as macOS and Linux may spell one
    name in two ways): adding, removing or renaming other files never moves an image between train and test, so a
    model trained on a folder is not judged later on images it trained on, as an every-10th-file rule would do.
    """
    digest = hashlib.sha256(unicodedata.normalize("NFC", relative).encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10 == 0


def _tiles_cover(im: Image.Image) -> bool:
    """Whether the tiles PIL will decode cover all of `im` (true of formats not in _TILES_COVER, which are not checked).

    A TIFF whose height tag is damaged upwards keeps the strips it had: PIL decodes them and leaves the rest of the
    claimed height black, without a word. The union of the tiles is taken (a TIFF stored band by band repeats its grid
    once a band), over the grid their edges make.
    """
    if im.format not in _TILES_COVER or not im.tile:
        return True
    w, h = im.size
    boxes = [(0, 0, w, h) if t[1] is None else tuple(t[1]) for t in im.tile]  # extents: a plain tuple before Pillow 11
    boxes = [(max(0, min(x0, w)), max(0, min(y0, h)), max(0, min(x1, w)), max(0, min(y1, h))) for x0, y0, x1, y1 in boxes]
    xs, ys = sorted({0, w, *(b[0] for b in boxes), *(b[2] for b in boxes)}), sorted({0, h, *(b[1] for b in boxes), *(b[3] for b in boxes)})
    xi, yi = {x: i for i, x in enumerate(xs)}, {y: i for i, y in enumerate(ys)}
    covered = np.zeros((len(ys) - 1, len(xs) - 1), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        covered[yi[y0]:yi[y1], xi[x0]:xi[x1]] = True
    return bool(covered.all())


def open_image(path: Path, mode: str, fix: str, size: tuple[int, int] | None = None) -> Image.Image:
    """Return the image at `path` converted to `mode` ('L' or 'RGB') with 8 bits a channel; `fix` ends the error messages.

    16-bit gray (PIL's I;16 modes, e.g. 16-bit PNGs) is scaled to 0..255, where PIL's own conversion would clip
    everything above 255 to white. 32-bit integer and float images are refused: their range cannot be inferred.
    With `size` (width, height), an image of another size is refused from its header, before it is decoded.
    """
    try:
        with Image.open(path) as im:
            if not _tiles_cover(im):
                raise DataError(f"image {path} is damaged: its header says {im.size[0]}x{im.size[1]} pixels, but its data covers "
                                f"only part of them (the rest would read as black). {fix}")
            # the size it has once turned upright (EXIF orientations 5-8 swap the sides), known from the header alone
            shown = im.size[::-1] if im.getexif().get(0x0112) in (5, 6, 7, 8) else im.size
            if size is not None and shown != size:
                raise DataError(f"image {path} is {shown[0]}x{shown[1]}, expected {size[0]}x{size[1]}: {fix}")
            im = ImageOps.exif_transpose(im)  # a phone photo stored sideways, with an EXIF orientation, upright as viewers show it
            if im.mode.startswith("I;16"):
                im = Image.fromarray(np.round(np.asarray(im, dtype=np.float32) / 257).astype(np.uint8))
            elif im.mode in ("I", "F"):
                kind = "32-bit integer" if im.mode == "I" else "floating-point"
                raise DataError(f"image {path} holds {kind} pixels (PIL mode {im.mode}), whose range zoo cannot infer; expected 8 or 16 bits a channel. {fix}")
            return im.convert(mode)
    except _IMAGE_ERRORS as e:
        raise DataError(f"cannot read image {path} ({e}). {fix}") from None


def read_image(path: Path, size: int | None, mode: str = "RGB") -> np.ndarray:
    """Return the image at `path` as uint8 HWC, center-cropped to a square and resized to `size` (if given)."""
    im = open_image(path, mode, "Remove or replace the file.")
    w, h = im.size
    if min(w, h) < MIN_SIDE:
        raise DataError(f"image {path} is {w}x{h}; expected at least {MIN_SIDE}x{MIN_SIDE} pixels. Remove it or use larger images.")
    if size is not None:
        s = min(w, h)
        im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
        if s != size:
            im = im.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=None)
    arr = np.asarray(im, dtype=np.uint8)
    return arr[:, :, None] if arr.ndim == 2 else arr


def common_side(files: list[Path], most: int = FOLDER_SIDE) -> int:
    """Return the side every file's center square shares where it is at most `most`, else `most`.

    Images already at the networks' sizes (28x28 digits, 32x32 crops) are kept as they are: resizing them to
    64x64 and the network's size again would blur them (a folder's own test images then scored a Frechet distance
    above 0 against it; tests/test_metrics_gan.py checks that it is 0). Only the headers are read.
    """
    sides = set()
    for path in files:
        try:
            with Image.open(path) as im:
                side = min(im.size)  # a turn by its EXIF orientation keeps the short side
        except _IMAGE_ERRORS:
            continue  # read_image names the file where its split reads it; the others keep their side
        sides.add(side)
        if len(sides) > 1 or side > most:  # settled: a face set of 200,000 photos is not read header by header
            return most
    side = sides.pop() if sides else most
    return side if MIN_SIDE <= side <= most else most


def read_folder(split: str, folder: Path | None, size: int | None = None) -> ImageSet:
    """Return a folder of images as an ImageSet: about one file in ten is 'test' (:func:`is_test_file`), the rest
    'train'; 'all' is every file.

    Each image is center-cropped to a square and resized to `size`; None: the side they all share where it is
    at most 64 (:func:`common_side`, over both splits), else 64x64.
    """
    if folder is None or not folder.is_dir():
        raise DataError(f"image folder {folder} does not exist. Pass a folder of images (flat or one subfolder per class).")
    files, labels, classes = list_images(folder)
    size = size or common_side(files)
    keep = [i for i, f in enumerate(files) if split == "all" or is_test_file(f.relative_to(folder).as_posix()) == (split == "test")]
    if not keep:
        raise DataError(
            f"image folder {folder} has {len(files)} images and none in its {split!r} split (about one image in ten is test, "
            "chosen by a hash of its path, so that adding files never moves one). Add images, or keep held-out images in a "
            "folder of their own and use each folder whole (split 'all')."
        )
    images = torch.empty((len(keep), 3, size, size), dtype=torch.uint8)  # filled in place: a list, its stack and a transposed copy
    out = images.numpy()                                                 # would hold a large folder three times over at once
    with ThreadPoolExecutor(max_workers=4) as pool:
        for k, array in enumerate(pool.map(lambda i: read_image(files[i], size), keep)):
            out[k] = array.transpose(2, 0, 1)
    y = torch.tensor([labels[i] for i in keep]) if labels is not None else None
    return ImageSet(images, y, folder.name, len(classes) if labels is not None else None, tuple(classes) if labels is not None else None)


def image_folder_layout(folder: Path) -> str | None:
    """Return a description of the images in `folder` (flat or one subfolder per class), or None if it holds none."""
    if not folder.is_dir():
        return None
    if _images_in(folder):
        return "a flat folder of images"
    for sub in folder.iterdir():
        if sub.is_dir() and not sub.name.startswith(".") and _images_in(sub):
            return "an image folder with one subfolder per class"
    return None
