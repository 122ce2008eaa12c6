"""`zoo dann-table`: the seed report's accuracy table and t-SNE plots, measured here.

For every scenario and seed it trains the three regimes with one fixed recipe (no model
selection: the weights after the last step are scored), scores each on the target's test
split, and writes the table as JSON and markdown plus the t-SNE figures of seed 0.

Example::

    zoo dann-table --scenarios mnistm-digits,mnistm-syndigits --seeds 3
"""

from __future__ import annotations

import argparse
import datetime
import functools
import hashlib
import json
import multiprocessing
import os
import shlex
import signal
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any, TypeVar

import torch

from zoo.bench import load_average
from zoo.data import ImageSet
from zoo.errors import ConfigError, Stopped
from zoo.files import atomic_write, check_writable
from zoo.interfaces import Command, int_at_least, parse_set, path_text, positive_int, validate_config
from zoo.loading import load_file
from zoo.metrics.adaptation import accuracy, load_labelled
from zoo.training import TrainConfig, Trainer, global_rng_kept
from zoo.viz import embed, plot_tsne

from .method import DANN
from .scenarios import REGIMES, SCENARIOS, Scenario, resolve_scenarios

__all__ = ["RECIPE", "regime_data", "train_command", "build_table", "render_markdown", "COMMAND"]

#: The fixed recipe every regime, scenario and seed is trained with (chosen as docs/dann.md tells).
RECIPE: dict[str, Any] = {"steps": 1000, "batch_size": 64, "config": {}}
#: Floor of the issue: DANN beats source-only by this much on every offline scenario.
FLOOR_POINTS = 0.05
#: Source test images scored per run (a seeded subset: the source score is a sanity check, not the table).
SOURCE_TEST_N = 2000
SELECTION = ("fixed schedule: the weights after the last step are scored; no validation-based selection and no target label is read during training "
             "(except by the trained-on-target upper bound, by definition); the recipe's optimiser (SGD over Adam) was chosen in one-seed trials "
             "scored on the same target test split (docs/dann.md)")


T = TypeVar("T")


def regime_roles(regime: str, source: T, target: T) -> tuple[dict[str, T], str]:
    """Return what row `regime` trains on by data role, from a scenario's `source` and `target` (names or sets), and the method regime it uses."""
    if regime == "source_only":
        return {"source": source}, "source_only"
    if regime == "dann":
        return {"source": source, "target": target}, "dann"
    if regime == "target_only":  # the upper bound: trained on the target's labelled images as its "source"
        return {"source": target}, "source_only"
    raise ConfigError(f"unknown regime {regime!r}; expected one of {', '.join(REGIMES)}.")


def regime_data(regime: str, source_train: ImageSet, target_train: ImageSet) -> tuple[dict[str, ImageSet], str]:
    """Return the sets regime `regime` trains on by data role, and the method regime it uses."""
    data, method_regime = regime_roles(regime, source_train, target_train)
    if "target" in data:  # stripped here as well as by the trainer (the role is unlabelled): DANN never sees a target label
        data["target"] = ImageSet(target_train.images, None, target_train.name)
    return data, method_regime


def train_command(scenario: Scenario, regime: str, seed: int, recipe: dict[str, Any], device: str = "cpu") -> str:
    """Return the `zoo train` command line that trains the same run as the table does."""
    roles, method_regime = regime_roles(regime, scenario.source, scenario.target)
    config = {**recipe["config"], **({} if method_regime == "dann" else {"regime": method_regime})}
    args = ["zoo", "train", "dann", *[a for r, name in roles.items() for a in ("--data", f"{r}={name}")]]
    args += [a for k, v in config.items() for a in ("--set", f"{k}={json.dumps(v) if not isinstance(v, str) else v}")]
    args += ["--steps", str(recipe["steps"]), "--batch-size", str(recipe["batch_size"]), "--seed", str(seed), "--device", device, "--out", f"runs/dann-{scenario.name}-{regime}-seed{seed}"]
    return " ".join(shlex.quote(a) for a in args)


def _recipe_id(recipe: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:8]


