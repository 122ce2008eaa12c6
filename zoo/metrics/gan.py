"""The `gan` evaluator: n generated images (seed stated) judged by a digit classifier and, optionally, Inception FID.

Example::

    zoo eval dcgan.mnist64 --set n=1000 --set fid=false

prints ``n``, ``seed``, ``n_real`` (the real split's size), the classifier's Frechet distance to the real
split (``classifier_fd``), its Inception Score on the samples (``classifier_is``; ``classifier_is_real`` on the
real split for reference), the share of each digit (``coverage_0`` .. ``coverage_9``, ``coverage_min``,
``coverage_max``) and, with ``fid=true``, ``fid`` from ``fid_n`` samples against ``fid_n_real``
real images. With ``kid=true``, the kernel distance as well: ``classifier_kid`` (and with ``fid=true``, Inception ``kid``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import torch

from ..data import ImageSet, adapt_images, check_image_batch
from ..data import load as load_data
from ..errors import ConfigError, PluginError, WeightsError, set_option
from ..interfaces import Method, Seed, evaluator_options, require_capability
from ..loading import load_any
from ..progress import progress_bar, status
from ..weights import json_digest, tensor_digest, tensors_digest
from .classifier_metrics import FeatureClassifier, check_feature_classifier, classifier_score, coverage_metrics, features_and_logits
from .features import cached_features, cached_stats, extract_features, stored_features
from .frechet import GaussianStats, frechet_distance, gaussian_stats
from .inception import INCEPTION_SHA1, inception_features, inception_path, quantize
from .kid import kernel_distance

__all__ = ["GANEvalOptions", "GANEvaluator", "score_images", "chunk_seed", "generate", "check_same_geometry", "real_images_like", "inception_distances", "InceptionDistances",
           "judge_key"]

#: Bump when the FID image pipeline changes: cached statistics of older pipelines are then not reused.
FID_PIPELINE = "1"
#: Bump when zoo's way from images to a judge's features changes (`_classifier_outputs`); the judge's own code is keyed by
#: its method and the version of the distribution that provides it (a plugin release that changes its `prepare`).
CLASSIFIER_PIPELINE = "1"
#: KID's random subsets (Binkowski et al.'s choice, as torch-fidelity's): 100 of up to 1,000 images of each set.
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000
#: Images per sample() call when generating: chunk i has its own seed (`chunk_seed`), so the chunk picks the images, as the
#: seed does; every recorded figure used 500, and `zoo sample --out-dir` writes the images the evaluator scores with it.
CHUNK = 500


class GANEvalOptions(pydantic.BaseModel):
    """Options of the `gan` evaluator (registry `evaluation` table, `zoo eval --set`)."""

    model_config = pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    n: int = pydantic.Field(10000, ge=2, description="generated images")
    seed: Seed = 0
    data: str = pydantic.Field("mnistm", description="the real dataset (name or path)")
    split: str = "test"
    classifier: str = pydantic.Field("classifier.mnistm", description="registered classifier, or a .safetensors file")
    fid: bool = pydantic.Field(False, description="also compute Inception FID (needs the `fid` extra; slow on CPU)")
    fid_n: int | None = pydantic.Field(None, ge=2, description="generated images for FID (default: n)")
    chunk: int = pydantic.Field(CHUNK, ge=1, description=f"images generated per call to sample(); each call has its own seed, so like the seed it picks the images (and the figures): keep {CHUNK} to compare with recorded ones")
    fid_batch: int = pydantic.Field(50, ge=1, description="images per Inception forward pass")
    kid: bool = pydantic.Field(False, description="also the kernel distance (KID), unbiased, so it compares across n: in the classifier's feature space, and with fid=true in Inception's (of the fid_n images)")
    progress: bool = True
    data_root: Path | None = None
    device: str | None = None

    @pydantic.model_validator(mode="after")
    def _fid_n_within_n(self) -> "GANEvalOptions":
        if self.fid and (self.fid_n or self.n) > self.n:  # checked with the options, so `zoo eval` refuses the plan before it runs
            raise ValueError(f"fid_n={self.fid_n} is larger than n={self.n}: FID uses the first fid_n of the n generated images. Raise n or lower fid_n")
        return self


def chunk_seed(seed: int, index: int) -> int:
    """Return the sampling seed of chunk `index` of an evaluation with `seed` (no two (seed, index) pairs collide in practice)."""
    return int.from_bytes(hashlib.sha256(f"zoo.metrics.gan/{seed}/{index}".encode()).digest()[:6], "big")


def generate(model: Method, n: int, seed: int, chunk: int = CHUNK, progress: bool = False, labels: Sequence[int] | None = None,
             **knobs: Any) -> torch.Tensor:
    """Return `n` uint8 images (CPU) from `model`: chunk i is ``model.sample(chunk, seed=chunk_seed(seed, i))``.

    `labels` (one per image) and sampler `knobs` go to every chunk's call; the `gan` evaluator gives neither. Samples
    with NaN or infinite values are refused (a WeightsError: the model is not usable), not quantised to black.
    """
    out = []
    name = getattr(model, "zoo_name", None) or model.name
    with progress_bar(n, f"generating ({name}, seed {seed})", unit="img", enabled=progress) as bar:
        for i in range(0, n, chunk):
            part = None if labels is None else labels[i : i + chunk]
            x = model.sample(min(chunk, n - i), labels=part, seed=chunk_seed(seed, i // chunk), **knobs)
            if isinstance(x, torch.Tensor) and x.is_floating_point() and not bool(torch.isfinite(x).all()):
                raise WeightsError(f"model {name!r} sampled images with NaN or infinite values (images {i} to {i + len(x) - 1}): its weights "
                                   "hold NaN or its sampling diverges, so it cannot be judged. Look at a few of its samples, "
                                   f"zoo.load({name!r}).sample(4, seed=0).")
            try:
                check_image_batch(x, f"model {name!r}: sample()")
            except ConfigError as e:  # the method broke its contract (images in [0, 1]), not the caller
                raise PluginError(f"{e} The method's sample() must return such images: a bug of its plugin, which the contract suite "
                                  "(zoo.contract) finds.") from None
            out.append(quantize(x).cpu())
            bar.update(len(out[-1]))
    return torch.cat(out)


def check_same_geometry(real: torch.Tensor, fake: torch.Tensor) -> None:
    """Raise a ConfigError unless `real` and `fake` are (N, C, H, W) with equal C, H and W."""
    if real.ndim != 4 or fake.ndim != 4 or tuple(real.shape[1:]) != tuple(fake.shape[1:]):
        raise ConfigError(
            f"real images are {tuple(real.shape[1:])} (C, H, W) but generated ones are {tuple(fake.shape[1:])}: "
            "a distance between two sets is only fair when both went through the same resizing. "
            "Bring the real images to the generated size first, e.g. zoo.data.adapt_images(real, size, channels)."
        )


def real_images_like(real: ImageSet, fake: torch.Tensor) -> torch.Tensor:
    """Return the real images as uint8 at the generated images' size and channels (the transform the trainer applies)."""
    c, s = fake.shape[1], fake.shape[-1]
    return torch.cat([quantize(adapt_images(real.images[i : i + 2000], s, c)) for i in range(0, len(real), 2000)])


