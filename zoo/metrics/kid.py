"""The kernel distance (KID, Binkowski et al. 2018, "Demystifying MMD GANs"): an unbiased alternative to the Frechet distance.

KID is the squared maximum mean discrepancy between two sets of features under the cubic polynomial
kernel k(x, y) = (x.y / d + 1)^3, estimated without bias: averaged over random subsets of both sets,
each term leaving out the kernel of a feature with itself. Where the Frechet distance of a few hundred
samples is biased upward by more the fewer they are (and undefined past the feature dimension), KID's
expectation does not depend on the sample count, so figures from 500 and from 10,000 images compare;
its standard deviation over the subsets says how far to trust one. Of two sets from one distribution
it is about 0, and may come out slightly negative.

Example::

    >>> kid, std = kernel_distance(torch.randn(2000, 64), torch.randn(2000, 64) + 0.5)
"""

from __future__ import annotations

import torch

from ..errors import ConfigError

__all__ = ["kernel_distance"]


def kernel_distance(real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Return (mean, standard deviation) of the unbiased MMD^2 of `real` (N, D) and `fake` (M, D) over `subsets` random subsets.

    Each subset draws min(`subset_size`, N, M) rows of each set without replacement (a generator seeded with `seed`);
    the computation runs in float64 on the CPU. The standard deviation is the subsets' own (divided by their count, not
    one less), as torch-fidelity and torchmetrics report it, so the two figures compare as they are.
    """
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ConfigError(f"kernel_distance takes two (N, D) feature sets of one D; got {tuple(real.shape)} and {tuple(fake.shape)}.")
    m = min(subset_size, len(real), len(fake))
    if m < 2:
        raise ConfigError(f"kernel_distance needs at least 2 features in each set; got {len(real)} and {len(fake)}.")
    if subsets < 1:
        raise ConfigError(f"kernel_distance needs subsets >= 1; got {subsets}.")
    x, y = real.detach().double().cpu(), fake.detach().double().cpu()
    d = x.shape[1]
    g = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        a = x[torch.randperm(len(x), generator=g)[:m]]
        b = y[torch.randperm(len(y), generator=g)[:m]]
        k_aa, k_bb, k_ab = (a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3
        within = (k_aa.sum() - k_aa.diagonal().sum() + k_bb.sum() - k_bb.diagonal().sum()) / (m * (m - 1))
        values.append(float(within - 2 * k_ab.mean()))
    v = torch.tensor(values, dtype=torch.float64)
    return float(v.mean()), float(v.std(correction=0))
