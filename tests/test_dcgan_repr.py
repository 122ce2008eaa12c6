"""DCGAN's networks print exactly as the seed report prints them (whitespace-normalised)."""

from __future__ import annotations

from pathlib import Path

from zoo.registry import build_method

from test_wgan_repr import normalised, torch_repr

SEED = Path(__file__).parent / "fixtures" / "seed"


def test_generator_prints_as_the_seed_report() -> None:
    model = build_method("dcgan", {}, training=True)
    assert normalised(torch_repr(model.generator)) == normalised((SEED / "dcgan_generator.txt").read_text())


def test_discriminator_prints_as_the_seed_report_batch_norm_and_sigmoid() -> None:
    model = build_method("dcgan", {}, training=True)
    assert normalised(torch_repr(model.discriminator)) == normalised((SEED / "dcgan_discriminator.txt").read_text())
