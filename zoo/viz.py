"""Figures: image grids, loss curves and t-SNE plots of features, written atomically as PNG."""

from __future__ import annotations

import io
import json
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image

from .data.loader import adapt_images, check_image_batch
from .errors import ConfigError, DataError, OutputError
from .files import STALE_TEMPORARY_S, atomic_write, check_writable, current_umask, remove_temporaries
from .interfaces import whole_number

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn: it costs start-up time
    import matplotlib.figure
    import numpy as np

__all__ = ["save_grid", "save_image", "save_image_folder", "check_new_folder", "grid_image", "plot_curves", "figure", "save_figure", "read_metrics_log", "embed", "plot_tsne"]


def _tile(images: torch.Tensor, nrow: int, padding: int, pad_value: float) -> torch.Tensor:
    """Return `images` (N, 1 or 3, H, W) tiled as torchvision.utils.make_grid tiles them, as one (3, H', W') tensor.

    Written out because importing torchvision pulls in torch's compiler stack: 3 s of the 8 s a `zoo sample` took.
    """
    images = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
    n, c, h, w = images.shape
    if n == 1:
        return images[0].clone()  # a new tensor, as for several: the caller may write into it
    cols = min(nrow, n)
    rows = -(-n // cols)
    grid = images.new_full((c, rows * (h + padding) + padding, cols * (w + padding) + padding), pad_value)
    for k, image in enumerate(images):
        top, left = (k // cols) * (h + padding) + padding, (k % cols) * (w + padding) + padding
        grid[:, top : top + h, left : left + w] = image
    return grid


def grid_image(images: torch.Tensor, nrow: int = 8, padding: int = 2) -> Image.Image:
    """Return a PIL image tiling `images` (NCHW, uint8 or float in [0, 1]) with `nrow` images per row."""
    check_image_batch(images, "the image grid")
    whole_number(nrow, "the image grid's nrow (images per row)", low=1)
    whole_number(padding, "the image grid's padding (pixels)", low=0)
    if images.shape[1] not in (1, 3):
        raise ConfigError(f"the image grid takes images with 1 or 3 channels; got {tuple(images.shape)}.")
    images = adapt_images(images.detach().cpu(), None, None)  # uint8 -> [0, 1]: clamping 0..255 would leave black and white
    grid = _tile(images, nrow, padding, pad_value=1.0)
    return Image.fromarray(grid.mul_(255).round_().byte().permute(1, 2, 0).numpy())  # in place: one float grid, not three


#: Image files zoo writes, by suffix: PNG keeps every value (the figures compare byte for byte); JPEG and WebP are for sharing.
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}


def check_image_path(path: str | os.PathLike[str]) -> str:
    """Return the image format `path`'s suffix names, after checking the file can be written; else raise OutputError.

    Commands call it before the work that makes the image, so that a bad --out fails at once.
    """
    check_writable(path)  # a folder, a device or a read-only place is named as such first
    path = Path(path)  # the name as given (a link's, not its target's): its suffix says the format
    fmt = IMAGE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise OutputError(f"cannot write image {path}: zoo writes {', '.join(IMAGE_FORMATS)} files, and {path.suffix or 'no suffix'!r} "
                          f"names none of them. Give a file name ending in .png (lossless), e.g. {path.with_suffix('.png').name}.")
    return fmt


def save_image(image: Image.Image, path: str | os.PathLike[str]) -> Path:
    """Write a PIL image atomically in the format its suffix names (.png, .jpg, .webp) and return the path."""
    path = Path(path)
    fmt = check_image_path(path)
    buf = io.BytesIO()
    image.save(buf, format=fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
    with atomic_write(path) as f:
        f.write(buf.getvalue())
    return path


def save_grid(images: torch.Tensor, path: str | os.PathLike[str], nrow: int = 8, padding: int = 2) -> Path:
    """Write `images` (NCHW in [0, 1]) as one grid image (PNG, or JPEG/WebP by `path`'s suffix) with `nrow` images per row; return the path."""
    return save_image(grid_image(images, nrow=nrow, padding=padding), path)


def check_new_folder(folder: str | os.PathLike[str]) -> Path:
    """Return `folder` if zoo may create it (it does not exist, or is an empty folder) in a writable place; else raise OutputError.

    Commands call it before the work whose images go there, so that a bad folder fails at once.
    """
    folder = Path(folder)
    if folder.name in ("", ".", ".."):
        raise OutputError(f"{os.fspath(folder)!r} names no new folder: zoo writes the images into a folder it makes. Give its name, e.g. fake/.")
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise OutputError(f"{folder} exists and is no folder: give a new folder for the images.")
    if folder.is_dir() and any(folder.iterdir()):
        raise OutputError(f"folder {folder} is not empty: zoo writes a new folder whole, so that no two sets mix. Give a new one, or empty it.")
    check_writable(folder.parent / ".zoo-probe")  # the folder is made there
    return folder


def _sorted_folder_names(names: Sequence[str]) -> bool:
    """Return whether `names` can name class folders that a folder reader lists back in their order: one plain name each, sorted."""
    plain = all(n and n == Path(n).name and not n.startswith(".") and os.sep not in n and "/" not in n and "\0" not in n
                and len(n.encode("utf-8", "surrogateescape")) <= 255 for n in names)  # a stranger's run.json names them
    return plain and len(set(names)) == len(names) and list(names) == sorted(names)


def save_image_folder(images: torch.Tensor, folder: str | os.PathLike[str], labels: Sequence[int] | None = None,
                      classes: Sequence[str] | int | None = None) -> Path:
    """Write each of `images` (NCHW, uint8 or floats in [0, 1]) as its own PNG, 000000.png on, into the new folder `folder`; return it.

    With `labels` (one per image) each goes into a subfolder of its class: its name where `classes` lists the model's
    class names (plain folder names that sort in label order, as names read from class folders do), else its label
    zero-padded to the width of the largest (`classes`: the number of classes), so that the folders sort in label order:
    the class-folder layout zoo (and torchvision's ImageFolder) reads as a labelled set, with the same label numbers where
    every class has images. The folder is filled under a temporary name and renamed when whole: a failure or a Ctrl-C
    leaves no half-written set behind.
    """
    import shutil
    import tempfile

    folder = check_new_folder(folder)
    check_image_batch(images, "the images to write")
    labels = None if labels is None else [int(k) for k in labels]  # a tensor of labels too
    if labels is not None and len(labels) != len(images):
        raise ConfigError(f"{len(labels)} labels for {len(images)} images: give one label per image, or none.")
    count = classes if isinstance(classes, int) else len(classes) if classes is not None else None
    if labels and (min(labels) < 0 or (count is not None and max(labels) >= count)):
        within = f"0..{count - 1} (the {count} classes)" if count is not None else "from 0 up"
        raise ConfigError(f"labels {min(labels)}..{max(labels)} lie outside the classes: give labels {within}.")
    # not in place: uint8 comes back exact, and a caller's float tensor must stay as it was
    pixels = adapt_images(images.detach().cpu(), None, None).mul(255).round_().byte().permute(0, 2, 3, 1)
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_temporaries(folder.parent, [folder.name], older_than_s=STALE_TEMPORARY_S)  # what a killed sampling left (SIGKILL: nothing ran)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        width = max(6, len(str(len(images) - 1)))
        names = list(classes) if isinstance(classes, Sequence) and not isinstance(classes, str) else None
        if names is not None and not _sorted_folder_names(names):  # 'T-shirt/top', or names a folder listing would reorder
            names = None
        digits = len(str((count or max(labels or [0]) + 1) - 1))
        for i, image in enumerate(pixels.numpy()):
            sub = tmp if labels is None else tmp / (names[labels[i]] if names else f"{labels[i]:0{digits}d}")
            sub.mkdir(exist_ok=True)
            Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image).save(sub / f"{i:0{width}d}.png", format="PNG")
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700 folders: a set of images is shared as any new folder is
        try:
            if folder.is_dir():
                folder.rmdir()  # the empty folder check_new_folder allowed
            os.rename(tmp, folder)
        except OSError as e:  # another process made the folder meanwhile, and filled it
            raise OutputError(f"cannot make folder {folder} ({e.strerror or e}): it appeared while the images were written. Give a new folder.") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def figure(**kw: Any) -> matplotlib.figure.Figure:
    """Return a new matplotlib Figure that no pyplot state holds: drawing it leaves the process's backend alone.

    (`matplotlib.use("Agg")` would switch a notebook's inline backend off for good; pyplot would keep every figure.)
    """
    from matplotlib.figure import Figure

    return Figure(**kw)


def save_figure(fig: matplotlib.figure.Figure, path: str | os.PathLike[str], dpi: int = 120) -> Path:
    """Write a matplotlib figure atomically (PNG, or JPEG/WebP by `path`'s suffix) and return the path."""
    buf = io.BytesIO()
    fig.savefig(buf, format=check_image_path(path).lower(), dpi=dpi, bbox_inches="tight")
    with atomic_write(path) as f:
        f.write(buf.getvalue())
    return Path(path)


def read_metrics_log(path: str | os.PathLike[str]) -> list[dict[str, float]]:
    """Return the records of a JSON-lines metrics log: JSON objects, their step (where given) a number.

    A half-written last line (a run killed mid-write) is skipped quietly; any other line that is no such record (a damaged
    disk, a hand edit) is skipped with a warning naming the file and its lines, so that a resume or a plot goes on with
    the sound records rather than failing on one bad line.
    """
    path = Path(path)
    data = path.read_bytes()
    lines = data.splitlines()
    out, bad = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8"))  # the trainer writes ASCII (json.dumps escapes the rest)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            record = None
        # a record without a step is the caller's to judge (gan-figures names it); one whose step is no number is damage
        step = record.get("step", 0) if isinstance(record, dict) else None
        if isinstance(step, (int, float)) and not isinstance(step, bool):
            out.append(record)
        elif number < len(lines) or data.endswith((b"\n", b"\r")):  # a torn last line has no line end yet: expected, not damage
            bad.append(number)
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        warnings.warn(f"metrics log {path}: skipped line{'s' * (len(bad) > 1)} {shown}, not a record like {{\"step\": 10, \"loss_d\": 0.7}} "
                      "(a damaged file, or a hand edit): the curves, and a resumed run's log, go on without them.", stacklevel=2)
    return out


def _smooth(values: Sequence[float], k: int) -> list[float]:
    """Return the running mean of the last `k` values."""
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= k:
            acc -= values[i - k]
        out.append(acc / min(i + 1, k))
    return out


def step_axis(ax: Any) -> None:
    """Give `ax`'s x axis whole-number steps, and thousands as "12k" from 10,000 on.

    Five-digit labels ran together on a 48,000-step run's panel (0600012000...), and a million steps read 0.15 beside
    a 1e6 offset.
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    # whole steps (no 2.5 on a short run's axis), as many as the panel's width holds
    ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True))
    lo, hi = ax.get_xlim()
    if hi - lo < 2:  # one logged step: a span holding whole numbers
        ax.set_xlim((lo + hi) / 2 - 1, (lo + hi) / 2 + 1)
    if max(abs(lo), abs(hi)) >= 10_000:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k" if x else "0"))


def plot_curves(
    runs: Mapping[str, Iterable[Mapping[str, float]]],
    path: str | os.PathLike[str],
    keys: Sequence[str] | None = None,
    title: str = "",
) -> Path:
    """Plot the losses of one or more metrics logs (run label -> records) against step; return the path."""
    runs = {label: list(recs) for label, recs in runs.items()}
    if not runs or any(not isinstance(r, Mapping) or "step" not in r for recs in runs.values() for r in recs):
        raise DataError(f"plot_curves needs at least one run of records like {{'step': 10, 'loss_d': 0.7}}, each with its step; got {str(runs)[:80]}.")
    all_keys = keys or sorted({k for recs in runs.values() for r in recs for k in r if k.startswith("loss")})
    if not any(k in r for recs in runs.values() for r in recs for k in all_keys):
        raise DataError(f"no record holds {', '.join(all_keys) or 'a loss_* value'}: nothing to plot. Name keys the logs hold.")
    fig = figure(figsize=(5.5 * len(runs), 3.8))
    axes = fig.subplots(1, len(runs), squeeze=False)
    for ax, (label, recs) in zip(axes[0], runs.items()):
        for k in all_keys:
            # a diverged run logs its NaN as null: the curve ends there (the trainer stops at it)
            pts = [(r["step"], r[k]) for r in recs if isinstance(r.get(k), (int, float)) and math.isfinite(r[k])]
            if not pts:
                continue
            steps, vals = zip(*pts)
            ax.plot(steps, vals, alpha=0.25, linewidth=0.8)
            # a short run's few points (one: a line draws nothing) get markers
            ax.plot(steps, _smooth(vals, max(1, len(vals) // 50)), label=k, color=ax.lines[-1].get_color(),
                    marker="o" if len(vals) <= 20 else None, markersize=3)
        # a path decoded in a non-UTF-8 locale holds surrogates, which matplotlib refuses: its bytes are (almost always) UTF-8
        ax.set_title(label.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
        ax.set_xlabel("step")
        ax.set_ylabel("loss" if all(k.startswith("loss") for k in all_keys) else "value")
        step_axis(ax)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


# ---- t-SNE of features (a domain-adaptation method's latent space) ---------------------------------

def embed(features: torch.Tensor, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """Return scikit-learn's 2-D t-SNE embedding (N, 2) of `features` (N, D), PCA-initialised and seeded."""
    from sklearn.manifold import TSNE

    x = features.detach().float().cpu().numpy()
    perplexity = min(perplexity, max(2.0, (len(x) - 1) / 3))
    # Barnes-Hut pays off only for larger sets; for a few hundred points the exact gradient is cheaper and exact
    method = "exact" if len(x) < 300 else "barnes_hut"
    return TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto", method=method, random_state=seed).fit_transform(x)


def plot_tsne(
    panels: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
    colour_by: str,
    title: str,
    path: str | os.PathLike[str],
    domain_names: Sequence[str] = ("source", "target"),
) -> Path:
    """Write one scatter panel per (panel title, embedding, class labels, domain ids), coloured by 'class' or 'domain'; return the path.

    The seed's latent-space figures of a domain-adaptation method: `embed` source and target validation features together,
    then draw them by class and by domain (``zoo dann-table`` does, for source-only and DANN side by side).
    """
    import matplotlib

    if colour_by not in ("class", "domain"):
        raise ValueError(f"colour_by must be 'class' or 'domain', got {colour_by!r}")
    fig = figure(figsize=(5.2 * len(panels), 5.0))
    axes = fig.subplots(1, len(panels), squeeze=False)
    every_class = sorted({int(c) for _, _, classes, _ in panels for c in classes})
    cmap = matplotlib.colormaps["tab10" if len(every_class) <= 10 else "tab20"]
    for ax, (panel_title, emb, classes, domains) in zip(axes[0], panels):
        groups = every_class if colour_by == "class" else range(len(domain_names))
        for g in groups:
            keep = (classes if colour_by == "class" else domains) == g
            label = str(g) if colour_by == "class" else domain_names[g]
            # two domains as the seed draws them (source blue, target red); more, from the palette
            colour = cmap(g % cmap.N) if colour_by == "class" else ("tab:blue", "tab:red")[g] if len(domain_names) == 2 else cmap(g % cmap.N)
            ax.scatter(emb[keep, 0], emb[keep, 1], s=4, alpha=0.6, color=colour, label=label, linewidths=0)
        ax.set_title(panel_title)
        ax.set_xticks([])
        ax.set_yticks([])
    handles, labels = axes[0][0].get_legend_handles_labels()
    # beside the figure, not over the last panel (a fixed margin was too narrow for domain names such as 'syndigits');
    # save_figure's tight bounding box takes it in
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=3, title="digit" if colour_by == "class" else "domain")
    fig.suptitle(f"{title}: t-SNE of validation features, coloured by {colour_by}")
    fig.tight_layout()
    return save_figure(fig, path)
