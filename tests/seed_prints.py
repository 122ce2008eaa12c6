"""The networks the seed report prints (tests/fixtures/seed/) and how zoo's prints are compared with them."""

from __future__ import annotations

import re
from pathlib import Path

SEED = Path(__file__).parent / "fixtures" / "seed"


def squeezed(text: str) -> str:
    """Return `text` without whitespace: the report's pasted blocks differ from torch's in indentation and line ends only."""
    return re.sub(r"\s+", "", text)


def seed_print(name: str) -> str:
    """Return the report's print `name` (a file stem in tests/fixtures/seed/), squeezed."""
    return squeezed((SEED / f"{name}.txt").read_text())
