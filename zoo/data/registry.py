"""The dataset catalogue: names -> DatasetInfo (from the core and from plugins), and path detection."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError, UnknownNameError
from ._types import DatasetInfo, ImageSet

__all__ = ["data_root", "datasets", "resolve", "load", "detect_path_format", "is_present"]


def data_root(root: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the folder holding real datasets: `root`, else ``$ZOO_DATA``, else None."""
    if root is not None:
        return Path(root)
    env = os.environ.get("ZOO_DATA")
    return Path(env) if env else None


def datasets() -> dict[str, DatasetInfo]:
    """Return every registered dataset by name (the core's and plugins')."""
    from ..plugins import get_plugin_manager

    return get_plugin_manager().datasets()


def is_present(info: DatasetInfo, root: Path | None) -> bool:
    """Return whether `info` can be read on this machine with data root `root`."""
    if info.built_from:
        return is_present(datasets()[info.built_from], root)
    folder = info.folder_in(root)
    if folder is None:
        return True
    if root is None or not folder.is_dir():
        return False
    return all(any(folder.glob(pattern)) for pattern in info.required)


def detect_path_format(path: Path) -> str:
    """Return the name of the dataset whose reader understands the files at `path`."""
    if not path.exists():
        raise DataError(f"data path {path} does not exist. Give a dataset name (`zoo datasets`) or an existing folder.")
    for name, info in datasets().items():
        if info.folder and (path.is_dir() and info.required and all(any(path.glob(p)) for p in info.required)):
            return name
    if path.is_dir() and "folder" in datasets():
        return "folder"
    raise DataError(
        f"cannot tell what dataset {path} holds. Expected a dataset folder such as MNIST's IDX files, "
        "SVHN's *_32x32.mat, usps.bz2, the seed layout (data/ + train.csv) or a folder of images."
    )


def resolve(name_or_path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> tuple[DatasetInfo, Path | None]:
    """Return the DatasetInfo for a registered name or a path, and the folder its reader reads."""
    known = datasets()
    key = str(name_or_path)
    if key in known:
        info = known[key]
        r = data_root(root)
        folder = info.folder_in(r)
        if folder is not None and not (r is not None and folder.is_dir()):
            where = f"{r / info.folder}" if r is not None else f"DIR/{info.folder}"
            raise DataError(
                f"dataset {key!r} needs its files in {where} ({', '.join(info.required)}). "
                "Name the folder that holds it with --data-dir DIR or the ZOO_DATA environment variable, "
                "or pass the path itself as --data."
            )
        return info, folder
    path = Path(key)
    if path.exists() or os.sep in key or key.startswith("."):
        name = detect_path_format(path)
        return known[name], path
    raise UnknownNameError("dataset", key, known, hint="`zoo datasets` lists them; a path to real files works too.")


def load(name_or_path: str | os.PathLike[str], split: str = "train", root: str | os.PathLike[str] | None = None) -> ImageSet:
    """Return split `split` of a dataset given by registered name or by path."""
    info, folder = resolve(name_or_path, root)
    if split not in info.splits:
        raise DataError(f"dataset {info.name!r} has no split {split!r}; it has {', '.join(info.splits)}.")
    folder = folder if folder is not None else data_root(root)
    return info.read(split, folder)
