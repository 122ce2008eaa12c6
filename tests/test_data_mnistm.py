"""The MNIST-M builder: the blend formula, determinism, the cache (reuse, corruption, half-built), the registry."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from zoo import data
from zoo.data import mnistm
from zoo.data._random import RandomStream
from zoo.data.photos import MNISTM_PHOTOS, PHOTOS, load_photos, photo_path
from zoo.data.registry import content_digest, presence

N_TRAIN, N_TEST = 40, 15


def write_idx(path: Path, array: np.ndarray) -> None:
    raw = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()
    path.with_name(path.name + ".gz").write_bytes(gzip.compress(raw))


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data root holding a tiny MNIST (40 + 15 images), with the zoo cache inside tmp_path."""
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(1)
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for prefix, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        digits = np.zeros((n, 28, 28), np.uint8)
        digits[:, 6:22, 10:18] = rng.integers(0, 256, (n, 16, 8))  # ink in a box, background 0 as in MNIST
        write_idx(folder / f"{prefix}-images-idx3-ubyte", digits)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    return tmp_path / "data"


def test_blend_is_abs_difference_of_crop_and_digit() -> None:
    photo = np.arange(40 * 50 * 3, dtype=np.int64).reshape(40, 50, 3) % 251
    photos = [photo.astype(np.uint8), np.full((30, 30, 3), 200, np.uint8)]
    digits = np.random.default_rng(0).integers(0, 256, (3, 28, 28)).astype(np.uint8)
    which, ys, xs = np.array([0, 1, 0]), np.array([5, 0, 12]), np.array([7, 2, 22])
    out = mnistm.blend(digits, photos, which, ys, xs)
    assert out.shape == (3, 3, 28, 28) and out.dtype == np.uint8
    for i in range(3):
        crop = photos[which[i]][ys[i] : ys[i] + 28, xs[i] : xs[i] + 28].astype(int)  # (28, 28, 3)
        want = np.abs(crop - digits[i][:, :, None].astype(int)).transpose(2, 0, 1)
        assert np.array_equal(out[i], want)


def test_crop_offsets_stay_inside_each_photo() -> None:
    shapes = [(30, 28, 3), (300, 500, 3)]
    which, ys, xs = mnistm.crop_offsets(RandomStream(0), "t", 2000, shapes)
    h, w = np.array([s[0] for s in shapes])[which], np.array([s[1] for s in shapes])[which]
    assert set(which.tolist()) == {0, 1} and (ys >= 0).all() and (xs >= 0).all()
    assert (ys + 28 <= h).all() and (xs + 28 <= w).all() and ys[which == 1].max() > 200


def test_build_matches_the_formula_on_real_photos(root: Path) -> None:
    built = mnistm.build_mnistm(root / "mnist", seed=3)
    train = built["train"]
    assert train.images.shape == (N_TRAIN, 3, 28, 28) and train.images.dtype == torch.uint8
    assert train.labels.tolist() == [i % 10 for i in range(N_TRAIN)] and len(built["test"]) == N_TEST
    photos = load_photos(MNISTM_PHOTOS)
    which, ys, xs = mnistm.crop_offsets(RandomStream(3), "train", N_TRAIN, [p.shape for p in photos])
    digits = data.load("mnist", "train", root=root).images[:, 0].numpy().astype(int)
    for i in (0, 17, N_TRAIN - 1):
        crop = photos[which[i]][ys[i] : ys[i] + 28, xs[i] : xs[i] + 28].astype(int)
        assert np.array_equal(train.images[i].permute(1, 2, 0).numpy(), np.abs(crop - digits[i][:, :, None]))


def test_deterministic_for_a_seed(root: Path) -> None:
    a, b = mnistm.build_mnistm(root / "mnist", seed=0), mnistm.build_mnistm(root / "mnist", seed=0)
    c = mnistm.build_mnistm(root / "mnist", seed=1)
    assert torch.equal(a["train"].images, b["train"].images) and torch.equal(a["test"].images, b["test"].images)
    assert not torch.equal(a["train"].images, c["train"].images)


def test_cache_is_reused_and_digest_is_stable(root: Path) -> None:
    first = mnistm.load_mnistm(root / "mnist")
    assert not first.from_cache and (first.folder / "manifest.json").is_file()
    second = mnistm.load_mnistm(root / "mnist")
    assert second.from_cache and second.digest == first.digest == mnistm.mnistm_digest(root / "mnist")
    assert torch.equal(second.splits["train"].images, first.splits["train"].images)
    assert content_digest("mnistm", root) == first.digest  # the registry recomputes it from the pixels
    only_test = mnistm.load_mnistm(root / "mnist", only=("test",))
    assert only_test.from_cache and list(only_test.splits) == ["test"]


