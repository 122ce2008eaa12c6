"""Weights on disk: safetensors only (never pickle), sha256 on every load, metadata in the header.

A zoo weights file is a plain safetensors file whose header metadata carries
``zoo.method``, ``zoo.config`` (JSON), ``zoo.version`` and ``zoo.tensors_sha256`` (a digest
of the tensors themselves), so a file alone says how to rebuild its model.

Example::

    >>> import torch
    >>> from zoo.weights import save_weights, read_weights
    >>> sha = save_weights("w.safetensors", {"a": torch.zeros(2)}, method="m", config={"k": 1})   # the file's sha256
    >>> tensors, meta = read_weights("w.safetensors")
    >>> meta.method, meta.config
    ('m', {'k': 1})
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import urllib.parse
import urllib.request
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from .argtypes import user_path
from .errors import OutputError, WeightsError, denied_as
from .files import STALE_TEMPORARY_S, atomic_write, remove_temporaries

#: A run's training-only weights and EMA (or its weights, without an EMA) in half precision, without optimizer moments,
#: loader or RNG state: what ``zoo.training.slim_checkpoint`` writes, for a branch (``init_from``) where the full
#: checkpoint cannot go; ``zoo.training.export_slim`` writes the run's exported weights from it.
SLIM_CHECKPOINT = "checkpoint.slim.safetensors"


def export_slim_hint(run: Path) -> str:
    """How to get weights out of a run carried as its slim checkpoint alone, or to train on from it."""
    return (f"{run} is a run carried as its {SLIM_CHECKPOINT}, without exported weights: "
            f"`python -c \"from zoo.training import export_slim; export_slim('{run}', '{run / 'model.safetensors'}')\"` writes them "
            f"(where the run exported float16, the very file its summary.json's sha256 names; else the slim checkpoint's "
            f"half-precision values, which `zoo register` refuses as not the run's export), or branch from it: `zoo train METHOD --init-from {run} --out NEW`.")

__all__ = [
    "WeightsMeta",
    "save_weights",
    "read_weights",
    "sha256_file",
    "tensors_digest",
    "nonfinite",
    "diverged",
    "tensor_digest",
    "json_digest",
    "resolve_weights",
    "cache_dir",
    "warn_uncached",
    "save_tree",
    "load_tree",
]

FORMAT_VERSION = "1"
_HASH_CHUNK = 1 << 20
#: The most bytes a weights download may take: zoo's models are megabytes; an address that sends more (an endless stream, a
#: wrong file) is stopped before it fills the disk.
MAX_DOWNLOAD_BYTES = 4 << 30
_META_DIGEST = "zoo.metadata_sha256"  # over the rest of the header's metadata (method, config, tensors' digest)
_TREE_DIGEST = "zoo.tree_sha256"  # a checkpoint's: over its skeleton and its tensors
@dataclass(frozen=True)
class WeightsMeta:
    """The zoo metadata of a weights file."""

    method: str
    config: dict[str, Any]
    version: str
    extra: dict[str, str] = field(default_factory=dict)


def nonfinite(tensors: Mapping[str, torch.Tensor], *, nan_only: bool = False) -> list[str]:
    """Return the names of the floating-point tensors in `tensors` that hold a NaN or (unless `nan_only`) an infinity."""
    bad = (lambda t: bool(torch.isnan(t).any())) if nan_only else (lambda t: not bool(torch.isfinite(t).all()))
    return [k for k, t in tensors.items() if t.is_floating_point() and bad(t)]


def diverged(module: torch.nn.Module) -> list[str]:
    """Return the names of `module`'s parameters that hold NaN or inf, and of its buffers that hold NaN: a diverged run's.

    A buffer may hold -inf on purpose (an attention mask); a NaN, in a parameter or a buffer (BatchNorm's running
    statistics), is never meant.
    """
    return nonfinite(dict(module.named_parameters())) + nonfinite(dict(module.named_buffers()), nan_only=True)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex sha256 of the file at `path`."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _feed(h: Any, t: torch.Tensor) -> None:
    """Feed the dtype, shape and bytes of `t` to the hash `h`."""
    t = t.detach().cpu().contiguous()
    h.update(f"{t.dtype}|{tuple(t.shape)}|".encode())
    h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())


def tensors_digest(tensors: Mapping[str, torch.Tensor]) -> str:
    """Return a sha256 over names, dtypes, shapes and bytes of `tensors` (order-independent)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(f"{name}|".encode())
        _feed(h, tensors[name])
    return h.hexdigest()


