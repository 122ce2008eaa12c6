"""A cache for built datasets: uint8 splits written atomically, checked by sha256 on every load.

A built set lives in ``cache_dir()/datasets/<name>-<key>/``: one safetensors file per split and a
``manifest.json`` written last. The key is a hash of everything the build depends on (input files,
photo pixels, seed, builder version), so changing any of them builds afresh. A set without a
manifest is half-built and is rebuilt; a file whose sha256 differs from the manifest is never
used (a warning names it and the set is rebuilt).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import time
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from ..errors import DataError
from ..files import STALE_TEMPORARY_S, atomic_write, remove_temporaries
from ..progress import status
from ..weights import CACHE_WRITE_ERRORS, cache_dir, json_digest, tensors_digest, warn_uncached
from ._types import ImageSet

__all__ = ["BuiltSet", "splits_digest", "cached_build", "datasets_cache_dir"]

MANIFEST = "manifest.json"
HASH_CHUNK = 16 << 20
_DTYPES = {"U8": torch.uint8, "I64": torch.int64}


@dataclass
class BuiltSet:
    """What :func:`cached_build` returns: the splits, their content digest, and where they are cached."""

    splits: dict[str, ImageSet]
    digest: str
    folder: Path
    from_cache: bool
    build_seconds: float


def datasets_cache_dir() -> Path:
    """Return the folder holding built datasets (``$ZOO_CACHE/datasets``)."""
    return cache_dir() / "datasets"


def splits_digest(splits: Mapping[str, ImageSet]) -> str:
    """Return the sha256 content digest of the images and labels of every split (independent of file format)."""
    tensors: dict[str, torch.Tensor] = {}
    for split, s in splits.items():
        tensors[f"{split}/images"] = s.images
        if s.labels is not None:
            tensors[f"{split}/labels"] = s.labels
    return tensors_digest(tensors)


def _chunk_digests(buf: bytes | bytearray | memoryview, pool: ThreadPoolExecutor) -> list[str]:
    """Return the sha256 of each HASH_CHUNK-byte piece of `buf`, hashed in parallel (hashlib releases the GIL)."""
    view = memoryview(buf)
    pieces = [view[i : i + HASH_CHUNK] for i in range(0, max(len(view), 1), HASH_CHUNK)]
    return list(pool.map(lambda piece: hashlib.sha256(piece).hexdigest(), pieces))


def _tensors_from_buffer(buf: bytearray, path: Path) -> dict[str, torch.Tensor]:
    """Return the tensors of a safetensors file held in `buf`, sharing its memory (no copy)."""
    (n,) = struct.unpack("<Q", bytes(buf[:8]))
    header = json.loads(bytes(buf[8 : 8 + n]))
    out = {}
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        if entry["dtype"] not in _DTYPES:
            raise DataError(f"dataset cache file {path} holds a {entry['dtype']} tensor; zoo writes only U8 and I64. Delete the file.")
        dtype = _DTYPES[entry["dtype"]]
        start, end = entry["data_offsets"]
        count = (end - start) // dtype.itemsize
        out[key] = torch.frombuffer(buf, dtype=dtype, count=count, offset=8 + n + start).reshape(entry["shape"])
    return out


def _read_verified(folder: Path, name: str, num_classes: int | None, wanted: tuple[str, ...] | None) -> tuple[dict[str, ImageSet], str] | None:
    """Return the cached splits `wanted` (all if None) in `folder` and their content digest, or None when a file is missing or fails its sha256."""
    manifest_path = folder / MANIFEST
    if not os.path.isfile(manifest_path):  # False where it cannot be looked at too (another user's 0700 folder): rebuilt, uncached
        return None  # no manifest: absent, or a build that died half-way
    try:
        manifest = json.loads(manifest_path.read_text())
        files = {k: v for k, v in manifest["files"].items() if wanted is None or k in wanted}
        if wanted is not None and set(wanted) - set(files):
            raise KeyError(f"no split {sorted(set(wanted) - set(files))}")
        for entry in files.values():  # a hand-edited manifest fails here, not half-way through the reads below
            if not isinstance(entry["file"], str) or not isinstance(entry["chunk_sha256"], list):
                raise TypeError(f"entry {entry} lacks a file name or a chunk_sha256 list")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        warnings.warn(f"dataset cache {manifest_path} is unreadable ({e}); rebuilding {name!r}.", stacklevel=3)
        return None
    splits = {}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for split, entry in files.items():
            path = folder / entry["file"]
            try:
                with path.open("rb") as f:
                    buf = bytearray(path.stat().st_size)
                    f.readinto(buf)
            except OSError as e:
                warnings.warn(f"dataset cache file {path} cannot be read ({e}); rebuilding {name!r}.", stacklevel=3)
                return None
            found, expected = _chunk_digests(buf, pool), entry["chunk_sha256"]
            if found != expected:
                bad = next((i for i, (a, b) in enumerate(zip(found, expected)) if a != b), min(len(found), len(expected)))
                warnings.warn(
                    f"dataset cache file {path} is corrupt: from byte {bad * HASH_CHUNK} on, its sha256 differs from {manifest_path}; rebuilding {name!r}.",
                    stacklevel=3,
                )
                return None
            t = _tensors_from_buffer(buf, path)
            splits[split] = ImageSet(t["images"], t.get("labels"), name, num_classes)
    return splits, str(manifest.get("content_digest", ""))


def _write(folder: Path, splits: Mapping[str, ImageSet], digest: str, parts: Mapping[str, Any], seconds: float) -> None:
    """Write every split, then the manifest that vouches for them."""
    files = {}
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for split, s in splits.items():
            tensors = {"images": s.images.contiguous()}
            if s.labels is not None:
                tensors["labels"] = s.labels.contiguous()
            data = safetensors.torch.save(tensors)
            with atomic_write(folder / f"{split}.safetensors") as f:
                f.write(data)
            files[split] = {
                "file": f"{split}.safetensors",
                "chunk_sha256": _chunk_digests(data, pool),  # sha256 of each 16 MiB piece: pieces hash in parallel
                "count": len(s),
            }
    manifest = {"files": files, "content_digest": digest, "inputs": dict(parts), "build_seconds": round(seconds, 3)}
    with atomic_write(folder / MANIFEST, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)


def cached_build(
    name: str, parts: Mapping[str, Any], build: Callable[[], dict[str, ImageSet]], *, only: tuple[str, ...] | None = None, num_classes: int | None = 10
) -> BuiltSet:
    """Return dataset `name` from the cache if intact (just the splits `only`, if given), else every split from `build()` (then cached)."""
    folder = datasets_cache_dir() / f"{name}-{json_digest(parts)[:16]}"
    found = _read_verified(folder, name, num_classes, only)
    if found is not None:  # (the manifest is not read again: another process's build may be replacing it now)
        splits, digest = found
        remove_temporaries(folder, older_than_s=STALE_TEMPORARY_S)  # what a build killed outright left; a live build's are younger
        return BuiltSet(splits, digest, folder, True, 0.0)
    status(f"building dataset {name!r}: once, then cached in {folder}")
    t0 = time.perf_counter()
    splits = build()
    seconds = time.perf_counter() - t0
    digest = splits_digest(splits)
    try:
        remove_temporaries(folder, older_than_s=STALE_TEMPORARY_S)  # left by a build killed outright; a live build's are younger
        (folder / MANIFEST).unlink(missing_ok=True)  # the old manifest must not vouch for new files
        _write(folder, splits, digest, parts, seconds)
    except CACHE_WRITE_ERRORS as e:  # a cache is only a cache: a folder another user made, a full disk
        warn_uncached(f"the {name!r} dataset cache in {folder}", e)
    return BuiltSet(splits, digest, folder, False, seconds)

