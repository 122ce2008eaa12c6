"""Judge several GAN training runs alike: the `gan` metrics of each run's exported weights, in one table.

    python benchmarks/gan_variants.py RUN [RUN ...] [--n 10000] [--fid] [--device cuda] [--out results.json] [--md table.md] [--grids DIR] [--pick FILE]

For each `zoo train` run folder: its method, batch size, config, steps and wall time (from run.json
and summary.json), and what `zoo eval RUN/model.safetensors --only gan --set n=N` prints (seed 0,
MNIST-M test split, judged by classifier.mnistm; Inception FID with --fid), plus its first-32 grid
with --grids (what `zoo sample RUN/model.safetensors -n 32 --nrow 8 --seed 0` writes). Every run
judged is in the table, so a choice between recipes is made, and shown, on the same numbers.
A run whose weights are missing (it failed) or cannot be judged is listed with its error rather than stopping the rest.
`--pick FILE` writes the folder of each method's best run, one per line (benchmarks/gan_gpu.sh trains those on).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from zoo.bench import provenance
from zoo.files import atomic_write
from zoo.loading import load_any
from zoo.metrics.gan import GANEvaluator
from zoo.viz import save_grid
from zoo.weights import SLIM_CHECKPOINT, export_slim_hint

FLOORS = {"classifier_is": 7.0, "coverage_min": 0.04, "coverage_max": 0.16}


def describe(run: Path) -> dict:
    """Return what a run folder says about itself: method, batch size, config, steps, wall time, and those of the runs it
    branched from (``--init-from``, e.g. a run carried from an earlier lent GPU), summed along the chain."""
    info = json.loads((run / "run.json").read_text())
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").is_file() else {}
    steps_before, seconds_before, source = 0, 0.0, info.get("init_from")
    while source:
        steps_before, seconds_before, source = steps_before + source["step"], seconds_before + source["elapsed"], source.get("init_from")
    return {
        "run": run.name, "path": str(run), "method": info["method"], "batch_size": info["train"]["batch_size"], "config": info["config"],
        "command": info.get("command"), "steps": summary.get("steps"), "wall_time_s": summary.get("wall_time_s"), "device": summary.get("device"),
        "steps_before": steps_before, "wall_time_before_s": round(seconds_before, 1),
    }


def meets_floors(metrics: dict) -> bool:
    """Return whether `metrics` meet issue 4's floors (classifier IS >= 7, every digit 4% - 16%)."""
    return (metrics["classifier_is"] >= FLOORS["classifier_is"] and metrics["coverage_min"] >= FLOORS["coverage_min"]
            and metrics["coverage_max"] <= FLOORS["coverage_max"])


def judge(run: Path, *, n: int, fid: bool, device: str | None, grids: Path | None, **against: str) -> dict:
    """Return `describe(run)` with the `gan` metrics of its exported weights (or the error that stopped them).

    `against` overrides the real set and the judge (data, split, classifier; MNIST-M's test split and classifier.mnistm by default).
    """
    if not (run / "run.json").is_file():
        return {"run": run.name, "path": str(run), "method": "-", "batch_size": "-", "steps": None, "wall_time_s": None, "error": "no run.json: the run never started (see its log)"}
    row = describe(run)
    weights = run / "model.safetensors"
    if not weights.is_file():
        if (run / SLIM_CHECKPOINT).is_file():
            return {**row, "error": export_slim_hint(run)}
        return {**row, "error": f"no {weights.name}: the run did not finish (see its log)"}
    t = time.monotonic()
    options = {"data": "mnistm", "split": "test", "classifier": "classifier.mnistm", **against}
    try:  # one broken run (unreadable or NaN weights) must not cost the table of the others
        model = load_any(weights, device)
        metrics = GANEvaluator().evaluate(model, n=n, seed=0, fid=fid, progress=False, **options)
    except Exception as e:  # noqa: BLE001
        return {**row, "error": f"evaluation failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"}
    if grids is not None:
        save_grid(model.sample(32, seed=0), grids / f"{run.name}_first32.png", nrow=8)
    return {**row, "metrics": metrics, "meets_floors": meets_floors(metrics), "eval_s": round(time.monotonic() - t, 1)}


