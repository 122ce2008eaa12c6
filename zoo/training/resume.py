"""How a run goes on: resumed from its own checkpoint, or branched from another run's (``init_from``).

`Resumable` is the half of the `Trainer` that reads and writes checkpoints; the Trainer keeps the loop.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic
import torch
from torch import nn

from .. import parallel
from ..data import TensorLoader
from ..data.folder import FOLDER_SIDE
from ..errors import COMMAND_LINE, ConfigError, PluginError, option
from ..files import atomic_write, read_record
from ..interfaces import Method
from ..progress import status
from ..viz import read_metrics_log
from ..weights import SLIM_CHECKPOINT, diverged, load_tree, save_tree, sha256_file
from .config import CHECKPOINT_SETTINGS, RESUME_FIXED, TrainConfig
from .runs import CHECKPOINT, model_from_checkpoint, read_run_record


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))


class Resumable:
    """The Trainer's checkpoints: writing them, resuming from one, branching from another run's, each checked first.

    What it reads and sets is the Trainer's (below); so are `_run_info`, `_make_ema` and `_stop_if_diverged`.
    """

    out: Path
    method: Method
    train: TrainConfig
    loaders: dict[str, TensorLoader]
    ema: nn.Module | None
    data_sources: dict[str, str]
    config_files: dict[str, str]
    step: int
    elapsed: float
    device: torch.device
    rank: int
    world: int
    init_source: dict[str, Any] | None
    earlier_sittings: list[dict[str, Any]]

    def _state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "elapsed": self.elapsed,
            "model": self.method.state_dict(),
            "optimizers": {k: o.state_dict() for k, o in self.method.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.method.schedulers.items()},
            "ema": self.ema.state_dict() if self.ema is not None else {},
            "loaders": {k: ld.state_dict() for k, ld in self.loaders.items()},
            "rng": _rng_state(),
            "train": {k: getattr(self.train, k) for k in CHECKPOINT_SETTINGS},
            **({"parallel": self._parallel_state()} if self.world > 1 else {}),
        }

    def _parallel_state(self) -> dict[str, Any]:
        """Return what a torchrun run's other processes need to go on exactly: their number, and each one's RNG state
        (their loaders are where process 0's are, with seeds of their own)."""
        state: dict[str, Any] = {"world_size": self.world, "rng_cpu": parallel.gather_rows(torch.get_rng_state())}
        if self.device.type == "cuda":
            state["rng_cuda"] = parallel.gather_rows(torch.cuda.get_rng_state(self.device))
        return state

    def save_checkpoint(self) -> Path:
        """Write the full training state to ``out/checkpoint.safetensors`` atomically (refused once the weights diverged)."""
        self._stop_if_diverged(diverged(self.method), "its weights")
        if parallel.weights_differ(self.method, self.device):
            raise PluginError(f"method {self.method.name!r}'s weights differ between the processes of this torchrun run at step {self.step}: "
                              "its train_step updates them other than through Method.optimize, which averages the gradients over the "
                              "processes. Step every optimizer with self.optimize(name, loss) (docs/plugins.md), or train in one process.")
        path = self.out / CHECKPOINT
        state = self._state()  # in every process: a torchrun run gathers their RNG states into it
        if self.rank == 0:
            save_tree(path, state)
        return path

    def _resume(self) -> bool:
        path = self.out / CHECKPOINT
        if not path.is_file():
            return False
        fix = f"Restore it, or start afresh in another run folder ({option('out', 'DIR')}) or after deleting this one."
        previous = read_run_record(self.out / "run.json", fix)
        now = self._run_info()
        if previous.get("method") == now["method"] and isinstance(previous.get("config"), dict):
            try:  # a run from before a field was added compares with that field's default
                previous["config"] = type(self.method.config).model_validate(previous["config"]).model_dump()
            except pydantic.ValidationError:
                pass  # reported below as a different config
        for key in ("method", "config", "data", "data_sha256"):
            if key == "data_sha256" and key not in previous:
                continue  # a run of a zoo that recorded names only
            if previous.get(key) != now[key]:
                fix = f"Use another run folder ({option('out', 'DIR')}), or delete that one to start afresh."
                if key == "data_sha256":
                    what = f"data: other images under the same names {now['data']}"
                    folders = [r for r in self.loaders if os.path.isdir(self.data_sources[r])]
                    kept = {r: s for r in folders if (s := self.loaders[r].images.shape[-1]) < FOLDER_SIDE}
                    if kept:  # the files may be the same, read as zoo reads folders since 2026-11-30
                        what += (f"; or the same files read anew: zoo now reads a folder whose images share a side of at most "
                                 f"{FOLDER_SIDE} at that side ({', '.join(f'{r} {s}x{s}' for r, s in kept.items())}), where it read "
                                 f"{FOLDER_SIDE}x{FOLDER_SIDE} before")
                    if folders:  # or split anew, since 2026-12-01
                        what += (f"; or the same files split anew: zoo now holds out a folder's test images by a hash of each "
                                 f"file's path ({', '.join(folders)}), where it took every 10th file before")
                        fix = f"To train on from this run's weights, branch from it into another run folder ({option('init_from', self.out)})."
                elif key == "config" and isinstance(previous.get(key), dict):
                    was = previous["config"]
                    changed = [k for k in {**was, **now["config"]} if was.get(k) != now["config"].get(k)]
                    what = "config: " + ", ".join(f"{k} {was.get(k)} there, {now['config'].get(k)} now" for k in changed)
                    fix = (f"Resume with the run's settings ({_repeat(was, changed, config=True)}), branch from it into another run folder "
                           f"({option('init_from', self.out)}) to change them, or use another one.")
                else:
                    what = f"{key}: {previous.get(key)} there, {now[key]} now"
                raise ConfigError(f"{self.out} holds a checkpoint of another run ({what}). {fix}")
        if isinstance(previous.get("config_files_sha256"), dict):
            self.config_files = previous["config_files_sha256"]  # what the run began from, whatever the file holds now
        state = load_tree(path, fix)
        made_with = state.get("train") if isinstance(state.get("train"), dict) else previous.get("train")  # a checkpoint of before 2026-12-02: run.json's
        self._check_resume_settings(made_with or {}, int(state["step"]))
        self._check_resume_processes(state)
        if int(state["step"]) > self.train.steps:
            raise ConfigError(
                f"{self.out} holds a checkpoint at step {int(state['step'])}, past {option('steps', self.train.steps)}. "
                f"Give {option('steps', int(state['step']))} or more to go on from it, or another run folder ({option('out', 'DIR')}) to start afresh."
            )
        self.method.load_state_dict(state["model"])
        for k, o in self.method.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        for k, s in self.method.schedulers.items():
            s.load_state_dict(state["schedulers"][k])
        if self.ema is not None and state["ema"]:
            self.ema.load_state_dict(state["ema"])
        elif self.ema is not None:  # EMA switched on at this resume: it starts from the resumed weights, not the fresh init
            self.ema = self._make_ema()
        for k, ld in self.loaders.items():  # another process of a torchrun run: where process 0's is, with its own seed
            ld.load_state_dict({**state["loaders"][k], **({"seed": ld.seed} if self.rank else {})})
        if self.world > 1:
            torch.set_rng_state(state["parallel"]["rng_cpu"][self.rank].clone())  # a view with an offset crashes torch (2.14)
            if self.device.type == "cuda" and "rng_cuda" in state["parallel"]:
                torch.cuda.set_rng_state(state["parallel"]["rng_cuda"][self.rank].clone(), self.device)
        else:
            _set_rng_state(state["rng"])
        self.step, self.elapsed = int(state["step"]), float(state["elapsed"])
        self.init_source = previous.get("init_from")
        self.earlier_sittings = list(previous.get("earlier_sittings") or [])
        last = self.earlier_sittings[-1] if self.earlier_sittings else None
        if not (isinstance(last, dict) and last.get("steps") == self.step):  # else the last sitting died before it saved a step
            self.earlier_sittings.append({"command": previous.get("command"), "steps": self.step})
        self._truncate_log(self.step)
        return True

    def _check_resume_processes(self, state: Mapping[str, Any]) -> None:
        """Refuse to resume a run in another number of processes than it trained in: each draws batches and noise of its own."""
        was = int(state["parallel"]["world_size"]) if isinstance(state.get("parallel"), dict) else 1
        if was != self.world:
            how = {1: "in one process (without torchrun)"}.get(was, f"in as many (torchrun --nproc_per_node={was}, or across machines)")
            raise ConfigError(
                f"{self.out} holds a checkpoint of a run trained in {was} process{'es' if was > 1 else ''}, and this one runs in "
                f"{self.world}: each process draws batches and noise of its own, so the run would not go on as it began. Resume it "
                f"{how}, or branch from it into another run folder ({option('init_from', self.out)})."
            )

    def _check_resume_settings(self, before: Mapping[str, Any], step: int) -> None:
        """Refuse a resume whose loop settings would make the run differ from an uninterrupted one.

        Free to change: device, memory format, logging, checkpoints, export dtype, time limit, and
        steps unless the run's course depends on its length (below). An EMA may be switched on (it
        starts from the resumed weights) and a learning-rate decay added, as docs/gan.md's sittings
        did; an EMA's decay or a decay's start, once set, stays, and so does a warm-up (or its absence). A method whose course follows the
        run's length (``Method.uses_run_length``: a scheduler runs over it), and a decay
        that has begun (it falls towards `steps`): for those, another `steps` would change the course
        half-way, so it is refused with the way out, a branch (``init_from``) with its own length.
        """
        now = self.train.model_dump()
        before = {"lr_warmup": 0, **before}  # a run from before the field had none
        changed = [k for k in RESUME_FIXED if k in before and before[k] != now[k]]
        if before.get("ema_decay") and before["ema_decay"] != now["ema_decay"]:  # 0 means no EMA: switching one on is fine
            changed.append("ema_decay")
        if before.get("lr_decay_start") is not None and before["lr_decay_start"] != now["lr_decay_start"]:  # None means no decay
            changed.append("lr_decay_start")
        if before["lr_warmup"] != now["lr_warmup"]:  # it sets the rates of the steps to come as well as of those done
            changed.append("lr_warmup")
        if changed:
            detail = ", ".join(f"{k} {before[k]} there, {now[k]} now" for k in changed)
            raise ConfigError(
                f"{self.out} holds a checkpoint trained with other settings ({detail}); resuming would mix them. "
                f"Resume with the run's settings ({_repeat(before, changed)}), or branch from it into another run folder "
                f"({option('init_from', self.out)}), or use another one."
            )
        planned = self.method.uses_run_length
        decaying = before.get("lr_decay_start") is not None and step > before["lr_decay_start"]
        if "steps" in before and before["steps"] != now["steps"] and (planned or decaying):
            why = (f"method {self.method.name!r} plans its schedule over the run's length" if planned
                   else f"its learning rates have been falling since step {before['lr_decay_start']} towards the last step")
            raise ConfigError(
                f"{self.out} holds a checkpoint of a {before['steps']}-step run, and {why}: another length would change "
                f"the schedule half-way. Resume with {option('steps', before['steps'])}, or branch from it into another run "
                f"folder ({option('init_from', self.out)}) to train on with a schedule of its own."
            )

    def _init_from(self, source: str) -> dict[str, Any]:
        """Load the model (and EMA) weights of another run's checkpoint; return where they came from.

        A branch of that run with other settings: the weights and the optimizers' moments carry over
        (fresh Adam moments would move every weight by about one learning rate on the first step and
        jolt a trained GAN); the learning rates, their schedule, the step count and the data order are
        this run's. With ``ema_decay`` set, the EMA continues the source's average when the source
        kept one, else it starts from the loaded weights.
        """
        path = Path(source)
        ckpt = path / CHECKPOINT if path.is_dir() else path
        if path.is_dir() and not ckpt.is_file() and (path / SLIM_CHECKPOINT).is_file():
            ckpt = path / SLIM_CHECKPOINT  # a run carried here without its full checkpoint
        if not ckpt.is_file():
            raise ConfigError(f"{option('init_from', source)}: no {CHECKPOINT} (nor {SLIM_CHECKPOINT}) there. Give a run folder of `zoo train` or its checkpoint file.")
        fix = f"{option('init_from', source)} takes a run folder of `zoo train` or its {CHECKPOINT}; branch from another one, or restore it."
        run, summary = read_run_record(ckpt.parent / "run.json", fix), read_record(ckpt.parent / "summary.json", fix)
        other = run.get("method")
        if other not in (None, self.method.name):
            raise ConfigError(f"{option('init_from', source)}: that run trained method {other!r}, this one trains {self.method.name!r}. Start from a {self.method.name} run.")
        state = load_tree(ckpt, fix)
        model = model_from_checkpoint(state, self.method.state_dict())  # a slim checkpoint's averaged modules start from its EMA
        try:
            self.method.load_state_dict(model)
        except RuntimeError as e:
            raise ConfigError(f"{option('init_from', source)}: its weights do not fit method {self.method.name!r} with this config: {str(e).splitlines()[0]}") from None
        for k, o in self.method.optimizers.items():  # the moments carry over; the rates are this run's
            if k in state["optimizers"]:
                o.load_state_dict({"state": state["optimizers"][k]["state"], "param_groups": o.state_dict()["param_groups"]})
        self._note_branch_changes(run, source)
        if self.rank == 0 and not state["optimizers"] and self.method.optimizers and not self.train.lr_warmup and not self.method.schedulers:
            status(f"{ckpt.name} keeps no optimizer moments: fresh ones move every weight by about one learning rate on the first steps. "
                   f"{option('lr_warmup', 500)} eases them in.")
        if self.ema is not None:
            self.ema = self._make_ema()
            if state["ema"]:
                self.ema.load_state_dict(state["ema"])
        return {
            "checkpoint": str(ckpt), "sha256": sha256_file(ckpt), "step": int(state["step"]), "elapsed": float(state["elapsed"]),
            "command": run.get("command"), "device": summary.get("device"), "date": summary.get("date"), "software": summary.get("software"),
            "init_from": run.get("init_from"), "earlier_sittings": run.get("earlier_sittings") or [],
        }

    def _note_branch_changes(self, run: Mapping[str, Any], source: str) -> None:
        """Say which of its source's recipe a branch changes: often meant (a branch may try another one), but a branch
        command written without the source's options would otherwise drop them silently (its soft labels, its EMA)."""
        was = run.get("config")
        try:  # a run from before a field was added compares with that field's default
            was = type(self.method.config).model_validate(was).model_dump() if isinstance(was, dict) else {}
        except pydantic.ValidationError:
            was = {}
        now = self.method.config.model_dump()
        changed = [k for k in now if k in was and was[k] != now[k]]
        before, here = run.get("train") or {}, self.train.model_dump()
        moved = [k for k in ("batch_size", "ema_decay", "bf16") if k in before and before[k] != here[k]]
        if (changed or moved) and self.rank == 0:
            said = [f"{k} {was[k]} there, {now[k]} here" for k in changed] + [f"{k} {before[k]} there, {here[k]} here" for k in moved]
            keep = [_repeat(was, changed, config=True)] * bool(changed) + [_repeat(before, moved)] * bool(moved)
            status(f"{option('init_from', source)}: this branch trains with other settings than the run it comes from ({'; '.join(said)}). "
                   f"Where that is not meant, give {' and '.join(keep)}.")

    def _truncate_log(self, step: int) -> None:
        log = self.out / "metrics.jsonl"
        if self.rank == 0 and log.is_file():
            kept = [r for r in read_metrics_log(log) if r.get("step", 0) <= step]
            with atomic_write(log, "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in kept)


def _repeat(settings: Mapping[str, Any], keys: list[str], *, config: bool = False) -> str:
    """Return how the user gives `keys` their values in `settings` again: ``--set lr=0.0002`` / ``--steps 4`` / ``without
    --grad-clip`` in a command, ``config with lr=0.0002`` / ``steps=4`` in Python (`config`: method options, not loop settings)."""
    keys = [k for k in keys if k in settings]
    if config:
        if not COMMAND_LINE.get():
            return "config with " + ", ".join(f"{k}={settings[k]!r}" for k in keys)
        return " ".join(option("config", f"{k}={settings[k] if isinstance(settings[k], str) else json.dumps(settings[k])}") for k in keys)

    def one(k: str) -> str:
        v = settings[k]
        if COMMAND_LINE.get() and (isinstance(v, bool) or v is None):  # a flag, or an option left out
            return option(k) if v is True else f"without {option(k)}"
        return option(k, v)

    return ", ".join(one(k) for k in keys)
