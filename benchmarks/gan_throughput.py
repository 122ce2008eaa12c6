"""Train-step throughput of DCGAN and WGAN-GP at the shipped config (64x64 RGB, batch 64), as JSON.

    python benchmarks/gan_throughput.py                      # CPU -> benchmarks/results/gan_throughput_cpu.json
    python benchmarks/gan_throughput.py --device cuda        # GPU: float32 and bf16 -> gan_throughput_cuda.json

One WGAN-GP step is one critic update (with its gradient penalty) plus, every n_critic-th
step, one generator update; one DCGAN step is one discriminator and one generator update.
The timed window is a multiple of n_critic steps so both count whole cycles. On CPU the
load average is recorded too: on a shared machine it says how many others wanted the cores.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from zoo.bench import bench_train_step, load_average, provenance
from zoo.weights import atomic_write

#: The configs of the shipped models (docs/gan.md): the seed's tricks for DCGAN, the paper's defaults for WGAN-GP.
RECIPES = {
    "dcgan": {"soft_labels": True, "one_sided": True, "instance_noise": 0.01},
    "wgan_gp": {},
}


def run(device: str, batch_size: int, steps: int, warmup: int, precisions: list[bool]) -> dict:
    """Return the benchmark record: one result per method and precision, plus the machine's load."""
    results = []
    load_before = load_average()
    for method, config in RECIPES.items():
        for bf16 in precisions:
            r = bench_train_step(method, config, device=device, batch_size=batch_size, steps=steps, warmup=warmup, bf16=bf16)
            print(f"{method:8s} {'bf16' if bf16 else 'fp32'}  {r['steps_per_s']:8.2f} steps/s  {r['images_per_s']:9.1f} images/s  on {r['device']}", flush=True)
            results.append(r)
    return {
        "benchmark": "gan_throughput", **provenance(),
        "load_average_before": load_before, "load_average_after": load_average(),
        "cpu_count": os.cpu_count(), "results": results,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=None, help="timed steps (a multiple of 5; default 10 on CPU, 200 on GPU)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 5 on CPU, 50 on GPU)")
    p.add_argument("--out", default=None, help="default: benchmarks/results/gan_throughput_<device>.json")
    args = p.parse_args()
    gpu = args.device.startswith("cuda")
    steps = args.steps or (200 if gpu else 10)
    warmup = args.warmup if args.warmup is not None else (50 if gpu else 5)
    record = run(args.device, args.batch_size, steps, warmup, [False, True] if gpu else [False])
    out = Path(args.out or Path(__file__).parent / "results" / f"gan_throughput_{args.device.split(':')[0]}.json")
    with atomic_write(out, "w") as f:
        f.write(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