def best_per_method(rows: list[dict]) -> dict[str, str]:
    """Return {method: run folder} of each method's best judged run: meeting the floors first, then the highest classifier IS."""
    best: dict[str, tuple[tuple[bool, float], dict]] = {}
    for r in rows:
        if "metrics" not in r:
            continue
        key = (r["meets_floors"], r["metrics"]["classifier_is"])
        if r["method"] not in best or key > best[r["method"]][0]:
            best[r["method"]] = (key, r)
    return {method: r["path"] for method, (_, r) in best.items()}


def table(rows: list[dict]) -> str:
    """Return the rows as a markdown table."""
    lines = ["| run | method | batch | steps | minutes | classifier IS | digits min - max | classifier FD | FID (n) | floors |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        steps, minutes = f"{r['steps']}", f"{(r['wall_time_s'] or 0) / 60:.1f}"
        if r.get("steps_before"):  # a branch: its sources' share, then its own
            steps, minutes = f"{r['steps_before']} + {steps}", f"{r['wall_time_before_s'] / 60:.1f} + {minutes}"
        head = f"| {r['run']} | {r['method']} | {r['batch_size']} | {steps} | {minutes} |"
        if "error" in r:
            lines.append(f"{head} {r['error']} | | | | |")
            continue
        m = r["metrics"]
        fid = f"{m['fid']:.1f} ({m['fid_n']})" if "fid" in m else "-"
        lines.append(f"{head} {m['classifier_is']:.2f} | {100 * m['coverage_min']:.1f}% - {100 * m['coverage_max']:.1f}% | "
                     f"{m['classifier_fd']:.2f} | {fid} | {'met' if r['meets_floors'] else 'missed'} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", type=Path, nargs="+", help="`zoo train` run folders of GAN methods")
    p.add_argument("--n", type=int, default=10000, help="generated images per run (seed 0)")
    p.add_argument("--fid", action="store_true", help="also Inception FID on all n images (needs the `fid` extra)")
    p.add_argument("--device", default=None)
    p.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    p.add_argument("--md", type=Path, default=None, help="write the table as markdown here (stdout also has a line per run as it is judged)")
    p.add_argument("--grids", type=Path, default=None, help="write each run's first-32 grid into this folder")
    p.add_argument("--pick", type=Path, default=None, help="write the folder of each method's best run here, one per line")
    p.add_argument("--data", default="mnistm", help="the real set (a catalog name or a folder)")
    p.add_argument("--split", default="test")
    p.add_argument("--classifier", default="classifier.mnistm", help="the judge: a registered classifier or its .safetensors file")
    args = p.parse_args()
    if args.grids:
        args.grids.mkdir(parents=True, exist_ok=True)
    rows = []
    for run in args.runs:
        rows.append(judge(run, n=args.n, fid=args.fid, device=args.device, grids=args.grids, data=args.data, split=args.split, classifier=args.classifier))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    print(table(rows))
    if args.md:
        with atomic_write(args.md, "w") as f:
            f.write(table(rows) + "\n")
    if args.out:
        with atomic_write(args.out, "w") as f:
            json.dump({**provenance(), "n": args.n, "seed": 0, "data": args.data, "split": args.split, "classifier": args.classifier, "floors": FLOORS, "rows": rows}, f, indent=2)
    if args.pick:
        best = best_per_method(rows)
        print("best of each method: " + (", ".join(f"{m} {Path(run).name}" for m, run in sorted(best.items())) or "none could be judged"))
        with atomic_write(args.pick, "w") as f:
            f.writelines(f"{run}\n" for _, run in sorted(best.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
