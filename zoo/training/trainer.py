"""The `Trainer`: the loop around a method's `train_step` (`entry.train` builds one for `zoo train` and `zoo.train`)."""

from __future__ import annotations

import datetime
import json
import math
import os
import signal
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import parallel
from ..data import ImageSet, TensorLoader
from ..data import load as load_data
from ..data.folder import FOLDER_SIDE
from ..data.labels import absolute_data
from ..errors import COMMAND_LINE, ConfigError, OutputError, PluginError, Stopped, TrainingError, denied_as, option
from ..files import atomic_write, folder_lock, read_record, remove_temporaries
from ..interfaces import Batch, Method, MethodConfig, device_name, filled_from_checkpoint, fold_seed, resolve_device, software, validate_config
from ..loading import build_method, save_model
from ..progress import progress_bar, status
from ..viz import plot_curves, read_metrics_log
from ..weights import nonfinite, sha256_file, tensors_digest
from .config import TrainConfig
from .resume import Resumable
from .runs import CHECKPOINT, EXPORT, RUN_FILES, SNAPSHOTS, check_run_folder, drop_snapshots_after, snapshot_path
from .stopping import StopAfterStep, quietly

#: What every metrics.jsonl record holds from the trainer itself; a method's train_step may not return these names.
TRAINER_KEYS = frozenset({"step", "time", "lr"})


def data_digest(data: ImageSet, labels: bool = True) -> str:
    """Return the sha256 of a training set's images (and labels, where the method reads them)."""
    return tensors_digest({"images": data.images, **({"labels": data.labels} if labels and data.labels is not None else {})})


def check_schedulers(schedulers: Mapping[str, Any], method: str) -> dict[str, Any]:
    """Return `schedulers` if each is timm's kind (``step_update(step)``) or torch's (``step()``) and keeps a state dict; else raise."""
    for name, s in schedulers.items():
        if not (hasattr(s, "step_update") or hasattr(s, "step")) or not hasattr(s, "state_dict") or not hasattr(s, "load_state_dict"):
            raise ConfigError(
                f"method {method!r}: scheduler {name!r} ({type(s).__name__}) has neither step_update(step) (timm's schedulers) nor step() "
                "(torch.optim.lr_scheduler's), or no state_dict/load_state_dict. Return one of those from configure_schedulers (docs/plugins.md)."
            )
    return dict(schedulers)


def shipped_module(method: Method) -> nn.Module:
    """Return one module that holds what a weights file of `method` ships, under the same names: what an EMA averages.

    The inference modules, and the parameters and buffers a method keeps on itself (shared, not copied).
    """
    shipped = nn.ModuleDict(dict(method.inference_modules()))
    for name, p in method.named_parameters(recurse=False):
        if method.ships(name):
            shipped.register_parameter(name, p)
    for name, b in method.named_buffers(recurse=False):
        if method.ships(name):
            shipped.register_buffer(name, b, persistent=name not in method._non_persistent_buffers_set)
    return shipped


@contextmanager
def global_rng_kept() -> Iterator[None]:
    """Let the block seed and draw from torch's global generators (the CPU's and every CUDA device's); give the caller's back after.

    Also a decorator (``@global_rng_kept()``), for a function that seeds them to be repeatable.
    """
    with torch.random.fork_rng(devices=range(torch.cuda.device_count()) if torch.cuda.is_available() else []):
        yield


def rank_seed(seed: int, rank: int) -> int:
    """Return the seed process `rank` of a torchrun run draws with where the run's `seed` says: `seed` itself in process 0
    (so a one-process run is what it always was), another in each other process, so that their batches and noise differ."""
    return seed if rank == 0 else fold_seed(seed * 1_000_003 + 7_919 * rank)


def _n_classes_option(k: int | None) -> str:
    """Name the method option n_classes=k as the user gives it: ``--set n_classes=3`` to `zoo train`, ``config={'n_classes': 3}`` in Python."""
    return f"--set n_classes={k}" if COMMAND_LINE.get() else f"config={{'n_classes': {k}}}"


