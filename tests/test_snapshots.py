"""EMA snapshots (`--ema-snapshot-every`) and `zoo average`: what a run keeps, and the mean it exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import zoo
from zoo.cli import main
from zoo.data import ImageSet
from zoo.errors import ConfigError, ZooError
from zoo.files import folder_lock
from zoo.registration import register_run
from zoo.training import TrainConfig, Trainer, average_run, mean_state
from zoo.training.runs import snapshots

TINY = {"nz": 4, "ngf": 2, "ndf": 2}


def images() -> ImageSet:
    g = torch.Generator().manual_seed(0)
    return ImageSet(torch.randint(0, 256, (24, 1, 20, 20), dtype=torch.uint8, generator=g), None, "random")


def train(out: Path, steps: int, **kw: object) -> Trainer:
    cfg = TrainConfig(steps=steps, batch_size=4, device="cpu", progress=False, checkpoint_every=2, ema_decay=0.5, **kw)
    trainer = Trainer("dcgan", TINY, {"train": images()}, out, cfg)
    trainer.fit()
    return trainer


def test_a_run_keeps_its_ema_every_n_steps_and_at_the_end_of_each_sitting(tmp_path: Path) -> None:
    trainer = train(tmp_path, 5, ema_snapshot_every=2)
    kept = snapshots(tmp_path)
    assert list(kept) == [2, 4, 5]
    last, _ = zoo.weights.read_weights(kept[5])
    exported, _ = zoo.weights.read_weights(tmp_path / "model.safetensors")
    assert all(torch.equal(last[k], exported[k]) for k in exported), "the last snapshot is the export"
    assert not torch.equal(zoo.weights.read_weights(kept[2])[0]["generator.main.0.weight"], last["generator.main.0.weight"])
    assert trainer.step == 5


def test_no_snapshots_unless_asked(tmp_path: Path) -> None:
    train(tmp_path, 3)
    assert not (tmp_path / "snapshots").exists()


def test_a_resume_drops_the_snapshots_a_killed_sitting_made_past_its_checkpoint(tmp_path: Path) -> None:
    train(tmp_path, 4, ema_snapshot_every=1)
    straight = {s: zoo.weights.read_weights(p)[0] for s, p in snapshots(tmp_path).items()}
    # as if the sitting had died after step 3's snapshot, before a checkpoint past step 2: rewind its checkpoint
    other = tmp_path.parent / "other"
    train(other, 2, ema_snapshot_every=1)
    (tmp_path / "checkpoint.safetensors").write_bytes((other / "checkpoint.safetensors").read_bytes())
    stale = snapshots(tmp_path)[3]
    stale.write_bytes(snapshots(other)[1].read_bytes())  # what the lost steps left, which must not be averaged
    train(tmp_path, 4, ema_snapshot_every=2)  # snapshots every 2 steps now: step 3's is not made anew
    again = {s: zoo.weights.read_weights(p)[0] for s, p in snapshots(tmp_path).items()}
    assert list(again) == [1, 2, 4]
    assert all(torch.equal(again[s][k], straight[s][k]) for s in again for k in again[s]), "made anew, as the straight run made them"


def test_mean_state_sums_in_double_and_keeps_the_last_counter() -> None:
    a = {"w": torch.tensor([1.0, 2.0], dtype=torch.float16), "n": torch.tensor(3)}
    b = {"w": torch.tensor([2.0, 5.0], dtype=torch.float16), "n": torch.tensor(7)}
    mean = mean_state([a, b])
    assert mean["w"].dtype == torch.float16 and mean["w"].tolist() == [1.5, 3.5] and mean["n"].item() == 7
    with pytest.raises(ValueError):
        mean_state([])


def test_zoo_average_exports_the_mean_of_the_last_k_snapshots_and_the_registry_records_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    train(run, 5, ema_snapshot_every=2)
    plain = json.loads((run / "summary.json").read_text())["sha256"]
    kept = snapshots(run)
    assert main(["average", str(run), "--last", "2"]) == 0
    assert "mean of 2 snapshots (steps 4-5)" in capsys.readouterr().out
    want = mean_state([zoo.weights.read_weights(kept[4])[0], zoo.weights.read_weights(kept[5])[0]])
    got, _ = zoo.weights.read_weights(run / "model.safetensors")
    assert all(torch.equal(got[k], want[k]) for k in want)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["averaged"] == {"snapshots": [4, 5], "command": f"zoo average {run} --last 2"} and summary["sha256"] != plain
    zoo.load(run)  # its sha256 checks against the new summary
    entry = register_run(run, "dcgan.avg", path=tmp_path / "registry.toml")
    assert entry.training.averaged.snapshots == [4, 5] and entry.training.steps == 5
    assert main(["average", str(run), "--last", "1"]) == 0  # the plain EMA again, byte for byte
    assert json.loads((run / "summary.json").read_text())["sha256"] == plain
    train(run, 6, ema_snapshot_every=2)  # a later sitting exports its own EMA, and says nothing of an average
    assert "averaged" not in json.loads((run / "summary.json").read_text())


def test_zoo_average_keeps_the_runs_export_precision(tmp_path: Path) -> None:
    train(tmp_path, 2, ema_snapshot_every=1, export_dtype="float16")
    average_run(tmp_path)
    got, _ = zoo.weights.read_weights(tmp_path / "model.safetensors")
    assert got["generator.main.0.weight"].dtype == torch.float16


def test_zoo_average_names_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"is no finished training run: run.json is missing"):
        average_run(tmp_path)
    train(tmp_path, 3)
    with pytest.raises(ConfigError, match=r"keeps no snapshots .*--ema-snapshot-every N"):
        average_run(tmp_path)
    train(tmp_path, 4, ema_snapshot_every=2)  # a later sitting keeps them: steps 4 only
    with pytest.raises(ConfigError, match=r"last=2: .* keeps 1 snapshot \(step 4\)\. Give a count from 1 to 1"):
        average_run(tmp_path, 2)
    with folder_lock(tmp_path, busy="busy"), pytest.raises(ZooError, match="training now"):
        average_run(tmp_path)
    snapshots(tmp_path)[4].rename(tmp_path / "snapshots" / "step-00000003.safetensors")
    with pytest.raises(zoo.WeightsError, match=r"latest snapshot is of step 3, and its export of step 4"):
        average_run(tmp_path)
