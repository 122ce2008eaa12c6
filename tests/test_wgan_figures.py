"""`zoo gan-figures`: the seed's Problem 1 figures from two registered GANs and their training logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

import zoo
from zoo.cli import main
from zoo.errors import DataError
from zoo.loading import build_method, param_count, save_model
from zoo.registration import update_entry
from zoo.gan_figures import read_run_records


@pytest.fixture
def two_gans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    registry = tmp_path / "registry.toml"
    monkeypatch.setenv("ZOO_REGISTRY", str(registry))
    runs = {}
    for method in ("dcgan", "wgan_gp"):
        torch.manual_seed(0)
        model = build_method(method, {"nz": 8, "ngf": 4, "ndf": 4})
        sha = save_model(model, tmp_path / "weights" / f"{method}.safetensors")
        update_entry(f"{method}.tiny", {"method": method, "config": model.config.model_dump(), "weights": f"weights/{method}.safetensors",
                                        "sha256": sha, "data": "random", "params": param_count(model)}, registry)
        run = tmp_path / f"run_{method}"
        run.mkdir()
        (run / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "loss_d": 1.0 / s, "loss_g": float(s)}) + "\n" for s in range(1, 6)))
        runs[method] = run
    return runs


def test_writes_first_32_grids_side_by_side_and_loss_curves(two_gans: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "figures"
    status = main(["gan-figures", "dcgan.tiny", "wgan_gp.tiny", "--runs", str(two_gans["dcgan"]), str(two_gans["wgan_gp"] / "metrics.jsonl"), "--out", str(out)])
    assert status == 0
    with Image.open(out / "gan_dcgan_tiny_first32.png") as grid:
        assert grid.size == (8 * 66 + 2, 4 * 66 + 2)  # 8 x 4 images of 64 px, 2 px padding: `zoo sample -n 32`'s grid
    for name in ("gan_wgan_gp_tiny_first32.png", "gan_side_by_side.png", "gan_loss_curves.png"):
        assert (out / name).stat().st_size > 1000


def test_the_grid_is_what_zoo_sample_writes(two_gans: dict[str, Path], tmp_path: Path) -> None:
    main(["gan-figures", "wgan_gp.tiny", "--out", str(tmp_path / "f")])
    main(["sample", "wgan_gp.tiny", "-n", "32", "--seed", "0", "--out", str(tmp_path / "s.png")])
    assert (tmp_path / "f" / "gan_wgan_gp_tiny_first32.png").read_bytes() == (tmp_path / "s.png").read_bytes()


def test_weights_files_work_too_with_a_prefix(two_gans: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "f"
    weights = tmp_path / "run_x" / "model.safetensors"
    weights.parent.mkdir()
    weights.write_bytes((tmp_path / "weights" / "dcgan.safetensors").read_bytes())
    assert main(["gan-figures", str(weights), "wgan_gp.tiny", "--prefix", "gan_cpu_", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["gan_cpu_run_x_first32.png", "gan_cpu_side_by_side.png", "gan_cpu_wgan_gp_tiny_first32.png"]


def test_logs_must_match_the_models_and_exist(two_gans: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["gan-figures", "dcgan.tiny", "wgan_gp.tiny", "--runs", str(two_gans["dcgan"]), "--out", str(tmp_path)]) == 2
    assert "one training log per model: 2 models, 1 logs" in capsys.readouterr().err
    # the models after --runs: that option takes them, and the error says so rather than "required: models"
    assert main(["gan-figures", "--runs", "runs/a", "runs/b", "dcgan.tiny", "wgan_gp.tiny", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "needs at least one model (--runs took every word after it: runs/a runs/b dcgan.tiny wgan_gp.tiny)" in err
    assert "Name the models first" in err
    with pytest.raises(DataError, match="does not exist"):
        read_run_records(tmp_path / "nowhere")
    records = tmp_path / "records.json"
    records.write_text(json.dumps([{"step": 1, "loss_d": 0.5}]))
    assert read_run_records(records) == [{"step": 1, "loss_d": 0.5}]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.json", "{bad", r"bad\.json is not valid JSON"),
        ("list.json", "[1, 2]", r"list\.json holds 1; expected records like"),
        ("nostep.jsonl", '{"loss_d": 1.0}\n', r"nostep\.jsonl holds \{'loss_d': 1\.0\}; expected .* each with its step"),
    ],
)
def test_malformed_logs_are_named_before_anything_is_sampled(two_gans: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture,
                                                             name: str, text: str, message: str) -> None:
    (tmp_path / name).write_text(text)
    out = tmp_path / "figures"
    assert main(["gan-figures", "dcgan.tiny", "--runs", str(tmp_path / name), "--out", str(out)]) == 4
    import re

    assert re.search(message, capsys.readouterr().err) and not out.exists()


def test_runs_alike_in_name_get_their_parents_names_and_one_model_twice_is_refused(two_gans: dict[str, Path], tmp_path: Path,
                                                                                    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo.gan_figures as gan_figures

    # a lab's runs: alice/dcgan, bob/dcgan, ... (the README's `--out runs/dcgan` in each student's folder)
    for run in ("alice", "bob"):
        (tmp_path / run / "dcgan").mkdir(parents=True)
        (tmp_path / run / "dcgan" / "model.safetensors").write_bytes((tmp_path / "weights" / "dcgan.safetensors").read_bytes())
    out = tmp_path / "figures"
    drawn = gan_figures.side_by_side
    titled: list[str] = []
    monkeypatch.setattr(gan_figures, "side_by_side", lambda grids, path, titles: (titled.extend(titles.values()), drawn(grids, path, titles))[1])
    assert main(["gan-figures", str(tmp_path / "alice/dcgan"), str(tmp_path / "bob/dcgan/model.safetensors"), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["gan_alice_dcgan_first32.png", "gan_bob_dcgan_first32.png", "gan_side_by_side.png"]
    assert titled == ["Method A (DCGAN): alice_dcgan", "Method B (DCGAN): bob_dcgan"], "lettered by position: two runs of one method are A and B"
    capsys.readouterr()
    out2 = tmp_path / "figures2"
    assert main(["gan-figures", str(tmp_path / "alice/dcgan"), str(tmp_path / "alice/dcgan/model.safetensors"), "--out", str(out2)]) == 2
    assert "would all write gan_dcgan_first32.png: they are one model. Name each model once." in capsys.readouterr().err and not out2.exists()


def test_an_out_that_is_a_file_is_refused_before_sampling(two_gans: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "a_file").write_text("x")
    assert main(["gan-figures", "dcgan.tiny", "--out", str(tmp_path / "a_file")]) == 7
    assert "cannot write" in capsys.readouterr().err


def test_labels_tell_runs_apart_and_know_one_run_named_two_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.gan_figures import labels

    for folder in ("runs/lr0.0002", "runs/lr0.0001", "eve/my run", "frank/my_run", "x/alice/dcgan"):
        (tmp_path / folder).mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "runs")
    got = labels(["lr0.0002", "lr0.0001", "../eve/my run", "../frank/my_run", "../x/alice/dcgan", "../../" + tmp_path.name + "/x/alice/dcgan",
                  "../x/alice/dcgan/model.safetensors", "w.safetensors"])
    assert got["lr0.0002"] == "lr0_0002" and got["lr0.0001"] == "lr0_0001", "a run folder's dots are not a file suffix"
    assert got["../eve/my run"] == "eve_my_run" and got["../frank/my_run"] == "frank_my_run", "alike only once made file-name-safe"
    assert {got["../x/alice/dcgan"], got["../../" + tmp_path.name + "/x/alice/dcgan"], got["../x/alice/dcgan/model.safetensors"]} == {"dcgan"}
    assert got["w.safetensors"] == "w"


def test_gan_figures_is_zoos_own_command_whichever_gan_plugins_are_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.plugins import get_plugin_manager, reset_plugin_manager

    monkeypatch.setenv("ZOO_BLOCK_PLUGINS", "wgan_gp")
    reset_plugin_manager()
    try:
        assert "gan-figures" in get_plugin_manager().commands() and "wgan_gp" not in zoo.methods()
    finally:
        monkeypatch.delenv("ZOO_BLOCK_PLUGINS")
        reset_plugin_manager()


def test_each_grid_is_announced_as_it_is_written_so_a_stop_leaves_it_said(two_gans: dict[str, Path], tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from zoo_plugins.wgan_gp.method import WGANGP

    def interrupted(self: object, *args: object, **kwargs: object) -> None:  # a Ctrl-C while the second model samples
        raise KeyboardInterrupt

    monkeypatch.setattr(WGANGP, "sample", interrupted)
    out = tmp_path / "f"
    assert main(["gan-figures", "dcgan.tiny", "wgan_gp.tiny", "--out", str(out)]) == 130
    said = capsys.readouterr()
    assert said.out == f"wrote {out / 'gan_dcgan_tiny_first32.png'} (dcgan.tiny: first 32 images, seed 0)\n", said
    assert sorted(p.name for p in out.iterdir()) == ["gan_dcgan_tiny_first32.png"]