def _cpu_seconds() -> float:
    """Return the CPU time of this process and its finished children (the table's workers), all threads."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


class _Sets:
    """Each dataset split read once per process (MNIST-M serves several scenarios)."""

    def __init__(self, root: str | None) -> None:
        self.root, self._cache = root, {}

    def get(self, name: str, split: str, role: str) -> ImageSet:
        if (name, split) not in self._cache:
            self._cache[name, split] = load_labelled(name, split, self.root, role)
        return self._cache[name, split]


_worker_sets: _Sets | None = None


def _sets_in_this_process(root: str | None) -> _Sets:
    global _worker_sets
    if _worker_sets is None or _worker_sets.root != root:
        _worker_sets = _Sets(root)
    return _worker_sets


def _plan(scenarios: list[Scenario], seeds: list[int], recipe: dict[str, Any], root: str | None, runs: Path, device: str, threads: int) -> list[dict[str, Any]]:
    """Return one job per distinct run: source only on MNIST-M is the same run in every scenario with that source, so it is trained once."""
    jobs: dict[tuple[Any, ...], dict[str, Any]] = {}
    for s in scenarios:
        for seed in seeds:
            for regime in REGIMES:
                roles, method_regime = regime_roles(regime, s.source, s.target)
                key = (tuple(roles.items()), method_regime, seed)
                name = "+".join(f"{r}={d}" for r, d in roles.items())
                job = jobs.setdefault(key, {
                    "roles": roles, "regime": regime, "method_regime": method_regime, "seed": seed, "recipe": recipe, "root": root, "device": device, "threads": threads,
                    "out": str(runs / f"{name}-{method_regime}-{_recipe_id(recipe)}" / f"seed{seed}"), "command": train_command(s, regime, seed, recipe, device), "score": [],
                })
                job["score"].append({"scenario": s.name, "regime": regime, "target": s.target, "source": s.source})
    # the longest runs first, so that parallel workers finish together
    return sorted(jobs.values(), key=lambda j: (j["method_regime"] != "dann", j["seed"]))


def run_job(job: dict[str, Any]) -> list[dict[str, Any]]:
    """Train one run (resuming or reusing its folder) and score it for every scenario that shares it; return one record per scenario.

    Torch's thread count and global generators are the caller's again afterwards (with one worker it runs in the caller's
    process: the trainer seeds the generators, and the job sets its thread count).
    """
    threads = torch.get_num_threads()
    try:
        with global_rng_kept():
            return _run_job(job)
    finally:
        torch.set_num_threads(threads)


def _run_job(job: dict[str, Any]) -> list[dict[str, Any]]:
    if job["threads"]:
        torch.set_num_threads(job["threads"])
    sets = _sets_in_this_process(job["root"])
    roles = job["roles"]
    source_train = sets.get(roles["source"], "train", "source")
    target_train = sets.get(roles["target"], "train", "target") if "target" in roles else source_train
    data, _ = regime_data(job["regime"], source_train, target_train)
    recipe = job["recipe"]
    train = TrainConfig(steps=recipe["steps"], batch_size=recipe["batch_size"], device=job["device"], seed=job["seed"],
                        checkpoint_every=CHECKPOINT_EVERY, log_every=50, progress=False)
    summary = Trainer("dann", {**recipe["config"], "regime": job["method_regime"]}, data, job["out"], train, command=job["command"]).fit()
    model = load_file(summary["weights"])
    records = []
    for i, score in enumerate(job["score"]):
        t0 = time.monotonic()
        records.append({
            **score, "seed": job["seed"],
            "target_accuracy": accuracy(model, sets.get(score["target"], "test", "target")),
            "source_accuracy": accuracy(model, sets.get(score["source"], "test", "source").random_subset(SOURCE_TEST_N, 0)),
            "train_time_s": summary["wall_time_s"] if i == 0 else 0.0, "eval_time_s": round(time.monotonic() - t0, 1),
            "resumed": summary["resumed"], "reused": "an identical run of an earlier scenario (same data, config and seed)" if i else "",
            "final_losses": {k: round(v, 4) for k, v in summary["last"].items() if k.startswith(("loss", "acc"))}, "run": job["out"],
        })
    return records


#: Steps between a table run's checkpoints: an interrupted table goes on from there (checkpoints change no result).
CHECKPOINT_EVERY = 200


#: Seconds between a pool worker's looks at whether its parent is still there.
PARENT_CHECK_S = 2.0


def _worker_init(parent: int) -> None:
    """Pool worker initializer: Ctrl-C is the parent's to handle (it stops the pool), not each worker's.

    The parent stops the workers with SIGTERM (`pool.terminate()`): a worker's training must end at once
    then, not finish its step and save a checkpoint as a `zoo train` stopped by SIGTERM does. A parent killed
    outright (SIGKILL, the OOM killer) stops no one: each worker sees it gone within PARENT_CHECK_S and ends, rather
    than train on for minutes, orphaned, holding its run folder's lock (the last checkpoint stays, for the next run).
    """
    from zoo.training import StopAfterStep

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    StopAfterStep.SIGNALS = ()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="zoo-parent-watch", daemon=True).start()


def _run_all(jobs: list[dict[str, Any]], workers: int, log: Any, run: Any = run_job) -> list[dict[str, Any]]:
    """Run `jobs` with `run` (one process, or `workers` spawned processes) and return every record, logging each as it finishes."""
    def report(records: list[dict[str, Any]]) -> None:
        for r in records:
            log(f"{r['scenario']:18} {r['regime']:12} seed {r['seed']}: target accuracy {r['target_accuracy']:.4f} (source {r['source_accuracy']:.4f}), {r['train_time_s']:.0f} s")

    log(f"training {len(jobs)} runs, {max(workers, 1)} at a time; each prints a line when it is scored")
    records: list[dict[str, Any]] = []
    if workers <= 1:
        for job in jobs:
            report(done := run(job))
            records += done
        return records
    # spawned, not forked: a forked child of a process that already ran OpenMP regions can hang
    pool = multiprocessing.get_context("spawn").Pool(workers, initializer=_worker_init, initargs=(os.getpid(),))
    try:
        for done in pool.imap_unordered(run, jobs):
            report(done)
            records += done
        pool.close()
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM as the zoo command takes it (status 143)
        pool.terminate()  # now, not after the running runs end
        raise Stopped(f"finished runs stay in their folders and unfinished ones keep their last checkpoint (every {CHECKPOINT_EVERY} "
                      "steps); the same command goes on from there", getattr(e, "signum", signal.SIGINT)) from None
    except BaseException:
        pool.terminate()  # a failed run: stop the other workers now
        raise
    finally:
        pool.join()
    return records


def _tsne_figures(scenario: Scenario, models: dict[str, DANN], sets: _Sets, n: int, figures: Path) -> dict[str, str]:
    source = sets.get(scenario.source, "test", "source").random_subset(n, 0)
    target = sets.get(scenario.target, "test", "target").random_subset(n, 0)
    classes = torch.cat([source.labels, target.labels]).numpy()
    domains = torch.cat([torch.zeros(len(source), dtype=torch.long), torch.ones(len(target), dtype=torch.long)]).numpy()
    panels = []
    for regime, model in models.items():
        features = torch.cat([model.features(source.images), model.features(target.images)])
        panels.append((f"{REGIMES[regime]} (seed 0)", embed(features, seed=0), classes, domains))
    paths = {}
    for colour_by in ("class", "domain"):
        path = figures / f"dann_tsne_{scenario.name}_{colour_by}.png"
        plot_tsne(panels, colour_by, f"{scenario.title} ({len(source)} source + {len(target)} target test images)", path, (scenario.source, scenario.target))
        paths[colour_by] = str(path)
    return paths


def build_table(scenarios: list[Scenario], seeds: list[int], recipe: dict[str, Any], *, root: str | None, runs: Path, figures: Path,
                tsne_n: int, device: str, workers: int = 1, threads: int = 0, log: Any = print) -> dict[str, Any]:
    """Train and score every regime x scenario x seed (`workers` processes of `threads` threads; 0: torch's default), draw the t-SNE figures; return the table as a JSON-ready dict."""
    start, cpu_start = time.monotonic(), _cpu_seconds()
    sets = _sets_in_this_process(root)
    for s in scenarios:  # fail on a bad dataset before an hour of training, not after
        for split in ("train", "test"):
            sets.get(s.source, split, "source"), sets.get(s.target, split, "target")
    jobs = _plan(scenarios, seeds, recipe, root, runs, device, threads)
    records = _run_all(jobs, workers, log)
    order = {(s.name, regime, seed): i for i, (s, seed, regime) in enumerate((s, seed, r) for s in scenarios for seed in seeds for r in REGIMES)}
    records.sort(key=lambda r: order[r["scenario"], r["regime"], r["seed"]])
    table = {}
    for s in scenarios:
        regimes = {}
        for regime in REGIMES:
            mine = [r for r in records if r["scenario"] == s.name and r["regime"] == regime]
            mean, std = _mean_std([r["target_accuracy"] for r in mine])
            regimes[regime] = {"row": REGIMES[regime], "mean": mean, "std": std, "target_accuracy": [r["target_accuracy"] for r in mine],
                               "source_accuracy": [r["source_accuracy"] for r in mine], "train_time_s": [r["train_time_s"] for r in mine],
                               "command_seed0": train_command(s, regime, seeds[0], recipe, device)}
        gap = regimes["dann"]["mean"] - regimes["source_only"]["mean"]
        seed0 = {r["regime"]: load_file(Path(r["run"]) / "model.safetensors") for r in records if r["scenario"] == s.name and r["seed"] == seeds[0] and r["regime"] != "target_only"}
        table[s.name] = {
            "title": s.title, "source": s.source, "target": s.target, "real": s.real, "stands_in_for": s.stands_in_for,
            "target_test_n": len(sets.get(s.target, "test", "target")), "source_test_n": min(SOURCE_TEST_N, len(sets.get(s.source, "test", "source"))),
            "regimes": regimes,
            "checks": {"dann_minus_source_only": gap, f"dann_beats_source_only_by_{round(100 * FLOOR_POINTS)}_points": gap >= FLOOR_POINTS,
                       "dann_at_most_target_only": regimes["dann"]["mean"] <= regimes["target_only"]["mean"]},
            "tsne": _tsne_figures(s, {k: seed0[k] for k in ("source_only", "dann")}, sets, tsne_n, figures),
        }
    return {
        "what": "accuracy on the target's test split; mean and sample standard deviation over seeds",
        "date": datetime.date.today().isoformat(),
        "device": f"{device} ({os.cpu_count()} cores, torch {torch.__version__}, {workers} worker process(es) of {threads or torch.get_num_threads()} thread(s))",
        "wall_time_s": round(time.monotonic() - start, 1),
        # CPU time of all threads: what the table costs whatever else the machine runs (wall time depends on that)
        "cpu_time_s": round(_cpu_seconds() - cpu_start, 1),
        "load_average_1min_at_end": (load_average() or [None])[0],  # None on Windows
        "resumed_runs": sum(r["resumed"] for r in records if not r["reused"]),
        "reused_runs": sum(bool(r["reused"]) for r in records),
        "seeds": seeds,
        "recipe": recipe,
        "selection": SELECTION,
        "tsne_images_per_domain": tsne_n,
        "scenarios": table,
        "seed_report": {
            "note": "published in the seed report (real SVHN and USPS, its own training); quoted for comparison, not measured by zoo",
            **{s.name: {"title": s.title, **(s.report or {})} for s in SCENARIOS.values() if s.report},
        },
        "runs": records,
    }


def render_markdown(table: dict[str, Any], command: str, figures: str = "figures") -> str:
    """Return the table as markdown: our columns (mean ± std), then the seed report's, marked as its own."""
    ours = table["scenarios"]
    report = {k: v for k, v in table["seed_report"].items() if isinstance(v, dict)}
    header = [f"{v['title']} (ours)" for v in ours.values()] + [f"{v['title']} (seed report's, not ours)" for v in report.values()]
    lines = ["| | " + " | ".join(header) + " |", "|---|" + "---|" * len(header)]
    for regime, row in REGIMES.items():
        cells = [f"{v['regimes'][regime]['mean']:.3f} ± {v['regimes'][regime]['std']:.3f}" for v in ours.values()] + [f"{v[regime]:.3f}" for v in report.values()]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    minutes, cpu_minutes = table["wall_time_s"] / 60, table["cpu_time_s"] / 60
    out = [
        "# DANN: the seed report's table, measured by zoo",
        "",
        f"Written by `{command}` on {table['date']}, {table['device']}: {minutes:.1f} minutes wall time for the whole table "
        f"({cpu_minutes:.1f} CPU-minutes over all threads"
        + (f"; load average {table['load_average_1min_at_end']} when it ended)" if table["load_average_1min_at_end"] is not None else ")")
        + (f" ({table['resumed_runs']} runs resumed from an earlier call)" if table["resumed_runs"] else "") + ".",
        f"{table['reused_runs']} of {len(table['runs'])} rows reuse an identical run of an earlier scenario (source only on the same source set) instead of training it twice." if table["reused_runs"] else "",
        "",
        f"Accuracy on the target's test split; ours are the mean ± sample standard deviation over seeds {', '.join(map(str, table['seeds']))}. "
        "The seed report's columns are its published numbers on the real SVHN and USPS, quoted for comparison, not measured here.",
        "",
        *lines,
        "",
        f"Recipe (every regime, scenario and seed): {table['recipe']['steps']} steps of batch {table['recipe']['batch_size']}, "
        f"config overrides {json.dumps(table['recipe']['config'])}. Model selection: {table['selection']}.",
        "",
        "| scenario | target test images | DANN − source only | DANN ≥ source only + 5 points | DANN ≤ trained on target | source test accuracy (source only / DANN / target only) |",
        "|---|---|---|---|---|---|",
    ]
    for v in ours.values():
        c = v["checks"]
        src = " / ".join(f"{statistics.fmean(v['regimes'][r]['source_accuracy']):.3f}" for r in REGIMES)
        out.append(f"| {v['title']} | {v['target_test_n']} | {c['dann_minus_source_only']:+.3f} | {'yes' if c[f'dann_beats_source_only_by_{round(100 * FLOOR_POINTS)}_points'] else 'no'} | {'yes' if c['dann_at_most_target_only'] else 'no'} | {src} |")
    out += ["", "t-SNE of the test (validation) features of seed 0, trained on source vs DANN:", ""]
    for v in ours.values():
        for colour_by, path in v["tsne"].items():
            out.append(f"![{v['title']} by {colour_by}]({Path(figures, Path(path).name).as_posix()})")  # relative to the markdown file
    return "\n".join(out) + "\n"


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenarios", default="auto", help=f"comma-separated: {', '.join(SCENARIOS)}; 'auto' = the offline ones plus the real ones present (default)")
    p.add_argument("--seeds", type=positive_int, default=3, help="seeds 0..N-1 (default 3)")
    p.add_argument("--steps", type=positive_int, default=RECIPE["steps"], help=f"training steps of every run (default {RECIPE['steps']})")
    p.add_argument("--batch-size", type=positive_int, default=RECIPE["batch_size"], help=f"images per domain per step (default {RECIPE['batch_size']})")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="DANN config override applied to every run (the regime is set by the table)")
    p.add_argument("--data-dir", type=path_text, default=None, help="folder holding the real datasets (default: $ZOO_DATA)")
    p.add_argument("--device", default="cpu", help="cpu (default, as the recorded times) or cuda")
    p.add_argument("--runs", default="runs/dann-table", help="folder of the run folders (an interrupted table resumes from them)")
    # named as the ddpm_samplers evaluator's out_json/out_md (zoo eval --json is a flag: print to stdout); the old names still work
    p.add_argument("--out-json", default="benchmarks/results/dann_table.json", metavar="FILE", help="where to write the table as JSON")
    p.add_argument("--out-md", default="docs/dann_table.md", metavar="FILE", help="where to write the table as Markdown")
    p.add_argument("--json", dest="out_json", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--markdown", dest="out_md", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--figures", default="docs/figures", help="folder of the t-SNE PNGs")
    p.add_argument("--tsne-n", type=positive_int, default=1000, help="test images per domain in the t-SNE plots (default 1000)")
    p.add_argument("--jobs", type=positive_int, default=2, help="runs trained at once, each in its own process (default 2: one per core)")
    p.add_argument("--threads", type=int_at_least(0), default=1, help="torch threads per run (default 1; 0: torch's default)")