def test_a_build_says_so_and_a_cache_hit_is_silent(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = mnistm.load_mnistm(root / "mnist")
    assert f"building dataset 'mnistm': once, then cached in {first.folder}" in capsys.readouterr().err
    mnistm.load_mnistm(root / "mnist")
    assert capsys.readouterr().err == ""


def test_a_cache_that_cannot_be_written_is_a_warning_and_the_data_still_comes(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.data import cache
    from zoo.errors import OutputError

    def another_users_folder(folder, *args):  # a course's shared ZOO_CACHE whose folder a first student made
        raise OutputError(f"cannot write {folder}/train.safetensors (Permission denied). Give a file path in a folder you can write to.")

    monkeypatch.setattr(cache, "_write", another_users_folder)
    with pytest.warns(UserWarning, match=r"cannot write the 'mnistm' dataset cache .*going on without caching it.*Set ZOO_CACHE to a folder you can write to"):
        built = mnistm.load_mnistm(root / "mnist")
    assert not built.from_cache and len(built.splits["train"]) == N_TRAIN


def test_corrupted_cache_is_rejected_and_rebuilt(root: Path) -> None:
    first = mnistm.load_mnistm(root / "mnist")
    path = first.folder / "train.safetensors"
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF  # one flipped byte in the pixels
    path.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match=r"train\.safetensors is corrupt"):
        again = mnistm.load_mnistm(root / "mnist")
    assert not again.from_cache and torch.equal(again.splits["train"].images, first.splits["train"].images)
    assert mnistm.load_mnistm(root / "mnist").from_cache  # the rebuild repaired the cache


def test_half_built_cache_is_never_used(root: Path) -> None:
    first = mnistm.load_mnistm(root / "mnist")
    (first.folder / "manifest.json").unlink()  # the build died after writing the splits, before vouching for them
    (first.folder / "test.safetensors").write_bytes(b"half")
    again = mnistm.load_mnistm(root / "mnist")
    assert not again.from_cache and torch.equal(again.splits["test"].images, first.splits["test"].images)
    manifest = json.loads((first.folder / "manifest.json").read_text())
    assert manifest["content_digest"] == first.digest and manifest["inputs"]["seed"] == 0


def test_a_reader_does_not_trip_over_a_build_replacing_the_manifest(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.data import cache

    first = mnistm.load_mnistm(root / "mnist")
    real = cache._read_verified

    def then_another_build_starts(folder, *args):  # between the verified read and the return, another process rebuilds
        found = real(folder, *args)
        (folder / "manifest.json").unlink()
        return found

    monkeypatch.setattr(cache, "_read_verified", then_another_build_starts)
    again = mnistm.load_mnistm(root / "mnist")
    assert again.from_cache and again.digest == first.digest


def test_a_rebuild_removes_temporaries_of_builds_killed_long_ago(root: Path) -> None:
    import os
    import time

    first = mnistm.load_mnistm(root / "mnist")
    old, young = first.folder / ".train.safetensors.abc12345.tmp", first.folder / ".train.safetensors.def12345.tmp"  # young: a live build's
    for p in (old, young):
        p.write_bytes(b"half")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    (first.folder / "manifest.json").unlink()
    assert not mnistm.load_mnistm(root / "mnist").from_cache
    assert not old.exists() and young.exists()


@pytest.mark.parametrize("manifest", ["[]", '{"files": {"train": {"file": "train.safetensors"}}}', '{"files": {"train": 3}}'])
def test_hand_edited_manifest_is_rebuilt_not_a_crash(root: Path, manifest: str) -> None:
    first = mnistm.load_mnistm(root / "mnist")
    (first.folder / "manifest.json").write_text(manifest)
    with pytest.warns(UserWarning, match=r"manifest\.json is unreadable"):
        again = mnistm.load_mnistm(root / "mnist")
    assert not again.from_cache and torch.equal(again.splits["train"].images, first.splits["train"].images)


def test_truncated_cache_file_is_rejected(root: Path) -> None:
    first = mnistm.load_mnistm(root / "mnist")
    path = first.folder / "test.safetensors"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(UserWarning, match="is corrupt"):
        assert not mnistm.load_mnistm(root / "mnist").from_cache


def test_cache_key_follows_the_mnist_files(root: Path) -> None:
    first = mnistm.load_mnistm(root / "mnist")
    labels = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    write_idx(labels.with_suffix(""), (np.arange(N_TEST) + 1) % 10)
    second = mnistm.load_mnistm(root / "mnist")
    assert not second.from_cache and second.folder != first.folder and second.digest != first.digest


def test_registry_builds_mnistm_from_mnist_and_says_so(root: Path) -> None:
    info = data.datasets()["mnistm"]
    assert presence(info, root).startswith("built from mnist: MNIST IDX files")
    assert data.load("mnistm", "test", root=root).images.shape == (N_TEST, 3, 28, 28)
    assert not presence(info, root.parent / "nothing")


def test_real_mnistm_in_the_seed_layout_wins(root: Path) -> None:
    from PIL import Image

    folder = root / "mnistm"
    (folder / "data").mkdir(parents=True)
    for split in ("train", "val"):
        Image.new("RGB", (28, 28), (10, 20, 30)).save(folder / "data" / f"{split}.png")
        (folder / f"{split}.csv").write_text(f"image_name,label\n{split}.png,7\n")
    assert presence(data.datasets()["mnistm"], root).startswith("real MNIST-M in the seed layout")
    s = data.load("mnistm", "train", root=root)
    assert len(s) == 1 and s.labels.tolist() == [7] and s.images[0, :, 0, 0].tolist() == [10, 20, 30]


def test_photos_are_inside_the_installed_packages_with_licenses() -> None:
    for p in PHOTOS:
        assert photo_path(p.name).is_file() and p.license and p.credit
    for img in load_photos(MNISTM_PHOTOS):
        assert img.ndim == 3 and img.shape[2] == 3 and min(img.shape[:2]) >= 28 and img.dtype == np.uint8
