"""EMA snapshots (`--ema-snapshot-every`) and `zoo average`: what a run keeps, and the mean it exports."""

from __future__ import annotations

from pathlib import Path

import torch

import zoo
from zoo.data import ImageSet
from zoo.training import TrainConfig, Trainer
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
