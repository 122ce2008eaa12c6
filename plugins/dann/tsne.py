"""The seed's latent-space figures: t-SNE of source and target validation features, by class and by domain.

Example::

    >>> emb = embed(torch.cat([f_source, f_target]), seed=0)           # (N, 2)
    >>> plot_tsne([("DANN", emb, labels, domains)], "class", "MNIST-M -> digits", "tsne_class.png")
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from zoo.viz import figure, save_figure

__all__ = ["embed", "plot_tsne", "DOMAIN_NAMES"]

DOMAIN_NAMES = ("source", "target")


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
    domain_names: Sequence[str] = DOMAIN_NAMES,
) -> Path:
    """Write one scatter panel per (panel title, embedding, class labels, domain ids), coloured by 'class' or 'domain'; return the path."""
    import matplotlib

    if colour_by not in ("class", "domain"):
        raise ValueError(f"colour_by must be 'class' or 'domain', got {colour_by!r}")
    fig = figure(figsize=(5.2 * len(panels), 5.0))
    axes = fig.subplots(1, len(panels), squeeze=False)
    cmap = matplotlib.colormaps["tab10"]
    for ax, (panel_title, emb, classes, domains) in zip(axes[0], panels):
        groups = range(10) if colour_by == "class" else range(len(domain_names))
        for g in groups:
            keep = (classes if colour_by == "class" else domains) == g
            label = str(g) if colour_by == "class" else domain_names[g]
            colour = cmap(g) if colour_by == "class" else ("tab:blue", "tab:red")[g]
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
