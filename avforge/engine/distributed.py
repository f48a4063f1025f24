"""Process-group set-up for torchrun (DDP). A plain ``python`` run is a world of one."""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist

from avforge.core.errors import AvforgeError


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    device: torch.device
    backend: str | None = None  # "gloo" / "nccl" inside a torchrun process group, else None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """In a process group (DDP, collectives): every torchrun run, even a world of one."""
        return self.backend is not None


def resolve_device(name: str) -> torch.device:
    """``cpu`` / ``cuda`` / ``cuda:N``; cuda without a GPU is a one-line error."""
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise AvforgeError("--device cuda requested but no CUDA GPU is available")
    if device.type not in ("cpu", "cuda"):
        raise AvforgeError(f"unsupported device {name!r} (use cpu or cuda)")
    return device


def init_distributed(device_name: str = "cpu") -> DistContext:
    """Join the torchrun process group (gloo on CPU, nccl on CUDA). Under torchrun a world of one
    joins too, so one GPU runs the same DDP + NCCL path as many; a plain run stays alone."""
    device = resolve_device(device_name)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1 and "TORCHELASTIC_RUN_ID" not in os.environ:
        return DistContext(0, 1, device)
    rank = int(os.environ["RANK"])
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistContext(rank, world_size, device, backend=dist.get_backend())


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def any_true(flag: bool, ctx: DistContext) -> bool:
    """True when ``flag`` is True on any rank (all ranks must call this together)."""
    if not ctx.distributed:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def check_replicas_in_sync(model: torch.nn.Module, ctx: DistContext) -> None:
    """Raise when the ranks' weights differ (a cheap checksum: sum and position-weighted sum)."""
    if not ctx.distributed:
        return
    flat = torch.cat([p.detach().double().flatten() for p in model.state_dict().values()
                      if p.is_floating_point()])
    weights = torch.arange(1, flat.numel() + 1, dtype=torch.float64, device=flat.device) / flat.numel()
    local = torch.stack([flat.sum(), (flat * weights).sum()])
    gathered = [torch.zeros_like(local) for _ in range(ctx.world_size)]
    dist.all_gather(gathered, local)
    if any(not torch.equal(g, gathered[0]) for g in gathered):
        raise RuntimeError(f"DDP replicas diverged: per-rank weight checksums {[g.tolist() for g in gathered]}")


@contextlib.contextmanager
def process_group(device_name: str = "cpu") -> Iterator[DistContext]:
    """``init_distributed`` for the duration of a block, then leave the group. On success the ranks
    leave together (a rank that tears gloo down while another still talks to it can abort the
    other: "terminate called without an active exception"); on an error a rank leaves at once, so
    torchrun can stop the others instead of them waiting at a barrier."""
    ctx = init_distributed(device_name)
    ok = False
    try:
        yield ctx
        ok = True
    finally:
        if ctx.distributed and dist.is_initialized():
            if ok:
                dist.barrier()
            dist.destroy_process_group()
