"""Judge a branch of a carried GAN run against the run it branched from, and carry the better of the two on.

    ZOO_DATA=../shared/data python benchmarks/gan_carry_on.py RUN [--carry benchmarks/carry] [--n 10000] [--out results.json] [--replace]

For sittings without a lent GPU. Train a carried run on by hand, as a branch of it
(`zoo train ... --init-from benchmarks/carry/NAME --lr-warmup 500 --out RUN`; benchmarks/carry/README.md gives the
recipe), then this judges RUN's exported weights and the carried run's (exported from its slim checkpoint) alike:
what gan_variants.py prints for each, on the same n samples (seed 0), in one table, kept as JSON with --out.
With --replace, where RUN is the better (meeting the floors first, then every digit inside 4% - 16%, then the
higher classifier IS), RUN's slim checkpoint replaces benchmarks/carry/NAME under the same name, so the next
sitting, or the next lent GPU's gan_gpu.sh (its VARIANTS entry NAME), goes on from where RUN stopped. Commit the
carry folder then: only what git keeps reaches the next session.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from gan_gpu_unpack import CARRIED, carry
from gan_variants import FLOORS, judge, table

from zoo.bench import provenance
from zoo.errors import ConfigError
from zoo.files import atomic_write
from zoo.training import export_slim, slim_checkpoint
from zoo.weights import SLIM_CHECKPOINT, sha256_file

CARRY = Path(__file__).parent / "carry"


def carried_source(run: Path, carried: Path) -> Path:
    """Return the folder in `carried` whose slim checkpoint `run` was branched from (its run.json's ``init_from``)."""
    if not (run / "run.json").is_file():
        raise ConfigError(f"{run}: no run.json there. Give the folder of a `zoo train` run (its --out).")
    source = json.loads((run / "run.json").read_text()).get("init_from") or {}
    if not source.get("sha256"):
        raise ConfigError(f"{run} was not branched from a run (its run.json has no init_from). Train it with "
                          f"`zoo train ... --init-from {carried}/NAME` (benchmarks/carry/README.md).")
    for folder in sorted(d for d in carried.iterdir() if (d / SLIM_CHECKPOINT).is_file()) if carried.is_dir() else ():
        if sha256_file(folder / SLIM_CHECKPOINT) == source["sha256"]:
            return folder
    raise ConfigError(f"{run} was branched from {source.get('checkpoint')} (sha256 {source['sha256'][:16]}...), which is not "
                      f"carried in {carried}: judge it against its source with gan_variants.py instead.")


def better(branch: dict, carried: dict) -> bool:
    """Return whether the judged `branch` row beats the `carried` one: the floors, then the digit shares, then classifier IS."""
    def key(row: dict) -> tuple[bool, bool, float]:
        if "metrics" not in row:
            return (False, False, float("-inf"))
        m = row["metrics"]
        return (row["meets_floors"], FLOORS["coverage_min"] <= m["coverage_min"] and m["coverage_max"] <= FLOORS["coverage_max"], m["classifier_is"])
    return key(branch) > key(carried)


def judge_carried(folder: Path, *, n: int, device: str | None, scratch: Path, **against: str) -> dict:
    """Judge a carried run: its exported weights written from the slim checkpoint into a copy of it under `scratch`."""
    copy = scratch / folder.name
    copy.mkdir()
    for f in ("run.json", "summary.json"):
        if (folder / f).is_file():
            shutil.copy2(folder / f, copy / f)
    export_slim(folder, copy / "model.safetensors")
    return {**judge(copy, n=n, fid=False, device=device, grids=None, **against), "path": str(folder)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path, help="a `zoo train` run folder branched (--init-from) from a carried run")
    p.add_argument("--carry", type=Path, default=CARRY, help="the carried runs (default: benchmarks/carry)")
    p.add_argument("--n", type=int, default=10000, help="generated images per model (seed 0; the floors are stated on 10,000)")
    p.add_argument("--device", default=None)
    p.add_argument("--out", type=Path, default=None, help="write both rows, and what was done, as JSON here")
    p.add_argument("--data", default="mnistm", help="the real set (a catalog name or a folder)")
    p.add_argument("--split", default="test")
    p.add_argument("--classifier", default="classifier.mnistm", help="the judge: a registered classifier or its .safetensors file")
    p.add_argument("--replace", action="store_true", help="where RUN is the better, carry it on in the carried run's place")
    args = p.parse_args()
    against = {"data": args.data, "split": args.split, "classifier": args.classifier}
    try:
        source = carried_source(args.run, args.carry)
        if not (args.run / "model.safetensors").is_file():
            raise ConfigError(f"{args.run}: no model.safetensors, so the run has not finished a sitting. Let `zoo train` end "
                              "(--max-minutes, or one Ctrl-C: it exports then), or run its command again to resume it.")
        averaged = json.loads((args.run / "summary.json").read_text()).get("averaged")
        if args.replace and averaged:  # the carry goes on from the checkpoint's EMA: judge that, not an export it does not hold
            raise ConfigError(f"{args.run}'s export is the mean of its snapshots {averaged['snapshots']} (zoo average), and a carried run "
                              f"goes on from its checkpoint's EMA. Export that again (`zoo average {args.run} --last 1`), carry it on, then average.")
        with tempfile.TemporaryDirectory() as scratch:
            rows = [judge_carried(source, n=args.n, device=args.device, scratch=Path(scratch), **against)]
        rows.append(judge(args.run, n=args.n, fid=False, device=args.device, grids=None, **against))
        for row in rows:
            if "error" in row:
                raise ConfigError(f"{row['path']}: {row['error']}")
    except ConfigError as e:
        print(f"gan_carry_on: {e}")
        return 1
    print(table(rows))
    replaced = args.replace and better(rows[1], rows[0])
    if replaced:
        slim_checkpoint(args.run)
        with tempfile.TemporaryDirectory() as staging:
            (Path(staging) / source.name).mkdir()
            for f in CARRIED:
                shutil.copy2(args.run / f, Path(staging) / source.name / f)
            carry(Path(staging), args.carry)
        print(f"carried {args.run} on as {source}: classifier IS {rows[1]['metrics']['classifier_is']:.2f} against "
              f"{rows[0]['metrics']['classifier_is']:.2f}. Commit {source} and bring {args.carry}/README.md's table up to date.")
    else:
        print(f"{source} stays: {args.run} is " + ("the better; --replace carries it on." if better(rows[1], rows[0]) else "not the better."))
    if args.out is not None:
        record = {**provenance(), "n": args.n, "seed": 0, "floors": FLOORS, "carried": rows[0], "branch": rows[1], "replaced": replaced}
        with atomic_write(args.out, "w") as f:
            f.write(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
