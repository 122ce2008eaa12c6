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
import hashlib
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from zoo.data import ImageSet
from zoo.errors import ConfigError
from zoo.interfaces import Command
from zoo.registry import load_file
from zoo.training import TrainConfig, Trainer
from zoo.weights import atomic_write

from .evaluate import accuracy, subset
from .method import DANN
from .scenarios import REGIMES, SCENARIOS, Scenario, load_checked, resolve_scenarios
from .tsne import embed, plot_tsne

__all__ = ["RECIPE", "regime_data", "train_command", "parse_overrides", "build_table", "render_markdown", "COMMAND"]

#: The fixed recipe every regime, scenario and seed is trained with (chosen as docs/dann.md tells).
RECIPE: dict[str, Any] = {"steps": 1000, "batch_size": 64, "config": {}}
#: Floor of the issue: DANN beats source-only by this much on every offline scenario.
FLOOR_POINTS = 0.05
#: Source test images scored per run (a seeded subset: the source score is a sanity check, not the table).
SOURCE_TEST_N = 2000
SELECTION = "fixed schedule: the weights after the last step are scored; no validation-based selection and no target label is read during training (except by the trained-on-target upper bound, by definition)"


def regime_data(regime: str, source_train: ImageSet, target_train: ImageSet) -> tuple[dict[str, ImageSet], str]:
    """Return the data roles regime `regime` trains on, and the method regime it uses."""
    if regime == "source_only":
        return {"source": source_train}, "source_only"
    if regime == "dann":
        # stripped here as well as by the trainer (the target role is unlabelled): DANN never sees a target label
        return {"source": source_train, "target": ImageSet(target_train.images, None, target_train.name)}, "dann"
    if regime == "target_only":
        return {"source": target_train}, "source_only"
    raise ConfigError(f"unknown regime {regime!r}; expected one of {', '.join(REGIMES)}.")


