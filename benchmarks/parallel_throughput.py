"""What training one model in several processes (torchrun, zoo.parallel) costs or gives: DCGAN images/s in 1 and N processes.

    python benchmarks/parallel_throughput.py                        # CPU: 1 process of 2 threads, 2 of 1 -> results JSON
    python benchmarks/parallel_throughput.py --device cuda --procs 1 2 4 --threads 8    # GPUs: one per process

Each run is `torchrun --standalone --nproc_per_node=N -m zoo train dcgan` at the shipped 64x64 config on the offline
`digits` set, with the same global batch (`--batch` split evenly over the processes) and, on CPU, the same cores
(`--threads` split over them). The rate is global images per second between the logged steps `--skip` and `--steps`
(metrics.jsonl's `time`), so start-up and the first steps' warm-up are left out. On CPU it says what the gradient
averaging (gloo, one all-reduce per optimizer step) costs against the same cores in one process; on GPUs, how it scales.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from zoo.bench import load_average, provenance
from zoo.files import atomic_write


def rate(log: Path, skip: int, batch: int) -> float:
    """Return global images/s between logged steps `skip` and the last one of a run's metrics.jsonl."""
    records = [json.loads(line) for line in log.read_text().splitlines()]
    first = next(r for r in records if r["step"] == skip)
    last = records[-1]
    return (last["step"] - first["step"]) * batch / (last["time"] - first["time"])


def run(procs: int, threads: int, batch: int, steps: int, skip: int, device: str, folder: Path) -> dict:
    """Train `steps` DCGAN steps in `procs` processes of `threads` threads each; return the record of the run."""
    out = folder / f"run{procs}"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}", "-m", "zoo", "train", "dcgan",
               "--data", "digits", "--steps", str(steps), "--batch-size", str(batch // procs), "--log-every", "1", "--checkpoint-every", "0",
               "--device", device, "--quiet", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)}, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"{procs} process(es) failed:\n{done.stderr[-3000:]}")
    images_per_s = rate(out / "metrics.jsonl", skip, batch)
    return {"processes": procs, "threads_each": threads, "batch_each": batch // procs, "global_batch": batch, "steps_timed": steps - skip,
            "images_per_s": round(images_per_s, 2), "steps_per_s": round(images_per_s / batch, 4)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2], help="process counts to time (default: 1 2)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU threads in all, split over the processes (default: the cores)")
    p.add_argument("--batch", type=int, default=64, help="global batch, split over the processes (default: 64)")
    p.add_argument("--steps", type=int, default=30, help="steps per run (default: 30)")
    p.add_argument("--skip", type=int, default=10, help="steps left out of the timing at the start (default: 10)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--out", type=Path, default=None, help="results JSON (default: benchmarks/results/parallel_throughput_DEVICE.json)")
    args = p.parse_args(argv)
    if any(args.batch % n or args.threads < n and args.device == "cpu" for n in args.procs):
        p.error("--batch must split evenly over each process count, and on CPU --threads must give every process one")
    before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        results = [run(n, max(1, args.threads // n), args.batch, args.steps, args.skip, args.device, Path(tmp)) for n in args.procs]
    for r in results:
        print(f"{r['processes']} process(es) x {r['threads_each']} thread(s), batch {r['batch_each']} each: {r['images_per_s']} images/s "
              f"({r['steps_per_s']} steps/s of {r['global_batch']} images)")
    out = args.out or Path(__file__).parent / "results" / f"parallel_throughput_{args.device}.json"
    record = {**provenance(), "device": args.device, "method": "dcgan", "data": "digits", "load_average_before": before,
              "load_average_after": load_average(), "results": results}
    with atomic_write(out, "w") as f:
        json.dump(record, f, indent=2)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
