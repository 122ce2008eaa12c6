"""benchmarks/gan_gpu.sh: its recipes' flags, and VARIANTS and RESUME refused before anything takes device time."""

from __future__ import annotations

import json
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
    ("lr2_nc2_e4", "--set lr=0.0002 --set n_critic=2 --set lr_d=0.0004 --ema-decay 0.9999"),
    ("osn_ttur", "--set soft_labels=true --set one_sided=true --set instance_noise=0.1 --set lr=0.0001 --set lr_d=0.0004"),
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
    fast.write_text(SCRIPT.read_text())
    done = subprocess.run(["bash", str(fast)], cwd=tmp_path, capture_output=True, text=True, timeout=60, stdin=subprocess.PIPE,
                          env={**os.environ, "OUT": str(tmp_path / "out"), "PY": "./py", "VARIANTS": "a:dcgan:64:osn", "DEV": "cpu",
                               "STAGE1_MIN": "0.01"})  # its GPU-load probe comes half-way: at once
    assert "no run folder to judge" in done.stdout, done.stdout[-500:]


@pytest.mark.parametrize(("files", "entry", "says"), [
    ({"run.json": '{"method": "dcgan"}'}, "a:dcgan:64:-", "runs/carry/a lacks checkpoint.slim.safetensors or run.json"),
    ({"run.json": '{\n  "method": "wgan_gp"\n}', "checkpoint.slim.safetensors": ""}, "a:dcgan:64:-", "runs/carry/a is not a dcgan run"),
    ({"run.json": '{\n  "method": "wgan_gp"\n}', "checkpoint.slim.safetensors": ""}, "b:dcgan:64:osn_ttur:a", "runs/carry/a is not a dcgan run"),
    ({"run.json": '{\n  "method": "dcgan"\n}', "checkpoint.slim.safetensors": ""}, "b:dcgan:64:osn:c", "FROM 'c' is no run carried here (runs/carry/c): one of [a]"),
    ({"run.json": '{\n  "method": "dcgan"\n}', "checkpoint.slim.safetensors": ""}, "b:dcgan:64:osn:a:x", "FROM 'a:x' is not a run name"),
    # a RESUME call trains runs already on the machine: a carried run replaced since (unpacked between the calls) stops nothing
    ({"run.json": '{\n  "method": "dcgan"\n}', "checkpoint.slim.safetensors": ""}, "b:dcgan:64:osn:c RESUME=b", "no run runs/gan_gpu/b to resume"),
])
def test_a_carried_run_that_cannot_be_branched_from_stops_before_anything_runs(tmp_path: Path, files: dict, entry: str, says: str) -> None:
    carried = tmp_path / "runs" / "carry" / "a"
    carried.mkdir(parents=True)
    for name, text in files.items():
        (carried / name).write_text(text)
    entry, _, resume = entry.partition(" RESUME=")
    done = run(tmp_path, VARIANTS=entry, CARRY="runs/carry", RESUME=resume)
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def test_an_entry_branches_from_its_own_carried_run_or_the_one_it_names(tmp_path: Path) -> None:
    import sys

    text = SCRIPT.read_text()
    body = "".join(text[text.index(f"\n{f}() {{"):text.index("\n}\n", text.index(f"\n{f}() {{")) + 3] for f in ("carried_source", "branch_flags"))
    for name in ("a", "b"):
        (tmp_path / "carry" / name).mkdir(parents=True)
        (tmp_path / "carry" / name / "checkpoint.slim.safetensors").write_text("")
    for name, warmup in (("r", 500), ("s", 0)):  # runs on the machine, to be resumed: branched (warmed up) or not
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "run.json").write_text(f'{{"train": {{"lr_warmup": {warmup}}}}}')
    script = (f'CARRY=carry WARMUP=500 RUNS=runs PY={sys.executable}\n{body}\n'
              'branch_flags a; branch_flags c a; branch_flags b a; branch_flags c; echo "[$?]"; branch_flags r gone; echo "<$(branch_flags s a)>"')
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    # c has no run of its own and names a; b has its own (a FROM branch carried on), which wins over the FROM it was given;
    # a resume keeps its own warm-up (or none), whatever is carried or not now
    assert done.stdout.splitlines() == ["--init-from carry/a --lr-warmup 500", "--init-from carry/a --lr-warmup 500",
                                        "--init-from carry/b --lr-warmup 500", "[1]", "--lr-warmup 500", "<>"], done.stdout + done.stderr