def train_command(scenario: Scenario, regime: str, seed: int, recipe: dict[str, Any]) -> str:
    """Return the `zoo train` command line that trains the same run as the table does."""
    roles = {"source_only": [f"source={scenario.source}"], "dann": [f"source={scenario.source}", f"target={scenario.target}"], "target_only": [f"source={scenario.target}"]}[regime]
    config = {**recipe["config"], **({} if regime == "dann" else {"regime": "source_only"})}
    args = ["zoo", "train", "dann", *[a for r in roles for a in ("--data", r)]]
    args += [a for k, v in config.items() for a in ("--set", f"{k}={json.dumps(v) if not isinstance(v, str) else v}")]
    args += ["--steps", str(recipe["steps"]), "--batch-size", str(recipe["batch_size"]), "--seed", str(seed), "--device", "cpu", "--out", f"runs/dann-{scenario.name}-{regime}-seed{seed}"]
    return " ".join(shlex.quote(a) for a in args)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """Return ``key=value`` items as a dict, each value parsed as JSON when it parses (1e-4, true), else kept as text."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set lr=2e-4")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def _recipe_id(recipe: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:8]


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


class _Sets:
    """Each dataset split read once (MNIST-M serves several scenarios)."""

    def __init__(self, root: str | None) -> None:
        self.root, self._cache = root, {}

    def get(self, name: str, split: str, role: str) -> ImageSet:
        if (name, split) not in self._cache:
            self._cache[name, split] = load_checked(name, split, self.root, role)
        return self._cache[name, split]


class _Runs:
    """Trains each distinct run once: source-only on MNIST-M is the same run in every scenario with that source."""

    def __init__(self, recipe: dict[str, Any], sets: _Sets, folder: Path, device: str) -> None:
        self.recipe, self.sets, self.folder, self.device = recipe, sets, folder, device
        self._done: dict[tuple[str, str, int], tuple[dict[str, Any], DANN]] = {}

    def train_and_score(self, scenario: Scenario, regime: str, seed: int) -> tuple[dict[str, Any], DANN]:
        """Return the record (target and source test accuracy, times) and the model of one run, training it unless done."""
        data, method_regime = regime_data(regime, self.sets.get(scenario.source, "train", "source"), self.sets.get(scenario.target, "train", "target"))
        roles = "+".join(f"{role}={d.name}" for role, d in data.items())
        key = (roles, method_regime, seed)
        if key not in self._done:
            out = self.folder / f"{roles}-{method_regime}-{_recipe_id(self.recipe)}" / f"seed{seed}"
            train = TrainConfig(steps=self.recipe["steps"], batch_size=self.recipe["batch_size"], device=self.device, seed=seed, checkpoint_every=0, log_every=50, progress=False)
            config = {**self.recipe["config"], "regime": method_regime}
            summary = Trainer("dann", config, data, out, train, command=train_command(scenario, regime, seed, self.recipe)).fit()
            model = load_file(summary["weights"])
            run = {"run": str(out), "train_time_s": summary["wall_time_s"], "resumed": summary["resumed"],
                   "final_losses": {k: round(v, 4) for k, v in summary["last"].items() if k.startswith(("loss", "acc"))}}
            self._done[key] = (run, model)
            shared_by = ""
        else:
            shared_by = "an identical run of an earlier scenario (same data, config and seed)"
        run, model = self._done[key]
        t0 = time.monotonic()
        record = {
            "scenario": scenario.name, "regime": regime, "seed": seed,
            "target_accuracy": accuracy(model, self.sets.get(scenario.target, "test", "target")),
            "source_accuracy": accuracy(model, subset(self.sets.get(scenario.source, "test", "source"), SOURCE_TEST_N, seed=0)),
            **run, "eval_time_s": round(time.monotonic() - t0, 1), "reused": shared_by,
        }
        if shared_by:
            record["train_time_s"] = 0.0
        return record, model


def _tsne_figures(scenario: Scenario, models: dict[str, DANN], sets: _Sets, n: int, figures: Path) -> dict[str, str]:
    source = subset(sets.get(scenario.source, "test", "source"), n, seed=0)
    target = subset(sets.get(scenario.target, "test", "target"), n, seed=0)
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


def build_table(scenarios: list[Scenario], seeds: list[int], recipe: dict[str, Any], *, root: str | None, runs: Path, figures: Path, tsne_n: int, device: str, log: Any = print) -> dict[str, Any]:
    """Train and score every regime x scenario x seed, draw the t-SNE figures; return the table as a JSON-ready dict."""
    start = time.monotonic()
    sets = _Sets(root)
    for s in scenarios:  # fail on a bad dataset before an hour of training, not after
        for split in ("train", "test"):
            sets.get(s.source, split, "source"), sets.get(s.target, split, "target")
    records, table, runner = [], {}, _Runs(recipe, sets, runs, device)
    for s in scenarios:
        tsne_models: dict[str, DANN] = {}
        for seed in seeds:
            for regime in REGIMES:
                record, model = runner.train_and_score(s, regime, seed)
                records.append(record)
                log(f"{s.name:18} {regime:12} seed {seed}: target accuracy {record['target_accuracy']:.4f} (source {record['source_accuracy']:.4f}), {record['train_time_s']:.0f} s")
                if seed == seeds[0] and regime in ("source_only", "dann"):
                    tsne_models[regime] = model
        regimes = {}
        for regime in REGIMES:
            mine = [r for r in records if r["scenario"] == s.name and r["regime"] == regime]
            mean, std = _mean_std([r["target_accuracy"] for r in mine])
            regimes[regime] = {"row": REGIMES[regime], "mean": mean, "std": std, "target_accuracy": [r["target_accuracy"] for r in mine],
                               "source_accuracy": [r["source_accuracy"] for r in mine], "train_time_s": [r["train_time_s"] for r in mine],
                               "command_seed0": train_command(s, regime, seeds[0], recipe)}
        gap = regimes["dann"]["mean"] - regimes["source_only"]["mean"]
        table[s.name] = {
            "title": s.title, "source": s.source, "target": s.target, "real": s.real, "stands_in_for": s.stands_in_for,
            "target_test_n": len(sets.get(s.target, "test", "target")), "source_test_n": min(SOURCE_TEST_N, len(sets.get(s.source, "test", "source"))),
            "regimes": regimes,
            "checks": {"dann_minus_source_only": gap, f"dann_beats_source_only_by_{round(100 * FLOOR_POINTS)}_points": gap >= FLOOR_POINTS,
                       "dann_at_most_target_only": regimes["dann"]["mean"] <= regimes["target_only"]["mean"]},
            "tsne": _tsne_figures(s, tsne_models, sets, tsne_n, figures),
        }
    return {
        "what": "accuracy on the target's test split; mean and sample standard deviation over seeds",
        "date": datetime.date.today().isoformat(),
        "device": f"{device} ({os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads)",
        "wall_time_s": round(time.monotonic() - start, 1),
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


def render_markdown(table: dict[str, Any], command: str) -> str:
    """Return the table as markdown: our columns (mean ± std), then the seed report's, marked as its own."""
    ours = table["scenarios"]
    report = {k: v for k, v in table["seed_report"].items() if isinstance(v, dict)}
    header = [f"{v['title']} (ours)" for v in ours.values()] + [f"{v['title']} (seed report's, not ours)" for v in report.values()]
    lines = ["| | " + " | ".join(header) + " |", "|---|" + "---|" * len(header)]
    for regime, row in REGIMES.items():
        cells = [f"{v['regimes'][regime]['mean']:.3f} ± {v['regimes'][regime]['std']:.3f}" for v in ours.values()] + [f"{v[regime]:.3f}" for v in report.values()]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    minutes = table["wall_time_s"] / 60
    out = [
        "# DANN: the seed report's table, measured by zoo",
        "",
        f"Written by `{command}` on {table['date']}, {table['device']}: {minutes:.1f} minutes for the whole table"
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
            out.append(f"![{v['title']} by {colour_by}](figures/{Path(path).name})")
    return "\n".join(out) + "\n"


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenarios", default="auto", help=f"comma-separated: {', '.join(SCENARIOS)}; 'auto' = the offline ones plus the real ones present (default)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (default 3)")
    p.add_argument("--steps", type=int, default=RECIPE["steps"], help=f"training steps of every run (default {RECIPE['steps']})")
    p.add_argument("--batch-size", type=int, default=RECIPE["batch_size"], help=f"images per domain per step (default {RECIPE['batch_size']})")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="DANN config override applied to every run (the regime is set by the table)")
    p.add_argument("--data-dir", default=None, help="folder holding the real datasets (default: $ZOO_DATA)")
    p.add_argument("--device", default="cpu", help="cpu (default, as the recorded times) or cuda")
    p.add_argument("--runs", default="runs/dann-table", help="folder of the run folders (an interrupted table resumes from them)")
    p.add_argument("--json", default="benchmarks/results/dann_table.json")
    p.add_argument("--markdown", default="docs/dann_table.md")
    p.add_argument("--figures", default="docs/figures", help="folder of the t-SNE PNGs")
    p.add_argument("--tsne-n", type=int, default=1000, help="test images per domain in the t-SNE plots (default 1000)")


