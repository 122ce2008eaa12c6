"""The DDPM network prints exactly as the seed report prints it (n_feat=256, 3 channels, 10 classes)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import zoo
from zoo_plugins.ddpm.model import ContextUnet

FIXTURE = Path(__file__).parent / "fixtures" / "seed" / "ddpm.txt"


def seed_print() -> str:
    """Return the report's DDPM print reassembled into one text.

    The report splits the print over three code blocks: the first opens ``DDPM(`` and ``ContextUnet(``
    and closes both after ``down2``; the other two hold the remaining children (``to_vec`` .. ``out``)
    without the wrapper. They go back inside the ContextUnet, before its closing parenthesis.
    """
    first, *rest = FIXTURE.read_text().strip().split("\n\n")
    lines = first.rstrip().splitlines()
    assert lines[-2:] == ["  )", ")"], "the first block should end by closing ContextUnet and DDPM"
    return "\n".join(lines[:-2] + rest + [")", ")"])


def normalise(text: str) -> str:
    """Return `text` with whitespace collapsed and today's torch printing brought to the report's (older) torch."""
    # torch >= 2.0 prints GELU's default as approximate='none'; the report's torch printed approximate=None
    text = text.replace("GELU(approximate='none')", "GELU(approximate=None)")
    # recent torch prints the bias flag of BatchNorm and GroupNorm, which the report's torch did not have
    text = text.replace(" bias=True,", "").replace(", bias=True)", ")")
    return re.sub(r"\s+", " ", text).strip()


def test_contextunet_prints_as_the_seed_report() -> None:
    torch.manual_seed(0)
    method = zoo.build_method("ddpm", {"n_feat": 256, "channels": 3, "n_classes": 10})
    assert normalise(repr(method)) == normalise(seed_print())


def test_print_comparison_catches_a_wrong_width() -> None:
    assert normalise(repr(ContextUnet(3, 128, 10))) != normalise(seed_print().split("(nn_model): ", 1)[1].rsplit(")", 1)[0])


def test_default_config_is_the_printed_network() -> None:
    method = zoo.build_method("ddpm", {})
    assert normalise(repr(method)) == normalise(seed_print())


@pytest.mark.parametrize("n_feat", [8, 32])
def test_forward_shape_and_the_context_changes_the_output(n_feat: int) -> None:
    torch.manual_seed(0)
    net = ContextUnet(3, n_feat, 10).eval()
    x, t = torch.randn(4, 3, 28, 28), torch.full((4,), 0.5)
    one_hot = torch.eye(10)[torch.tensor([0, 1, 2, 3])]
    eps = net(x, t, one_hot)
    assert eps.shape == x.shape
    assert not torch.allclose(eps, net(x, t, torch.zeros_like(one_hot)))
    assert not torch.allclose(eps, net(x, torch.full((4,), 0.1), one_hot))


def test_width_must_suit_groupnorm() -> None:
    with pytest.raises(ValueError, match="divisible by 8"):
        ContextUnet(3, 12, 10)
    with pytest.raises(zoo.ConfigError, match="n_feat"):
        zoo.build_method("ddpm", {"n_feat": 12})
