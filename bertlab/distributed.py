"""Data-parallel training under `torchrun`: N processes, one model each, gradients averaged.

Notebook 13 runs it with two processes on the CPU (the gloo backend) and shows that they
follow the same trajectory as one process on the same global batch; on GPUs the nccl
backend does the same over NVLink or the network. `bertlab.training.train` uses this class
and needs no change: with one process every method does nothing.

How it works: every process sees the same batches (same seed, same order) and trains on
its own contiguous slice of each one; `DistributedDataParallel` averages the gradients
across processes during `backward()`, so every replica takes the same optimizer step.
With gradient accumulation the averaging waits for the last micro-batch (`no_sync`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any

import torch
from torch import nn


class Distributed:
    """Data-parallel training under `torchrun`; with one process every method is a no-op."""

    def __init__(self, device: torch.device, rank: int, world: int, split_batches: bool) -> None:
        self.device, self.rank, self.world = device, rank, world
        self.split_batches = split_batches
        self.is_main = rank == 0
        self.ddp_model: nn.Module | None = None

    @classmethod
    def join(cls, device: torch.device, train_batches) -> Distributed:
        """Join the process group that `torchrun` describes in the environment."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls(device, 0, 1, False)
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        rank = dist.get_rank()
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
        split = not uses_distributed_sampler(train_batches)
        return cls(device, rank, dist.get_world_size(), split)

    def wrap(self, model: nn.Module) -> nn.Module:
        """The model to call in the loop: DistributedDataParallel when there are N processes."""
        if self.world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [self.device] if self.device.type == "cuda" else None
        self.ddp_model = DistributedDataParallel(model, device_ids=device_ids)
        return self.ddp_model

    def my_slice(self, batch: dict[str, Any]) -> dict[str, Any]:
        """This process's contiguous share of a batch (tensors split along dimension 0)."""
        if not self.split_batches:
            return batch
        return {
            key: value.tensor_split(self.world)[self.rank]
            if isinstance(value, torch.Tensor) and value.dim() > 0
            else value
            for key, value in batch.items()
        }

    def sync_gradients(self, micro: int, accumulation_steps: int):
        """Average gradients across processes only on the micro-batch that ends a step."""
        if self.ddp_model is None or micro % accumulation_steps == 0:
            return nullcontext()
        return self.ddp_model.no_sync()

    def agree(self, reason: str) -> str:
        """Every process stops at the same step: one process out of budget stops them all."""
        if self.world == 1:
            return reason
        import torch.distributed as dist

        flag = torch.tensor([1 if reason else 0], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return reason or ("another process ran out of budget" if flag.item() else "")


def uses_distributed_sampler(train_batches: Iterable) -> bool:
    from torch.utils.data.distributed import DistributedSampler

    return isinstance(getattr(train_batches, "sampler", None), DistributedSampler)
