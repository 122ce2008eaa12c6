"""benchmarks/gan_gpu.sh: its recipes' flags, and VARIANTS and RESUME refused before anything takes device time."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "gan_gpu.sh"
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="gan_gpu.sh is a bash script")


def recipe(name: str) -> subprocess.CompletedProcess:
    body = subprocess.run(["sed", "-n", "/^recipe() {/,/^}/p", str(SCRIPT)], capture_output=True, text=True, check=True).stdout
    return subprocess.run(["bash", "-c", f'{body}\nrecipe "$1"', "-", name], capture_output=True, text=True)


@pytest.mark.parametrize(("name", "flags"), [
    ("osn", "--set soft_labels=true --set one_sided=true --set instance_noise=0.1"),
    ("osn_lr1_e4", "--set soft_labels=true --set one_sided=true --set instance_noise=0.1 --set lr=0.0001 --ema-decay 0.9999"),
    ("lr2", "--set lr=0.0002"),
    ("-", ""),
])
def test_a_recipe_is_its_parts_flags(name: str, flags: str) -> None:
    done = recipe(name)
    assert done.returncode == 0 and done.stdout.split() == flags.split()


def run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    # from an empty folder: the script's runs/gan_gpu is relative, and nothing may be moved or made
    return subprocess.run(["bash", str(SCRIPT)], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "OUT": str(tmp_path / "out"), "PY": "false", **env})


@pytest.mark.parametrize(("env", "says"), [
    ({"VARIANTS": "a:dcgan:64:osn_lr3"}, "unknown recipe part 'lr3' in 'osn_lr3'"),
    ({"VARIANTS": "a:dcgn:64:osn"}, "METHOD 'dcgn' is not dcgan or wgan_gp"),
    ({"VARIANTS": "a:dcgan:6x4:osn"}, "BATCH '6x4' is not a whole number"),
    ({"VARIANTS": "a:dcgan:64:osn a:wgan_gp:64:-"}, "its NAME must be unique, letters, digits, _ and - (not first)"),
    ({"VARIANTS": "-x:dcgan:64:osn"}, "its NAME must be unique"),  # tar took it for an option: the run never came back
    ({"VARIANTS": ".h:dcgan:64:osn"}, "its NAME must be unique"),  # a hidden folder: never judged nor packed
    ({"VARIANTS": "b.c:dcgan:64:osn"}, "its NAME must be unique"),  # a dot matched bxc in stage 2's grep
    ({"VARIANTS": "a:dcgan:64:osn", "RESUME": "b"}, "RESUME names b, which VARIANTS does not"),
    ({"VARIANTS": "a:dcgan:64:osn", "RESUME": "a"}, "no run runs/gan_gpu/a to resume on this machine"),
])
def test_bad_variants_or_resume_stop_before_anything_runs(tmp_path: Path, env: dict, says: str) -> None:
    done = run(tmp_path, **env)
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "no OUT, no runs folder: the check comes first"


def test_no_finished_run_ends_the_script_instead_of_waiting_on_stdin(tmp_path: Path) -> None:
    # every `zoo train` failing before it made its folder (e.g. CUDA missing) once left grep reading the terminal
    py = tmp_path / "py"
    py.write_text('#!/bin/bash\ncase "$*" in *"-m zoo train"*) exit 1 ;; esac\n')  # all else "works"; every training run fails
    py.chmod(0o755)
    fast = tmp_path / "gan_gpu.sh"
    fast.write_text(SCRIPT.read_text().replace("sleep 50", "sleep 0"))
    done = subprocess.run(["bash", str(fast)], cwd=tmp_path, capture_output=True, text=True, timeout=60, stdin=subprocess.PIPE,
                          env={**os.environ, "OUT": str(tmp_path / "out"), "PY": str(py), "VARIANTS": "a:dcgan:64:osn", "DEV": "cpu"})
    assert "no run folder to judge" in done.stdout, done.stdout[-500:]