class Trainer(Resumable):
    """Trains method `method` with `config` on `data`, writing into `out`.

    `data` maps each of the method's data roles to an :class:`ImageSet` or a dataset name or path
    (read from `data_root`, only once the roles are known to be the method's).
    """

    def __init__(
        self,
        method: str,
        config: Mapping[str, Any] | MethodConfig | None,
        data: Mapping[str, ImageSet | str | os.PathLike[str]],
        out: str | os.PathLike[str],
        train: TrainConfig | Mapping[str, Any] | None = None,
        *,
        command: str = "",
        data_root: str | os.PathLike[str] | None = None,
    ) -> None:
        self.train = train if isinstance(train, TrainConfig) else validate_config(TrainConfig, train, what="the trainer")  # type: ignore[arg-type]
        self.out = Path(out)
        # a torchrun run: this process's GPU, and its place among the run's processes (0 writes the run folder)
        self.device, self._started_group = parallel.start(resolve_device(self.train.device))
        self.rank, self.world = parallel.rank(), parallel.world_size()
        torch.manual_seed(self.train.seed)
        cfg = config.model_dump() if isinstance(config, MethodConfig) else dict(config or {})
        # a resume or a branch loads every weight from a checkpoint: files read only to start from need not be there
        with denied_as(OutputError, f"run folder {option('out', self.out)}"):
            resuming = (self.out / CHECKPOINT).is_file()
        with filled_from_checkpoint(resuming or bool(self.train.init_from)):
            self.method: Method = build_method(method, cfg, training=True).to(self.device)
        if self.train.channels_last:
            self.method = self.method.to(memory_format=torch.channels_last)
        if self.rank:  # the same weights in every process (built from one seed), and noise of its own in each
            torch.manual_seed(rank_seed(self.train.seed, self.rank))
        self.spec = self.method.data_spec()
        missing = [r for r in self.spec.roles if r not in data]
        extra = [r for r in data if r not in self.spec.roles]
        if missing or extra:
            raise ConfigError(
                f"method {method!r} trains on data roles {list(self.spec.roles)}, got {list(data)}. "
                + (f"Give {_data_option(missing)}." if missing else f"Drop {extra}.")
            )
        #: Where each role's data came from, as `zoo register` labels the entry: a dataset name, an absolute path, or an ImageSet's name.
        self.data_sources = {r: src.name if isinstance(src, ImageSet) else absolute_data(os.fspath(src)) for r, src in data.items()}
        if self.rank:  # a torchrun run's other processes read the data once process 0 has (building MNIST-M's cache, say)
            parallel.barrier()
        data = {role: src if isinstance(src, ImageSet) else load_data(src, "train", root=data_root) for role, src in data.items()}
        if self.rank == 0:
            parallel.barrier()
        for role in self.spec.roles:
            labels = data[role].labels
            if self.spec.labels and role not in self.spec.unlabelled_roles:
                if labels is None:
                    raise ConfigError(f"method {method!r} trains on labelled {role} data, and {data[role].name!r} has no labels. Give a labelled dataset (a folder of images is labelled when it holds one subfolder per class).")
                self._check_class_count(data[role], method)
        for role in self.spec.roles:
            side = data[role].images.shape[-1]
            if os.path.isdir(self.data_sources[role]) and side == FOLDER_SIDE < self.spec.image_size:
                warnings.warn(f"{data[role].name!r}: zoo reads a folder of images at {side}x{side} at most, and method {method!r} takes "
                              f"{self.spec.image_size}x{self.spec.image_size}: its images are upsampled, and detail finer than {side} pixels "
                              "is lost. Train at image_size=64 or less, or give the images as a dataset that keeps their size.", stacklevel=2)
        named = {r: data[r].classes for r in self.spec.roles if data[r].classes is not None}
        if len(set(named.values())) > 1:  # DANN's source and target folders must name the same classes in the same order
            raise ConfigError(f"the data roles name different classes: {', '.join(f'{r}: {list(c)}' for r, c in named.items())}. "
                              "Give sets whose class subfolders are the same (their sorted names set the label order).")
        self.data_names = {r: data[r].name for r in self.spec.roles}
        #: The class names of each role whose labels the method reads, where its files name them: label k is classes[k].
        self.data_classes = {r: list(c) for r, c in named.items() if self.spec.labels and r not in self.spec.unlabelled_roles}
        #: What each role's images and labels hash to: a resume must see the same data, not only the same names.
        self.data_sha256 = {r: data_digest(data[r], labels=self.spec.labels and r not in self.spec.unlabelled_roles) for r in self.spec.roles}
        #: The sha256 of each weights file the config names (DANN's backbone_weights): what the run began from, beside its data's
        #: (a resumed run keeps its first sitting's record: the checkpoint, not the file, holds its weights then).
        self.config_files = {k: sha256_file(v) for k, v in self.method.config.model_dump().items()
                             if isinstance(v, str) and v.endswith(".safetensors") and os.path.isfile(v)}
        self.loaders = {
            role: TensorLoader(
                data[role],
                self.train.batch_size,
                size=self.spec.image_size,
                channels=self.spec.channels,
                labels=self.spec.labels and role not in self.spec.unlabelled_roles,
                device=self.device,
                seed=rank_seed(self.train.seed + i, self.rank),
            )
            for i, role in enumerate(self.spec.roles)
        }
        self.method.optimizers = self.method.configure_optimizers()
        self.method.schedulers = check_schedulers(self.method.configure_schedulers(self.train.steps), method)
        self._base_lrs = self._check_lr_schedule()
        self.method.grad_clip = self.train.grad_clip
        self._inference = shipped_module(self.method)
        self.ema = self._make_ema()
        self.step, self.elapsed = 0, 0.0
        self.command = command
        self.init_source: dict[str, Any] | None = None
        #: The sittings before this one (a resume continues a run): each one's command and the step its checkpoint reached.
        self.earlier_sittings: list[dict[str, Any]] = []

    def _check_class_count(self, images: ImageSet, method: str) -> None:
        """Refuse labelled data whose classes are not the method's: labels past its last class, or another number of classes.

        A 3-class folder given to a 10-class model would train 7 classes that no image shows, and sample or predict them.
        Fewer classes than the model's are refused only where the method has an `n_classes` option to fix it with (a
        plugin's method may have none), and not when resuming a run begun before zoo checked this (a warning then).
        """
        k, labels = self.spec.num_classes, images.labels
        count = len(images.classes) if images.classes is not None else images.num_classes
        highest = int(labels.max()) if labels is not None and len(labels) else -1
        if highest < k and count in (None, k):
            return
        has_option = "n_classes" in type(self.method.config).model_fields
        if highest < k and not has_option:
            return
        if highest < k and self._resumes_a_run_on(self.data_sources):
            warnings.warn(f"{images.name!r} has {count} classes and this run's model {k}: resuming it as it began. A new run "
                          f"would take {_n_classes_option(count)}.", stacklevel=3)
            return
        if count is not None and count != k:
            names = list(images.classes or ())
            found = f"{count} classes" + (f" ({', '.join(names[:12])}{', ...' if len(names) > 12 else ''})" if names else "")
        else:
            found = f"labels up to {highest}"
        need = max(count or 0, highest + 1)
        if has_option:
            fix = f"Train with {_n_classes_option(need)} (zoo info {method} lists the options)."
        else:
            fix = f"Give data with those classes, or a config with {need} (zoo info {method} lists the options)."
        raise ConfigError(f"{images.name!r} has {found}, and method {method!r} with this config takes {k} classes (labels 0..{k - 1}). {fix}")

    def _resumes_a_run_on(self, sources: Mapping[str, str]) -> bool:
        """Return whether `out` holds a checkpoint of a run on these data sources (which `_resume` then checks in full)."""
        if not (self.out / CHECKPOINT).is_file():
            return False
        try:
            return read_record(self.out / "run.json", "").get("data_sources") == dict(sources)
        except ConfigError:
            return False

    def _check_lr_schedule(self) -> dict[str, list[float]]:
        """Return each optimizer's configured learning rates, the ones a warm-up rises to and a decay starts from."""
        start = self.train.lr_decay_start
        for name, given in (("lr_warmup", self.train.lr_warmup), ("lr_decay_start", start is not None)):
            if given and self.method.schedulers:
                raise ConfigError(
                    f"method {self.method.name!r} schedules its own learning rates ({', '.join(self.method.schedulers)}); "
                    f"{option(name)} applies only to methods without schedulers. Drop it."
                )
        if start is not None and start >= self.train.steps:
            raise ConfigError(f"{option('lr_decay_start', start)} must be below {option('steps', self.train.steps)}: the decay runs from that step to the last.")
        return {k: [g["lr"] for g in o.param_groups] for k, o in self.method.optimizers.items()}

    def _set_lr(self, step: int) -> None:
        """Set step `step`'s learning rates: a linear warm-up (step k of N at k/N of the configured rate) times a linear
        decay (step `start + 1` at the configured rate, step `steps` at 1/(steps - start) of it)."""
        start, warmup = self.train.lr_decay_start, self.train.lr_warmup
        if start is None and not warmup:
            return
        factor = min(1.0, step / warmup) if warmup else 1.0
        if start is not None:
            factor *= min(1.0, (self.train.steps - step + 1) / (self.train.steps - start))
        for k, o in self.method.optimizers.items():
            for g, base in zip(o.param_groups, self._base_lrs[k]):
                g["lr"] = base * factor

    def _lr(self) -> float:
        """Return the first optimizer's first learning rate (0 for a method without optimizers)."""
        return next(iter(self.method.optimizers.values())).param_groups[0]["lr"] if self.method.optimizers else 0.0

    def _make_ema(self) -> nn.Module | None:
        if not self.train.ema_decay:
            return None
        from timm.utils import ModelEmaV3

        return ModelEmaV3(self._inference, decay=self.train.ema_decay)

    # ---- state ----------------------------------------------------------------------------------
    def _run_info(self) -> dict[str, Any]:
        return {"method": self.method.name, "config": self.method.config.model_dump(), "train": self.train.model_dump(exclude={"progress", "max_minutes"}),
                "data": self.data_names, "data_sha256": self.data_sha256, "data_sources": self.data_sources, "classes": self.data_classes,
                **({"config_files_sha256": self.config_files} if self.config_files else {})}

    def _stop_if_diverged(self, bad: list[str], what: str) -> None:
        """Raise TrainingError where `bad` names NaN or infinite values (logged losses, weights): nothing past them is saved."""
        if bad:
            shown = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
            raise TrainingError(
                f"training diverged by step {self.step}: {what} hold NaN or infinite values ({shown}). Nothing was exported, and no "
                f"checkpoint written from then on. Lower the learning rate (zoo info {self.method.name} lists the options) and "
                f"train into a new run folder ({option('out', 'DIR')})."
            )

    # ---- the loop -------------------------------------------------------------------------------
    def _next_batch(self) -> Batch | dict[str, Batch]:
        batches = {role: next(ld) for role, ld in self.loaders.items()}
        if self.train.channels_last:
            for b in batches.values():
                b.x = b.x.contiguous(memory_format=torch.channels_last)
        return batches[self.spec.roles[0]] if len(batches) == 1 else batches

    def fit(self) -> dict[str, Any]:
        """Train to `steps` (resuming from `out` when it holds a checkpoint); return the run summary.

        The run folder is locked while it trains: a second `zoo train` into it stops at once, rather
        than interleaving two logs and overwriting each other's checkpoints.
        """
        check_run_folder(self.out)
        try:
            summary = self._fit_in_folder() if self.rank == 0 else self._fit_beside()
        except BaseException:
            parallel.stop(self._started_group, wait=False)  # another process may never reach a barrier now
            raise
        parallel.stop(self._started_group)
        return summary

    def _fit_beside(self) -> dict[str, Any]:
        """Train as one of the other processes of a torchrun run: once process 0 holds the run folder, beside it, writing nothing."""
        parallel.barrier()
        return self._fit()

    def _fit_in_folder(self) -> dict[str, Any]:
        made = [p for p in (self.out, *self.out.parents) if not p.exists()]
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as e:  # a place no file can be made (/proc, /sys), found only by trying
            raise OutputError(f"cannot make the run folder {option('out', self.out)} ({e.strerror or e}). Give a run folder in a place you can write to.") from None
        busy = f"another process is training into (or registering from) {self.out}. Wait for it to finish (the same command then goes on from its checkpoint), or use another run folder."
        try:
            with folder_lock(self.out, busy):
                # what a process killed outright (SIGKILL, power loss) left half-written; the lock says no one writes them now
                remove_temporaries(self.out, RUN_FILES)
                if (self.out / SNAPSHOTS).is_dir():
                    remove_temporaries(self.out / SNAPSHOTS)
                parallel.barrier()  # the other processes of a torchrun run start once the folder is this one's
                return self._fit()
        except BaseException:
            for p in made:  # a refused resume or --init-from leaves no empty folder behind
                if p.is_dir() and not any(p.iterdir()):
                    p.rmdir()
            raise

    def _fit(self) -> dict[str, Any]:
        resumed = self._resume()
        if not parallel.same_everywhere(self.step, self.device):
            raise ConfigError(f"the processes of this torchrun run do not all see {self.out / CHECKPOINT}: some resume at step {self.step}. "
                              "Across machines the run folder must be one folder every process reads (a shared file system).")
        if not resumed and self.train.init_from:
            self.init_source = self._init_from(self.train.init_from)
        if not resumed:
            self._truncate_log(0)  # a run that died before its first checkpoint left a log this one must not extend
        if self.rank == 0:
            drop_snapshots_after(self.out, self.step)
            with atomic_write(self.out / "run.json", "w") as f:
                json.dump({**self._run_info(), **({"processes": self.world} if self.world > 1 else {}), "command": self.command,
                           "init_from": self.init_source, "earlier_sittings": self.earlier_sittings}, f, indent=2)
        self.method.train()
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16) if self.train.bf16 else nullcontext()
        deadline = time.monotonic() + 60 * self.train.max_minutes if self.train.max_minutes else None
        bar = progress_bar(self.train.steps, self.method.name, unit="step", initial=self.step, enabled=self.train.progress and self.rank == 0)
        t0 = time.monotonic()
        start_elapsed = self.elapsed
        with StopAfterStep(under_torchrun=self.world > 1, speaks=self.rank == 0) as stop:  # around the final checkpoint and export too
            try:
                stopped = self._loop(bar, autocast, deadline, t0, start_elapsed, stop)
            finally:
                quietly(bar.close)
            self.save_checkpoint()
            self._snapshot()  # the end of each sitting, whether or not a multiple of --ema-snapshot-every
            if (stopped if self.world > 1 else stop.requested) and self.step < self.train.steps:  # a torchrun run: as all agreed
                raise Stopped(f"stopped at step {self.step} of {self.train.steps}; the checkpoint in {self.out} holds it. "
                              f"Run the same command again to go on from there.", stop.signum or signal.SIGINT, self.step)
            if self.step < self.train.steps and self.rank == 0:  # --max-minutes ran out: say so, as the exit status and the summary cannot alone
                status(f"zoo train: {option('max_minutes', self.train.max_minutes)} reached at step {self.step} of {self.train.steps}; "
                       f"exported that. Run the same command again to go on from the checkpoint.")
            if self.rank == 0:
                summary = self._export(resumed)
            parallel.barrier()  # the other processes of a torchrun run return the summary process 0 wrote
            return summary if self.rank == 0 else read_record(self.out / "summary.json", "")

    def _loop(self, bar: Any, autocast: Any, deadline: float | None, t0: float, start_elapsed: float, stop: StopAfterStep) -> bool:
        """Run steps until `steps`, the deadline or a requested stop, logging and checkpointing on the way; return whether
        a stop (Ctrl-C, SIGTERM) ended it: in a torchrun run, as all the processes agreed after one step."""
        with open(self.out / "metrics.jsonl" if self.rank == 0 else os.devnull, "a") as log:
            while self.step < self.train.steps:
                self.step += 1
                batch = self._next_batch()
                self._set_lr(self.step)
                lr = self._lr()  # the rate this step uses (a scheduler sets the next step's after it)
                with autocast:
                    losses = self.method.train_step(batch, self.step)
                if clash := TRAINER_KEYS & set(losses):
                    raise PluginError(f"method {self.method.name!r}'s train_step returned {sorted(clash)}, which the trainer's log "
                                      f"(metrics.jsonl) keeps for its own; name them otherwise (e.g. loss_nll, or {self.method.name}_{min(clash)}).")
                for s in self.method.schedulers.values():
                    s.step_update(self.step) if hasattr(s, "step_update") else s.step()  # timm's, or torch's (one step() per step)
                if self.ema is not None:
                    # timm's EMA copies the weights outright at step 1; a branch's EMA, loaded from its source, must average on
                    self.ema.update(self._inference, step=self.step if self.init_source is None else None)
                self.elapsed = start_elapsed + time.monotonic() - t0
                logged = self.step % self.train.log_every == 0 or self.step == self.train.steps
                if logged:
                    # a torchrun run logs each loss as its mean over the processes, as the step averaged their gradients
                    record = {"step": self.step, "time": round(self.elapsed, 3), **parallel.mean_values({k: float(v) for k, v in losses.items()}, self.device)}
                    record["lr"] = lr
                    # JSON has no NaN: a diverged value is logged as null (what jq and browsers read), and the run stops
                    log.write(json.dumps({k: v if not isinstance(v, float) or math.isfinite(v) else None for k, v in record.items()}) + "\n")
                    log.flush()
                    self._stop_if_diverged([k for k, v in record.items() if isinstance(v, float) and not math.isfinite(v)],
                                           f"its logged losses at step {self.step}")
                if self.world > 1:
                    # a Ctrl-C, a SIGTERM or the time limit reaches the processes at different moments: they stop after the step
                    # they agree on here, and only here (a signal that lands later waits for the next step's agreement)
                    stopped, late = parallel.any_process([stop.requested, deadline is not None and time.monotonic() > deadline], self.device)
                    if stopped or late:
                        return stopped
                elif stop.requested:  # before the bar writes to a terminal (or a pipe) the same Ctrl-C may have closed
                    return True
                if logged:
                    bar.set_postfix({k: f"{v:.3g}" for k, v in record.items() if k.startswith("loss")}, refresh=False)  # shown at the bar's next line
                bar.update(1)
                if self.train.checkpoint_every and self.step % self.train.checkpoint_every == 0 and self.step < self.train.steps:
                    self.save_checkpoint()  # the last step's checkpoint is written once, by fit
                if self.train.ema_snapshot_every and self.step % self.train.ema_snapshot_every == 0 and self.step < self.train.steps:
                    self._snapshot()
                if self.world == 1 and (stop.requested or (deadline is not None and time.monotonic() > deadline)):
                    return stop.requested
        return False

    def exported_state(self) -> dict[str, torch.Tensor]:
        """Return the inference weights to ship: the EMA's when an EMA runs, else the model's."""
        if self.ema is None:
            return self.method.inference_state_dict()
        return dict(self.ema.module.state_dict())

    def _snapshot(self) -> None:
        """Keep the weights the run would export now (float32) in snapshots/, for `zoo average`, when the run keeps snapshots."""
        if self.train.ema_snapshot_every and self.rank == 0:
            path = snapshot_path(self.out, self.step)
            path.parent.mkdir(exist_ok=True)
            save_model(self.method, path, state=self.exported_state())

    def _export(self, resumed: bool) -> dict[str, Any]:
        dtype = torch.float16 if self.train.export_dtype == "float16" else None
        path = self.out / EXPORT
        self._stop_if_diverged(nonfinite(self.exported_state(), nan_only=True), "its weights")  # an EMA's too (its -inf masks are meant)
        sha = save_model(self.method, path, dtype=dtype, state=self.exported_state())
        records = read_metrics_log(self.out / "metrics.jsonl")
        summary = {
            "method": self.method.name,
            "steps": self.step,
            "steps_planned": self.train.steps,
            "wall_time_s": round(self.elapsed, 1),
            "device": device_name(self.device),
            **({"processes": self.world} if self.world > 1 else {}),  # a torchrun run: on as many devices, batch_size each
            "software": software(),
            "weights": str(path.resolve()),  # a scheduler reads it from any folder
            "sha256": sha,
            "resumed": resumed,
            "date": datetime.date.today().isoformat(),
            # the sittings that made these weights: run.json is rewritten when a later sitting begins, which may end
            # without an export (interrupted, diverged); `zoo register` reads what made the weights from here
            "command": self.command,
            "earlier_sittings": self.earlier_sittings,
            "last": records[-1] if records else {},
        }
        with atomic_write(self.out / "summary.json", "w") as f:  # at once: until then the weights and the summary's sha256 differ
            json.dump(summary, f, indent=2)
        logged = sorted({k for r in records for k, v in r.items() if isinstance(v, (int, float))} - TRAINER_KEYS)
        if keys := [k for k in logged if k.startswith("loss")] or logged:  # a method that names no value loss*: all it logs
            plot_curves({f"{self.method.name} on {', '.join(self.data_names.values())}": records}, self.out / "loss.png", keys=keys)
        return summary


def _data_option(roles: list[str]) -> str:
    """How the user names data for `roles`: ``--data source=NAME --data target=NAME``, or ``data={'source': NAME, ...}``."""
    if COMMAND_LINE.get():
        return " ".join(f"--data {r}=NAME" for r in roles)
    return "data={" + ", ".join(f"{r!r}: NAME" for r in roles) + "}"
