"""WGAN-GP's networks print exactly as the seed report prints them (zoo.printing.classic_repr, whitespace aside)."""

from __future__ import annotations

from zoo.printing import classic_repr
from zoo.loading import build_method

from seed_prints import seed_print, squeezed


def test_generator_prints_as_the_seed_report() -> None:
    model = build_method("wgan_gp", {}, training=True)
    assert squeezed(classic_repr(model.generator)) == seed_print("wgan_gp_generator")


def test_critic_prints_as_the_seed_report_instance_norm_no_sigmoid() -> None:
    model = build_method("wgan_gp", {}, training=True)
    want = seed_print("wgan_gp_discriminator")
    # The report's text ends with one closing parenthesis too many (its indentation shows the
    # block was pasted one level deep): a typo in the report, removed here and nowhere else.
    assert want.endswith("))))")
    assert squeezed(classic_repr(model.discriminator)) == want[:-1]
    assert "Sigmoid" not in repr(model.discriminator)