def test_the_leaders_come_back_with_their_slim_checkpoints_in_parts_and_the_others_not_at_all(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(SCRIPT.parent))
    from gan_gpu_unpack import run_tars

    text = SCRIPT.read_text()  # the script's picks, picked, pack_run and pack functions, as they are
    start = text.index("\n# the runs that come back")
    body = text[start:text.index("\n}\n", text.index("\npack() {")) + 3]
    runs, out, r = tmp_path / "runs" / "gan_gpu", tmp_path / "out", tmp_path / "r"
    for d in (out, r):
        d.mkdir()
    for name in ("lead", "other"):
        (runs / name).mkdir(parents=True)
        for f in ("model.safetensors", "run.json", "summary.json", "metrics.jsonl", "checkpoint.safetensors"):
            (runs / name / f).write_bytes(os.urandom(3000))
    os.utime(runs / "lead" / "checkpoint.safetensors", (1, 1))  # older than its slim checkpoint: PY is not called to remake it
    (runs / "lead" / "checkpoint.slim.safetensors").write_bytes(os.urandom(9000))
    script = f"""set -u
RUNS=runs/gan_gpu OUT=out R=r PY=false SPLIT_BYTES=20480
judged() {{ ls -d $RUNS/*/; }}
{body}
pack > /dev/null; ls $OUT > first.txt
echo "$RUNS/lead" > $R/stage2.txt
: > $R/final.txt  # a final judging that could judge nothing picks nothing: stage 1's pick stands
pack > /dev/null; pack > /dev/null; ls $OUT > picked.txt; cp -r $OUT kept
echo "$RUNS/other" > $R/final.txt  # the final table's best: it meets the floors, the stage-2 leader does not
pack
"""
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "first.txt").read_text().split() == ["results.tar.gz", "run_lead.tar", "run_other.tar"], "no leaders yet: all, whole"
    assert (tmp_path / "picked.txt").read_text().split() == ["results.tar.gz", "run_lead.p3.tar.1of2", "run_lead.p3.tar.2of2"]
    # PY=false: other's slim checkpoint cannot be made here, so it comes back whole, without one; lead's tar is gone
    assert sorted(p.name for p in out.iterdir()) == ["results.tar.gz", "run_other.tar"]
    parts = run_tars(tmp_path / "kept")["lead"]
    joined = b"".join(p.read_bytes() for p in parts)
    import io
    import tarfile
    with tarfile.open(fileobj=io.BytesIO(joined)) as t:
        assert sorted(t.getnames()) == sorted(f"lead/{f}" for f in ("model.safetensors", "run.json", "summary.json", "metrics.jsonl",
                                                                    "checkpoint.slim.safetensors"))
        assert t.extractfile("lead/checkpoint.slim.safetensors").read() == (runs / "lead" / "checkpoint.slim.safetensors").read_bytes()


def test_the_default_variants_branch_from_runs_carried_in_the_repository(tmp_path: Path) -> None:
    """Each FROM of the default VARIANTS, and each entry's own carried run, is in benchmarks/carry, of the entry's method:
    a carried run removed or renamed without VARIANTS would otherwise stop the next lent GPU's first call."""
    env = {k: v for k, v in os.environ.items() if k not in ("VARIANTS", "CARRY", "RESUME")}
    done = subprocess.run(["bash", str(SCRIPT)], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**env, "OUT": str(tmp_path / "out"), "PY": "false", "CARRY": str(SCRIPT.parent / "carry"), "RESUME": "wgan_gp_lr2_b64"})
    assert done.returncode == 2 and "no run runs/gan_gpu/wgan_gp_lr2_b64 to resume" in done.stderr, done.stderr  # past the VARIANTS checks
    variants = subprocess.run(["bash", "-c", f'eval "$(grep "^VARIANTS=" {SCRIPT})"; echo $VARIANTS'], capture_output=True, text=True, env=env).stdout.split()
    froms = {v.split(":")[4] for v in variants if v.count(":") == 4}
    carry = SCRIPT.parent / "carry"
    assert froms and froms <= {p.name for p in carry.iterdir()}, "the defaults branch from carried runs"
    for v in variants:  # the script checks this only without RESUME, which the run above needs: checked here
        name, method, *rest = v.split(":")
        source = carry / name if (carry / name).is_dir() else carry / rest[2] if len(rest) == 3 else None
        assert source is None or json.loads((source / "run.json").read_text())["method"] == method, f"{v}: {source} is another method's run"
