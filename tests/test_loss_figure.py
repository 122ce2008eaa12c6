"""benchmarks/loss_figure.py: a committed loss figure redrawn from its kept log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import loss_figure  # noqa: E402


def run(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setattr(sys, "argv", ["loss_figure.py", *argv])
    return loss_figure.main()


def test_a_kept_json_log_is_drawn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "log.json"
    log.write_text(json.dumps([{"step": s, "loss_d": 1.0 / s, "loss_g": 2.0, "lr": 2e-4} for s in range(10, 910, 10)]))
    out = tmp_path / "figs" / "loss.png"
    assert run(monkeypatch, str(log), "--label", "dcgan on mnist", "--out", str(out)) == 0
    assert out.read_bytes()[:4] == b"\x89PNG" and [p.name for p in out.parent.iterdir()] == ["loss.png"]


def test_a_missing_log_is_named_and_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "figs" / "loss.png"
    assert run(monkeypatch, str(tmp_path / "nowhere"), "--label", "x", "--out", str(out)) == 1
    assert "training log" in capsys.readouterr().out and not (tmp_path / "figs").exists()


def test_the_committed_dcgan_mnist64_figure_is_what_its_log_draws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).parents[1]
    out = tmp_path / "loss.png"
    assert run(monkeypatch, str(root / "benchmarks/results/gan_train_log_dcgan.mnist64.json"), "--label", "dcgan on mnist", "--out", str(out)) == 0
    from PIL import Image
    import numpy as np
    a, b = (np.asarray(Image.open(p).convert("RGB"), dtype=int) for p in (out, root / "docs/figures/dcgan_mnist64_loss.png"))
    assert a.shape == b.shape and np.abs(a - b).max() <= 8, "docs/gan.md names this command for the figure"
