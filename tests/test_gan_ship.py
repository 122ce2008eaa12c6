"""benchmarks/gan_ship.py: every run is checked (its method, its judging, the floors) before anything is registered."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import gan_ship  # noqa: E402


def run_folder(tmp: Path, name: str, method: str) -> Path:
    run = tmp / name
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"method": method, "config": {}, "train": {"batch_size": 64}}))
    (run / "metrics.jsonl").write_text('{"step": 100, "loss_d": 0.7, "loss_g": 2.0}\n')
    return run


def judged(score: float, lo: float = 0.05, hi: float = 0.15, error: str | None = None):
    def judge(run: Path, **_: object) -> dict:
        if error:
            return {"run": run.name, "error": error}
        m = {"n": 10000, "classifier_is": score, "coverage_min": lo, "coverage_max": hi}
        return {"run": run.name, "metrics": m, "meets_floors": gan_ship.FLOORS["classifier_is"] <= score and 0.04 <= lo and hi <= 0.16}
    return judge


@pytest.fixture
def ship(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    registered: list[list[str]] = []
    monkeypatch.setattr(gan_ship, "zoo", lambda argv: registered.append(argv) or 1)  # the first zoo command stops the script
    def go(*argv: str) -> tuple[int | str | None, list[list[str]]]:
        monkeypatch.setattr(sys, "argv", ["gan_ship.py", *argv, "--fid-n", "0"])
        try:
            return gan_ship.main(), registered
        except SystemExit as e:
            return e.code, registered
    return go


def test_a_run_below_the_floors_is_refused_with_its_scores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ship) -> None:
    monkeypatch.setattr(gan_ship, "judge", judged(6.69))
    code, registered = ship("--dcgan-run", str(run_folder(tmp_path, "a", "dcgan")))
    assert "misses issue 4's floors on 10000 samples: classifier IS 6.69 (floor 7)" in code and "--below-floors" in code
    assert registered == [], "nothing registered"


def test_below_floors_ships_a_rehearsal_outside_the_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ship) -> None:
    monkeypatch.setattr(gan_ship, "judge", judged(1.0, 0.0, 1.0))
    run = str(run_folder(tmp_path, "a", "dcgan"))
    code, registered = ship("--dcgan-run", run, "--below-floors")
    assert "pass --figures DIR and --logs DIR outside the repository" in code and registered == [], "the shipped figures stay"
    code, registered = ship("--dcgan-run", run, "--below-floors", "--figures", str(tmp_path / "f"), "--logs", str(tmp_path / "l"))
    assert code == 1 and registered[0][:3] == ["register", run, "dcgan.mnistm64"]


def test_a_run_of_the_other_method_is_named_before_either_is_judged_or_registered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ship) -> None:
    seen: list[Path] = []
    monkeypatch.setattr(gan_ship, "judge", lambda run, **kw: seen.append(run) or judged(7.5)(run))
    code, registered = ship("--dcgan-run", str(run_folder(tmp_path, "a", "dcgan")), "--wgan-run", str(run_folder(tmp_path, "b", "dcgan")))
    assert "--wgan-run" in code and "is a 'dcgan' run; wgan_gp.mnistm64 needs a 'wgan_gp' run (pass this one as --dcgan-run)" in code
    assert registered == [] and seen == [], "the good DCGAN run is neither judged (minutes on a CPU) nor registered"


def test_a_run_that_logged_nothing_stops_before_registering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ship) -> None:
    # a dry run of gan_gpu.sh (fewer steps than --log-every 100) once registered, then failed on its empty log
    monkeypatch.setattr(gan_ship, "judge", judged(7.5))
    run = run_folder(tmp_path, "a", "dcgan")
    (run / "metrics.jsonl").write_text("")
    code, registered = ship("--dcgan-run", str(run))
    assert "holds no records" in code and registered == []


def test_a_run_that_cannot_be_judged_stops_before_registering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ship) -> None:
    monkeypatch.setattr(gan_ship, "judge", judged(0, error="evaluation failed: DataError: dataset 'mnistm' needs its files"))
    code, registered = ship("--wgan-run", str(run_folder(tmp_path, "b", "wgan_gp")))
    assert "evaluation failed: DataError" in code and registered == []
    code, registered = ship("--wgan-run", str(tmp_path / "nowhere"))
    assert "no run.json there" in code and registered == []


def test_the_figures_and_logs_go_to_the_repository_wherever_it_runs() -> None:
    # run from another folder, the figures went to ./docs/figures there while the logs went to the repository
    root = Path(__file__).parents[1]
    assert gan_ship.FIGURES == root / "docs" / "figures" and gan_ship.RESULTS == root / "benchmarks" / "results"


def test_the_shipped_evaluation_is_one_the_gan_evaluator_takes_and_asks_for_fid_and_kid() -> None:
    from zoo.metrics.gan import GANEvalOptions

    table = gan_ship.evaluation(10000, 5000)["gan"]
    options = GANEvalOptions(**table)
    assert options.fid and options.kid and options.fid_n == 5000 and options.n == 10000
    assert not GANEvalOptions(**gan_ship.evaluation(10000, None)["gan"]).fid
