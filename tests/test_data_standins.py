"""The offline stand-ins: `digits` (UCI handwriting, for USPS) and `syndigits` (printed digits on photos, for SVHN)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from zoo import data
from zoo.data import syndigits
from zoo.data._random import RandomStream
from zoo.data.digits import split_index
from zoo.data.glyphs import CANVAS, DIGIT_FONTS, INK_HEIGHT, glyph_atlas

SMALL = {"train": 64, "test": 32}


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_random_streams_are_reproducible_and_independent() -> None:
    a, b = RandomStream(5), RandomStream(5)
    assert np.array_equal(a.uniform("x", 100), b.uniform("x", 100))
    assert not np.array_equal(a.uniform("x", 100), a.uniform("y", 100))
    assert not np.array_equal(a.uniform("x", 100), RandomStream(6).uniform("x", 100))
    assert np.array_equal(a.uniform("x", 10), a.uniform("x", 100)[:10])  # a longer draw extends, never reshuffles
    u = a.uniform("u", 100_000)
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    k = a.integers("k", 100_000, np.full(100_000, 7))
    assert k.min() == 0 and k.max() == 6
    assert abs(a.normal("n", 100_000).std() - 1) < 0.02
    # pinned values: a change here changes every built dataset's digest
    assert a.integers("pin", 5, 1000).tolist() == [770, 472, 789, 314, 267]
    assert RandomStream(0).uniform("pin", 2).tolist() == [0.20303608603844037, 0.7988034440666428]


# ---- digits ---------------------------------------------------------------------------------------

def test_digits_split_is_fixed_stratified_and_disjoint() -> None:
    labels = np.repeat(np.arange(10), 20)
    train, test = split_index(labels, "train"), split_index(labels, "test")
    assert len(set(train) & set(test)) == 0 and len(train) + len(test) == 200
    assert np.bincount(labels[test]).tolist() == [4] * 10


def test_digits_standin() -> None:
    train, test = data.load("digits", "train"), data.load("digits", "test")
    assert len(train) == 1442 and len(test) == 355
    assert train.images.shape[1:] == (1, 28, 28) and train.images.dtype == torch.uint8 and train.num_classes == 10
    assert np.bincount(test.labels.numpy()).min() >= 34  # every class in the test split, about 20 % of each
    assert train.images.float().mean() > 20 and train.images.max() == 255  # white ink on black, like MNIST and USPS
    assert torch.equal(data.load("digits", "test").images, test.images)


def test_digits_are_read_from_scikit_learns_file_as_load_digits_returns_them() -> None:
    from sklearn.datasets import load_digits

    from zoo.data.digits import _read_bundled

    images, labels = _read_bundled()
    bunch = load_digits()
    assert images.dtype == bunch.images.dtype and np.array_equal(images, bunch.images)
    assert labels.dtype == np.int64 and np.array_equal(labels, bunch.target)


def test_loading_digits_does_not_import_scikit_learn() -> None:
    """Its import takes over a second and sets KMP_DUPLICATE_LIB_OK and KMP_INIT_AT_FORK in os.environ for the whole process."""
    code = ("import sys\nfrom zoo import data\nassert len(data.load('digits', 'test')) == 355\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ---- syndigits ------------------------------------------------------------------------------------

def test_glyph_atlas_has_every_digit_of_every_font() -> None:
    masks, widths = glyph_atlas(DIGIT_FONTS)
    assert masks.shape == (len(DIGIT_FONTS), 10, CANVAS, CANVAS) and len(DIGIT_FONTS) >= 20
    ink_rows = (masks.amax(-1) > 0.5).sum(-1)
    assert (ink_rows >= INK_HEIGHT - 3).all()  # every glyph scaled to the common ink height
    assert (widths > 3).all() and (widths < CANVAS).all()
    flat = masks.flatten(2)
    assert ((flat[:, :, None] - flat[:, None, :]).abs().sum(-1) + torch.eye(10) * 1e9).min() > 10  # ten distinct glyphs per font


def test_syndigits_shapes_labels_and_determinism() -> None:
    a = syndigits.build_syndigits(SMALL, seed=0)
    b = syndigits.build_syndigits(SMALL, seed=0)
    c = syndigits.build_syndigits(SMALL, seed=1)
    assert a["train"].images.shape == (64, 3, 32, 32) and a["test"].images.shape == (32, 3, 32, 32)
    assert a["train"].images.dtype == torch.uint8 and a["train"].labels.min() >= 0 and a["train"].labels.max() <= 9
    assert torch.equal(a["train"].images, b["train"].images) and torch.equal(a["test"].labels, b["test"].labels)
    assert not torch.equal(a["train"].images, c["train"].images)
    assert not torch.equal(a["train"].images[:32], a["test"].images)  # the splits draw from different streams


def test_syndigits_centre_digit_stands_out_from_its_plate() -> None:
    s = syndigits.build_syndigits({"train": 256}, seed=0)["train"]
    x = s.images.float() / 255
    luma = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1)
    centre, border = luma[:, 12:20, 13:19], torch.cat([luma[:, :3].flatten(1), luma[:, -3:].flatten(1)], 1)
    spread = centre.flatten(1).std(1)
    assert spread.median() > 0.08  # the centre holds strokes, not a flat plate
    assert x.flatten(1).std(1).min() > 0.01 and border.std(1).median() > 0.0
    assert len(set(s.labels.tolist())) == 10


def test_syndigits_is_cached_once_built() -> None:
    first = syndigits.load_syndigits(SMALL)
    second = syndigits.load_syndigits(SMALL)
    assert not first.from_cache and second.from_cache and first.digest == second.digest
    assert torch.equal(first.splits["test"].images, second.splits["test"].images)


def test_syndigits_cache_is_keyed_by_the_torch_release(monkeypatch: pytest.MonkeyPatch) -> None:
    first = syndigits.load_syndigits(SMALL)
    monkeypatch.setattr(torch, "__version__", "0.0.0-another-release")  # float kernels may differ: build afresh
    other = syndigits.load_syndigits(SMALL, only=("test",))
    assert not other.from_cache and other.folder != first.folder
