"""Digit glyph masks rendered once per (font, digit) from the fonts matplotlib ships, for syndigits.

Each glyph is rendered by FreeType (matplotlib's FT2Font), cropped to its ink, scaled to a common
ink height and centred on a square canvas, so a single affine transform per image places any
glyph at any size, angle and position.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError

__all__ = ["DIGIT_FONTS", "CANVAS", "INK_HEIGHT", "font_dir", "render_digit", "glyph_atlas", "glyphs_digest"]

#: Fonts with real digit glyphs at '0'..'9' (the Display, NonUnicode, size-variant and symbol fonts have none,
#: and cmmi10's old-style figures wander above and below the line).
DIGIT_FONTS: tuple[str, ...] = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf", "DejaVuSansMono-BoldOblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
    "cmr10.ttf", "cmb10.ttf", "cmss10.ttf", "cmti10.ttf", "cmtt10.ttf",
)
CANVAS = 40
INK_HEIGHT = 26  # glyph ink height on the canvas: about the height it has in a 32x32 image, so sampling it needs no anti-aliasing
_RENDER_PT = 96


def font_dir() -> Path:
    """Return the folder of matplotlib's bundled TrueType fonts."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _no_hinting_flag() -> object:
    """Return FreeType's no-hinting load flag in the form this matplotlib wants (an enum since 3.10)."""
    from matplotlib import ft2font

    flags = getattr(ft2font, "LoadFlags", None)
    return flags.NO_HINTING if flags is not None else ft2font.LOAD_NO_HINTING


def render_digit(font_file: str, digit: int) -> np.ndarray:
    """Return the ink of `digit` in `font_file` as a float32 mask in [0, 1], cropped to its bounding box."""
    from matplotlib.ft2font import FT2Font

    path = font_dir() / font_file
    if not path.is_file():
        raise DataError(f"font {path} not found: syndigits renders digits with the fonts matplotlib ships. Reinstall matplotlib.")
    font = FT2Font(str(path))
    if font.get_char_index(ord(str(digit))) == 0:
        raise DataError(f"font {font_file} has no glyph for {digit}; use a font from DIGIT_FONTS.")
    font.set_size(_RENDER_PT, 72)
    # hinting snaps outlines to the pixel grid of one size; unhinted outlines scale cleanly
    font.set_text(str(digit), 0.0, flags=_no_hinting_flag())
    font.draw_glyphs_to_bitmap(antialiased=True)
    ink = np.asarray(font.get_image(), dtype=np.float32) / 255.0
    rows, cols = np.nonzero(ink.max(1) > 0.05)[0], np.nonzero(ink.max(0) > 0.05)[0]
    if not len(rows):
        raise DataError(f"font {font_file} rendered an empty glyph for {digit}.")
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


@lru_cache(maxsize=4)
def glyph_atlas(fonts: tuple[str, ...] = DIGIT_FONTS) -> tuple[torch.Tensor, torch.Tensor]:
    """Return masks (F, 10, CANVAS, CANVAS) in [0, 1], glyphs centred at INK_HEIGHT px tall, and ink widths (F, 10) in px."""
    masks = torch.zeros(len(fonts), 10, CANVAS, CANVAS)
    widths = torch.zeros(len(fonts), 10)
    for f, font_file in enumerate(fonts):
        for d in range(10):
            ink = torch.from_numpy(render_digit(font_file, d))[None, None]
            h, w = ink.shape[-2:]
            new_w = min(CANVAS - 4, max(2, round(w * INK_HEIGHT / h)))
            ink = F.interpolate(ink, size=(INK_HEIGHT, new_w), mode="bilinear", antialias=True, align_corners=False)[0, 0]
            top, left = (CANVAS - INK_HEIGHT) // 2, (CANVAS - new_w) // 2
            masks[f, d, top : top + INK_HEIGHT, left : left + new_w] = ink.clamp(0, 1)
            widths[f, d] = new_w
    return masks, widths


def glyphs_digest(fonts: tuple[str, ...] = DIGIT_FONTS) -> str:
    """Return a sha256 of the rendered glyph masks: it changes when FreeType or a font file renders differently."""
    masks, widths = glyph_atlas(fonts)
    return hashlib.sha256(masks.numpy().tobytes() + widths.numpy().tobytes()).hexdigest()
