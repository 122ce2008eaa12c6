"""Print networks the way the seed report's (older) torch printed them.

Newer torch prints two things its predecessors did not, both defaults that change nothing:

- norm layers (BatchNorm, InstanceNorm, GroupNorm, LayerNorm) gained an optional ``bias`` in
  torch 2.5 and print it; before, a norm layer had a bias exactly when it was affine, so a
  ``bias=`` equal to ``affine=`` is the old layer and is left out. A bias that differs from
  ``affine`` (a layer older torch could not build) is kept.
- ``GELU`` prints its exact (non-approximated) default as ``approximate='none'``, where the
  report's torch printed ``approximate=None``.

Everything else is torch's own ``repr``.
"""

from __future__ import annotations

import re

from torch import nn

_NORM_BIAS = re.compile(r"(affine=(True|False)), bias=\2\b")


def classic_repr(module: nn.Module) -> str:
    """Return ``repr(module)`` as the seed report's torch printed it (see the module docstring)."""
    text = _NORM_BIAS.sub(r"\1", repr(module))
    return text.replace("GELU(approximate='none')", "GELU(approximate=None)")
