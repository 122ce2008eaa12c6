"""Ship the two MNIST-M GANs after their training runs: register, name their evaluation, evaluate, draw the figures.

    python benchmarks/gan_ship.py --dcgan-run runs/dcgan_mnistm64 --wgan-run runs/wgan_gp_mnistm64

Either run may be shipped alone (the other one later). Before anything is registered, each run given is
checked: its method must be the one its flag names, and its weights must meet issue 4's floors (classifier
IS >= 7, every digit 4% - 16%), judged as `benchmarks/gan_variants.py` judges them on ``--n`` samples
(``--below-floors`` ships anyway, for a rehearsal with a scratch ``ZOO_REGISTRY``, ``--figures`` and ``--logs``). That judging needs
what the evaluation needs (``ZOO_DATA`` with MNIST, the shipped classifier), so a missing piece stops it
before an entry exists. Then, for each run:

1. ``zoo register RUN NAME --data mnistm`` (weights, command, wall time, device);
2. the entry's ``evaluation`` table: the `gan` evaluator on 10,000 samples, seed 0, against MNIST-M's
   test split, judged by ``classifier.mnistm``, with Inception FID and KID (``--fid-n`` samples) and the classifier's KID;
3. ``zoo eval NAME --write``: the evaluation command prints and records the metrics;

then ``zoo gan-figures`` for every one of the two that is registered: first-32 grids, the side-by-side
figure (once both are) and the loss curves in docs/figures/, drawn from copies of the runs' logs kept in
benchmarks/results/gan_train_log_NAME.json.

FID on two CPU cores takes about an hour per 10,000 images (the real split's statistics are
cached after the first model); an interrupted run continues where it stopped when started again (until
then its entry has no metrics: run the same command again).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gan_variants import FLOORS, judge

from zoo.cli import main as zoo
from zoo.errors import ZooError
from zoo.files import atomic_write
from zoo.gan_figures import read_run_records
from zoo.interfaces import validate_config
from zoo.metrics import check_plan
from zoo.plugins import get_plugin_manager
from zoo.registration import update_entry
from zoo.registry import entries

RESULTS = Path(__file__).parent / "results"
FIGURES = Path(__file__).parents[1] / "docs" / "figures"

NAMES = {"dcgan": "dcgan.mnistm64", "wgan": "wgan_gp.mnistm64"}
METHODS = {"dcgan": "dcgan", "wgan": "wgan_gp"}
FLAGS = {"dcgan": "--dcgan-run", "wgan": "--wgan-run"}


def check_method(key: str, run: Path) -> str | None:
    """Return why `run` is not a run of the method NAMES[key] ships, or has no training log (None: it is one, with one)."""
    info_file = run / "run.json"
    if not info_file.is_file():
        return f"{FLAGS[key]} {run}: no run.json there; pass a finished `zoo train {METHODS[key]}` run folder."
    method = json.loads(info_file.read_text()).get("method")
    if method != METHODS[key]:
        other = next((FLAGS[k] for k, m in METHODS.items() if m == method), None)
        return (f"{FLAGS[key]} {run} is a {method!r} run; {NAMES[key]} needs a {METHODS[key]!r} run"
                + (f" (pass this one as {other})." if other else "."))
    try:  # its log is kept beside the entry and drawn in the figures: a run that logged nothing stops here, not half-shipped
        read_run_records(run)
    except ZooError as e:
        return f"{FLAGS[key]} {run}: {e}"
    return None


def check_floors(key: str, run: Path, *, n: int, device: str | None, below_floors: bool) -> str | None:
    """Return why `run` cannot ship as NAMES[key] (None: it can): it could not be judged, or it is below the floors."""
    row = judge(run, n=n, fid=False, device=device, grids=None)
    if "error" in row:
        return f"{FLAGS[key]} {run}: {row['error']}"
    m = row["metrics"]
    if not row["meets_floors"] and not below_floors:
        return (f"{FLAGS[key]} {run} misses issue 4's floors on {m['n']} samples: classifier IS {m['classifier_is']:.2f} "
                f"(floor {FLOORS['classifier_is']:g}), digits {100 * m['coverage_min']:.1f}% - {100 * m['coverage_max']:.1f}% "
                f"(floor {100 * FLOORS['coverage_min']:g}% - {100 * FLOORS['coverage_max']:g}%). Nothing is registered; "
                "--below-floors ships it anyway (a rehearsal, with a scratch ZOO_REGISTRY).")
    print(f"{NAMES[key]}: {run} judged on {m['n']} samples: classifier IS {m['classifier_is']:.2f}, digits "
          f"{100 * m['coverage_min']:.1f}% - {100 * m['coverage_max']:.1f}%" + ("" if row["meets_floors"] else " (below the floors: --below-floors)"))
    return None


def description(key: str, run: Path) -> str:
    """Return the registry description of the run shipped as NAMES[key]: the method and the recipe it was trained with."""
    info = json.loads((run / "run.json").read_text())
    cls = get_plugin_manager().method(info["method"])
    c, batch = validate_config(cls.Config, info["config"], what=str(run)).model_dump(), info["train"]["batch_size"]  # with today's defaults
    if key == "dcgan":
        labels = ("soft labels 0.9/0 (one-sided)" if c["one_sided"] else "soft labels 0.9/0.1") if c["soft_labels"] else "hard labels"
        return f"DCGAN (seed report, method A) on MNIST-M at 64x64, batch {batch}, {labels}, instance noise {c['instance_noise']:g}"
    return (f"WGAN-GP (seed report, method B) on MNIST-M at 64x64, batch {batch}: InstanceNorm critic, "
            f"gradient penalty {c['gp_lambda']:g}, n_critic {c['n_critic']}")


def log_path(name: str, folder: Path = RESULTS) -> Path:
    """Return where the training log of shipped model `name` is kept (in the repository by default)."""
    return folder / f"gan_train_log_{name}.json"


def evaluation(n: int, fid_n: int | None) -> dict:
    """Return the `evaluation` table of a shipped MNIST-M GAN."""
    options = {"n": n, "seed": 0, "data": "mnistm", "split": "test", "classifier": "classifier.mnistm", "fid": fid_n is not None,
               "kid": True}  # the kernel distance too (the classifier's, and with FID Inception's): unbiased, so a CPU's 500 images compare
    if fid_n is not None and fid_n != n:
        options["fid_n"] = fid_n
    return {"gan": options}


def parser() -> argparse.ArgumentParser:
    """Return the command line's parser."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dcgan-run", type=Path, help="finished `zoo train dcgan` run folder to ship as dcgan.mnistm64")
    p.add_argument("--wgan-run", type=Path, help="finished `zoo train wgan_gp` run folder to ship as wgan_gp.mnistm64")
    p.add_argument("--n", type=int, default=10000, help="generated images for the classifier metrics")
    p.add_argument("--fid-n", type=int, default=10000, help="generated images for Inception FID (0: no FID)")
    p.add_argument("--device", default=None)
    p.add_argument("--figures", type=Path, default=None, help="where the figures go (default: the repository's docs/figures)")
    p.add_argument("--below-floors", action="store_true",
                   help="ship runs that miss issue 4's floors: a rehearsal, with a scratch ZOO_REGISTRY, --figures and --logs")
    p.add_argument("--logs", type=Path, default=None, help="folder for the copies of the training logs (default: the repository's benchmarks/results)")
    return p


