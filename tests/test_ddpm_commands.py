"""`zoo ddpm-grid` and `zoo ddpm-frames` on a tiny saved model: files written, frames of exactly the grid's digit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

import zoo
from zoo.cli import main
from zoo_plugins.ddpm.commands import digit_grid, reverse_frames


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ddpm") / "tiny.safetensors"
    zoo.save_model(zoo.build_method("ddpm", {"n_feat": 8, "n_T": 20}), path)
    return path


def test_grid_command_writes_rows_of_digits(weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "grid.png"
    assert main(["ddpm-grid", str(weights), "--out", str(out), "--per-class", "2", "--sampler", "ddim", "--steps", "2"]) == 0
    with Image.open(out) as im:
        assert im.size == (2 * 30 + 2, 10 * 30 + 2), "10 rows (digits) of 2 columns, 28 px images with 2 px padding"
    err = capsys.readouterr().err
    assert "ddpm-grid: 100%" in err and " 2/2 " in err, err  # a total: the 2 DDIM steps of the one batch, not the starting noise
    assert main(["ddpm-grid", str(weights), "--out", str(out), "--per-class", "2", "--sampler", "ddim", "--steps", "2", "--quiet"]) == 0
    assert "ddpm-grid: " not in capsys.readouterr().err


def test_frames_command_writes_one_panel_per_time(weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "frames.png"
    assert main(["ddpm-frames", str(weights), "--out", str(out), "--times", "20,19,10,0"]) == 0
    printed = capsys.readouterr()
    assert out.is_file() and "t = 20, 19, 10, 0" in printed.out
    assert "ddpm-frames: 100%" in printed.err and " 20/20 " in printed.err, printed.err  # the seed's 20 steps of the one batch
    assert main(["ddpm-frames", str(weights), "--out", str(out), "--times", "20,19,10,0", "--quiet"]) == 0
    assert "ddpm-frames: " not in capsys.readouterr().err
    assert main(["ddpm-frames", str(weights), "--out", str(out), "--times", "0,10,19,20", "--quiet"]) == 0
    assert "t = 0, 10, 19, 20" in capsys.readouterr().out, "panels in the order asked for, as the seed report lists them"
    assert main(["ddpm-frames", str(weights), "--out", str(out), "--times", "20,21"]) == 2
    assert "ddpm-frames: 0%" not in capsys.readouterr().err, "a refused request draws no bar"
    with pytest.raises(SystemExit):
        main(["ddpm-frames", str(weights), "--out", str(out), "--times", "20,x"])
    assert "argument --times: expected comma-separated whole numbers" in capsys.readouterr().err


def test_bad_counts_and_outputs_fail_before_sampling(weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["ddpm-frames", str(weights), "--per-class", "0", "--out", str(tmp_path / "f.png")])
    assert "argument --per-class: expected a whole number from 1 to 1,000, got 0" in capsys.readouterr().err
    assert main(["ddpm-grid", str(weights), "--out", str(tmp_path)]) == 7  # a folder: refused before the 100 samples
    assert f"cannot write {tmp_path}" in capsys.readouterr().err
    out = str(tmp_path / "g.png")
    # on the command line, the knobs --set can still set (the rest have flags)
    assert main(["ddpm-grid", str(weights), "--sampler", "ddim", "--set", "etta=0.5", "--out", out]) == 2
    assert "sampler ddim takes no sampling option ['etta']; it takes steps, sampler and guidance and, with sampler ddim, eta (--set eta=VALUE)." \
        in capsys.readouterr().err
    assert main(["ddpm-grid", str(weights), "--set", "steps=3", "--set", "batch_size=4", "--out", out]) == 2
    assert "--set batch_size, steps: not knobs of the sampler's own (batch_size: not from the command line; steps: --steps)" in capsys.readouterr().err


def test_frames_follow_exactly_the_grids_image(weights: Path) -> None:
    model = zoo.load_file(weights)
    grid = digit_grid(model, per_class=2, seed=5, sampler="ddpm")
    frames = reverse_frames(model, (20, 10, 0), label=1, per_class=2, seed=5, sampler="ddpm")
    assert list(frames) == [20, 10, 0]
    assert torch.allclose(frames[0], grid[2], atol=1e-5), "the first '1' of the grid is image 2"
    assert not torch.allclose(frames[10], frames[0])
    with pytest.raises(zoo.ConfigError, match="--label"):
        reverse_frames(model, (0,), label=10)


def test_the_figures_take_a_plugins_subclass_of_ddpm(weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo_plugins.ddpm.commands as commands
    from zoo_plugins.ddpm.method import DDPM

    class Variant(DDPM):
        name = "ddpm_variant_test"

    variant = Variant({"n_feat": 8, "n_T": 20}).eval()
    monkeypatch.setattr(commands, "load_any", lambda name, device=None: variant)  # as a plugin's registered variant loads
    assert main(["ddpm-grid", "variant.mine", "--out", str(tmp_path / "grid.png"), "--per-class", "1", "--sampler", "ddim", "--steps", "2", "--quiet"]) == 0
    monkeypatch.setattr(commands, "load_any", lambda name, device=None: zoo.build_method("dcgan", {"nz": 4, "ngf": 2, "ndf": 2}))
    assert main(["ddpm-grid", "dcgan.mine", "--out", str(tmp_path / "grid2.png"), "--quiet"]) == 2
