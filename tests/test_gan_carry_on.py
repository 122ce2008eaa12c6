"""benchmarks/gan_carry_on.py: a branch of a carried GAN run judged against it alike, and carried on in its place only when better."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch

from zoo.loading import build_method, save_model
from zoo.training import TrainConfig, Trainer, slim_checkpoint
from zoo.weights import sha256_file

from test_metrics_gan import real_folder
from test_training import TINY, images

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import gan_carry_on  # noqa: E402

CARRIED = ("checkpoint.slim.safetensors", "run.json", "summary.json")


@pytest.fixture
def lineage(tmp_path: Path) -> tuple[Path, Path]:
    """A carried DCGAN run ``carry/dcgan_x`` (its slim checkpoint, run.json, summary.json) and a branch of it, ``runs/b``."""
    torch.manual_seed(0)
    train = TrainConfig(steps=2, batch_size=4, device="cpu", progress=False, ema_decay=0.9, export_dtype="float16")
    Trainer("dcgan", TINY, {"train": images()}, tmp_path / "runs" / "a", train).fit()
    slim_checkpoint(tmp_path / "runs" / "a")
    (tmp_path / "carry" / "dcgan_x").mkdir(parents=True)
    for f in CARRIED:
        shutil.copy2(tmp_path / "runs" / "a" / f, tmp_path / "carry" / "dcgan_x" / f)
    branch = TrainConfig(steps=1, batch_size=4, device="cpu", progress=False, ema_decay=0.9, export_dtype="float16",
                         init_from=str(tmp_path / "carry" / "dcgan_x"))
    Trainer("dcgan", TINY, {"train": images()}, tmp_path / "runs" / "b", branch).fit()
    return tmp_path / "carry", tmp_path / "runs" / "b"


def run_main(monkeypatch: pytest.MonkeyPatch, tmp: Path, run: Path, carry: Path, *extra: str) -> int:
    clf = tmp / "clf.safetensors"
    if not clf.is_file():
        save_model(build_method("classifier", {"width": 4}), clf)
    real = tmp / "real" if (tmp / "real").is_dir() else real_folder(tmp / "real")
    monkeypatch.setattr(sys, "argv", ["gan_carry_on.py", str(run), "--carry", str(carry), "--n", "24", "--data", str(real), "--split", "train",
                                      "--classifier", str(clf), "--out", str(tmp / "r.json"), *extra])
    return gan_carry_on.main()


@pytest.mark.parametrize("wins", [True, False])
def test_the_branch_takes_the_carried_runs_place_only_when_better(lineage: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture, wins: bool) -> None:
    carry, run = lineage
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    before = sha256_file(carry / "dcgan_x" / "checkpoint.slim.safetensors")
    judged = []
    monkeypatch.setattr(gan_carry_on, "better", lambda b, c: judged.append((b["run"], c["run"])) or wins)
    assert run_main(monkeypatch, tmp_path, run, carry, "--replace") == 0
    record = json.loads((tmp_path / "r.json").read_text())
    assert judged and judged[0] == ("b", "dcgan_x"), "the branch is compared with the run it came from"
    assert record["n"] == 24 and record["seed"] == 0 and record["replaced"] is wins and "command" in record
    assert record["carried"]["path"] == str(carry / "dcgan_x") and record["carried"]["metrics"]["n"] == 24
    assert record["branch"]["steps"] == 1 and record["branch"]["steps_before"] == 2, "the branch's row counts its source's steps"
    assert sorted(p.name for p in carry.iterdir()) == ["dcgan_x"], "nothing is left beside the carried run"
    now = carry / "dcgan_x"
    out = capsys.readouterr().out
    if wins:
        assert sha256_file(now / "checkpoint.slim.safetensors") == sha256_file(run / "checkpoint.slim.safetensors") != before
        assert json.loads((now / "run.json").read_text())["init_from"]["sha256"] == before, "the carried run now names what it went on from"
        assert f"carried {run} on as {now}" in out
    else:
        assert sha256_file(now / "checkpoint.slim.safetensors") == before and not (run / "checkpoint.slim.safetensors").exists()
        assert f"{now} stays" in out


def test_without_replace_the_carried_run_stays_whatever_the_scores(lineage: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    carry, run = lineage
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    before = sha256_file(carry / "dcgan_x" / "checkpoint.slim.safetensors")
    monkeypatch.setattr(gan_carry_on, "better", lambda b, c: True)
    assert run_main(monkeypatch, tmp_path, run, carry) == 0
    assert sha256_file(carry / "dcgan_x" / "checkpoint.slim.safetensors") == before
    assert json.loads((tmp_path / "r.json").read_text())["replaced"] is False


def test_runs_that_were_not_branched_from_a_carried_run_are_named(lineage: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture) -> None:
    carry, run = lineage
    assert run_main(monkeypatch, tmp_path, tmp_path / "runs" / "a", carry) == 1
    assert "was not branched from a run" in capsys.readouterr().out
    (carry / "dcgan_x" / "checkpoint.slim.safetensors").write_bytes(b"another run now")
    assert run_main(monkeypatch, tmp_path, run, carry) == 1
    assert f"which is not carried in {carry}" in capsys.readouterr().out
    assert run_main(monkeypatch, tmp_path, tmp_path / "nowhere", carry) == 1
    assert "no run.json there" in capsys.readouterr().out
    assert not (tmp_path / "r.json").exists()


def test_a_branch_that_has_not_exported_is_named(lineage: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    carry, run = lineage
    (run / "model.safetensors").unlink()
    assert run_main(monkeypatch, tmp_path, run, carry, "--replace") == 1
    assert "no model.safetensors" in capsys.readouterr().out


def metrics(is_: float, lo: float, hi: float) -> dict:
    return {"metrics": {"classifier_is": is_, "coverage_min": lo, "coverage_max": hi}, "meets_floors": is_ >= 7 and lo >= 0.04 and hi <= 0.16}


@pytest.mark.parametrize(("branch", "carried", "wins"), [
    (metrics(6.9, 0.05, 0.15), metrics(6.84, 0.07, 0.13), True),
    (metrics(6.8, 0.05, 0.15), metrics(6.84, 0.07, 0.13), False),
    (metrics(6.84, 0.07, 0.13), metrics(6.84, 0.07, 0.13), False),  # a tie keeps what is carried
    (metrics(6.95, 0.03, 0.15), metrics(6.84, 0.07, 0.13), False),  # a digit below 4%: the higher score does not count
    (metrics(6.5, 0.05, 0.15), metrics(6.84, 0.03, 0.13), True),
    (metrics(7.0, 0.04, 0.16), metrics(7.5, 0.03, 0.13), True),  # meeting the floors first
    ({"error": "x"}, metrics(1.0, 0.0, 1.0), False),
])
def test_better_weighs_the_floors_then_the_digits_then_the_score(branch: dict, carried: dict, wins: bool) -> None:
    assert gan_carry_on.better(branch, carried) is wins


def test_an_averaged_export_is_not_carried_on_for_the_ema_it_stands_for(lineage: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture) -> None:
    carry, run = lineage
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "averaged": {"snapshots": [1, 2], "command": "zoo average"}}))
    before = sha256_file(carry / "dcgan_x" / "checkpoint.slim.safetensors")
    assert run_main(monkeypatch, tmp_path, run, carry, "--replace") == 1
    assert "the mean of its snapshots [1, 2] (zoo average)" in capsys.readouterr().out
    assert sha256_file(carry / "dcgan_x" / "checkpoint.slim.safetensors") == before
