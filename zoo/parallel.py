"""Data-parallel training in several processes, as torchrun launches them: who this process is, and the few collective
steps a run takes.

``torchrun --nproc_per_node=N -m zoo train ...`` trains one model in N processes, each on batches and noise of its
own. Every :meth:`zoo.Method.optimize` averages its optimizer's gradients over the processes before the step, so the
weights stay the same in all of them (DDP's rule, taken at each optimizer's step rather than at each backward pass, so
that a GAN's two updates in one step stay apart and no method needs wrapping); process 0 alone writes the run folder.
Without torchrun (no ``WORLD_SIZE`` above 1 in the environment) every function here is a no-op.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence

import torch
import torch.distributed as dist

from .errors import ConfigError, option

__all__ = ["launched", "launch_prefix", "local_rank", "rank", "world_size", "start", "stop", "average_gradients", "mean_values", "any_process",
           "gather_rows", "barrier", "weights_differ", "same_everywhere", "lost_peer"]


def launched() -> int:
    """Return the number of processes torchrun launched this run in (``WORLD_SIZE``; 1 without torchrun)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def local_rank() -> int:
    """Return this process's index on its machine (``LOCAL_RANK``, 0 without torchrun): the GPU it trains on."""
    return int(os.environ.get("LOCAL_RANK", "0") or 0)


def launch_prefix() -> str:
    """Return how torchrun started this process, as the start of a command (``torchrun --nproc_per_node=2 -m ``; with
    ``--nnodes=K`` across machines), or '' without torchrun: what a run records as its command."""
    world = launched()
    if world <= 1:
        return ""
    try:
        local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", str(world))))
    except ValueError:
        local = world
    nodes = f"--nnodes={world // local} " if world // local > 1 else ""
    return f"torchrun {nodes}--nproc_per_node={local} -m "


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """Return this process's index among the run's (0 alone, and without torchrun): process 0 writes the run's files."""
    if _active():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0") or 0) if launched() > 1 else 0


def world_size() -> int:
    """Return how many processes train together (1 unless a torchrun run's process group is up)."""
    return dist.get_world_size() if _active() else 1


def start(device: torch.device) -> tuple[torch.device, bool]:
    """Join the run's process group where torchrun launched several processes; return the device this process trains
    on (a GPU run: the GPU of its ``LOCAL_RANK``) and whether this call started the group (and `stop` should end it)."""
    if launched() <= 1 or not dist.is_available():
        return device, False
    if device.type == "mps" or (device.type == "cuda" and device.index is not None):
        raise ConfigError(f"device {device}: the processes torchrun starts train on a GPU each, the one of their LOCAL_RANK, or on "
                          f"CPUs; give {option('device', 'cuda')} (or auto) or {option('device', 'cpu')}.")
    if device.type == "cuda":
        device = torch.device("cuda", local_rank())
        torch.cuda.set_device(device)
    if dist.is_initialized():
        return device, False
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device, True


def stop(started: bool, *, wait: bool = True) -> None:
    """End the process group `start` began (`started`): once every process has reached this point when `wait` (a run
    that ended well), at once where the run failed or was stopped (another process may never get here)."""
    if started and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


#: What gloo says when the process at the other end of a collective has gone (NCCL raises a DistError).
_PEER_GONE = ("Connection closed by peer", "Connection reset by peer")


def lost_peer(error: BaseException) -> bool:
    """Return whether `error` is a collective's failure because another process of the run ended (crashed, or refused the run)."""
    if launched() <= 1:
        return False
    return isinstance(error, getattr(dist, "DistError", ())) or (isinstance(error, RuntimeError) and any(s in str(error) for s in _PEER_GONE))


def barrier() -> None:
    """Wait until every process of the run gets here (nothing alone)."""
    if _active():
        dist.barrier()


def _flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def average_gradients(params: Iterable[torch.nn.Parameter]) -> None:
    """Replace each gradient of `params` by its mean over the run's processes (one all-reduce for them all)."""
    if not _active():
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = _flat([g.float() for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def mean_values(values: Mapping[str, float], device: torch.device) -> dict[str, float]:
    """Return `values` (a step's losses) averaged over the processes: what the run's log records."""
    if not _active() or not values:
        return dict(values)
    t = torch.tensor([float(v) for v in values.values()], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return dict(zip(values, (t / dist.get_world_size()).tolist()))


def any_process(flags: Sequence[bool], device: torch.device) -> list[bool]:
    """Return, for each of `flags` (a Ctrl-C, a time limit), whether it holds in any process: all then stop after the same step."""
    if not _active():
        return list(flags)
    t = torch.tensor([1.0 if f else 0.0 for f in flags], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def same_everywhere(value: int, device: torch.device) -> bool:
    """Return whether every process holds the same whole number `value` (the step a run resumes at)."""
    if not _active():
        return True
    low = torch.tensor([value], dtype=torch.float64, device=device)
    high = low.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    return bool(low.item() == high.item())


def gather_rows(row: torch.Tensor) -> torch.Tensor:
    """Return every process's `row` (a 1-D uint8 tensor of one length in all of them, e.g. an RNG state), stacked by rank."""
    if not _active():
        return row.unsqueeze(0)
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    rows = [torch.empty_like(row, device=device) for _ in range(dist.get_world_size())]
    dist.all_gather(rows, row.to(device))
    return torch.stack([r.cpu() for r in rows])


def weights_differ(module: torch.nn.Module, device: torch.device) -> bool:
    """Return whether `module`'s parameters differ between the processes (a step that bypassed Method.optimize)."""
    if not _active():
        return False
    params = [p.detach() for p in module.parameters()]
    if not params:
        return False
    flat = _flat([p.double() for p in params]).to(device)
    summary = torch.stack([flat.sum(), (flat * torch.arange(1, len(flat) + 1, device=device, dtype=torch.float64).remainder(97)).sum()])
    low, high = summary.clone(), summary.clone()
    dist.all_reduce(low, op=dist.ReduceOp.MIN)
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    return not torch.equal(low, high)
