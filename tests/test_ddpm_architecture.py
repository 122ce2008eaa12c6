"""The DDPM network prints exactly as the seed report prints it (n_feat=256, 3 channels, 10 classes; zoo.printing.classic_repr)."""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.printing import classic_repr
from zoo_plugins.ddpm.model import ContextUnet, plain_layers

from seed_prints import SEED, squeezed

FIXTURE = SEED / "ddpm.txt"


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


def test_contextunet_prints_as_the_seed_report() -> None:
    torch.manual_seed(0)
    method = zoo.build_method("ddpm", {"n_feat": 256, "channels": 3, "n_classes": 10})
    assert squeezed(classic_repr(method)) == squeezed(seed_print())


def test_print_comparison_catches_a_wrong_width() -> None:
    assert squeezed(classic_repr(ContextUnet(3, 128, 10))) != squeezed(seed_print().split("(nn_model): ", 1)[1].rsplit(")", 1)[0])


def test_default_config_is_the_printed_network() -> None:
    method = zoo.build_method("ddpm", {})
    assert squeezed(classic_repr(method)) == squeezed(seed_print())


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


def test_cpu_inference_folds_batchnorm_and_fuses_gelu_without_changing_the_output() -> None:
    """Inference (eval, no autograd) takes the fused oneDNN path; it must agree with the three layers it replaces."""
    torch.manual_seed(0)
    net = ContextUnet(3, 16, 10).eval().to(memory_format=torch.channels_last)
    for m in net.modules():  # give the BatchNorms statistics unlike a fresh init, so folding has work to do
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0), m.weight.data.uniform_(0.5, 1.5), m.bias.data.uniform_(-0.2, 0.2)
    x = torch.randn(6, 3, 28, 28).contiguous(memory_format=torch.channels_last)
    t, c = torch.rand(6), torch.eye(10)[torch.arange(6)]
    reference = net(x, t, c)  # autograd on: the layers as written
    with torch.inference_mode():
        fast = net(x, t, c)
        with plain_layers():
            plain = net(x, t, c)
    assert torch.allclose(fast, reference, atol=1e-4), float((fast - reference).abs().max())
    assert torch.allclose(plain, reference, atol=1e-5)
    block = net.init_conv.conv1
    assert "Sequential(" in repr(block) and "ConvBNGELU" not in repr(net), "it prints as the seed's Sequential"
    net.train()
    with torch.no_grad():  # training mode uses batch statistics: never folded
        assert torch.allclose(block(x), torch.nn.Sequential(*block)(x))


def test_shared_encoder_equals_separate_forwards_and_checks_rows() -> None:
    """t and context with k * N rows reuse the encoder's features: the same as k forwards of x."""
    torch.manual_seed(0)
    net = ContextUnet(3, 16, 10).eval()
    x, t = torch.randn(4, 3, 28, 28), torch.rand(4)
    cond, uncond = torch.eye(10)[torch.tensor([1, 2, 3, 4])], torch.zeros(4, 10)
    with torch.no_grad():
        pair = net(x, torch.cat([t, t * 0.5]), torch.cat([cond, uncond]))
        apart = torch.cat([net(x, t, cond), net(x, t * 0.5, uncond)])
    assert pair.shape == (8, 3, 28, 28) and torch.allclose(pair, apart, atol=1e-5)
    with pytest.raises(ValueError, match="multiple of N"):
        net(x, torch.rand(6), torch.zeros(6, 10))