#: The last real set brought to a model's geometry, and its digest: evaluating again in one session (a notebook's
#: loop over models or sample counts) skips the resize of 10,000 images (3.5 s on 2 cores). One entry bounds the memory.
_LAST_REAL: dict[tuple[str, int, int], tuple[torch.Tensor, str]] = {}


def _real_like_with_digest(real: ImageSet, fake: torch.Tensor) -> tuple[torch.Tensor, str]:
    key = (tensor_digest(real.images), fake.shape[1], fake.shape[-1])
    found = _LAST_REAL.get(key)
    if found is None:  # the value is returned as made, not read back: another thread may have replaced the entry meanwhile
        images = real_images_like(real, fake)
        found = (images, tensor_digest(images))
        _LAST_REAL.clear()
        _LAST_REAL[key] = found
    return found


def _as_float(images: torch.Tensor) -> torch.Tensor:
    return images.float().div_(255) if images.dtype == torch.uint8 else images


def _classifier_outputs(clf: FeatureClassifier, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    feats, logits = [], []
    for i in range(0, len(images), 2000):
        f, l = features_and_logits(clf, _as_float(images[i : i + 2000]))
        feats.append(f.cpu())
        logits.append(l.cpu())
    return torch.cat(feats), torch.cat(logits)


@dataclass(frozen=True)
class InceptionDistances:
    """What :func:`inception_distances` returns: FID, both sets' Gaussians, and with ``kid`` the kernel distance."""

    fid: float
    real: GaussianStats
    fake: GaussianStats
    kid: float | None = None
    kid_std: float | None = None
    kid_subset_size: int | None = None


def inception_distances(real: torch.Tensor, fake: torch.Tensor, *, kid: bool = False, device: str = "cpu", batch: int = 50,
                        progress: bool = False, real_key: dict[str, Any] | None = None,
                        fake_key: dict[str, Any] | None = None) -> InceptionDistances:
    """Return Inception FID between `real` and `fake` (same C, H, W), both sets' statistics, and with `kid` their KID.

    With `real_key`, the real statistics are cached under it (with `kid`, the real features themselves, 8 KiB an
    image); with `fake_key`, the generated set's extraction is resumable (a partial file under the cache, keyed by it).
    """
    check_same_geometry(real, fake)
    for what, images in (("real", real), ("generated", fake)):
        check_image_batch(images, f"inception_distances ({what} images)")  # before any work, not at the chunk that holds the NaN
    inception_path()  # a missing extra is reported before any work
    from ..weights import cache_dir

    def features_of(images: torch.Tensor, what: str, key: dict[str, Any] | None) -> torch.Tensor:
        resume = cache_dir() / "metrics" / f"partial-{json_digest(key)[:40]}.safetensors" if key is not None else None
        return extract_features(lambda x: inception_features(x, device), lambda i, j: images[i:j], len(images),
                                batch=batch, desc=f"Inception features ({what})", progress=progress, resume=resume)

    def real_features_once() -> torch.Tensor:
        if progress:
            status(f"Inception {'features' if kid else 'statistics'} of the {len(real)} real images: computed once, then cached "
                   "(the `gan` evaluator's fid=false skips FID)")
        return features_of(real, "real", real_key)

    real_what = "Inception features of the real images"
    real_feats = None
    if real_key is None:
        real_feats = features_of(real, "real", None)
        real_stats = gaussian_stats(real_feats, what=real_what)
    elif kid:  # the kernel distance needs the features, not their Gaussian; the Gaussian is kept too, for an FID alone
        real_feats, _ = cached_features("inception", real_key, len(real), real_features_once)
        real_stats, _ = cached_stats("inception", real_key, lambda: gaussian_stats(real_feats, what=real_what), what=real_what)
    else:
        def real_stats_once() -> GaussianStats:  # a KID evaluation's features of these images, where one kept them, spare the extraction
            stored = stored_features("inception", real_key, len(real))
            return gaussian_stats(stored if stored is not None else real_features_once(), what=real_what)

        real_stats, _ = cached_stats("inception", real_key, real_stats_once, what=real_what)
    fake_feats = features_of(fake, "generated", fake_key)
    fake_stats = gaussian_stats(fake_feats, what="Inception features of the generated images")
    fid = frechet_distance(real_stats, fake_stats)
    if not kid:
        return InceptionDistances(fid, real_stats, fake_stats)
    assert real_feats is not None
    return InceptionDistances(fid, real_stats, fake_stats, *_kid(real_feats, fake_feats))


def _kid(real: torch.Tensor, fake: torch.Tensor) -> tuple[float, float, int]:
    """Return the evaluator's KID of two feature sets: mean and std over KID_SUBSETS subsets, and the subsets' size."""
    value, std = kernel_distance(real, fake, subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE)
    return value, std, min(KID_SUBSET_SIZE, len(real), len(fake))


def load_real(data: str, split: str, data_root: Path | None) -> ImageSet:
    """Return `data`'s `split`, the real side of the `gan` evaluator; refused under 2 images (a covariance needs 2)."""
    real_set = load_data(data, split, root=data_root)
    if len(real_set) < 2:
        other = "train" if split == "test" else "test"
        raise ConfigError(f"the {split} split of {data} holds {len(real_set)} image{'s' if len(real_set) != 1 else ''}; the real side of the "
                          f"gan evaluator's distances needs 2 at least (over 128 for an unbiased classifier distance). Give a larger set, "
                          f"or its {other} split ({set_option('split', other)}).")
    return real_set


class GANEvaluator:
    """Judge a generative model's samples: classifier FD, classifier IS, digit coverage, optional Inception FID."""

    name = "gan"
    Options = GANEvalOptions
    output_options = frozenset({"progress"})

    def evaluate(self, model: Method, **options: Any) -> dict[str, float]:
        """Return the metrics as a flat dict that states `n` and `seed` (and `fid_n` with FID)."""
        o: GANEvalOptions = evaluator_options(self.Options, options, self.name)
        require_capability(model, "sample", self.name, "The gan evaluator judges generated images; evaluate a classifier with the 'accuracy' evaluator.")
        if o.fid:
            inception_path()  # a missing `fid` extra is reported before minutes of sampling
        real_set = load_real(o.data, o.split, o.data_root)  # and a real set too small, or missing
        device = o.device or str(model.device)
        judge = check_feature_classifier(load_any(o.classifier, device), str(o.classifier))  # and a wrong judge (a typo, a blocked plugin)
        fake = generate(model, o.n, o.seed, o.chunk, progress=o.progress)
        fid_n = o.fid_n or o.n
        fid_key = {"model": tensors_digest(model.inference_state_dict()), "n": o.n, "fid_n": fid_n, "seed": o.seed, "chunk": o.chunk} if o.fid else None
        scores = score_images(fake, data=o.data, split=o.split, classifier=judge, fid=o.fid, fid_n=fid_n, fid_batch=o.fid_batch, kid=o.kid,
                              data_root=o.data_root, device=device, progress=o.progress, fid_key=fid_key, real_set=real_set)
        return {"n": o.n, "seed": o.seed, **scores}


def judge_key(clf: Any) -> dict[str, str] | None:
    """Return what a judge's statistics of real images depend on, besides the images (a cache key's part), or None.

    Its weights, its code (the method and the distribution, with its version, whose plugin registers it) and zoo's
    pipeline version; None for a judge that is no zoo Method: it has no weights to key them by, and is not cached.
    """
    if not isinstance(clf, Method):
        return None
    from ..plugins import get_plugin_manager

    source = get_plugin_manager().source_of("method", clf.name)
    return {"classifier": tensors_digest(clf.inference_state_dict()), "pipeline": CLASSIFIER_PIPELINE, "judge": f"{clf.name} from {source}"}


def score_images(
    images: torch.Tensor,
    *,
    data: str = "mnistm",
    split: str = "test",
    classifier: str | os.PathLike[str] | FeatureClassifier = "classifier.mnistm",
    fid: bool = False,
    fid_n: int | None = None,
    fid_batch: int = 50,
    kid: bool = False,
    data_root: Path | None = None,
    device: str = "cpu",
    progress: bool = False,
    fid_key: dict[str, Any] | None = None,
    real_set: ImageSet | None = None,
) -> dict[str, float]:
    """Return the `gan` evaluator's metrics of images you hold, against `data`'s `split`, as `zoo eval` computes them.

    `images` is (N, C, H, W), uint8 or float in [0, 1] (quantised to uint8 as the evaluator's samples are), of the
    real set's channels and size after the trainer's resize (e.g. 3x64x64 for MNIST-M GANs). Returns `n`,
    `n_real` (the real images the statistics are of), `classifier_fd`, `classifier_is`, `classifier_is_real`, the digit
    shares `coverage_*`; with `kid`, the kernel distance `classifier_kid` (and its `classifier_kid_std` over the subsets
    of `classifier_kid_subset_size` images); and with `fid`, Inception `fid` of the first `fid_n` images (`fid_key`, a description
    of where the images came from, makes that extraction resumable), with `kid` their Inception `kid`, `kid_std` and
    `kid_subset_size` too. The real set's statistics are cached. `classifier` is a registry name, a weights file, or a model
    you hold with `features` and `logits` (a zoo model's real statistics are cached by its weights; another's are not).
    `real_set` is that split where the caller has read it already.
    """
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or len(images) < 2:
        got = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ConfigError(f"score_images needs a tensor of at least 2 images (N, C, H, W); got {got}.")
    if fid_n is not None and not 2 <= fid_n <= len(images):
        raise ConfigError(f"fid_n={fid_n} must be 2 to the {len(images)} images given: FID uses the first fid_n of them.")
    if images.dtype != torch.uint8:
        if not images.is_floating_point() or images.isnan().any() or images.min() < 0 or images.max() > 1:
            raise ConfigError(f"score_images takes uint8 images or floats in [0, 1]; got {images.dtype}"
                              + (" with NaN" if images.is_floating_point() and images.isnan().any() else
                                 f" in [{float(images.min()):.3g}, {float(images.max()):.3g}]" if images.is_floating_point() else "") + ".")
        images = quantize(images)
    fake = images.cpu()
    fid_n = fid_n or len(fake)
    if fid:
        inception_path()
    real_set = real_set if real_set is not None else load_real(data, split, data_root)
    real, real_digest = _real_like_with_digest(real_set, fake)

    named = isinstance(classifier, (str, os.PathLike))  # a registry name or weights file, else a model object you hold
    clf = check_feature_classifier(load_any(classifier, device) if named else classifier, str(classifier) if named else type(classifier).__name__)
    judge = judge_key(clf)  # the real statistics are cached by the judge's weights and code

    def real_classifier_stats() -> GaussianStats:
        if progress:
            status(f"classifier statistics of the {len(real)} real {data} {split} images: computed once, then cached")
        feats, logits = _classifier_outputs(clf, real)
        s = gaussian_stats(feats, what=f"classifier features of {data} {split}")
        return GaussianStats(s.mu, s.sigma, s.n, {"classifier_is": repr(classifier_score(logits))})

    real_stats = (cached_stats("classifier", {"real": real_digest, **judge}, real_classifier_stats,
                               what=f"classifier features of {data} {split}")[0] if judge else real_classifier_stats())
    feats, logits = _classifier_outputs(clf, fake)
    out: dict[str, float] = {"n": len(fake), "n_real": len(real)}
    out["classifier_fd"] = frechet_distance(real_stats, gaussian_stats(feats, what="classifier features of the generated images"))
    out["classifier_is"] = classifier_score(logits)
    out["classifier_is_real"] = float(real_stats.meta["classifier_is"])
    out.update(coverage_metrics(logits))
    if kid:  # from the features themselves, not the cached Gaussian: the real set's are computed again (seconds, the judge is small)
        real_feats, _ = _classifier_outputs(clf, real)
        value, std, size = _kid(real_feats, feats)
        out.update({"classifier_kid": value, "classifier_kid_std": std, "classifier_kid_subset_size": size})
    if fid:
        inc = inception_distances(
            real, fake[:fid_n], kid=kid, device=device, batch=fid_batch, progress=progress,
            real_key={"real": real_digest, "network": INCEPTION_SHA1, "pipeline": FID_PIPELINE},
            fake_key={**fid_key, "network": INCEPTION_SHA1, "pipeline": FID_PIPELINE} if fid_key is not None else None,
        )
        out.update({"fid": inc.fid, "fid_n": fid_n, "fid_n_real": inc.real.n})
        if kid:
            out.update({"kid": inc.kid, "kid_std": inc.kid_std, "kid_subset_size": inc.kid_subset_size})
    return out
