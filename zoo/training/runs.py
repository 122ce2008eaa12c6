"""A run folder: the files `zoo train` writes there, the checks before it does, and the slim checkpoint that travels."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError, OutputError, denied_as, option
from ..files import read_record
from ..loading import build_method, save_model
from ..weights import SLIM_CHECKPOINT, load_tree, save_tree

CHECKPOINT = "checkpoint.safetensors"


EXPORT = "model.safetensors"


#: What `zoo train` writes in its run folder (and `slim_checkpoint` beside them).
RUN_FILES = (CHECKPOINT, EXPORT, "run.json", "summary.json", "metrics.jsonl", "loss.png")


#: The run folder's folder of snapshots of its exported weights (``--ema-snapshot-every``), one file per step, for `zoo average`.
SNAPSHOTS = "snapshots"


def snapshot_path(out: Path, step: int) -> Path:
    return out / SNAPSHOTS / f"step-{step:08d}.safetensors"


def snapshots(out: str | os.PathLike[str]) -> dict[int, Path]:
    """Return the run folder's snapshots by step, oldest first."""
    found = {}
    for p in (Path(out) / SNAPSHOTS).glob("step-*.safetensors"):
        digits = p.name[len("step-"):-len(".safetensors")]
        if digits.isdigit() and p.is_file():
            found[int(digits)] = p
    return dict(sorted(found.items()))


def steps_text(steps: Sequence[int]) -> str:
    """Name a stretch of snapshots by its steps: ``step 500``, or ``steps 500-2000``."""
    return f"steps {steps[0]}-{steps[-1]}" if len(steps) > 1 else f"step {steps[0]}"


def drop_snapshots_after(out: Path, step: int) -> None:
    """Remove the snapshots a sitting killed after its last checkpoint left beyond it: the resumed run makes those steps anew."""
    for s, p in snapshots(out).items():
        if s > step:
            p.unlink()


def refuse_linked_run_files(folder: Path, names: Sequence[str], what: str) -> None:
    """Raise OutputError if any of `names` in `folder` is a symbolic link: a run writes through a link into its target, so a run
    folder unpacked from someone else's archive (``summary.json -> ~/.bashrc``) would overwrite files outside it."""
    linked = [n for n in names if (folder / n).is_symlink()]
    if linked:
        raise OutputError(
            f"{what}: {', '.join(linked)} {'is a symbolic link' if len(linked) == 1 else 'are symbolic links'} ({folder / linked[0]} -> "
            f"{os.readlink(folder / linked[0])}); a run writes its files there, and would write through the link. Replace "
            f"{'it' if len(linked) == 1 else 'them'} with the file{'' if len(linked) == 1 else 's'} itself, or give another folder."
        )


def check_run_folder(out: str | os.PathLike[str]) -> Path:
    """Return `out` if a run can be written there (a folder, or a path a folder can be made at), else raise OutputError."""
    with denied_as(OutputError, f"run folder {option('out', out)}"):
        try:
            return _check_run_folder(Path(out))
        except OSError as e:
            if e.errno != errno.ENAMETOOLONG:
                raise
            raise OutputError(f"run folder {option('out', out)}: a name in it is longer than this file system takes ({e.strerror}). "
                              "Give a shorter path.") from None


def _check_run_folder(out: Path) -> Path:
    dangling = next((p for p in (out, *out.parents) if p.is_symlink() and not p.exists()), None)
    if dangling is not None:
        at = option("out", out) + (f": {dangling}" if dangling != out else "")
        target = os.readlink(dangling)
        why = "which does not exist" if not os.path.lexists(dangling.parent / target) else "a link itself that leads to no folder (a dangling link or a loop of links)"
        raise OutputError(f"{at} is a symbolic link to {target}, {why}. Create that folder, or give another run folder.")
    if out.exists() and not out.is_dir():
        raise OutputError(f"{option('out', out)} is a file; expected a run folder (new, or one `zoo train` wrote). Give another run folder ({option('out', 'DIR')}).")
    first = next((p for p in (out, *out.parents) if p.exists()), Path("."))
    if not first.is_dir() or not os.access(first, os.W_OK | os.X_OK):
        raise OutputError(f"{option('out', out)}: {first} is {'not a folder' if not first.is_dir() else 'not writable'}. Give a run folder in a place you can write to.")
    refuse_linked_run_files(out, (*RUN_FILES, SLIM_CHECKPOINT, SNAPSHOTS), f"{option('out', out)}")
    if out.is_dir() and (out / EXPORT).exists() and not (out / CHECKPOINT).exists():
        raise OutputError(
            f"{option('out', out)} holds a run's {EXPORT} but no {CHECKPOINT} to go on from (deleted?): training there would start "
            f"afresh and overwrite that model. Give another run folder ({option('out', 'DIR')}), or delete this one to train it again."
        )
    if out.is_dir() and (out / SLIM_CHECKPOINT).exists() and not (out / CHECKPOINT).exists():
        raise OutputError(
            f"{option('out', out)} holds a run's {SLIM_CHECKPOINT} (carried without its full checkpoint): it cannot be resumed, and "
            f"training there would start afresh over its records. Branch from it into a new folder: {option('init_from', out)} {option('out', 'NEW')}."
        )
    if out.is_dir() and not any((out / f).exists() for f in (CHECKPOINT, "run.json")):  # a run, or one that died before its first checkpoint
        others = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))  # .DS_Store, .gitkeep: no run file is hidden
        if others:  # the user's own files: a run would overwrite its loss.png or summary.json among them
            raise OutputError(
                f"{option('out', out)} holds files of its own ({', '.join(others[:4])}{', ...' if len(others) > 4 else ''}) and no run of `zoo train`; "
                f"a run writes {CHECKPOINT}, {EXPORT}, run.json, summary.json, metrics.jsonl and loss.png there. Give a new or empty folder ({option('out', 'DIR')})."
            )
    return out


