"""benchmarks/gan_gpu_unpack.py: the device's files unpacked safely, the MNIST-M digest compared, the tables kept, the floors applied."""

from __future__ import annotations

import io
import json
import shutil
import sys
import tarfile
from pathlib import Path

import pytest
import torch

from zoo.data.registry import data_root
from zoo.training import TrainConfig, Trainer

from test_training import TINY, images

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import gan_gpu_unpack  # noqa: E402

DIGEST = "ab" * 32


def row(run: str, method: str, score: float, met: bool) -> dict:
    metrics = {"classifier_is": score, "coverage_min": 0.05, "coverage_max": 0.15}
    return {"run": run, "path": f"runs/gan_gpu/{run}", "method": method, "metrics": metrics, "meets_floors": met}


def device_files(tmp: Path, rows: list[dict], digest: str = DIGEST) -> Path:
    """Return a folder shaped like what gan_gpu.sh's $OUT brings back: run_NAME.tar per run and results.tar.gz."""
    torch.manual_seed(0)
    runs, files, results = tmp / "device_runs", tmp / "files", tmp / "results"
    files.mkdir()
    results.mkdir()
    for name in ("dcgan_b64", "dcgan_b256"):
        Trainer("dcgan", TINY, {"train": images()}, runs / name, TrainConfig(steps=1, batch_size=4, device="cpu", progress=False)).fit()
        with tarfile.open(files / f"run_{name}.tar", "w") as t:
            for f in ("model.safetensors", "run.json", "summary.json", "metrics.jsonl"):
                t.add(runs / name / f, f"{name}/{f}")
    (results / "machine.txt").write_text(f"Sun Nov 29 2026\nGPU 0: NVIDIA H200 (UUID: GPU-1234)\ntorch 2.11.0\nmnistm digest {digest}\n")
    (results / "gan_variants.json").write_text(json.dumps({"n": 10000, "seed": 0, "rows": rows}))
    (results / "gan_variants.md").write_text("| run |\n")
    (results / "gan_throughput_cuda.json").write_text("[]\n")
    with tarfile.open(files / "results.tar.gz", "w:gz") as t:
        t.add(results, ".")
    return files


def run_main(monkeypatch: pytest.MonkeyPatch, files: Path, tmp: Path) -> int:
    monkeypatch.setattr(gan_gpu_unpack, "local_digest", lambda: DIGEST)
    monkeypatch.setattr(sys, "argv", ["gan_gpu_unpack.py", str(files), "--runs", str(tmp / "runs"), "--results", str(tmp / "kept")])
    return gan_gpu_unpack.main()


def test_unpacks_keeps_the_tables_and_proposes_only_runs_that_meet_the_floors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    rows = [row("dcgan_b64", "dcgan", 7.4, True), row("dcgan_b256", "dcgan", 7.9, True), row("wgan_gp_b64", "wgan_gp", 6.4, False)]
    files = device_files(tmp_path, rows)
    assert run_main(monkeypatch, files, tmp_path) == 0
    out = capsys.readouterr().out
    ship = tmp_path / "runs" / "dcgan_b256"
    assert f"ship with:\n    ZOO_DATA={data_root()} python benchmarks/gan_ship.py --dcgan-run {ship}\n" in out
    assert "wgan_gp: no run meets the floors" in out and "best run wgan_gp_b64: classifier IS 6.40" in out and "--wgan-run" not in out
    assert (ship / "model.safetensors").is_file() and (tmp_path / "runs" / "dcgan_b64" / "run.json").is_file()
    date = json.loads((ship / "summary.json").read_text())["date"]
    kept = sorted(p.name for p in (tmp_path / "kept").iterdir())
    assert kept == sorted([f"gan_variants_h200_{date}.json", f"gan_variants_h200_{date}.md", f"gan_gpu_machine_h200_{date}.txt",
                           f"gan_throughput_h200_{date}.json"])


