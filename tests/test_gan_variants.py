"""benchmarks/gan_variants.py: every run judged alike in one table, failed runs listed, the floors applied as issue 4 states them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from zoo.loading import build_method, save_model
from zoo.training import TrainConfig, Trainer

from test_metrics_gan import real_folder
from test_training import TINY, images

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import gan_variants  # noqa: E402


def test_judges_every_run_alike_and_lists_the_failed_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    for name, batch in (("a_b4", 4), ("b_b8", 8)):
        Trainer("dcgan", {**TINY, "one_sided": True}, {"train": images()}, tmp_path / "runs" / name,
                TrainConfig(steps=1, batch_size=batch, device="cpu", progress=False)).fit()
    crashed = tmp_path / "runs" / "c_crashed"
    crashed.mkdir()
    (crashed / "run.json").write_text((tmp_path / "runs" / "a_b4" / "run.json").read_text())
    (tmp_path / "runs" / "d_never").mkdir()
    broken = tmp_path / "runs" / "e_broken"
    broken.mkdir()
    (broken / "run.json").write_text((tmp_path / "runs" / "a_b4" / "run.json").read_text())
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    clf = tmp_path / "clf.safetensors"
    save_model(build_method("classifier", {"width": 4}), clf)

    runs = sorted((tmp_path / "runs").iterdir())
    argv = ["gan_variants.py", *map(str, runs), "--n", "24", "--data", str(real_folder(tmp_path / "real")), "--split", "train",
            "--classifier", str(clf), "--out", str(tmp_path / "v.json"), "--md", str(tmp_path / "v.md"), "--grids", str(tmp_path / "grids"), "--pick", str(tmp_path / "pick.txt")]
    monkeypatch.setattr(sys, "argv", argv)
    assert gan_variants.main() == 0

    record = json.loads((tmp_path / "v.json").read_text())
    rows = {r["run"]: r for r in record["rows"]}
    assert record["n"] == 24 and record["seed"] == 0 and list(rows) == ["a_b4", "b_b8", "c_crashed", "d_never", "e_broken"]
    assert rows["a_b4"]["batch_size"] == 4 and rows["b_b8"]["batch_size"] == 8 and rows["a_b4"]["steps"] == 1
    assert rows["a_b4"]["config"]["one_sided"] is True and rows["a_b4"]["metrics"]["n"] == 24
    assert rows["a_b4"]["meets_floors"] is False, "an untrained generator cannot meet the floors"
    assert "did not finish" in rows["c_crashed"]["error"] and "never started" in rows["d_never"]["error"]
    assert rows["e_broken"]["error"].startswith("evaluation failed: ") and "metrics" not in rows["e_broken"]
    assert sorted(p.name for p in (tmp_path / "grids").iterdir()) == ["a_b4_first32.png", "b_b8_first32.png"]
    best = max(("a_b4", "b_b8"), key=lambda r: rows[r]["metrics"]["classifier_is"])
    assert (tmp_path / "pick.txt").read_text() == f"{tmp_path / 'runs' / best}\n", "one dcgan run judged best; the failed ones are never picked"
    table = capsys.readouterr().out.split("| run |")[-1]
    assert table.count("\n| ") == 6 and "| missed |" in table  # the header's rule and five rows
    md = (tmp_path / "v.md").read_text()
    assert md.startswith("| run |") and md.endswith(" |\n") and md.count("\n") == 7, "the header, its rule and five rows"
    assert all(md.count(f"| {name} |") == 1 for name in rows), "each run once: the progress lines stay on stdout"



def test_a_branch_counts_the_steps_and_time_of_the_runs_it_came_from(tmp_path: Path) -> None:
    # a run carried from one lent GPU to the next goes on as a branch (--init-from): its table row is the whole lineage
    def run(name: str, steps: int, source: str | None = None) -> None:
        Trainer("dcgan", TINY, {"train": images()}, tmp_path / name,
                TrainConfig(steps=steps, batch_size=4, device="cpu", progress=False, init_from=source)).fit()
    run("a", 3)
    run("b", 2, str(tmp_path / "a"))
    run("c", 1, str(tmp_path / "b"))
    row = gan_variants.describe(tmp_path / "c")
    elapsed = [json.loads((tmp_path / r / "summary.json").read_text())["wall_time_s"] for r in "ab"]
    assert (row["steps"], row["steps_before"]) == (1, 5) and row["wall_time_before_s"] == pytest.approx(sum(elapsed), abs=0.2)
    assert gan_variants.describe(tmp_path / "a")["steps_before"] == 0
    line = gan_variants.table([{**row, "error": "x"}]).splitlines()[-1]
    assert line.startswith(f"| c | dcgan | 4 | 5 + 1 | {row['wall_time_before_s'] / 60:.1f} + ")


@pytest.mark.parametrize(("is_", "lo", "hi", "met"), [(7.0, 0.04, 0.16, True), (6.99, 0.05, 0.15, False), (8.0, 0.039, 0.15, False), (8.0, 0.05, 0.161, False)])
def test_floors_are_issue_4s(is_: float, lo: float, hi: float, met: bool) -> None:
    assert gan_variants.meets_floors({"classifier_is": is_, "coverage_min": lo, "coverage_max": hi}) is met


def test_best_per_method_prefers_the_floors_then_the_score() -> None:
    def row(run: str, method: str, score: float, met: bool) -> dict:
        return {"run": run, "path": f"runs/{run}", "method": method, "metrics": {"classifier_is": score}, "meets_floors": met}

    rows = [row("a", "dcgan", 7.5, False), row("b", "dcgan", 7.2, True), row("c", "wgan_gp", 5.0, False), row("d", "wgan_gp", 6.0, False),
            {"run": "e", "path": "runs/e", "method": "wgan_gp", "error": "evaluation failed"}]
    assert gan_variants.best_per_method(rows) == {"dcgan": "runs/b", "wgan_gp": "runs/d"}  # a misses the coverage floor despite its IS
    assert gan_variants.best_per_method(rows[-1:]) == {}
