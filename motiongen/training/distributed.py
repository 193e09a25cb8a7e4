"""Distributed training with PyTorch's own engine, in one small helper (DESIGN §7).

``torchrun --nproc_per_node N -m motiongen train ...`` sets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; a plain run is a world of one and never touches ``torch.distributed``. The process
group uses NCCL on GPUs and gloo on the CPU. Only rank 0 writes files. Every rank draws the same
global batch of indices (and latent seeds) from identically seeded generators and keeps its own
contiguous shard, so what sample k of a step sees does not depend on how many processes share it.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as torch_dist
from torch import nn


@dataclass(frozen=True)
class World:
    rank: int = 0  # this process among all of them
    size: int = 1  # number of processes
    local_rank: int = 0  # this process on its machine (selects the GPU)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


# --- the environment -------------------------------------------------------------------------

def world_from_env() -> World:
    """Rank, world size and local rank as torchrun sets them (a world of one without it)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    return World(rank=rank, size=max(size, 1), local_rank=local_rank)


def init(device_type: str) -> tuple[World, bool]:
    """Join the process group when torchrun started us (idempotent). Returns the world and
    whether this call created the group (the creator should `shutdown` it)."""
    world = world_from_env()
    if not world.distributed or torch_dist.is_initialized():
        return world, False
    if device_type == "cuda":
        torch.cuda.set_device(world.local_rank)
    torch_dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo", init_method="env://")
    return world, True


@contextlib.contextmanager
def joined(device_type: str) -> Iterator[World]:
    """`init` for the block's duration; the group is destroyed after it if this call created it."""
    world, created = init(device_type)
    try:
        yield world
    finally:
        if created:
            shutdown()


def shutdown() -> None:
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def barrier(world: World) -> None:
    if world.distributed and torch_dist.is_initialized():
        torch_dist.barrier()


# --- models and data -------------------------------------------------------------------------

def wrap(module: nn.Module, world: World, device: torch.device) -> nn.Module:
    """``DistributedDataParallel`` around ``module`` in a world of more than one, else itself."""
    if not world.distributed:
        return module
    device_ids = [device.index if device.index is not None else world.local_rank] if device.type == "cuda" else None
    # A model whose ablations switch parts off says so; DDP then does not wait for their gradients.
    unused = bool(getattr(module, "may_leave_parameters_unused", False))
    return nn.parallel.DistributedDataParallel(module, device_ids=device_ids, find_unused_parameters=unused)


def shard(values: torch.Tensor, world: World) -> torch.Tensor:
    """This rank's contiguous part of a global batch (first dimension = size × per-rank batch)."""
    if not world.distributed:
        return values
    per_rank = values.shape[0] // world.size
    return values[world.rank * per_rank:(world.rank + 1) * per_rank]


def any_rank(flag: bool, world: World, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on at least one (so all stop at the same step)."""
    if not world.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    torch_dist.all_reduce(value, op=torch_dist.ReduceOp.MAX)
    return bool(value.item())


def gather_objects(obj, world: World) -> list:
    """Every rank's ``obj`` (a small picklable value, e.g. RNG states), on every rank."""
    if not world.distributed:
        return [obj]
    gathered: list = [None] * world.size
    torch_dist.all_gather_object(gathered, obj)
    return gathered
