"""The dataset catalogue: names -> DatasetInfo (from the core and from plugins), and path detection."""

from __future__ import annotations

import os
from pathlib import Path

from ..argtypes import user_path
from ..errors import COMMAND_LINE, DataError, PluginError, UnknownNameError, denied_as, option
from ._types import DatasetInfo, ImageSet

__all__ = ["data_root", "datasets", "resolve", "load", "detect_path_format", "is_present", "presence", "files_in", "content_digest"]


def data_root(root: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the folder holding real datasets: `root`, else ``$ZOO_DATA``, else None."""
    if root is not None:
        return user_path(root)
    env = os.environ.get("ZOO_DATA")
    return user_path(env) if env else None


def _root_problem(r: Path, root: str | os.PathLike[str] | None, info: DatasetInfo) -> str:
    """Return what is wrong with the data root `r` itself (missing, a file, a dataset's own folder), naming where it came from, or ''."""
    origin = f"{option('data_root', os.fspath(root))}" if root is not None else f"ZOO_DATA={os.environ.get('ZOO_DATA')}"
    if not r.exists():
        return f" The data root {r} ({origin}) does not exist."
    if not r.is_dir():
        return f" The data root {r} ({origin}) is a file, not a folder."
    if files_in(info, r):
        return (f" {r} ({origin}) itself holds {info.name}'s files: the data root is the folder above it "
                f"({option('data_root', os.fspath(r.parent))}), or pass {option('data', os.fspath(r))}.")
    return ""


def datasets() -> dict[str, DatasetInfo]:
    """Return every registered dataset by name (the core's and plugins')."""
    from ..plugins import get_plugin_manager

    return get_plugin_manager().datasets()


def files_in(info: DatasetInfo, folder: Path) -> str | None:
    """Return a description of `info`'s files in `folder` (its `layout`, else its `required` globs), or None."""
    with denied_as(DataError, f"dataset {info.name!r} in {folder}"):
        if not folder.is_dir():
            return None
        if info.layout is not None:
            return info.layout(folder)
        if info.required and all(any(folder.glob(p)) for p in info.required):
            return f"files matching {', '.join(info.required)}"
    return None


def presence(info: DatasetInfo, root: str | os.PathLike[str] | None) -> str:
    """Return, in words, what `info` reads on this machine with data root `root` ('' when it cannot be read)."""
    root = Path(root) if root is not None else None  # a str root too, as zoo.data.load takes it
    folder = info.folder_in(root)
    if folder is None:
        return "built by its reader (no data files needed)"
    found = files_in(info, folder) if root is not None else None
    if found:
        return f"{found} in {folder}"
    base = datasets().get(info.built_from) if info.built_from else None
    if base is not None:
        base_found = presence(base, root)
        if base_found:
            return f"built from {base.name}: {base_found}"
    return ""


def is_present(info: DatasetInfo, root: str | os.PathLike[str] | None) -> bool:
    """Return whether `info` can be read on this machine with data root `root`."""
    return bool(presence(info, root))


def detect_path_format(path: Path | str) -> str:
    """Return the name of the dataset whose reader understands the files at `path`."""
    with denied_as(DataError, f"data path {path}"):
        return _detect_path_format(Path(path))


def _detect_path_format(path: Path) -> str:
    if not path.exists():
        raise DataError(f"data path {path} does not exist. Give a dataset name (`zoo datasets`) or an existing folder.")
    if path.is_dir() and not os.access(path, os.R_OK | os.X_OK):
        raise PermissionError(13, "permission denied", os.fspath(path))  # before a dataset's layout is tried there and named
    if not path.is_dir():
        raise DataError(f"data path {path} is a file; pass the folder that holds it (e.g. the folder with train_32x32.mat, usps.bz2 or train.csv).")
    known = datasets()
    generic = known["folder"].layout if "folder" in known else None
    for name, info in known.items():
        # the generic image folder matches almost anything, so it is tried last; a plugin's dataset laid out as one
        # (image_folder_layout) is read by its name only, or it would take every folder of images a user passes
        if name != "folder" and info.folder and info.layout is not generic and files_in(info, path):
            return name
    if "folder" in known and files_in(known["folder"], path):
        return "folder"
    pickled = sorted(p.name for p in path.iterdir() if p.name.endswith((".pkl", ".pkl.gz", ".pickle", ".pt", ".pth")))
    raise DataError(
        f"cannot tell what dataset {path} holds. Expected one of: MNIST's IDX files (train-images-idx3-ubyte[.gz], ...), "
        "SVHN's train_32x32.mat/test_32x32.mat, USPS's usps.bz2/usps.t.bz2, MNIST-M as its authors distribute it "
        "(mnist_m_train/ with mnist_m_train_labels.txt, ...), the seed layout (data/*.png with train.csv "
        "and val.csv, columns image_name,label), or a folder of images (flat or one subfolder per class)."
        + (f" It holds {', '.join(pickled[:5])}{', ...' if len(pickled) > 5 else ''}: pickled files, which zoo never loads (unpickling "
           "can run any code); write their images out as PNGs in one of those layouts with the code that made them." if pickled else "")
    )


def resolve(name_or_path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> tuple[DatasetInfo, Path | None]:
    """Return the DatasetInfo for a registered name or a path, and the folder its reader reads."""
    known = datasets()
    key = os.fspath(name_or_path)
    if not key:  # Path('') is '.': an empty argument would read the working folder as a dataset
        raise UnknownNameError("dataset", key, known, hint="Give a name `zoo datasets` lists, or a path to real files.")
    if key in known:
        info = known[key]
        r = data_root(root)
        folder = info.folder_in(r)
        if folder is None:
            return info, None
        if r is not None and files_in(info, folder):
            return info, folder
        base = known.get(info.built_from) if info.built_from else None
        base_folder = base.folder_in(r) if base is not None else None
        if r is not None and base is not None and base_folder is not None and files_in(base, base_folder):
            return info, base_folder
        if r is not None and folder.is_dir():
            return info, folder  # the reader names what is wrong with the layout
        where = f"{r / info.folder}" if r is not None else f"DIR/{info.folder}"
        also = f", or {base.name}'s files in {r / base.folder if r is not None else 'DIR/' + base.folder} to build it from" if base is not None and base.folder else ""
        raise DataError(
            f"dataset {key!r} needs its files in {where} ({info.source}){also}.{_root_problem(r, root, info) if r is not None else ''} "
            f"Name the folder that holds it with {option('data_root', 'DIR')} or the ZOO_DATA environment variable, "
            f"or pass the path itself as {option('data', 'PATH')}{' (zoo eval: --set data=PATH)' if COMMAND_LINE.get() else ''}."
        )
    path = Path(key)
    if path.exists() or os.sep in key or key.startswith("."):
        name = detect_path_format(path)
        return known[name], path
    by_folder = [n for n, i in known.items() if i.folder == key]  # `faces`: the folder that dataset `folder` reads
    hint = f"Dataset {by_folder[0]!r} reads DATA/{key}/. " if by_folder else ""
    from ..plugins import get_plugin_manager

    raise UnknownNameError("dataset", key, known, hint=hint + "`zoo datasets` lists them; a path to real files works too." + get_plugin_manager().failures())


def load(name_or_path: str | os.PathLike[str], split: str = "train", root: str | os.PathLike[str] | None = None) -> ImageSet:
    """Return split `split` of a dataset given by registered name or by path."""
    def check_split(info: DatasetInfo) -> None:
        if split not in info.splits:
            raise DataError(f"dataset {info.name!r} has no split {split!r}; it has {', '.join(info.splits)}.")

    if isinstance(name_or_path, str) and (named := datasets().get(name_or_path)) is not None:
        check_split(named)  # before its files are looked for: a wrong split is the mistake to name, present or not
    with denied_as(DataError, f"dataset {os.fspath(name_or_path)!r}"):
        info, folder = resolve(name_or_path, root)
        check_split(info)
        folder = folder if folder is not None else data_root(root)
        images = info.read(split, folder)
    if not isinstance(images, ImageSet):
        from ..plugins import get_plugin_manager

        raise PluginError(f"dataset {info.name!r} (plugin {get_plugin_manager().plugin_of('dataset', info.name)!r}): its reader returned a "
                        f"{type(images).__name__}; a reader must return a zoo.data.ImageSet. Fix the plugin's read(split, folder).")
    return images


def content_digest(name_or_path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> str:
    """Return the sha256 content digest of every split of a dataset: equal digests mean identical images and labels."""
    from .cache import splits_digest

    info, _ = resolve(name_or_path, root)
    return splits_digest({split: load(name_or_path, split, root) for split in info.splits if split != "all"})  # 'all' is the others again
