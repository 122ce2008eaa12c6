"""Redraw a training run's loss figure (what the trainer writes as its loss.png) from a kept log.

    python benchmarks/loss_figure.py benchmarks/results/gan_train_log_dcgan.mnist64.json --label "dcgan on mnist" \
        --out docs/figures/dcgan_mnist64_loss.png

LOG is a run folder (its metrics.jsonl), a .jsonl log or a .json list of records (what gan_ship.py keeps in
benchmarks/results/). The figure is `zoo.viz.plot_curves` of every ``loss*`` value against step, titled
`--label` (the trainer titles it "METHOD on DATA"), so a committed loss figure is remade from its log
without the run folder, which git ignores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zoo.errors import ZooError
from zoo.files import check_writable
from zoo.gan_figures import read_run_records
from zoo.viz import plot_curves


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("log", type=Path, help="a run folder, a metrics .jsonl log or a .json list of records")
    p.add_argument("--label", required=True, help='the panel\'s title, e.g. "dcgan on mnist"')
    p.add_argument("--out", type=Path, required=True, help="the PNG to write")
    args = p.parse_args()
    try:
        check_writable(args.out)
        path = plot_curves({args.label: read_run_records(args.log)}, args.out)
    except ZooError as e:
        print(f"loss_figure: {e}")
        return 1
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
