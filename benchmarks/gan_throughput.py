"""Train-step throughput of DCGAN and WGAN-GP at the shipped config (64x64 RGB, batch 64), as JSON.

    python benchmarks/gan_throughput.py                      # CPU -> benchmarks/results/gan_throughput_cpu.json
    python benchmarks/gan_throughput.py --device cuda        # GPU: 4 settings -> gan_throughput_cuda.json
    python benchmarks/gan_throughput.py --flags-for dcgan --record gan_throughput_cuda.json   # its fastest zoo train flags

On a GPU each method is timed in float32 and under bf16 autocast, each with the NCHW and the NHWC
memory format (`zoo train`'s --bf16 and --channels-last), as the median of 3 runs; `--flags-for`
prints the flags of the fastest (benchmarks/gan_gpu.sh trains with them).

One WGAN-GP step is one critic update (with its gradient penalty) plus, every n_critic-th
step, one generator update; one DCGAN step is one discriminator and one generator update.
The timed window is a multiple of n_critic steps so both count whole cycles. On CPU the
load average is recorded too: on a shared machine it says how many others wanted the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from zoo.bench import bench_train_step, load_average, provenance
from zoo.files import atomic_write

#: The configs of the shipped models (docs/gan.md): the seed's tricks for DCGAN, the paper's defaults for WGAN-GP.
RECIPES = {
    "dcgan": {"soft_labels": True, "one_sided": True, "instance_noise": 0.01},
    "wgan_gp": {},
}


#: (bf16, channels_last) timed on a GPU; a CPU times float32 NCHW alone
GPU_SETTINGS = [(False, False), (True, False), (False, True), (True, True)]


def train_flags(bf16: bool, channels_last: bool) -> str:
    """Return the `zoo train` flags of a setting ("" for float32, NCHW)."""
    return " ".join(f for f, on in (("--bf16", bf16), ("--channels-last", channels_last)) if on)


def fastest_flags(record: dict, method: str) -> str:
    """Return the `zoo train` flags of the setting that ran `method` the most steps/s in a gan_throughput record."""
    if not isinstance(record, dict) or not isinstance(record.get("results"), list):
        raise ValueError(f"not a gan_throughput record (an object with a 'results' list); got {type(record).__name__}")
    timed = [r for r in record["results"] if isinstance(r, dict) and r.get("method") == method]
    if not timed:
        raise KeyError(f"the record times no {method!r} train step (it times {sorted({str(r.get('method')) for r in record['results'] if isinstance(r, dict)})})")
    best = max(timed, key=lambda r: r["steps_per_s"])
    return train_flags(best.get("bf16", False), best.get("channels_last", False))


def run(device: str, batch_size: int, steps: int, warmup: int, settings: list[tuple[bool, bool]], repeats: int = 1) -> dict:
    """Return the benchmark record: one result per method and setting (bf16, channels_last), plus the machine's load."""
    results = []
    load_before = load_average()
    for method, config in RECIPES.items():
        for bf16, channels_last in settings:
            r = bench_train_step(method, config, device=device, batch_size=batch_size, steps=steps, warmup=warmup, bf16=bf16,
                                 channels_last=channels_last, repeats=repeats)
            setting = f"{'bf16' if bf16 else 'fp32'} {'NHWC' if channels_last else 'NCHW'}"
            print(f"{method:8s} {setting}  {r['steps_per_s']:8.2f} steps/s  {r['images_per_s']:9.1f} images/s  on {r['device']}", flush=True)
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
    p.add_argument("--steps", type=int, default=None, help="timed steps (a multiple of 5; default 10 on CPU, 100 on GPU)")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 5 on CPU, 50 on GPU)")
    p.add_argument("--out", default=None, help="default: benchmarks/results/gan_throughput_<device>.json")
    p.add_argument("--flags-for", metavar="METHOD", help="print the zoo train flags of METHOD's fastest setting in --record, and time nothing")
    p.add_argument("--record", type=Path, help="a gan_throughput JSON (with --flags-for)")
    args = p.parse_args()
    if args.flags_for:
        if args.record is None:
            p.error("--flags-for needs --record FILE (a gan_throughput JSON)")
        try:
            print(fastest_flags(json.loads(args.record.read_text()), args.flags_for))
        except (OSError, ValueError, KeyError) as e:
            print(f"gan_throughput: {args.record}: {e}", file=sys.stderr)
            return 1
        return 0
    gpu = args.device.startswith("cuda")
    steps = args.steps or (100 if gpu else 10)
    warmup = args.warmup if args.warmup is not None else (50 if gpu else 5)
    record = run(args.device, args.batch_size, steps, warmup, GPU_SETTINGS if gpu else [(False, False)], repeats=3 if gpu else 1)
    out = Path(args.out or Path(__file__).parent / "results" / f"gan_throughput_{args.device.split(':')[0]}.json")
    with atomic_write(out, "w") as f:
        f.write(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
