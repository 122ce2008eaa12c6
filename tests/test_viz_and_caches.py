"""Image grids and loss curves refuse what they cannot draw; damaged metric caches are recomputed, not fatal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from zoo.errors import ConfigError, DataError
from zoo.metrics.features import cached_stats, extract_features, stats_cache_path
from zoo.metrics.frechet import gaussian_stats
from zoo.viz import figure, plot_curves, save_grid, step_axis


def test_uint8_images_keep_their_grey_levels(tmp_path: Path) -> None:
    images = torch.full((2, 1, 8, 8), 128, dtype=torch.uint8)
    save_grid(images, tmp_path / "g.png", padding=0)
    assert np.unique(np.asarray(Image.open(tmp_path / "g.png"))).tolist() == [128]  # not clamped to 255


@pytest.mark.parametrize(("n", "channels", "nrow", "padding"), [(1, 3, 8, 2), (5, 1, 2, 0), (7, 3, 3, 5), (32, 3, 8, 2), (10, 1, 20, 2)])
def test_grids_are_laid_out_as_torchvisions_make_grid(n: int, channels: int, nrow: int, padding: int) -> None:
    from torchvision.utils import make_grid

    from zoo.viz import grid_image

    images = torch.rand(n, channels, 6, 5, generator=torch.Generator().manual_seed(n))
    expected = make_grid(images, nrow=nrow, padding=padding, pad_value=1.0).mul(255).round().byte().permute(1, 2, 0).numpy()
    assert np.array_equal(np.asarray(grid_image(images, nrow=nrow, padding=padding)), expected)


def test_a_grid_does_not_import_torchvision() -> None:
    import subprocess
    import sys

    code = "import sys, torch; from zoo.viz import grid_image; grid_image(torch.rand(3, 1, 4, 4)); print('torchvision' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout.strip() == "False"


@pytest.mark.parametrize(("images", "match"), [(torch.zeros(0, 3, 8, 8), "empty batch"), (torch.zeros(3, 8, 8), r"\(N, C, H, W\)"),
                                               (torch.zeros(2, 2, 8, 8), "1 or 3 channels"), (torch.full((1, 3, 8, 8), 2.0), r"\[0, 1\]")])
def test_grids_refuse_what_they_cannot_draw(tmp_path: Path, images: torch.Tensor, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        save_grid(images, tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()


@pytest.mark.parametrize(("runs", "match"), [({}, "at least one run"), ({"a": [{"loss": 1.0}]}, "each with its step"),
                                             ({"a": [{"step": 1, "acc": 1.0}]}, "nothing to plot")])
def test_loss_curves_need_steps_and_losses(tmp_path: Path, runs: dict, match: str) -> None:
    with pytest.raises(DataError, match=match):
        plot_curves(runs, tmp_path / "c.png")


@pytest.mark.parametrize("last", [12, 3_000, 48_000, 1_000_000])
def test_step_ticks_never_overlap(last: int) -> None:
    # a 48,000-step GAN run's panel in plot_curves' two-run figure once read 0600012000180002400030000...
    fig = figure(figsize=(11, 3.8))
    ax = fig.subplots(1, 2, squeeze=False)[0][0]
    steps = range(0, last + 1, max(1, last // 100))
    ax.plot(steps, [1.0] * len(steps))
    step_axis(ax)
    fig.canvas.draw()
    lo, hi = ax.get_xlim()
    shown = [t for t in ax.get_xticklabels() if t.get_text() and lo <= t.get_position()[0] <= hi]
    boxes = sorted((t.get_window_extent() for t in shown), key=lambda b: b.x0)
    assert len(boxes) >= 3 and all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:])), [t.get_text() for t in shown]
    assert all("." not in t.get_text() for t in shown), "whole steps (no 0.15 beside a 1e6 offset)"


def test_loss_curves_of_data_named_in_a_non_utf8_locale(tmp_path: Path) -> None:
    # a run on folder 'données' started with LC_ALL=C PYTHONUTF8=0 names its data with surrogates, which matplotlib refuses
    label = "dcgan on donn\udcc3\udca9es"
    assert plot_curves({label: [{"step": 1, "loss_d": 1.0}, {"step": 2, "loss_d": 0.5}]}, tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def drawn_figure(monkeypatch: pytest.MonkeyPatch, module: object) -> list:
    """Keep the figure `module`'s save_figure is given (drawn, before it is closed)."""
    figures = []
    original = module.save_figure

    def keep(fig, path, **kw):
        fig.canvas.draw()
        figures.append(fig)
        return original(fig, path, **kw)

    monkeypatch.setattr(module, "save_figure", keep)
    return figures


