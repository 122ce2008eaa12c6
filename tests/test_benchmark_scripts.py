"""Every benchmark script still imports and builds its command line (most of them no other test runs)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(BENCHMARKS.glob("*.py"))


def test_there_are_scripts_to_check() -> None:
    assert len(SCRIPTS) >= 10, SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_help_runs(script: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # scripts that import a sibling, as `python benchmarks/x.py` lets them
    with pytest.raises(SystemExit) as stop:
        runpy.run_path(str(script), run_name="__main__")
    assert stop.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_folder_memory_measures_a_tiny_folder(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    script = BENCHMARKS / "folder_memory.py"
    monkeypatch.setattr(sys, "argv", [str(script), "--n", "12"])
    runpy.run_path(str(script), run_name="__main__")
    assert "images (3, 64, 64): the tensor holds" in capsys.readouterr().out



def test_checkpoint_sizes_of_the_seed_dcgan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import checkpoint_sizes

    got = checkpoint_sizes.sizes("dcgan", tmp_path / "run")
    full, slim, export = got["checkpoint.safetensors"], got["checkpoint.slim.safetensors"], got["model.safetensors"]
    assert 80 < full < 90 and 11 < slim < 13 and 6 < export < 7, got  # float32 G, D, EMA and Adam moments; float16 D and EMA; float16 EMA


def test_parallel_throughput_times_the_steps_after_the_warm_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import json

    from parallel_throughput import rate

    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps({"step": s, "time": 5.0 + 0.5 * s if s > 1 else 1.0}) + "\n" for s in range(1, 31)))
    assert rate(log, 10, 64) == pytest.approx(20 * 64 / (0.5 * 20)), "steps 11-30 at 0.5 s each; the slow first step left out"
