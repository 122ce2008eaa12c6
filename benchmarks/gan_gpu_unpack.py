"""Unpack what benchmarks/gan_gpu.sh brought back from a lent GPU, check it, and say what can ship.

    python benchmarks/gan_gpu_unpack.py FILES_AT [--runs runs/gan_gpu_h200] [--carry benchmarks/carry]

1. each run's tar into RUNS/NAME/ and ``results.tar.gz`` into RUNS/results/ (tar's "data" filter:
   no absolute paths, nothing outside the folder, no device files; RUNS appears only once all of it is out);
   a run's tar is ``run_NAME.tar``, or its parts ``run_NAME.pK.tar.IofN`` (the last pack K whose N parts all came);
2. the MNIST-M digest in ``machine.txt`` compared with this machine's (``$ZOO_DATA/mnist``): a run trained
   on other pixels would be judged here against a set it never saw, so a mismatch stops here;
3. the judged tables (``gan_variants``, ``stage1``), ``machine.txt`` and the throughput JSON copied into
   benchmarks/results/, named with the card and the date of the runs (``gan_throughput_h200_2026-11-30.json``);
4. each method's best run that meets issue 4's floors, and the ``gan_ship.py`` command that ships them;
   a method with none is named with its best score, and nothing of it is proposed;
5. with ``--carry DIR``, each run that came back with its slim checkpoint copied to DIR/NAME (with its run.json and
   summary.json), where the next gan_gpu.sh branches its VARIANTS entry NAME from it; a carried run that one of them
   was branched from is removed (the branch goes on in its place). Commit DIR (benchmarks/carry): a session's
   checkout holds what git keeps, so a git-ignored folder would not reach the next lent GPU.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from gan_variants import best_per_method

from zoo.data.mnistm import mnistm_digest
from zoo.data.registry import data_root
from zoo.errors import ConfigError
from zoo.weights import sha256_file

RESULTS = Path(__file__).parent / "results"
SHIP_AS = {"dcgan": "--dcgan-run", "wgan_gp": "--wgan-run"}
PART = re.compile(r"run_(?P<name>[A-Za-z0-9][A-Za-z0-9_-]*)\.p(?P<pack>[0-9]+)\.tar\.(?P<i>[0-9]+)of(?P<n>[0-9]+)")
CARRIED = ("checkpoint.slim.safetensors", "run.json", "summary.json")


def run_tars(files: Path) -> dict[str, list[Path]]:
    """Return {run name: the files its tar is, in order}: the last pack whose parts all came back, else ``run_NAME.tar``.

    gan_gpu.sh writes a run's tar whole, or in parts when it holds the slim checkpoint; a later pack of the same run
    replaces the earlier one's parts, so a kill between two renames can leave both packs, or a pack in part.
    """
    tars = {t.name[len("run_"):-len(".tar")]: [t] for t in files.glob("run_*.tar")}
    packs: dict[str, dict[tuple[int, int], dict[int, Path]]] = {}
    for f in files.iterdir():
        if m := PART.fullmatch(f.name):
            packs.setdefault(m["name"], {}).setdefault((int(m["pack"]), int(m["n"])), {})[int(m["i"])] = f
    for name, by_pack in packs.items():
        whole = [(key, parts) for key, parts in by_pack.items() if sorted(parts) == list(range(1, key[1] + 1))]
        if whole:
            (_, n), parts = max(whole, key=lambda w: w[0])
            tars[name] = [parts[i] for i in range(1, n + 1)]
        elif name not in tars:
            print(f"run {name} came back in part only ({', '.join(sorted(f.name for p in by_pack.values() for f in p.values()))}): not unpacked")
    return dict(sorted(tars.items()))


def unpack(files: Path, runs: Path) -> Path:
    """Extract every ``run_*.tar`` into `runs` and ``results.tar.gz`` into ``runs/results``; return the latter.

    Everything is extracted into a temporary folder beside `runs`, renamed to `runs` only when all of it extracted.
    """
    results = files / "results.tar.gz"
    if not results.is_file():
        raise ConfigError(f"{files} holds no results.tar.gz: pass the folder the device's files were fetched to (its `files_at`).")
    if runs.exists():
        raise ConfigError(f"{runs} exists already: pass another --runs folder, or remove that one to unpack again.")
    runs.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{runs.name}.", dir=runs.parent))
    try:
        for name, parts in run_tars(files).items():
            joined = parts[0]
            if len(parts) > 1:
                joined = partial / f".run_{name}.tar"
                with open(joined, "wb") as out:
                    for part in parts:
                        out.write(part.read_bytes())
            with tarfile.open(joined) as t:
                t.extractall(partial, filter="data")
            if joined.parent == partial:
                joined.unlink()
        with tarfile.open(results) as t:
            t.extractall(partial / "results", filter="data")
    except BaseException:
        shutil.rmtree(partial)
        raise
    partial.rename(runs)
    return runs / "results"


def device_digest(machine_txt: Path) -> str:
    """Return the MNIST-M digest that gan_gpu.sh recorded in machine.txt."""
    found = re.search(r"^mnistm digest ([0-9a-f]{64})$", machine_txt.read_text(), re.MULTILINE)
    if not found:
        raise ConfigError(f"{machine_txt} records no MNIST-M digest: the device run stopped before it built MNIST-M (see its logs).")
    return found.group(1)


def local_digest() -> str:
    """Return the digest of the MNIST-M this machine builds from ``$ZOO_DATA/mnist``."""
    root = data_root()
    if root is None:
        raise ConfigError("set ZOO_DATA to the folder that holds mnist/ (e.g. ../shared/data): the device's MNIST-M is compared with this machine's.")
    return mnistm_digest(root / "mnist")


def card_and_date(results: Path, runs: Path) -> tuple[str, str]:
    """Return a short name of the GPU (``h200``) from machine.txt and the date of the runs (from their summaries)."""
    card = re.search(r"GPU 0: (?:NVIDIA )?([^(\n]+)", (results / "machine.txt").read_text())
    dates = sorted(json.loads(s.read_text())["date"] for s in runs.glob("*/summary.json"))
    name = re.sub(r"[^a-z0-9]+", "-", card.group(1).strip().lower()) if card else "gpu"
    return name, dates[-1] if dates else "undated"


NAMES = {"gan_variants.json": "gan_variants", "gan_variants.md": "gan_variants", "stage1.json": "gan_variants_stage1",
         "stage1.md": "gan_variants_stage1", "machine.txt": "gan_gpu_machine", "gan_throughput_cuda.json": "gan_throughput"}


def kept_name(name: str, card: str, date: str, sitting: int) -> str:
    """Return the name under which results file `name` of the given sitting (1, 2, ...) of `card` on `date` is kept."""
    return f"{NAMES[name]}_{card}_{date}{'' if sitting == 1 else f'_{sitting}'}.{name.rsplit('.', 1)[1]}"


def keep(results: Path, card: str, date: str, into: Path) -> list[Path]:
    """Copy the judged tables, machine.txt and the throughput JSON into `into`, named with card and date; return the copies.

    A second sitting on the same day is kept beside the first (``_2``): a kept file is never replaced, so what a doc cites
    stays (a lent GPU's time comes in several calls, gan_gpu.sh and then its RESUME mode, each unpacked on its own). The
    same call's files unpacked again are found kept already (byte for byte) and not kept twice.
    """
    into.mkdir(parents=True, exist_ok=True)
    present = [name for name in NAMES if (results / name).is_file()]
    sitting = 1
    while any((into / kept_name(n, card, date, sitting)).exists() for n in NAMES):  # this sitting's names are taken
        same = [into / kept_name(n, card, date, sitting) for n in present]
        if present and all(k.is_file() and k.read_bytes() == (results / n).read_bytes() for k, n in zip(same, present)):
            print(f"these results are kept already, as sitting {sitting} of {card} on {date}")
            return same
        sitting += 1
    return [Path(shutil.copy2(results / n, into / kept_name(n, card, date, sitting))) for n in present]


def shippable(rows: list[dict], runs: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Return ({method: local run folder} of each method's best run meeting the floors, {method: why not} for the others)."""
    by_method = {r["method"] for r in rows if r.get("method") in SHIP_AS}
    best = best_per_method([r for r in rows if r.get("meets_floors")])
    ship = {m: runs / Path(path).name for m, path in best.items() if m in SHIP_AS}
    misses = {m: f"its best run {run.name} meets the floors, but its weights did not come back (no {run})" for m, run in ship.items() if not run.is_dir()}
    ship = {m: run for m, run in ship.items() if m not in misses}
    for m in sorted(by_method - set(ship) - set(misses)):
        judged = [r for r in rows if r.get("method") == m and "metrics" in r]
        top = max(judged, key=lambda r: r["metrics"]["classifier_is"], default=None)
        misses[m] = "no run meets the floors (classifier IS >= 7, every digit 4% - 16%); " + (f"best run {top['run']}: classifier IS {top['metrics']['classifier_is']:.2f}, digits "
                     f"{100 * top['metrics']['coverage_min']:.1f}% - {100 * top['metrics']['coverage_max']:.1f}%" if top else "no run could be judged")
    return ship, misses


def carry(runs: Path, into: Path) -> tuple[list[str], dict[str, str]]:
    """Copy each run in `runs` that holds a slim checkpoint to ``into/NAME`` (its CARRIED files; an older one replaced).

    A carried run that one of these was branched from (its run.json's ``init_from`` names the slim checkpoint's sha256)
    is removed: the branch, judged the better, goes on from where that one stopped, and two carried runs of 12 MiB
    each are what the 64 MiB that travel leave room for. Only a branch's direct source is matched, as it is carried now:
    a run replaced by its own continuation in an earlier call of the same loan stays beside a sibling branched from the
    older copy (the over-60 MiB warning then names them). Return the names carried and {removed: the branch of it}.
    """
    names = []
    for run in sorted(d for d in runs.iterdir() if (d / CARRIED[0]).is_file()):
        into.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{run.name}.", dir=into))
        partial.chmod(0o755)  # as a folder made with mkdir: mkdtemp's is private
        for f in CARRIED:
            shutil.copy2(run / f, partial / f)
        if (into / run.name).exists():
            shutil.rmtree(into / run.name)
        partial.rename(into / run.name)
        names.append(run.name)
    sources = {(json.loads((into / n / "run.json").read_text()).get("init_from") or {}).get("sha256"): n for n in names}
    superseded = {}
    for old in sorted(d for d in into.iterdir() if d.is_dir() and d.name not in names and (d / CARRIED[0]).is_file()):
        if (branch := sources.get(sha256_file(old / CARRIED[0]))) is not None:
            shutil.rmtree(old)
            superseded[old.name] = branch
    return names, superseded


def travel_mib(carried: Path) -> tuple[float | None, float]:
    """Return (MiB that travels to a lent GPU, MiB of `carried` in it): the checkout's tracked and untracked files not
    ignored, its git-ignored ``.gpu`` folder (gan_gpu.sh is run carrying it) and `carried`, each file counted once; the first
    is None outside a git checkout, where what travels cannot be told."""
    root = Path(__file__).resolve().parents[1]
    def files(folder: Path) -> set[Path]:
        return {f.resolve() for f in folder.rglob("*") if f.is_file()} if folder.is_dir() else set()
    def mib(paths: set[Path]) -> float:
        return sum(f.stat().st_size for f in paths) / 2**20
    mine = files(carried)
    try:
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "-co", "--exclude-standard"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None, mib(mine)
    tree = {(root / f).resolve() for f in listed.split("\0") if f and (root / f).is_file()}
    return mib(tree | files(root / ".gpu") | mine), mib(mine)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", type=Path, help="the folder the device's files were fetched to (results.tar.gz, run_NAME.tar)")
    p.add_argument("--runs", type=Path, default=Path("runs/gan_gpu_device"), help="where to unpack the runs")
    p.add_argument("--results", type=Path, default=RESULTS, help="where to keep the judged tables")
    p.add_argument("--carry", type=Path, default=None, help="copy the runs that came back with a slim checkpoint here (benchmarks/carry, committed: only what git keeps reaches the next session): the next gan_gpu.sh goes on from them")
    args = p.parse_args()
    try:
        here = local_digest()  # first: without ZOO_DATA, stop before RUNS exists (a second try would be refused for it)
        results = unpack(args.files, args.runs)
        there = device_digest(results / "machine.txt")
        if there != here:
            raise ConfigError(f"the device built MNIST-M {there[:16]}..., this machine builds {here[:16]}...: the runs were trained on "
                              "other pixels than they would be judged on here. Find which photos differ (zoo.data.photos) before shipping.")
        print(f"MNIST-M digest {here[:16]}... on both machines; runs unpacked into {args.runs}")
        if args.carry is not None:  # before the tables: a call cut off before its final table still brings its slim checkpoints
            names, superseded = carry(args.runs, args.carry)
            for name in names:
                print(f"carried {name} to {args.carry / name}: the next gan_gpu.sh trains VARIANTS entry {name} on from it")
            for old, branch in superseded.items():
                print(f"removed {args.carry / old}: {branch} was branched from it and goes on in its place; a VARIANTS entry with FROM {old} must name {branch} instead")
            total, mine = travel_mib(args.carry)
            if total is None:
                print(f"{args.carry} holds {mine:.1f} MiB; not a git checkout here, so what travels with it (the checkout too, 64 MiB in all) is not known")
            else:
                print(f"what travels to a lent GPU (the checkout, .gpu and {args.carry}): {total:.1f} MiB of the 64 allowed ({mine:.1f} MiB of it the carried runs)")
            if total is not None and total > 60:
                print(f"  over 60 MiB: remove carried runs from {args.carry} (they hold {', '.join(sorted(d.name for d in args.carry.iterdir() if d.is_dir()))}) "
                      "before the next lent GPU, or it refuses the call")
        card, date = card_and_date(results, args.runs)
        for path in keep(results, card, date, args.results):
            print(f"kept {path}")
        table = json.loads((results / "gan_variants.json").read_text())
    except (ConfigError, FileNotFoundError, tarfile.TarError) as e:
        print(f"gan_gpu_unpack: {e}")
        return 1
    ship, misses = shippable(table["rows"], args.runs)
    for method, why in misses.items():
        print(f"{method}: {why} (judged on {table['n']} samples). Nothing to ship.")
    if ship:
        print(f"ship with:\n    ZOO_DATA={data_root()} python benchmarks/gan_ship.py " + " ".join(f"{SHIP_AS[m]} {run}" for m, run in sorted(ship.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