def test_a_short_runs_loss_curve_shows_its_points_on_whole_steps_with_a_labelled_axis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo.viz

    figures = drawn_figure(monkeypatch, zoo.viz)
    plot_curves({"ddpm": [{"step": 10, "loss": 1.15}], "wgan": [{"step": s, "loss_d": 1.0, **({"loss_g": 2.0} if s == 5 else {})} for s in range(1, 7)]},
                tmp_path / "c.png")
    one, sparse = figures[0].axes
    assert [line.get_marker() for line in one.lines] == ["None", "o"], "one logged step: a marker, or nothing shows"
    assert sparse.get_ylabel() == "loss" and sparse.get_xlabel() == "step"
    assert all(float(t).is_integer() for t in one.get_xticks()), one.get_xticks()


def test_a_diverged_runs_curve_stops_at_its_null_and_drawing_leaves_the_backend_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib

    import zoo.viz

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # a notebook's own backend (inline, widget, ...): zoo's figures must not switch it
    try:
        figures = drawn_figure(monkeypatch, zoo.viz)
        records = [{"step": 1, "loss_d": 0.7}, {"step": 2, "loss_d": 0.6}, {"step": 3, "loss_d": None}]  # as metrics.jsonl logs a NaN
        plot_curves({"run": records}, tmp_path / "c.png")
        raw, smooth = figures[0].axes[0].lines
        assert list(raw.get_xdata()) == [1, 2] and matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)


def test_the_tsne_legend_is_beside_the_panels_not_over_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    import zoo.viz as viz

    figures = drawn_figure(monkeypatch, viz)
    rng = np.random.default_rng(0)
    emb = rng.uniform(-50, 50, (400, 2))  # points up to every edge of the panel
    panels = [(t, emb, rng.integers(0, 10, 400), rng.integers(0, 2, 400)) for t in ("Trained on source", "DANN")]
    viz.plot_tsne(panels, "domain", "MNIST-M -> Syn Digits", tmp_path / "t.png", ("mnistm", "syndigits"))
    fig = figures[0]
    legend = fig.legends[0].get_window_extent()
    for ax in fig.axes:
        box = ax.get_window_extent()
        assert legend.x0 >= box.x1 or legend.x1 <= box.x0, f"legend {legend} overlaps panel {ax.get_title()!r} {box}"


def test_statistics_that_cannot_be_cached_are_still_returned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo.metrics.features as features

    monkeypatch.setenv("ZOO_CACHE", str(tmp_path))

    def denied(path, stats):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(features, "save_stats", denied)
    feats = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    with pytest.warns(UserWarning, match=r"cannot write the t statistics cache .*Permission denied.*Set ZOO_CACHE"):
        stats, hit = cached_stats("t", {"k": 1}, lambda: gaussian_stats(feats))
    assert not hit and stats.n == 50


def test_a_damaged_statistics_cache_is_recomputed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path))
    feats = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    stats, hit = cached_stats("t", {"k": 1}, lambda: gaussian_stats(feats))
    path = stats_cache_path("t", {"k": 1})
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.warns(UserWarning, match="Recomputing it now"):
        again, hit = cached_stats("t", {"k": 1}, lambda: gaussian_stats(feats))
    assert not hit and torch.allclose(again.mu, stats.mu)
    assert cached_stats("t", {"k": 1}, lambda: pytest.fail("the repaired cache should answer"))[1]


def test_statistics_whose_values_changed_on_disk_are_recomputed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path))
    feats = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    stats, _ = cached_stats("t", {"k": 2}, lambda: gaussian_stats(feats))
    path = stats_cache_path("t", {"k": 2})
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x40  # one byte of sigma: the file still parses, the FID would be wrong
    path.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match=r"is damaged: its values do not match the digest written with them\. Delete it.*Recomputing it now"):
        again, hit = cached_stats("t", {"k": 2}, lambda: gaussian_stats(feats))
    assert not hit and torch.equal(again.sigma, stats.sigma)


def test_cached_features_are_read_back_and_a_damaged_or_unwritable_cache_is_only_recomputed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo.metrics.features as features

    monkeypatch.setenv("ZOO_CACHE", str(tmp_path))
    feats = torch.randn(30, 4, generator=torch.Generator().manual_seed(0))
    first, hit = features.cached_features("t", {"k": 1}, 30, lambda: feats)
    assert not hit and torch.equal(first, feats)
    again, hit = features.cached_features("t", {"k": 1}, 30, lambda: pytest.fail("the cache should answer"))
    assert hit and torch.equal(again, feats)
    (path,) = (tmp_path / "metrics").glob("features-t-*.safetensors")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x40  # one feature value: the file still parses, its digest no longer matches
    path.write_bytes(bytes(data))
    again, hit = features.cached_features("t", {"k": 1}, 30, lambda: feats)
    assert not hit and torch.equal(again, feats) and features.cached_features("t", {"k": 1}, 30, lambda: pytest.fail("repaired"))[1]

    def denied(path, done, total):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(features, "_save_partial", denied)
    with pytest.warns(UserWarning, match=r"cannot write the t features cache .*Permission denied"):
        out, hit = features.cached_features("t", {"k": 2}, 30, lambda: feats)
    assert not hit and torch.equal(out, feats)