def tensor_digest(t: torch.Tensor) -> str:
    """Return a sha256 over the dtype, shape and bytes of one tensor: equal digests mean identical values."""
    h = hashlib.sha256()
    _feed(h, t)
    return h.hexdigest()


def json_digest(parts: Mapping[str, Any]) -> str:
    """Return the sha256 of `parts` as JSON with sorted keys (other values as text): a cache key for what a result depends on."""
    return hashlib.sha256(json.dumps(dict(parts), sort_keys=True, default=str).encode()).hexdigest()


def _canonical(data: bytes) -> bytes:
    """Return safetensors bytes with the header's keys sorted, so equal content gives an equal sha256.

    safetensors writes its metadata from a hash map, in an order that changes between calls.
    """
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data[8 + n :]


def save_weights(
    path: str | os.PathLike[str],
    tensors: Mapping[str, torch.Tensor],
    *,
    method: str,
    config: Mapping[str, Any],
    dtype: torch.dtype | None = None,
    extra: Mapping[str, str] | None = None,
) -> str:
    """Write `tensors` with zoo metadata atomically; cast floating tensors to `dtype` if given. Returns the sha256."""
    from . import __version__

    out = {}
    for k, v in tensors.items():
        v = v.detach().cpu().contiguous()
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        out[k] = v
    meta = {
        "zoo.format": FORMAT_VERSION,
        "zoo.method": method,
        "zoo.config": json.dumps(dict(config), sort_keys=True),
        "zoo.version": __version__,
        "zoo.tensors_sha256": tensors_digest(out),
    }
    meta.update({f"zoo.extra.{k}": str(v) for k, v in (extra or {}).items()})
    meta[_META_DIGEST] = _metadata_digest(meta)
    data = _canonical(safetensors.torch.save(out, metadata=meta))
    with atomic_write(path) as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