def read_run_record(path: Path, fix: str) -> dict[str, Any]:
    """Return a run's run.json (read_record), with the fields a resume or a branch reads checked for their type: a damaged
    one is a ConfigError naming the file and saying `fix`, not a Python error from deep in the resume."""
    record = read_record(path, fix)
    for key, kind, what in (("train", dict, "an object of the trainer's settings"), ("earlier_sittings", list, "a list of the sittings")):
        if record.get(key) is not None and not isinstance(record[key], kind):
            raise ConfigError(f"{path} is damaged: its {key} is {json.dumps(record[key])[:60]}; expected {what}, as `zoo train` writes. "
                              f"{fix}")
    return record


def slim_checkpoint(run: str | os.PathLike[str], dtype: torch.dtype = torch.float16, keep_raw: bool = False) -> Path:
    """Write ``run/checkpoint.slim.safetensors``: the run's weights and EMA from its checkpoint in `dtype`, and its step.

    A seventh of a 64x64 DCGAN's full checkpoint, a fifth of WGAN-GP's (no optimizer moments, loader or RNG state; half precision; where the
    run keeps an EMA, the EMA stands in for the raw weights of what ships unless `keep_raw`), so it travels where the full
    one cannot (a lent GPU takes and returns 64 MiB in all). It is a branch point, not a resume: ``zoo train --init-from``
    takes it (the run's folder, with its run.json and summary.json), the shipped modules starting from the averaged
    weights, with fresh optimizer moments, best eased in with ``lr_warmup``. Integer tensors (BatchNorm's batch counts)
    keep their type. Refused where a weight does not fit `dtype`.
    """
    run = Path(run)
    refuse_linked_run_files(run, (SLIM_CHECKPOINT,), f"slim_checkpoint({str(run)!r})")
    if not (run / CHECKPOINT).is_file():
        raise ConfigError(f"{run}: no {CHECKPOINT} there to slim. Give a run folder of `zoo train` (a run writes its checkpoint at the end).")
    state = load_tree(run / CHECKPOINT, f"Give a run folder of `zoo train` with a whole {CHECKPOINT}.")

    def cast(tree: Mapping[str, torch.Tensor], what: str) -> dict[str, torch.Tensor]:
        out = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tree.items()}
        bad = [k for k, v in out.items() if v.is_floating_point() and (torch.isfinite(tree[k]) & ~torch.isfinite(v)).any()]
        if bad:
            raise ConfigError(f"{run / CHECKPOINT}: {what} {', '.join(bad[:3])} overflow {dtype}. Write it in torch.bfloat16 (dtype=torch.bfloat16).")
        return out

    model = state["model"]
    if state["ema"] and not keep_raw:  # what the EMA averages, it holds: the branch starts those modules from it
        model = {k: v for k, v in model.items() if "module." + k not in state["ema"]}
    slim = {"step": state["step"], "elapsed": state["elapsed"], "model": cast(model, "weights"), "ema": cast(state["ema"], "EMA weights"),
            "optimizers": {}}
    save_tree(run / SLIM_CHECKPOINT, slim)
    return run / SLIM_CHECKPOINT


def model_from_checkpoint(state: Mapping[str, Any], keys: Iterable[str]) -> dict[str, torch.Tensor]:
    """Return a checkpoint's model weights, those of `keys` that a slim checkpoint left to its EMA taken from it.

    The inverse of what :func:`slim_checkpoint` drops: where the run kept an EMA, a slim checkpoint holds the averaged
    modules in the EMA alone (``module.``-prefixed), so a branch or a probe starts them from it. A full checkpoint's
    weights come back as they are.
    """
    model, ema = state["model"], state["ema"] or {}
    return {**{k: ema["module." + k] for k in keys if k not in model and "module." + k in ema}, **model}


def export_slim(run: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path:
    """Write to `out` the weights a run exports, from its slim checkpoint alone; return `out`.

    For a run carried without its ``model.safetensors`` (benchmarks/carry), to sample, judge or register it: where the run
    kept an EMA these are the EMA's weights, as its own export; written in the run's ``export_dtype``, so a float16
    export comes back the same file, sha256 and all (its ``summary.json`` names it); a float32 one comes back as the
    float16 values the slim checkpoint kept, another file. Without an EMA, the slim checkpoint's half-precision weights.
    """
    run = Path(run)
    fix = f"Give a run folder holding {SLIM_CHECKPOINT} and run.json (zoo.training.slim_checkpoint writes the first)."
    if not (run / SLIM_CHECKPOINT).is_file():
        raise ConfigError(f"{run}: no {SLIM_CHECKPOINT} there. {fix}")
    if Path(out).resolve() in {(run / f).resolve() for f in (SLIM_CHECKPOINT, CHECKPOINT, "run.json", "summary.json")}:
        raise ConfigError(f"export_slim: {out} is one of the run's own records; write the weights to {run / EXPORT} or elsewhere.")
    info = read_record(run / "run.json", fix)
    state = load_tree(run / SLIM_CHECKPOINT, fix)
    # built for inference: a training-only part may need files of the machine that trained it (DANN's backbone_weights)
    method = build_method(info.get("method", "?"), info.get("config"), where=f" in {run / 'run.json'}")
    if state["ema"]:
        shipped = {k[len("module."):]: v for k, v in state["ema"].items() if k.startswith("module.")}
    else:
        shipped = {k: state["model"][k] for k in method.inference_state_dict()}
    dtype = torch.float16 if (info.get("train") or {}).get("export_dtype") == "float16" else torch.float32
    save_model(method, out, dtype=dtype, state=shipped)
    return Path(out)
