"""DCGAN's networks print exactly as the seed report prints them (zoo.printing.classic_repr, whitespace aside)."""

from __future__ import annotations

from zoo.printing import classic_repr
from zoo.loading import build_method

from seed_prints import seed_print, squeezed


def test_generator_prints_as_the_seed_report() -> None:
    model = build_method("dcgan", {}, training=True)
    assert squeezed(classic_repr(model.generator)) == seed_print("dcgan_generator")


def test_discriminator_prints_as_the_seed_report_batch_norm_and_sigmoid() -> None:
    model = build_method("dcgan", {}, training=True)
    assert squeezed(classic_repr(model.discriminator)) == seed_print("dcgan_discriminator")
