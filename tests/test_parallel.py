"""Data-parallel training under torchrun (zoo.parallel): two CPU processes (gloo) train one model, stop together, resume exactly."""

from __future__ import annotations

import json
import tomllib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from zoo.weights import load_tree

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="torch.distributed with gloo is not built in")

#: What each process of a test run executes: zoo.train on 64 fixed random images, with a fault of `mode`'s injected.
LAUNCHED = r'''
import os, signal, sys, torch
import zoo
from zoo.data import ImageSet
from zoo_plugins.dcgan.method import DCGAN

out, steps, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
g = torch.Generator().manual_seed(0)
images = ImageSet((torch.rand(64, 1, 16, 16, generator=g) * 255).to(torch.uint8), name="tiny")
step_of = DCGAN.train_step

def train_step(self, batch, step):
    if mode == "term" and step == 3 and os.environ["RANK"] == "1":  # one process alone is stopped (a scheduler's SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)  # torchrun's agent forwards it once more: the same stop, not "stop at once"
    losses = step_of(self, batch, step)
    if mode == "bypass":  # an update that is not Method.optimize's: each process's weights drift apart
        with torch.no_grad():
            next(self.generator.parameters()).add_(float(os.environ["RANK"]))
    return losses

DCGAN.train_step = train_step
if mode == "hide" and os.environ["RANK"] == "1":  # a process on a machine that does not share the run folder
    from zoo.training.resume import Resumable
    Resumable._resume = lambda self: False
zoo.train("dcgan", images, out, config={"nz": 8, "ngf": 4, "ndf": 4}, steps=steps, batch_size=8, device="cpu",
          checkpoint_every=2, log_every=1, progress=False)
'''


def tiny_images() -> object:
    """Return the images LAUNCHED trains on."""
    from zoo.data import ImageSet

    g = torch.Generator().manual_seed(0)
    return ImageSet((torch.rand(64, 1, 16, 16, generator=g) * 255).to(torch.uint8), name="tiny")


def torchrun(tmp_path: Path, out: Path, steps: int, mode: str = "") -> subprocess.CompletedProcess[str]:
    script = tmp_path / "launched.py"
    script.write_text(LAUNCHED)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script), str(out),
                           str(steps), mode], capture_output=True, text=True, timeout=300, env=env)


