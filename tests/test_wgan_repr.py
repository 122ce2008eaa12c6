"""WGAN-GP's networks print exactly as the seed report prints them (whitespace-normalised)."""

from __future__ import annotations

import re
from pathlib import Path

from zoo.registry import build_method

SEED = Path(__file__).parent / "fixtures" / "seed"


def normalised(text: str) -> str:
    """Return `text` with all whitespace removed, so indentation and line ends do not matter."""
    return re.sub(r"\s+", "", text)


def torch_repr(module: object) -> str:
    """Return repr(module) as the report's torch printed it.

    Newer torch adds `bias=...` to the repr of BatchNorm/InstanceNorm (next to `affine`); the
    report's torch did not print it, so that one field is dropped here.
    """
    return re.sub(r", bias=(True|False)(?=, track_running_stats)", "", repr(module))


def test_generator_prints_as_the_seed_report() -> None:
    model = build_method("wgan_gp", {}, training=True)
    assert normalised(torch_repr(model.generator)) == normalised((SEED / "wgan_gp_generator.txt").read_text())


def test_critic_prints_as_the_seed_report_instance_norm_no_sigmoid() -> None:
    model = build_method("wgan_gp", {}, training=True)
    want = (SEED / "wgan_gp_discriminator.txt").read_text()
    # The report's text ends with one closing parenthesis too many (its indentation shows the
    # block was pasted one level deep): a typo in the report, removed here and nowhere else.
    assert normalised(want).endswith("))))")
    want = normalised(want)[:-1]
    assert normalised(torch_repr(model.discriminator)) == want
    assert "Sigmoid" not in repr(model.discriminator)
