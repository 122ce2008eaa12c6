"""What the `zoo` sub-commands share: the command table, label and sampler-option parsing, and table and metric formatting."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ConfigError, ZooError, closest

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Register `fn` as the handler of the sub-command named after it."""
    COMMANDS[fn.__name__.removeprefix("cmd_")] = fn
    return fn


def label_list(text: str) -> list[int | str]:
    """Parse comma-separated class labels: numbers (``0,1,2``) or the class names a model records (``cat,dog``)."""
    items = [x.strip() for x in text.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(f"expected comma-separated labels, e.g. 0,1,2 or cat,dog; got {text!r}")
    return [int(x) if x.lstrip("-").isdigit() else x for x in items]


def class_labels(labels: list[int | str] | None, model: str) -> list[int] | None:
    """Return `labels` with class names turned into their numbers, as the model's entry or run.json records them."""
    names = [x for x in labels or [] if isinstance(x, str)]
    if not names:
        return labels  # type: ignore[return-value]
    from ..loading import class_names

    classes = class_names(model)
    if not classes:
        raise ConfigError(f"--labels {', '.join(names)}: {model} records no class names (its data named none; an unconditional model takes "
                          "no labels at all). For the digit sets label k is digit k: give label numbers, e.g. --labels 0,1.")
    index = {c: k for k, c in enumerate(classes)}
    numbered = any(c.lstrip("-").isdigit() for c in classes)  # '--labels 1' is label 1, whatever class folder '1' is
    for x in names:
        if x not in index:
            near = [] if numbered else closest(x, classes)
            raise ConfigError(f"unknown class {x!r}: {model}'s classes are {', '.join(f'{k}={c}' for k, c in enumerate(classes))}."
                              + (f" Did you mean: {', '.join(near)}?" if near else "")
                              + (" Numbers are labels, not class names: give the label zoo info shows beside a class." if numbered else ""))
    return [index[x] if isinstance(x, str) else x for x in labels or []]


def recorded_classes(model: str) -> list[str]:
    """Return the class names a model's entry or run.json records, [] where none are (a bare weights file records none)."""
    from ..loading import class_names

    try:
        return class_names(model)
    except ZooError:  # a .safetensors file outside a run folder: no run.json to read them from
        return []


SAMPLE_ARGS = ("n", "labels", "seed")


def sampler_knobs(items: Sequence[str]) -> dict[str, Any]:
    """Return ``--set`` sampler options, refusing the arguments that have flags of their own (-n, --labels, --seed)."""
    from ..interfaces import parse_set

    return check_knobs(parse_set(items))


def check_knobs(knobs: dict[str, Any]) -> dict[str, Any]:
    """Return `knobs`, refusing the sampling arguments that have flags of their own (-n, --labels, --seed)."""
    taken = [k for k in SAMPLE_ARGS if k in knobs]
    if taken:
        raise ConfigError(f"--set {', '.join(taken)}: these are not sampler options; use {', '.join('-n' if k == 'n' else '--' + k for k in taken)} instead.")
    return knobs


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def fmt_metric(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def headline(metrics: dict[str, Any], k: int = 3) -> str:
    """Return the first `k` metrics as 'key=value' text, then the sample counts they were measured on (`zoo info` shows all)."""
    def is_count(key: str) -> bool:
        return key == "n" or key.endswith("_n") or key.startswith("n_")

    shown = [(key, v) for key, v in metrics.items() if key != "seed" and not is_count(key)][:k]
    counts = [(key, v) for key, v in metrics.items() if is_count(key)]
    text = ", ".join(f"{key}={fmt_metric(v)}" for key, v in shown)
    return text + (f" ({', '.join(f'{key}={fmt_count(v)}' for key, v in counts)})" if counts else "")


def fmt_count(v: Any) -> str:
    """Return a sample count as 10,000; a hand-edited entry's 'nan' or '10k' as it stands (`zoo list` shows every model)."""
    whole = isinstance(v, int) or (isinstance(v, float) and v.is_integer())
    return f"{int(v):,}" if whole and not isinstance(v, bool) else fmt_metric(v)
