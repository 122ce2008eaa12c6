"""Features of many images, chunk by chunk, with a progress bar, resumable, and statistics cached by content hash.

Real-set statistics depend only on the real images' bytes and the feature network, so they are
computed once and kept under ``zoo.weights.cache_dir()/metrics/``, named by a sha256 of both.
A long extraction (Inception on 10,000 images takes an hour on two CPU cores) writes what it
has done every minute; run the same evaluation again and it continues from there.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from ..errors import WeightsError
from ..files import STALE_TEMPORARY_S, atomic_write, remove_temporaries
from ..progress import progress_bar
from ..weights import CACHE_WRITE_ERRORS, cache_dir, json_digest, tensor_digest, warn_uncached
from .frechet import GaussianStats, load_stats, save_stats, warn_if_biased

__all__ = ["stats_cache_path", "cached_stats", "cached_features", "stored_features", "extract_features"]

#: Seconds between two saves of a partial extraction.
SAVE_EVERY_S = 60.0


def stats_cache_path(kind: str, parts: Mapping[str, Any]) -> Path:
    """Return where the statistics of `kind` for `parts` are cached."""
    return cache_dir() / "metrics" / f"{kind}-{json_digest(parts)[:40]}.safetensors"


#: How long the features of an interrupted extraction wait to be resumed (a model's weights name them: a snapshot
#: judged mid-training is never judged again) before a later evaluation removes them.
PARTIAL_KEPT_S = 7 * 24 * 3600


def sweep_metrics_cache(folder: Path) -> None:
    """Remove from the metrics cache `folder` what killed writers left (an hour on) and partial features a week old."""
    if not os.path.isdir(folder):
        return
    remove_temporaries(folder, older_than_s=STALE_TEMPORARY_S)
    cutoff = time.time() - PARTIAL_KEPT_S
    for partial in folder.glob("partial-*.safetensors"):
        try:
            if partial.stat().st_mtime < cutoff:
                partial.unlink()
        except OSError:
            pass  # another user's, or another sweeper's


def cached_stats(kind: str, parts: Mapping[str, Any], compute: Callable[[], GaussianStats], what: str | None = None) -> tuple[GaussianStats, bool]:
    """Return the cached statistics for `parts`, or compute, cache and return them; the flag says whether the cache answered.

    Cached statistics of too few samples for their dimension warn as computing them did (`what` names them there).
    """
    path = stats_cache_path(kind, parts)
    sweep_metrics_cache(path.parent)
    if os.path.isfile(path):  # False where it cannot be looked at too (another user's 0700 folder): computed, uncached
        try:
            stats = load_stats(path)
        except WeightsError as e:  # a damaged cache file is only a cache: recompute it rather than fail the evaluation
            warnings.warn(f"{e} Recomputing it now.", stacklevel=2)
        else:  # as biased as when they were computed: say so every time, not only the first
            warn_if_biased(stats.n, stats.dim, f"{what or kind + ' statistics'} (cached)", stacklevel=2)
            return stats, True
    stats = compute()
    stats = GaussianStats(stats.mu, stats.sigma, stats.n, {**stats.meta, **{k: str(v) for k, v in parts.items()}})
    try:
        save_stats(path, stats)
    except CACHE_WRITE_ERRORS as e:  # a cache is only a cache: the statistics are here, the evaluation goes on
        warn_uncached(f"the {kind} statistics cache {path}", e)
    return stats, False


def cached_features(kind: str, parts: Mapping[str, Any], total: int, compute: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, bool]:
    """Return the cached (total, D) features for `parts`, or compute, cache and return them; the flag says whether the cache answered.

    For what needs the features themselves rather than their Gaussian (the kernel distance): a file of 4*D bytes an
    image (80 MiB for 10,000 Inception features), sha256-checked as a partial extraction is; a damaged one is recomputed.
    """
    path = _features_path(kind, parts)
    sweep_metrics_cache(path.parent)
    stored = stored_features(kind, parts, total)
    if stored is not None:
        return stored, True
    features = compute()
    try:
        _save_partial(path, [features], total)
    except CACHE_WRITE_ERRORS as e:  # a cache is only a cache
        warn_uncached(f"the {kind} features cache {path}", e)
    return features, False


def stored_features(kind: str, parts: Mapping[str, Any], total: int) -> torch.Tensor | None:
    """Return the (total, D) features :func:`cached_features` keeps for `parts`, or None where it keeps none (or a damaged file)."""
    done = _load_partial(_features_path(kind, parts), total)
    return done[0] if done and len(done[0]) == total else None


def _features_path(kind: str, parts: Mapping[str, Any]) -> Path:
    return cache_dir() / "metrics" / f"features-{kind}-{json_digest(parts)[:40]}.safetensors"


def _load_partial(path: Path, total: int) -> list[torch.Tensor]:
    if not os.path.isfile(path):
        return []
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            if int((f.metadata() or {}).get("total", -1)) != total:
                return []
            done = f.get_tensor("features")
            intact = (f.metadata() or {}).get("sha256") == tensor_digest(done)
            return [done] if intact and done.ndim == 2 and len(done) <= total else []  # anything else is a damaged file: recompute
    except Exception:  # noqa: BLE001 - a broken partial file is simply recomputed
        return []


def _save_partial(path: Path, done: list[torch.Tensor], total: int) -> None:
    features = torch.cat(done).contiguous()
    data = safetensors.torch.save({"features": features}, metadata={"total": str(total), "sha256": tensor_digest(features)})
    with atomic_write(path) as f:
        f.write(data)


def extract_features(
    extract: Callable[[torch.Tensor], torch.Tensor],
    images_at: Callable[[int, int], torch.Tensor],
    total: int,
    *,
    batch: int = 100,
    desc: str = "features",
    progress: bool = True,
    resume: Path | None = None,
) -> torch.Tensor:
    """Return `extract(images_at(i, j))` over [0, total) in chunks of `batch`, as one (total, D) float32 CPU tensor.

    With `resume`, the features done so far are saved there every minute and picked up by the
    next call with the same `total`; the file is removed once all are done.
    """
    done = _load_partial(resume, total) if resume is not None else []
    start = sum(len(d) for d in done)
    last_save = time.monotonic()
    with progress_bar(total, desc, unit="img", initial=start, enabled=progress) as bar:  # closed on a Ctrl-C too: no bar after its line
        for i in range(start, total, batch):
            j = min(i + batch, total)
            done.append(extract(images_at(i, j)).detach().float().cpu())
            bar.update(j - i)
            if resume is not None and j < total and time.monotonic() - last_save > SAVE_EVERY_S:
                try:
                    _save_partial(resume, done, total)
                except CACHE_WRITE_ERRORS as e:
                    warn_uncached(f"the partial features {resume} (an interrupted run would start again)", e)
                    resume = None
                last_save = time.monotonic()
    if resume is not None:
        resume.unlink(missing_ok=True)
    return torch.cat(done) if done else torch.empty(0, 0)

