"""Print networks the way the seed report's (older) torch printed them.

Newer torch prints two things its predecessors did not, both defaults that change nothing:

- norm layers (BatchNorm, InstanceNorm, GroupNorm, LayerNorm) gained an optional ``bias`` in
  torch 2.5 and print it; before, a norm layer had a bias exactly when it was affine, so a
  ``bias=`` equal to ``affine=`` is the old layer and is left out. A bias that differs from
  ``affine`` (a layer older torch could not build) is kept.
- ``GELU`` prints its exact (non-approximated) default as ``approximate='none'``, where the
  report's torch printed ``approximate=None``.

Only those layers' own lines change; everything else is torch's own ``repr``.
"""

from __future__ import annotations

from torch import nn
from torch.nn.modules.batchnorm import _NormBase

_NORMS = (_NormBase, nn.GroupNorm, nn.LayerNorm)


def _classic_extra_repr(module: nn.Module) -> str:
    text = type(module).extra_repr(module)
    if isinstance(module, nn.GELU):
        return "approximate=None" if module.approximate == "none" else text
    affine = getattr(module, "affine", getattr(module, "elementwise_affine", None))
    return text.replace(f", bias={affine}", "") if isinstance(affine, bool) else text


def classic_repr(module: nn.Module) -> str:
    """Return ``repr(module)`` as the seed report's torch printed it (see the module docstring)."""
    patched = [m for m in module.modules() if isinstance(m, (*_NORMS, nn.GELU))]
    try:
        for m in patched:  # an instance attribute shadows the class's extra_repr for this one repr
            m.extra_repr = _classic_extra_repr.__get__(m)
        return repr(module)
    finally:
        for m in patched:
            del m.extra_repr