def test_two_processes_train_one_model_stop_together_and_resume_exactly(tmp_path: Path) -> None:
    straight = torchrun(tmp_path, tmp_path / "straight", 6)
    assert straight.returncode == 0, straight.stderr[-3000:]
    summary = json.loads((tmp_path / "straight" / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["steps"] == 6
    assert json.loads((tmp_path / "straight" / "run.json").read_text())["processes"] == 2
    assert [json.loads(line)["step"] for line in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3, 4, 5, 6], \
        "one log, written by process 0 alone"

    # a SIGTERM that reaches process 1 alone at step 3 (twice, as torchrun forwards it): both stop after that step, one checkpoint
    stopped = torchrun(tmp_path, tmp_path / "resumed", 6, "term")
    assert stopped.returncode != 0 and "stopped at step 3 of 6" in stopped.stderr, stopped.stderr[-3000:]
    state = load_tree(tmp_path / "resumed" / "checkpoint.safetensors", "")
    assert int(state["step"]) == 3 and state["parallel"]["world_size"] == 2 and state["parallel"]["rng_cpu"].shape[0] == 2
    assert not (tmp_path / "resumed" / "model.safetensors").exists()

    hidden = torchrun(tmp_path, tmp_path / "resumed", 6, "hide")
    assert hidden.returncode != 0 and "do not all see" in hidden.stderr and "shared file system" in hidden.stderr, hidden.stderr[-3000:]

    again = torchrun(tmp_path, tmp_path / "resumed", 6)
    assert again.returncode == 0, again.stderr[-3000:]
    resumed = json.loads((tmp_path / "resumed" / "summary.json").read_text())
    assert resumed["sha256"] == summary["sha256"], "each process's batches, noise and RNG go on where they stopped"

    import zoo
    from zoo.errors import ConfigError

    with pytest.raises(ConfigError, match=r"a run trained in 2 processes, and this one runs in 1: .*torchrun --nproc_per_node=2"):
        zoo.train("dcgan", tiny_images(), tmp_path / "straight", config={"nz": 8, "ngf": 4, "ndf": 4}, steps=8, batch_size=8, device="cpu",
                  checkpoint_every=2, log_every=1, progress=False)


def test_weights_that_drift_apart_between_processes_are_the_methods_fault_named(tmp_path: Path) -> None:
    run = torchrun(tmp_path, tmp_path / "run", 4, "bypass")
    assert run.returncode != 0
    assert "weights differ between the processes of this torchrun run at step 2" in run.stderr and "self.optimize(name, loss)" in run.stderr, \
        run.stderr[-3000:]
    assert not (tmp_path / "run" / "checkpoint.safetensors").exists()


def test_one_process_trains_as_before(tmp_path: Path) -> None:
    """Without torchrun nothing of this runs: no process group, no 'processes' in the records."""
    import zoo

    summary = zoo.train("dcgan", tiny_images(), tmp_path / "run", config={"nz": 8, "ngf": 4, "ndf": 4}, steps=2, batch_size=8, device="cpu",
                        progress=False)
    assert "processes" not in summary and "processes" not in json.loads((tmp_path / "run" / "run.json").read_text())
    assert "parallel" not in load_tree(tmp_path / "run" / "checkpoint.safetensors", "") and not dist.is_initialized()


def test_under_torchrun_a_gpu_named_by_number_or_mps_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each process takes the GPU of its LOCAL_RANK: cuda:0 for all of them would put every process on one GPU."""
    from zoo import parallel
    from zoo.errors import ConfigError

    monkeypatch.setenv("WORLD_SIZE", "2")
    for device in (torch.device("cuda", 0), torch.device("mps")):
        with pytest.raises(ConfigError, match="a GPU each, the one of their LOCAL_RANK"):
            parallel.start(device)
    assert not dist.is_initialized()
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert parallel.start(torch.device("cuda", 0)) == (torch.device("cuda", 0), False), "one process: the device as given"


def test_zoo_train_under_torchrun_speaks_once_and_its_entry_says_how_it_was_run(tmp_path: Path) -> None:
    """`torchrun -m zoo train`: the run's summary is printed once, by process 0, and the others say nothing."""
    from test_cli import face_folder

    faces = face_folder(tmp_path / "faces", n=16)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ZOO_REGISTRY": str(tmp_path / "registry.toml")}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "zoo", "train", "dcgan",
                          "--data", str(faces), "--set", "nz=4", "--set", "ngf=2", "--set", "ndf=2", "--steps", "2", "--batch-size", "4",
                          "--device", "cpu", "--out", str(tmp_path / "run"), "--register", "dcgan.two"],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout)  # one JSON object: a second process's would make this fail
    assert summary["processes"] == 2 and summary["steps"] == 2
    assert run.stderr.count("dcgan: ") == 2, "one progress bar (its start and end in a log), not one per process"
    assert run.stderr.count("registered 'dcgan.two'") == 1
    entry = tomllib.loads((tmp_path / "registry.toml").read_text())["models"]["dcgan.two"]["training"]
    assert entry["processes"] == 2 and entry["command"].startswith("torchrun --nproc_per_node=2 -m zoo train dcgan "), entry


def test_a_process_whose_peer_ended_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """When process 0 refuses a run (its folder busy) or crashes, the others' next collective fails in gloo: one line, not a traceback."""
    import zoo.cli
    from zoo.cli import main

    def peer_gone(args: object) -> int:
        raise RuntimeError("[gloo/transport/tcp/pair.cc:561] Connection closed by peer [127.0.0.1]:7055. This is typically caused by ...")

    monkeypatch.setitem(zoo.cli.COMMANDS, "list", peer_gone)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert main(["list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("zoo list: error: process 1 of this torchrun run: another process ended ([gloo/transport/tcp/pair.cc:561] Connection closed")
    assert "its own message says why" in err and "Traceback" not in err
    monkeypatch.setenv("WORLD_SIZE", "1")  # without torchrun the same words are nobody's peer: a bug, shown whole
    with pytest.raises(RuntimeError):
        main(["list"])