def test_a_different_mnistm_stops_before_anything_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    files = device_files(tmp_path, [row("dcgan_b64", "dcgan", 7.4, True)], digest="cd" * 32)
    assert run_main(monkeypatch, files, tmp_path) == 1
    out = capsys.readouterr().out
    assert "the device built MNIST-M cdcdcdcd" in out and "ship with" not in out and not (tmp_path / "kept").exists()
    assert run_main(monkeypatch, files, tmp_path) == 1 and "exists already" in capsys.readouterr().out


def test_a_member_outside_the_folder_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    files = device_files(tmp_path, [])
    with tarfile.open(files / "run_evil.tar", "w") as t:
        data = b"x"
        info = tarfile.TarInfo("../../evil.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    assert run_main(monkeypatch, files, tmp_path) == 1
    assert "gan_gpu_unpack:" in capsys.readouterr().out and not (tmp_path / "evil.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["device_runs", "files", "results"], "no runs folder, whole or half"


def test_no_results_names_the_folder_to_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    assert run_main(monkeypatch, tmp_path, tmp_path) == 1
    assert "holds no results.tar.gz" in capsys.readouterr().out


def test_a_second_sitting_on_the_same_day_is_kept_beside_the_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = device_files(tmp_path, [row("dcgan_b64", "dcgan", 6.2, False)])
    assert run_main(monkeypatch, files, tmp_path) == 0
    first = {p.name: p.read_bytes() for p in (tmp_path / "kept").iterdir()}
    (tmp_path / "results" / "gan_variants.json").write_text(json.dumps({"n": 10000, "seed": 0, "rows": [row("dcgan_b64", "dcgan", 6.7, False)]}))
    with tarfile.open(files / "results.tar.gz", "w:gz") as t:
        t.add(tmp_path / "results", ".")
    monkeypatch.setattr(sys, "argv", ["gan_gpu_unpack.py", str(files), "--runs", str(tmp_path / "runs2"), "--results", str(tmp_path / "kept")])
    assert gan_gpu_unpack.main() == 0
    kept = {p.name: p.read_bytes() for p in (tmp_path / "kept").iterdir()}
    assert all(kept[name] == data for name, data in first.items()), "the first sitting's files are kept as they were"
    second = sorted(set(kept) - set(first))
    assert len(second) == 4 and all(name.endswith(("_2.json", "_2.md", "_2.txt")) for name in second), second
    assert b"6.7" in kept[next(n for n in second if n.startswith("gan_variants_") and n.endswith(".json"))]


def test_the_same_call_unpacked_again_is_not_kept_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    files = device_files(tmp_path, [row("dcgan_b64", "dcgan", 6.2, False)])
    assert run_main(monkeypatch, files, tmp_path) == 0
    first = sorted(p.name for p in (tmp_path / "kept").iterdir())
    monkeypatch.setattr(sys, "argv", ["gan_gpu_unpack.py", str(files), "--runs", str(tmp_path / "again"), "--results", str(tmp_path / "kept")])
    assert gan_gpu_unpack.main() == 0
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == first, "no _2 copy of the same sitting"
    assert "kept already, as sitting 1" in capsys.readouterr().out


def test_a_run_in_parts_is_joined_from_its_last_whole_pack_and_carried_for_the_next_gpu(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from zoo.training import slim_checkpoint

    files = device_files(tmp_path, [row("dcgan_b64", "dcgan", 6.2, False)])
    lead = tmp_path / "device_runs" / "dcgan_b64"
    slim_checkpoint(lead)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for f in ("model.safetensors", "run.json", "summary.json", "metrics.jsonl", "checkpoint.slim.safetensors"):
            t.add(lead / f, f"dcgan_b64/{f}")
    data = buf.getvalue()
    third = len(data) // 3 + 1
    for i in range(3):  # pack 2 came whole, in three parts, beside the whole tar of pack 1 (no slim checkpoint in it)
        (files / f"run_dcgan_b64.p2.tar.{i + 1}of3").write_bytes(data[i * third:(i + 1) * third])
    (files / "run_dcgan_b64.p3.tar.1of2").write_bytes(data[:100])  # pack 3 was cut off after its first part
    (files / "run_lost.p1.tar.1of2").write_bytes(data[:100])  # a run of which no pack came whole
    monkeypatch.setattr(gan_gpu_unpack, "local_digest", lambda: DIGEST)
    monkeypatch.setattr(sys, "argv", ["gan_gpu_unpack.py", str(files), "--runs", str(tmp_path / "runs"), "--results", str(tmp_path / "kept"),
                                      "--carry", str(tmp_path / "gpu" / "carry")])
    assert gan_gpu_unpack.main() == 0
    out = capsys.readouterr().out
    run = tmp_path / "runs" / "dcgan_b64"
    assert (run / "checkpoint.slim.safetensors").read_bytes() == (lead / "checkpoint.slim.safetensors").read_bytes()
    assert "run lost came back in part only (run_lost.p1.tar.1of2): not unpacked" in out and not (tmp_path / "runs" / "lost").exists()
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["dcgan_b256", "dcgan_b64", "results"], "no joined tar left behind"
    carried = tmp_path / "gpu" / "carry" / "dcgan_b64"
    assert sorted(p.name for p in carried.iterdir()) == ["checkpoint.slim.safetensors", "run.json", "summary.json"]
    assert f"carried dcgan_b64 to {carried}" in out and "dcgan_b256" not in out.split("carried")[-1], "only runs with a slim checkpoint travel"
    total, mine = gan_gpu_unpack.travel_mib(tmp_path / "gpu" / "carry")
    assert f"what travels to a lent GPU (the checkout, .gpu and {tmp_path / 'gpu' / 'carry'}): {total:.1f} MiB of the 64 allowed ({mine:.1f} MiB of it the carried runs)" in out
    assert 0 < mine < total < 60, "the checkout and the carried run, well within what may travel"
    monkeypatch.setattr(gan_gpu_unpack, "travel_mib", lambda carried: (70.0, 50.0))
    monkeypatch.setattr(sys, "argv", [*sys.argv[:2], "--runs", str(tmp_path / "again"), *sys.argv[4:]])
    assert gan_gpu_unpack.main() == 0
    assert "over 60 MiB: remove carried runs from" in capsys.readouterr().out


def test_a_call_cut_off_before_its_final_table_still_carries_and_a_run_that_did_not_come_back_is_not_proposed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from zoo.training import slim_checkpoint

    rows = [row("dcgan_b64", "dcgan", 6.2, False), row("gone", "dcgan", 7.2, True)]
    files = device_files(tmp_path, rows)
    lead = tmp_path / "device_runs" / "dcgan_b64"
    slim_checkpoint(lead)
    with tarfile.open(files / "run_dcgan_b64.tar", "a") as t:
        t.add(lead / "checkpoint.slim.safetensors", "dcgan_b64/checkpoint.slim.safetensors")
    monkeypatch.setattr(gan_gpu_unpack, "local_digest", lambda: DIGEST)
    argv = ["gan_gpu_unpack.py", str(files), "--results", str(tmp_path / "kept"), "--carry", str(tmp_path / "gpu" / "carry")]
    monkeypatch.setattr(sys, "argv", [*argv, "--runs", str(tmp_path / "runs")])
    assert gan_gpu_unpack.main() == 0
    out = capsys.readouterr().out
    assert "dcgan: its best run gone meets the floors, but its weights did not come back" in out and "ship with" not in out

    (tmp_path / "results" / "gan_variants.json").unlink()  # the call was stopped during its final judging
    with tarfile.open(files / "results.tar.gz", "w:gz") as t:
        t.add(tmp_path / "results", ".")
    shutil.rmtree(tmp_path / "gpu")
    monkeypatch.setattr(sys, "argv", [*argv, "--runs", str(tmp_path / "runs2")])
    assert gan_gpu_unpack.main() == 1
    assert "gan_variants.json" in capsys.readouterr().out and (tmp_path / "gpu" / "carry" / "dcgan_b64" / "checkpoint.slim.safetensors").is_file()


def test_what_travels_is_not_guessed_outside_a_git_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    (tmp_path / "gpu").mkdir()
    (tmp_path / "gpu" / "w").write_bytes(b"x" * 2**20)
    def no_git(*a, **k):
        raise subprocess.CalledProcessError(128, a[0])
    monkeypatch.setattr(gan_gpu_unpack.subprocess, "run", no_git)
    assert gan_gpu_unpack.travel_mib(tmp_path / "gpu") == (None, 1.0)


def test_carried_runs_inside_the_checkout_are_counted_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/carry is part of the checkout (committed, so that it reaches the next session): not counted twice."""
    import subprocess

    root = tmp_path / "repo"
    (root / "benchmarks").mkdir(parents=True)
    (root / "benchmarks" / "gan_gpu_unpack.py").write_text("")
    (root / "carry" / "a").mkdir(parents=True)
    (root / "carry" / "a" / "w").write_bytes(b"x" * 2**20)
    (root / ".gpu").mkdir()
    (root / ".gpu" / "mnist").write_bytes(b"x" * 2**19)
    (root / "tracked").write_bytes(b"x" * 2**18)
    monkeypatch.setattr(gan_gpu_unpack, "__file__", str(root / "benchmarks" / "gan_gpu_unpack.py"))
    listed = "\0".join(["tracked", "carry/a/w", "benchmarks/gan_gpu_unpack.py"]) + "\0"
    monkeypatch.setattr(gan_gpu_unpack.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a[0], 0, listed, ""))
    assert gan_gpu_unpack.travel_mib(root / "carry") == (1.75, 1.0)
    assert gan_gpu_unpack.travel_mib(tmp_path / "elsewhere") == (1.75, 0.0)


def test_a_carried_run_that_came_back_as_a_branch_is_replaced_by_it(tmp_path: Path) -> None:
    """Two carried runs fill what travels: a branch that came back takes its source's place, an unrelated one stays."""
    from zoo.weights import sha256_file

    into = tmp_path / "carry"
    for name, payload in (("dcgan_a", b"a"), ("wgan_b", b"b")):
        (into / name).mkdir(parents=True)
        (into / name / "checkpoint.slim.safetensors").write_bytes(payload)
    branch = tmp_path / "runs" / "dcgan_a_e4"
    branch.mkdir(parents=True)
    (branch / "checkpoint.slim.safetensors").write_bytes(b"new")
    (branch / "run.json").write_text(json.dumps({"init_from": {"sha256": sha256_file(into / "dcgan_a" / "checkpoint.slim.safetensors")}}))
    (branch / "summary.json").write_text("{}")
    (tmp_path / "runs" / "fresh").mkdir()  # a run without a slim checkpoint is not carried
    assert gan_gpu_unpack.carry(tmp_path / "runs", into) == (["dcgan_a_e4"], {"dcgan_a": "dcgan_a_e4"})
    assert sorted(p.name for p in into.iterdir()) == ["dcgan_a_e4", "wgan_b"]
    (branch / "run.json").write_text(json.dumps({"init_from": None}))  # the same run again, now from scratch: nothing else goes
    assert gan_gpu_unpack.carry(tmp_path / "runs", into) == (["dcgan_a_e4"], {})
    assert sorted(p.name for p in into.iterdir()) == ["dcgan_a_e4", "wgan_b"]


def test_without_zoo_data_nothing_is_unpacked_so_the_same_command_works_once_it_is_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    files = device_files(tmp_path, [row("dcgan_b64", "dcgan", 6.2, False)])
    monkeypatch.setattr(gan_gpu_unpack, "data_root", lambda: None)
    monkeypatch.setattr(sys, "argv", ["gan_gpu_unpack.py", str(files), "--runs", str(tmp_path / "runs"), "--results", str(tmp_path / "kept")])
    assert gan_gpu_unpack.main() == 1
    assert "set ZOO_DATA to the folder that holds mnist/" in capsys.readouterr().out
    assert not (tmp_path / "runs").exists(), "a runs folder left behind would refuse the same command with ZOO_DATA set"
    assert run_main(monkeypatch, files, tmp_path) == 0