def _parse_header(data: bytes, path: Path, what: str = "weights file", fix: str = "Re-download or re-export it.") -> dict[str, Any]:
    """Return the safetensors header of `data` (read from `path`), or raise a WeightsError naming the `what` and saying `fix`."""
    if len(data) < 8:
        raise WeightsError(f"{what} {path} is truncated ({len(data)} bytes): expected a safetensors file. {fix}")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise WeightsError(
            f"{what} {path} is truncated or not safetensors: its header claims {n} bytes, the file has {len(data) - 8}. {fix}"
        )
    try:
        header = json.loads(data[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:  # RecursionError: JSON nested thousands deep
        raise WeightsError(f"{what} {path} has a corrupt header ({type(e).__name__ if isinstance(e, RecursionError) else e}). {fix}") from None
    try:
        if not isinstance(header, dict):
            raise TypeError(f"the header is a JSON {type(header).__name__}, not an object")
        if not isinstance(header.get("__metadata__", {}), dict):  # zoo's checks look keys up in it
            raise TypeError(f"its __metadata__ is a JSON {type(header['__metadata__']).__name__}, not an object")
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except (TypeError, KeyError, IndexError, ValueError, OverflowError) as e:  # OverflowError: an offset such as 1e400
        raise WeightsError(f"{what} {path} has a malformed safetensors header ({e}). {fix}") from None
    if 8 + n + end > len(data):
        raise WeightsError(
            f"{what} {path} is truncated: its tensors need {8 + n + end} bytes, the file has {len(data)}. {fix}"
        )
    return header


def read_weights(
    path: str | os.PathLike[str], *, sha256: str | None = None, sha256_from: str = "its registry entry"
) -> tuple[dict[str, torch.Tensor], WeightsMeta]:
    """Return the tensors and zoo metadata of a weights file, checking its sha256 when given (`sha256_from` says whose it is)."""
    path = Path(path)
    with denied_as(WeightsError, f"weights file {path}"):
        if path.is_dir():
            raise WeightsError(f"weights file {path} is a folder; expected a .safetensors file. Name the file itself (a training run's is model.safetensors).")
        if not path.is_file():
            raise WeightsError(f"weights file {path} does not exist. Put the file there, or fix the path.")
        data = path.read_bytes()
    if sha256 is not None:
        found = hashlib.sha256(data).hexdigest()
        if found != sha256.lower():
            raise WeightsError(
                f"weights file {path} does not match {sha256_from}: expected sha256 {sha256}, found {found}. "
                + ("The file is corrupt or was changed: restore it, or re-export and update the entry." if sha256_from == "its registry entry"
                   else "The file is corrupt or was changed since: restore it, or re-export it.")
            )
    try:
        header = _parse_header(data, path)
    except WeightsError:
        if data[:4] == b"PK\x03\x04" or (data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")):  # torch.save's zip, a pickle
            raise WeightsError(f"{path} is a torch.save or pickle file: zoo loads safetensors files only and never unpickles (a pickle can "
                               "run code when loaded). Export the model with zoo (zoo.save_model) and give the .safetensors file.") from None
        raise
    meta = header.get("__metadata__") or {}
    missing = [k for k in ("zoo.method", "zoo.config", "zoo.version") if k not in meta]
    if missing and "zoo.tree" in meta and path.name == SLIM_CHECKPOINT:
        raise WeightsError(export_slim_hint(path.parent))
    if missing and "zoo.tree" in meta:
        raise WeightsError(f"{path} is a `zoo train` checkpoint (the whole training state), not a weights file. Give the run folder or its "
                           "model.safetensors; a run cut off before its export writes it when the same `zoo train` command runs again.")
    if missing:
        raise WeightsError(
            f"weights file {path} is not a zoo weights file: its header lacks {', '.join(missing)}. "
            "Export it with zoo (zoo.save_model) or load the tensors with safetensors directly."
        )
    try:
        tensors = safetensors.torch.load(data)
        config = json.loads(meta["zoo.config"])
    except Exception as e:  # noqa: BLE001 - safetensors raises its own types
        raise WeightsError(f"weights file {path} cannot be read ({e}). Re-download or re-export it.") from None
    if not isinstance(config, dict):
        raise WeightsError(f"weights file {path}: its zoo.config is {meta['zoo.config']!r}; expected a JSON object of the method's options. Re-export it.")
    want = meta.get("zoo.tensors_sha256")
    if not want and sha256 is None:
        raise WeightsError(
            f"weights file {path} carries no zoo.tensors_sha256 and no sha256 was given, so it cannot be checked. "
            "Re-export it with zoo (zoo.save_model), or register it with its sha256 in registry.toml."
        )
    if want and tensors_digest(tensors) != want:
        raise WeightsError(f"weights file {path} was tampered with: its tensors do not match the digest in its header. Restore the file.")
    if _META_DIGEST in meta and _metadata_digest(meta) != meta[_META_DIGEST]:
        raise WeightsError(
            f"weights file {path} was tampered with: its header's metadata (method, config) does not match the digest written with it. "
            "Restore the file, or re-export it with zoo."
        )
    extra = {k[len("zoo.extra.") :]: v for k, v in meta.items() if k.startswith("zoo.extra.")}
    return tensors, WeightsMeta(method=meta["zoo.method"], config=config, version=meta["zoo.version"], extra=extra)


def _metadata_digest(meta: Mapping[str, str]) -> str:
    """Return the digest of a header's zoo metadata (its ``zoo.*`` keys but the digest itself): keys other tools add do not count."""
    return json_digest({k: v for k, v in meta.items() if k.startswith("zoo.") and k != _META_DIGEST})


def cache_dir() -> Path:
    """Return the folder of downloaded weights (``$ZOO_CACHE`` or ``~/.cache/zoo``)."""
    env = os.environ.get("ZOO_CACHE")
    return user_path(env) if env else Path.home() / ".cache" / "zoo"  # ~ too where no shell expanded it (.env, docker)


#: What a cache write can fail with that should not fail the work: a folder another user made, a full disk.
CACHE_WRITE_ERRORS = (OSError, OutputError)


def warn_uncached(what: str, error: BaseException) -> None:
    """Warn that `what` could not be cached (`error`): the work goes on, done again next time."""
    warnings.warn(f"cannot write {what} ({error}); going on without caching it, so it is computed again next time. "
                  f"Set ZOO_CACHE to a folder you can write to (now {cache_dir()}).", stacklevel=3)


def resolve_weights(ref: str, sha256: str, base: Path) -> Path:
    """Return a local path for `ref` (a path relative to `base`, or a URL fetched once into the cache).

    The cache keeps only files whose sha256 is `sha256`: a download that differs is not kept, and a
    cached file that no longer matches (damaged on disk) is fetched again.
    """
    scheme = urllib.parse.urlparse(ref).scheme
    if "://" in ref and scheme not in ("http", "https", "file"):
        raise WeightsError(f"weights {ref}: zoo fetches http://, https:// and file:// addresses only, not {scheme}://. "
                           "Download the file yourself and give its path (relative to the registry file).")
    if scheme not in ("http", "https", "file"):
        return (base / ref).resolve()
    name = Path(urllib.parse.urlparse(ref).path).name or "weights.safetensors"
    local = cache_dir() / sha256[:2] / f"{sha256}-{name}"
    if os.path.isfile(local) and sha256_file(local) == sha256:  # isfile: False, not an error, in a cache another user keeps 0700
        return local
    if os.environ.get("ZOO_OFFLINE") and scheme != "file":
        state = "in the cache is damaged (its sha256 differs)" if os.path.isfile(local) else "are not in the cache"
        raise WeightsError(f"weights {ref} {state} and ZOO_OFFLINE is set. Download the file and put it at {local}.")
    if scheme == "file" and not (src := Path(urllib.request.url2pathname(urllib.parse.urlparse(ref).path))).is_file():
        raise WeightsError(f"weights {ref}: {src} is {'not a regular file' if src.exists() else 'missing'}; expected a .safetensors file. "
                           "Fix the registry entry's weights.")
    try:
        local.parent.mkdir(parents=True, exist_ok=True)
        writable = os.access(local.parent, os.W_OK | os.X_OK)
    except OSError:
        writable = False
    if not writable:  # another user's cache: a local file is used where it lies, once checked; a download has nowhere to go
        if scheme == "file" and sha256_file(src) == sha256:
            warn_uncached(f"weights {ref} into {local.parent}", OutputError("not writable"))
            return src
        raise WeightsError(f"weights {ref}: the cache folder {local.parent} is not writable, so they cannot be fetched into it"
                           f"{'' if scheme != 'file' else ' (and the file there does not have the sha256 the registry names)'}. "
                           f"Set ZOO_CACHE to a folder you can write to (now {cache_dir()}).")
    # what a download killed outright left, an hour on (one running now writes its own more often)
    remove_temporaries(local.parent, [local.name], older_than_s=STALE_TEMPORARY_S)
    h, size = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(ref, timeout=60) as r, atomic_write(local) as f:
            while chunk := r.read(_HASH_CHUNK):
                h.update(chunk)
                f.write(chunk)
                size += len(chunk)
                if size > MAX_DOWNLOAD_BYTES:  # raised inside the block: the temporary file goes
                    raise WeightsError(f"weights {ref} send more than {MAX_DOWNLOAD_BYTES >> 30} GiB, far more than a model here; stopped, "
                                       "nothing was cached. Check the registry entry's address.")
            if h.hexdigest() != sha256:  # raised inside the block: the download is not kept
                raise WeightsError(
                    f"weights downloaded from {ref} have sha256 {h.hexdigest()}, not the {sha256} the registry names: "
                    "the file at that address changed or arrived damaged. Nothing was cached; try again, or check the registry entry."
                )
    except OSError as e:
        raise WeightsError(f"cannot download weights {ref} ({e}). Download the file yourself and put it at {local}.") from None
    return local


# ---- trees of tensors (checkpoints: modules, optimizers, schedulers, RNG states) -------------------

def _flatten(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = prefix or "_"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, Mapping):
        items = [(k, _flatten(v, f"{prefix}/{k}", tensors)) for k, v in obj.items()]
        if all(isinstance(k, str) for k, _ in items):
            return {"__dict__": [[k, v] for k, v in items]}
        return {"__dict__": [[{"__int__": k} if isinstance(k, int) else k, v] for k, v in items]}
    if isinstance(obj, (list, tuple)):
        return {"__tuple__" if isinstance(obj, tuple) else "__list__": [_flatten(v, f"{prefix}/{i}", tensors) for i, v in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {prefix!r} in a checkpoint: only tensors, numbers, strings, lists and dicts")


def _unflatten(obj: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__int__" in obj:
            return obj["__int__"]
        if "__dict__" in obj:
            return {_unflatten(k, tensors): _unflatten(v, tensors) for k, v in obj["__dict__"]}
        if "__list__" in obj:
            return [_unflatten(v, tensors) for v in obj["__list__"]]
        if "__tuple__" in obj:
            return tuple(_unflatten(v, tensors) for v in obj["__tuple__"])
    return obj


def save_tree(path: str | os.PathLike[str], tree: Mapping[str, Any]) -> None:
    """Write a nested dict of tensors and plain values to a safetensors file, atomically."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _flatten(tree, "", tensors)
    text = json.dumps(skeleton)
    data = _canonical(safetensors.torch.save(tensors, metadata={"zoo.tree": text, _TREE_DIGEST: _tree_digest(text, tensors)}))
    with atomic_write(path) as f:
        f.write(data)


def _tree_digest(skeleton: str, tensors: Mapping[str, torch.Tensor]) -> str:
    return hashlib.sha256(f"{hashlib.sha256(skeleton.encode()).hexdigest()}|{tensors_digest(tensors)}".encode()).hexdigest()


def load_tree(path: str | os.PathLike[str], fix: str = "Restore it, or delete it to start afresh.") -> dict[str, Any]:
    """Read back what :func:`save_tree` wrote (no pickle involved), checking its digest; a damaged file is a WeightsError saying `fix`."""
    path = Path(path)
    data = path.read_bytes()
    header = _parse_header(data, path, "checkpoint", fix)
    meta = header.get("__metadata__") or {}
    if "zoo.tree" not in meta:
        raise WeightsError(f"{path} is not a zoo checkpoint (no 'zoo.tree' in its header; a weights file, perhaps). {fix}")
    # The digest is checked only where present (checkpoints before it have none), so a damaged key name must not pass for
    # its absence: save_tree writes these keys and no others.
    if unknown := sorted(set(meta) - {"zoo.tree", _TREE_DIGEST}):
        raise WeightsError(f"checkpoint {path} is damaged: its header holds {', '.join(map(repr, unknown))}, not among the keys zoo writes "
                           f"(zoo.tree, {_TREE_DIGEST}). {fix}")
    try:
        tensors = safetensors.torch.load(data)
        skeleton = json.loads(meta["zoo.tree"])
    except Exception as e:  # noqa: BLE001 - safetensors raises its own types
        raise WeightsError(f"checkpoint {path} cannot be read ({e}). {fix}") from None
    if _TREE_DIGEST in meta and _tree_digest(meta["zoo.tree"], tensors) != meta[_TREE_DIGEST]:  # checkpoints before the digest have none
        raise WeightsError(f"checkpoint {path} is damaged: its tensors or structure do not match the digest written with it. {fix}")
    try:
        return _unflatten(skeleton, tensors)
    except (KeyError, TypeError, ValueError, RecursionError) as e:  # a skeleton that names a missing tensor, or is not save_tree's shape
        raise WeightsError(f"checkpoint {path} is damaged: its structure does not match its tensors "
                           f"({type(e).__name__}: {e}). {fix}") from None