def test_a_partial_feature_file_with_too_many_rows_is_not_trusted(tmp_path: Path) -> None:
    import safetensors.torch

    partial = tmp_path / "p.safetensors"
    from zoo.weights import tensor_digest

    rows = torch.zeros(20, 4)  # intact (its digest matches), but more rows than the total
    partial.write_bytes(safetensors.torch.save({"features": rows}, metadata={"total": "10", "sha256": tensor_digest(rows)}))
    out = extract_features(lambda x: x, lambda i, j: torch.ones(j - i, 4), 10, batch=5, progress=False, resume=partial)
    assert out.shape == (10, 4) and bool((out == 1).all())


def test_a_damaged_partial_feature_file_is_recomputed(tmp_path: Path) -> None:
    from zoo.metrics.features import _save_partial

    partial = tmp_path / "p.safetensors"
    _save_partial(partial, [torch.zeros(5, 4)], total=10)
    data = bytearray(partial.read_bytes())
    data[-1] ^= 0x40  # one value of the saved features: it still parses
    partial.write_bytes(bytes(data))
    out = extract_features(lambda x: x, lambda i, j: torch.ones(j - i, 4), 10, batch=5, progress=False, resume=partial)
    assert bool((out == 1).all()), "the damaged rows are computed again, not used"


def test_the_metrics_cache_sweeps_what_killed_writers_and_stale_partials_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import time

    monkeypatch.setenv("ZOO_CACHE", str(tmp_path))
    feats = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    cached_stats("t", {"k": 1}, lambda: gaussian_stats(feats))
    metrics = stats_cache_path("t", {"k": 1}).parent
    old, young = time.time() - 8 * 24 * 3600, time.time()
    leftovers = {metrics / ".t-x.safetensors.ab12ab12.tmp": old, metrics / "partial-abc.safetensors": old,
                 metrics / ".t-y.safetensors.cd34cd34.tmp": young, metrics / "partial-def.safetensors": young}
    for path, when in leftovers.items():
        path.write_bytes(b"x")
        os.utime(path, (when, when))
    assert cached_stats("t", {"k": 1}, lambda: pytest.fail("cached"))[1]  # a cache hit sweeps too
    assert sorted(p.name for p in leftovers if p.exists()) == [".t-y.safetensors.cd34cd34.tmp", "partial-def.safetensors"], \
        "a live writer's temporary and a resumable partial stay; an hour-old temporary and a week-old partial go"


def test_tsne_draws_every_class_and_any_number_of_domains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another domain-adaptation plugin's figures: 15 classes, three domains."""
    import zoo.viz as viz

    figures = drawn_figure(monkeypatch, viz)
    rng = np.random.default_rng(0)
    emb, classes, domains = rng.normal(size=(300, 2)), np.arange(300) % 15, np.arange(300) % 3
    viz.plot_tsne([("A", emb, classes, domains)], "class", "x", tmp_path / "c.png")
    viz.plot_tsne([("A", emb, classes, domains)], "domain", "x", tmp_path / "d.png", ("a", "b", "c"))
    by_class, by_domain = figures
    assert sum(len(c.get_offsets()) for c in by_class.axes[0].collections) == 300, "every point, of every class"
    assert [t.get_text() for t in by_domain.legends[0].get_texts()] == ["a", "b", "c"]


def test_an_interrupted_extraction_closes_its_bar_so_that_no_bar_is_drawn_after_the_interrupted_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo.metrics.features as features

    closed = []

    class Bar:
        def __enter__(self) -> "Bar":
            return self

        def __exit__(self, *exc: object) -> None:
            closed.append(exc[0])

        def update(self, n: int) -> None:
            pass

    def stopped(images: torch.Tensor) -> torch.Tensor:
        raise KeyboardInterrupt  # a Ctrl-C, or SIGTERM as the zoo command takes it, mid-extraction

    monkeypatch.setattr(features, "progress_bar", lambda *a, **k: Bar())
    with pytest.raises(KeyboardInterrupt):
        extract_features(stopped, lambda i, j: torch.ones(j - i, 4), 10, batch=5, progress=True)
    assert closed == [KeyboardInterrupt]