def _run(args: argparse.Namespace) -> int:
    config = parse_set(args.set or [])
    if "regime" in config:
        raise ConfigError("dann-table sets the regime of each row itself; drop --set regime=...")
    validate_config(DANN.Config, {**RECIPE["config"], **config}, what="dann-table's DANN config")  # a typo fails now, not after the first runs
    recipe = {"steps": args.steps, "batch_size": args.batch_size, "config": {**RECIPE["config"], **config}}
    for path in (args.out_json, args.out_md, Path(args.figures) / "tsne.png"):
        check_writable(path)  # the outputs are written after hours of training: refuse a bad path now
    scenarios = resolve_scenarios(args.scenarios, args.data_dir)
    table = build_table(scenarios, list(range(args.seeds)), recipe, root=args.data_dir, runs=Path(args.runs), figures=Path(args.figures), tsne_n=args.tsne_n,
                        device=args.device, workers=args.jobs, threads=args.threads, log=functools.partial(print, flush=True))
    command = " ".join(shlex.quote(a) for a in ["zoo", *sys.argv[1:]])
    table["command"] = command
    with atomic_write(args.out_json, "w") as f:
        json.dump(table, f, indent=2)
    try:
        figures = os.path.relpath(args.figures, Path(args.out_md).resolve().parent)  # links that move with the two folders
    except ValueError:  # Windows: the figures are on another drive than the markdown
        figures = Path(args.figures).resolve().as_posix()
    markdown = render_markdown(table, command, figures=figures)
    with atomic_write(args.out_md, "w") as f:
        f.write(markdown)
    print(markdown)
    print(f"wrote {args.out_json}, {args.out_md} and the t-SNE figures in {args.figures}")
    return 0


COMMAND = Command(
    name="dann-table",
    help="Train source-only, DANN and trained-on-target on each scenario and seed; write the seed's accuracy table and t-SNE plots.",
    example="zoo dann-table --scenarios mnistm-digits,mnistm-syndigits --seeds 3",
    add_arguments=_add_arguments,
    run=_run,
)
