"""The kernel distance (KID): the unbiased MMD^2 of Binkowski et al. under the cubic polynomial kernel."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoo.errors import ConfigError
from zoo.metrics.kid import kernel_distance


def reference_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """The estimator written out term by term, as the paper states it (one subset: every row of both sets)."""
    m, d = len(x), x.shape[1]
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return float(xx + yy - 2 * xy)


def test_one_subset_of_every_row_is_the_estimator_written_out() -> None:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(12, 5, generator=g), torch.randn(12, 5, generator=g) + 0.4
    value, std = kernel_distance(x, y, subsets=1, subset_size=12)
    assert value == pytest.approx(reference_mmd2(x.double().numpy(), y.double().numpy()), rel=1e-12) and std == 0.0


def test_it_is_unbiased_where_the_frechet_distance_is_not() -> None:
    """Of one distribution, about 0 at any count; of two, the same value from 100 and from 2,000 samples."""
    g = torch.Generator().manual_seed(1)
    a, b, c = torch.randn(2000, 32, generator=g), torch.randn(2000, 32, generator=g), torch.randn(2000, 32, generator=g) + 0.3
    same, std = kernel_distance(a, b, subsets=20, subset_size=500)
    assert abs(same) < 3 * std + 1e-3
    few = np.mean([kernel_distance(a[i : i + 100], c[i : i + 100], subsets=1)[0] for i in range(0, 2000, 100)])  # 20 sets of 100
    many, _ = kernel_distance(a, c, subsets=20)
    assert few == pytest.approx(many, rel=0.1) and many > 0.1


def test_the_spread_over_subsets_is_theirs_as_torch_fidelity_and_torchmetrics_give_it() -> None:
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(300, 8, generator=g), torch.randn(250, 8, generator=g) + 0.2
    mean, std = kernel_distance(x, y, subsets=4, subset_size=50, seed=3)
    # the same four subsets, drawn as kernel_distance draws them, each estimate written out
    r = torch.Generator().manual_seed(3)
    values = []
    for _ in range(4):
        a, b = x[torch.randperm(300, generator=r)[:50]], y[torch.randperm(250, generator=r)[:50]]
        values.append(reference_mmd2(a.double().numpy(), b.double().numpy()))
    assert mean == pytest.approx(np.mean(values), rel=1e-10) and std == pytest.approx(np.std(values), rel=1e-10)  # numpy's: ddof 0
    assert kernel_distance(x, y, subsets=1)[1] == 0.0
    # sets of different sizes, both within subset_size: the larger one is drawn from, so the subsets differ
    assert kernel_distance(x, y, subsets=5)[1] > 0 and kernel_distance(x, x[:300], subsets=5)[1] < 1e-12


@pytest.mark.parametrize(("real", "fake", "kw", "match"), [
    (torch.zeros(4, 3), torch.zeros(4, 2), {}, r"two \(N, D\) feature sets of one D"),
    (torch.zeros(1, 3), torch.zeros(4, 3), {}, "at least 2 features"),
    (torch.zeros(4, 3), torch.zeros(4, 3), {"subsets": 0}, "subsets >= 1"),
])
def test_bad_feature_sets_are_named(real: torch.Tensor, fake: torch.Tensor, kw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        kernel_distance(real, fake, **kw)