def main() -> int:
    args = parser().parse_args()
    runs = {"dcgan": args.dcgan_run, "wgan": args.wgan_run}
    if not any(runs.values()):
        raise SystemExit("nothing to ship: pass --dcgan-run RUN_FOLDER and/or --wgan-run RUN_FOLDER.")
    try:  # the plan is checked before anything is registered: a bad --n must not leave an entry without metrics
        check_plan(evaluation(args.n, args.fid_n or None), "gan_ship.py --n/--fid-n")
    except ZooError as e:
        raise SystemExit(f"gan_ship.py: error: {e}") from None
    if args.below_floors and (args.figures is None or args.logs is None):  # a rehearsal must not replace the shipped models' files
        raise SystemExit("gan_ship.py: error: --below-floors is a rehearsal: pass --figures DIR and --logs DIR outside the repository "
                         "(its docs/figures and benchmarks/results hold the shipped models' figures and logs), and a scratch ZOO_REGISTRY.")
    args.figures = args.figures or FIGURES
    args.logs = args.logs or RESULTS
    # every run is checked before either is registered; the cheap checks first
    whys = [check_method(key, run) for key, run in runs.items() if run is not None]
    whys += [] if any(whys) else [check_floors(key, run, n=args.n, device=args.device, below_floors=args.below_floors)
                                  for key, run in runs.items() if run is not None]
    if any(whys):
        raise SystemExit("gan_ship.py: error: " + "\ngan_ship.py: error: ".join(w for w in whys if w))
    for key, run in runs.items():
        if run is None:
            continue
        if zoo(["register", str(run), NAMES[key], "--data", "mnistm", "--replace"]):  # run again after an interruption, it resumes
            return 1
        with atomic_write(log_path(NAMES[key], args.logs), "w") as f:
            f.write(json.dumps(read_run_records(run)) + "\n")
        update_entry(NAMES[key], {"description": description(key, run), "evaluation": evaluation(args.n, args.fid_n or None)})
        if zoo(["eval", NAMES[key], "--write", *(["--device", args.device] if args.device else [])]):
            return 1
    shipped = [name for name in NAMES.values() if name in entries()]
    logs = [str(log_path(name, args.logs)) for name in shipped if log_path(name, args.logs).is_file()]
    return zoo(["gan-figures", *shipped, "--out", str(args.figures), *(["--runs", *logs] if len(logs) == len(shipped) else [])])


if __name__ == "__main__":
    raise SystemExit(main())