def _run(args: argparse.Namespace) -> int:
    config = parse_overrides(args.set or [])
    if "regime" in config:
        raise ConfigError("dann-table sets the regime of each row itself; drop --set regime=...")
    DANN.Config.model_validate({**RECIPE["config"], **config})  # a typo fails now, not after the first runs
    recipe = {"steps": args.steps, "batch_size": args.batch_size, "config": {**RECIPE["config"], **config}}
    scenarios = resolve_scenarios(args.scenarios, args.data_dir)
    table = build_table(scenarios, list(range(args.seeds)), recipe, root=args.data_dir, runs=Path(args.runs), figures=Path(args.figures), tsne_n=args.tsne_n, device=args.device)
    command = " ".join(shlex.quote(a) for a in ["zoo", *sys.argv[1:]])
    table["command"] = command
    with atomic_write(args.json, "w") as f:
        json.dump(table, f, indent=2)
    markdown = render_markdown(table, command)
    with atomic_write(args.markdown, "w") as f:
        f.write(markdown)
    print(markdown)
    print(f"wrote {args.json}, {args.markdown} and the t-SNE figures in {args.figures}")
    return 0


COMMAND = Command(
    name="dann-table",
    help="Train source-only, DANN and trained-on-target on each scenario and seed; write the seed's accuracy table and t-SNE plots.",
    example="zoo dann-table --scenarios mnistm-digits,mnistm-syndigits --seeds 3",
    add_arguments=_add_arguments,
    run=_run,
)
