"""One training loop for pretraining and every fine-tuning notebook.

Notebook 09 introduces it while pretraining a small BERT; notebooks 10-12 reuse it.
`train(model, train_batches, config)` calls `model(**batch)` on each dict batch
and minimises `output.loss` with:

- AdamW (`torch.optim.AdamW`) over `bertlab.optim.decay_parameter_groups`: no weight
  decay on biases and LayerNorm weights (notebook 04 writes AdamW out by hand; the
  loop uses torch's implementation because it is the same update and faster, and
  its fused kernel by default: one pass over the memory per step instead of several,
  which cuts the optimizer's share of a short-sequence CPU step from ~30% to ~12%);
- linear warmup then linear decay (`bertlab.optim.linear_warmup_decay`) over the
  budget; with a time budget the schedule follows the elapsed time;
- clipping of the global gradient norm (`bertlab.optim.clip_grad_norm_`);
- gradient accumulation, mixed precision (bf16 autocast on CPU or GPU, fp16 with a
  gradient scaler on GPU only);
- evaluation callbacks `eval_fn(model) -> dict[str, float]`, a tqdm progress bar,
  a `History` that can redraw its curves live in a notebook;
- checkpoints in `output_dir/checkpoint/` and exact resume (model, optimizer,
  schedule, RNG states, epoch and position in the data);
- data-parallel training under `torchrun --nproc_per_node N` with no code change:
  every process sees the same batches and trains on its own slice of each one
  (DistributedDataParallel averages the gradients), so N processes follow the same
  trajectory as one process on the same global batch.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from bertlab.optim import clip_grad_norm_, decay_parameter_groups, linear_warmup_decay
from bertlab.runtime import default_device, set_seed

__all__ = ["History", "NonFiniteLossError", "TrainingConfig", "train"]

PRECISIONS = ("fp32", "bf16", "fp16")
CHECKPOINT_NAME = "checkpoint"
_SCHEDULE_RESOLUTION = 1_000_000  # fractional progress -> integer "steps" for the schedule


@dataclass
class TrainingConfig:
    """Everything `train` needs besides the model and the data.

    Training stops at the first of `max_steps` optimizer steps, `max_seconds` of
    training, or `epochs` passes over the data (set `epochs=None` to loop over the
    data until a step or time budget runs out).

    `lr_multipliers` maps parameter-name prefixes to a factor on the learning rate,
    e.g. `{"classifier": 10.0}` lets a freshly initialised head learn faster than the
    pretrained encoder under it (the first matching prefix wins).
    """

    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_steps: int | None = None
    max_seconds: float | None = None
    epochs: float | None = 1.0
    max_grad_norm: float | None = 1.0
    accumulation_steps: int = 1
    precision: str = "fp32"
    eval_every: int | None = None
    log_every: int = 10
    seed: int = 0
    progress: bool = True
    live_plot: bool = False
    output_dir: str | os.PathLike | None = None
    save_every: int | None = None
    resume: bool = False
    device: str | None = None
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_epsilon: float = 1e-6
    fused_optimizer: bool = True
    lr_multipliers: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.accumulation_steps < 1:
            raise ValueError(f"accumulation_steps must be >= 1, got {self.accumulation_steps}")
        if self.log_every < 1:
            raise ValueError(f"log_every must be >= 1, got {self.log_every}")
        for name in ("max_steps", "max_seconds", "epochs", "eval_every", "save_every"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0 or None, got {value}")
        if self.max_steps is None and self.max_seconds is None and self.epochs is None:
            raise ValueError("give at least one budget: max_steps, max_seconds or epochs")
        for prefix, factor in self.lr_multipliers.items():
            if not factor > 0:
                raise ValueError(f"lr_multipliers[{prefix!r}] must be > 0, got {factor}")
        if (self.save_every or self.resume) and self.output_dir is None:
            raise ValueError("save_every and resume need output_dir (where checkpoints live)")


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint (if any) is kept."""

    def __init__(self, message: str, history: History):
        super().__init__(message)
        self.history = history


@dataclass
class History:
    """What happened during training: one record per logged step, plus eval metrics.

    Each record is a dict with `step`, `seconds`, `examples`, `loss` (mean training
    loss since the previous record), `lr`, and the metrics `eval_fn` returned at that step.
    """

    records: list[dict[str, float]] = field(default_factory=list)
    stop_reason: str = ""

    def metric(self, name: str) -> tuple[list[float], list[float]]:
        """Steps and values of one column (records without it are skipped)."""
        rows = [r for r in self.records if name in r and r[name] is not None]
        return [r["step"] for r in rows], [r[name] for r in rows]

    @property
    def last(self) -> dict[str, float]:
        """The latest value of every column."""
        merged: dict[str, float] = {}
        for record in self.records:
            merged.update(record)
        return merged

    def plot(self, axes=None):
        """Training loss on the left, evaluation metrics on the right; returns the figure."""
        import matplotlib.pyplot as plt

        if axes is None:
            _, axes = plt.subplots(1, 2, figsize=(10, 3.2))
        loss_ax, eval_ax = axes
        loss_ax.clear()
        eval_ax.clear()
        steps, losses = self.metric("loss")
        loss_ax.plot(steps, losses, label="training loss")
        for name in sorted({k for r in self.records for k in r if "loss" in k and k != "loss"}):
            loss_ax.plot(*self.metric(name), marker="o", label=name)
        loss_ax.set_xlabel("optimizer step")
        loss_ax.set_ylabel("loss")
        loss_ax.legend(loc="upper right")
        others = sorted({k for r in self.records for k in r} - set(_BASE_COLUMNS))
        others = [name for name in others if "loss" not in name]
        for name in others:
            eval_ax.plot(*self.metric(name), marker="o", label=name)
        eval_ax.set_xlabel("optimizer step")
        eval_ax.set_title("evaluation" if others else "no evaluation metrics yet")
        if others:
            eval_ax.legend(loc="lower right")
        figure = loss_ax.figure
        figure.tight_layout()
        return figure


_BASE_COLUMNS = ("step", "seconds", "examples", "loss", "lr", "grad_norm", "epoch")


class _LivePlot:
    """Redraws `History.plot()` in place in a notebook (an IPython display handle)."""

    def __init__(self) -> None:
        import matplotlib.pyplot as plt
        from IPython.display import display

        self.figure, self.axes = plt.subplots(1, 2, figsize=(10, 3.2))
        plt.close(self.figure)  # shown through the handle only, not again at cell end
        self.handle = display(self.figure, display_id=True)

    def update(self, history: History) -> None:
        history.plot(self.axes)
        self.handle.update(self.figure)


# ----------------------------------------------------------------------------- distributed


def _distributed_setup(device: torch.device) -> tuple[int, int]:
    """Join the process group that `torchrun` describes in the environment; (rank, world)."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _rank_slice(batch: dict[str, Any], rank: int, world: int) -> dict[str, Any]:
    """This process's contiguous share of a batch (tensors split along dimension 0)."""
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            out[key] = value.tensor_split(world)[rank]
        else:
            out[key] = value
    return out


def _uses_distributed_sampler(train_batches: Iterable) -> bool:
    from torch.utils.data.distributed import DistributedSampler

    return isinstance(getattr(train_batches, "sampler", None), DistributedSampler)


# ----------------------------------------------------------------------------- helpers


def _rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_device(batch: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    return {
        k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
        for k, v in batch.items()
    }


def _batch_size(batch: Mapping[str, Any]) -> int:
    if not isinstance(batch, Mapping):
        raise TypeError(
            f"train_batches must yield dict batches (passed as model(**batch)), got "
            f"{type(batch).__name__}"
        )
    for value in batch.values():
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return int(value.shape[0])
    return 1


def _loss_of(output: Any) -> torch.Tensor:
    loss = output.get("loss") if isinstance(output, Mapping) else getattr(output, "loss", None)
    if loss is None:
        raise ValueError(
            "the model returned no loss: pass labels in the batch so that model(**batch).loss is set"
        )
    return loss


def _autocast(precision: str, device: torch.device):
    if precision == "fp32":
        return nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def _parameter_groups(model: nn.Module, config: TrainingConfig) -> list[dict]:
    """`decay_parameter_groups`, each split further by `config.lr_multipliers`."""
    factor_of = {}
    for name, param in model.named_parameters():
        prefix = next((p for p in config.lr_multipliers if name.startswith(p)), None)
        factor_of[id(param)] = config.lr_multipliers[prefix] if prefix is not None else 1.0
    unmatched = [
        p
        for p in config.lr_multipliers
        if not any(n.startswith(p) for n, _ in model.named_parameters())
    ]
    if unmatched:
        raise ValueError(f"lr_multipliers: no parameter name starts with {unmatched[0]!r}")
    groups = []
    for group in decay_parameter_groups(model, config.weight_decay):
        for factor in sorted({factor_of[id(p)] for p in group["params"]}):
            params = [p for p in group["params"] if factor_of[id(p)] == factor]
            groups.append({**group, "params": params, "lr_multiplier": factor})
    return groups


def _fused_adamw_works(model: nn.Module, device: torch.device) -> bool:
    """torch's fused AdamW needs floating-point parameters on the CPU or a GPU."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    return device.type in ("cpu", "cuda") and all(p.is_floating_point() for p in trainable)


def _planned_steps(train_batches: Iterable, config: TrainingConfig) -> int | None:
    """Optimizer steps in the budget when it is countable (max_steps and/or epochs)."""
    candidates = []
    if config.max_steps is not None:
        candidates.append(config.max_steps)
    if config.epochs is not None:
        try:
            per_epoch = len(train_batches) / config.accumulation_steps  # type: ignore[arg-type]
        except TypeError:
            per_epoch = None
        if per_epoch is not None:
            candidates.append(max(1, math.ceil(per_epoch * config.epochs)))
    return min(candidates) if candidates else None


def _evaluate(model: nn.Module, eval_fn: Callable) -> dict[str, float]:
    """Run eval_fn in eval mode without touching the training RNG streams."""
    state = _rng_state()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            metrics = eval_fn(model)
    finally:
        model.train(was_training)
        _set_rng_state(state)
    if not isinstance(metrics, Mapping):
        raise TypeError(f"eval_fn must return a dict of metrics, got {type(metrics).__name__}")
    return {k: float(v) for k, v in metrics.items()}


# ----------------------------------------------------------------------------- checkpoints


def _save_checkpoint(directory: Path, model: nn.Module, state: dict[str, Any]) -> Path:
    """Write model weights + training state to directory/checkpoint, atomically."""
    from safetensors.torch import save_model

    final = directory / CHECKPOINT_NAME
    partial = directory / (CHECKPOINT_NAME + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    save_model(model, str(partial / "model.safetensors"))  # handles tied weights
    torch.save(state, partial / "training_state.pt")
    previous = directory / (CHECKPOINT_NAME + ".previous")
    shutil.rmtree(previous, ignore_errors=True)
    if final.exists():
        final.rename(previous)
    partial.rename(final)
    shutil.rmtree(previous, ignore_errors=True)
    return final


def _load_checkpoint(directory: Path, model: nn.Module) -> dict[str, Any]:
    from safetensors.torch import load_model

    checkpoint = directory / CHECKPOINT_NAME
    load_model(model, str(checkpoint / "model.safetensors"))
    return torch.load(checkpoint / "training_state.pt", weights_only=True)


# ----------------------------------------------------------------------------- the loop


def train(
    model: nn.Module,
    train_batches: Iterable[Mapping[str, Any]],
    config: TrainingConfig,
    eval_fn: Callable[[nn.Module], Mapping[str, float]] | None = None,
) -> History:
    """Train `model` on `train_batches` (re-iterable dict batches) and return the History.

    If `train_batches` has a `set_epoch(epoch)` method (as a dynamic-masking dataset or a
    DataLoader's DistributedSampler does), it is called before every pass.
    """
    device = torch.device(config.device) if config.device else default_device()
    if config.precision == "fp16" and device.type != "cuda":
        raise ValueError("precision='fp16' needs a CUDA GPU (use 'bf16' on the CPU)")
    rank, world = _distributed_setup(device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
    is_main = rank == 0
    model.to(device)
    model.train()

    set_seed(config.seed)
    optimizer = torch.optim.AdamW(
        _parameter_groups(model, config),
        lr=config.learning_rate,
        betas=config.adam_betas,
        eps=config.adam_epsilon,
        fused=config.fused_optimizer and _fused_adamw_works(model, device),
    )
    scaler = torch.amp.GradScaler("cuda") if config.precision == "fp16" else None
    ddp_model: nn.Module = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        ddp_model = DistributedDataParallel(
            model, device_ids=[device] if device.type == "cuda" else None
        )
    split_batches = world > 1 and not _uses_distributed_sampler(train_batches)

    total_steps = _planned_steps(train_batches, config)
    if total_steps is None and config.max_seconds is None:
        raise ValueError(
            "train_batches has no len(): give max_steps or max_seconds so the schedule has an end"
        )
    output_dir = Path(config.output_dir) if config.output_dir is not None else None
    history = History()

    # Where we are: optimizer steps done, epoch, batches consumed in this epoch, seconds spent.
    step, epoch, batch_in_epoch, elapsed_before, examples = 0, 0, 0, 0.0, 0
    epoch_rng = _rng_state()
    if config.resume and output_dir is not None and (output_dir / CHECKPOINT_NAME).exists():
        state = _load_checkpoint(output_dir, model)
        optimizer.load_state_dict(state["optimizer"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        step, epoch = state["step"], state["epoch"]
        batch_in_epoch, elapsed_before = state["batch_in_epoch"], state["seconds"]
        examples = state["examples"]
        history.records = list(state["history"])
        epoch_rng = state["epoch_rng"]
        resume_rng = state["rng"]
    else:
        resume_rng = None

    warmup_steps = math.ceil(config.warmup_ratio * total_steps) if total_steps else 0

    def set_learning_rate(seconds: float) -> float:
        """Warmup + linear decay over steps, or over elapsed time when that runs out first."""
        multiplier = 0.0
        if total_steps is not None:
            multiplier = linear_warmup_decay(step, warmup_steps, total_steps)
            step_fraction = step / total_steps
        else:
            step_fraction = 0.0
        if config.max_seconds is not None and seconds / config.max_seconds > step_fraction:
            done = round(min(1.0, seconds / config.max_seconds) * _SCHEDULE_RESOLUTION)
            warmup = math.ceil(config.warmup_ratio * _SCHEDULE_RESOLUTION)
            multiplier = linear_warmup_decay(done, warmup, _SCHEDULE_RESOLUTION)
        lr = config.learning_rate * multiplier
        for group in optimizer.param_groups:
            group["lr"] = lr * group.get("lr_multiplier", 1.0)  # absent in older checkpoints
        return lr

    def training_state() -> dict[str, Any]:
        return {
            "step": step,
            "epoch": epoch,
            "batch_in_epoch": batch_in_epoch,
            "seconds": elapsed_before + (time.perf_counter() - start),
            "examples": examples,
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": _rng_state(),
            "epoch_rng": epoch_rng,
            "history": history.records,
            "config": {k: v for k, v in dataclasses.asdict(config).items() if k != "output_dir"},
        }

    def out_of_budget(seconds: float) -> str:
        reason = ""
        if config.max_steps is not None and step >= config.max_steps:
            reason = f"max_steps={config.max_steps} reached"
        elif config.max_seconds is not None and seconds >= config.max_seconds:
            reason = f"max_seconds={config.max_seconds:g} reached"
        if world > 1:  # every process must stop at the same step
            import torch.distributed as dist

            flag = torch.tensor([1 if reason else 0], device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            if flag.item() and not reason:
                reason = "another process ran out of budget"
        return reason

    bar = None
    if config.progress and is_main:
        from tqdm.auto import tqdm

        bar = tqdm(total=total_steps, initial=step, desc="training", unit="step", leave=True)
    live = _LivePlot() if config.live_plot and is_main else None

    start = time.perf_counter()
    running_loss, running_count, micro = 0.0, 0, 0
    last_good_checkpoint: Path | None = None
    optimizer.zero_grad(set_to_none=True)
    while True:
        if config.epochs is not None and epoch >= math.ceil(config.epochs):
            history.stop_reason = f"epochs={config.epochs:g} done"
            break
        _set_rng_state(epoch_rng)  # the data order of this epoch depends only on this state
        if hasattr(train_batches, "set_epoch"):
            train_batches.set_epoch(epoch)
        elif _uses_distributed_sampler(train_batches):
            train_batches.sampler.set_epoch(epoch)
        iterator = iter(train_batches)
        for _ in range(batch_in_epoch):  # resuming: skip what this epoch already used
            next(iterator)
        if resume_rng is not None:
            _set_rng_state(resume_rng)
            resume_rng = None
        epoch_limit = None
        if config.epochs is not None and epoch == math.ceil(config.epochs) - 1:
            try:
                epoch_limit = math.ceil(len(train_batches) * (config.epochs - epoch))  # type: ignore[arg-type]
            except TypeError:
                epoch_limit = None
        reason = ""
        for batch in iterator:
            if epoch_limit is not None and batch_in_epoch >= epoch_limit:
                break
            batch_in_epoch += 1
            examples += _batch_size(batch)
            if split_batches:
                batch = _rank_slice(batch, rank, world)
            batch = _to_device(batch, device)
            micro += 1
            sync_now = micro % config.accumulation_steps == 0
            sync_context = (
                ddp_model.no_sync() if world > 1 and not sync_now else nullcontext()  # type: ignore[operator]
            )
            with sync_context:
                with _autocast(config.precision, device):
                    loss = _loss_of(ddp_model(**batch))
                if not torch.isfinite(loss.detach()):
                    kept = (
                        f"; the last good checkpoint is {last_good_checkpoint}"
                        if (last_good_checkpoint)
                        else ""
                    )
                    history.stop_reason = f"non-finite loss at step {step + 1}"
                    if bar is not None:
                        bar.close()
                    raise NonFiniteLossError(
                        f"training stopped: the loss is {loss.item()} at optimizer step {step + 1} "
                        f"(epoch {epoch}, batch {batch_in_epoch}). Lower the learning rate or check "
                        f"the inputs{kept}.",
                        history,
                    )
                scaled = loss / config.accumulation_steps
                (scaler.scale(scaled) if scaler is not None else scaled).backward()
            running_loss += loss.item()
            running_count += 1
            if not sync_now:
                continue

            seconds = elapsed_before + (time.perf_counter() - start)
            lr = set_learning_rate(seconds)
            if scaler is not None:
                scaler.unscale_(optimizer)
            grad_norm = None
            if config.max_grad_norm is not None:
                grad_norm = float(clip_grad_norm_(model.parameters(), config.max_grad_norm))
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if bar is not None:
                bar.update(1)

            seconds = elapsed_before + (time.perf_counter() - start)
            reason = out_of_budget(seconds)
            record: dict[str, float] = {}
            if step % config.log_every == 0 or reason or step == 1:
                record = {
                    "step": step,
                    "seconds": round(seconds, 3),
                    "examples": examples,
                    "epoch": epoch,
                    "loss": running_loss / max(1, running_count),
                    "lr": lr,
                }
                if grad_norm is not None:
                    record["grad_norm"] = grad_norm
                running_loss, running_count = 0.0, 0
                if bar is not None:
                    bar.set_postfix(loss=f"{record['loss']:.4f}", lr=f"{lr:.2e}")
            if (
                eval_fn is not None
                and is_main
                and config.eval_every
                and step % config.eval_every == 0
            ):
                record = record or {"step": step, "seconds": round(seconds, 3)}
                record.update(_evaluate(model, eval_fn))
            if record and is_main:
                history.records.append(record)
                if live is not None:
                    live.update(history)
            if (
                output_dir is not None
                and is_main
                and config.save_every
                and step % config.save_every == 0
            ):
                last_good_checkpoint = _save_checkpoint(output_dir, model, training_state())
            if reason:
                break
        if reason:
            history.stop_reason = reason
            break
        if batch_in_epoch == 0:
            raise ValueError(f"train_batches yielded no batch in epoch {epoch}: is the data empty?")
        epoch += 1
        batch_in_epoch = 0
        epoch_rng = _rng_state()
    if bar is not None:
        bar.close()

    # The final record, evaluation and checkpoint, whatever ended the run.
    seconds = elapsed_before + (time.perf_counter() - start)
    if is_main:
        final = (
            history.records[-1] if history.records and history.records[-1]["step"] == step else None
        )
        if final is None:
            final = {
                "step": step,
                "seconds": round(seconds, 3),
                "examples": examples,
                "epoch": epoch,
            }
            if running_count:
                final.update(loss=running_loss / running_count, lr=optimizer.param_groups[0]["lr"])
            history.records.append(final)
        if eval_fn is not None and not any(k not in _BASE_COLUMNS for k in final):
            final.update(_evaluate(model, eval_fn))
        if live is not None:
            live.update(history)
        if output_dir is not None:
            _save_checkpoint(output_dir, model, training_state())
    return history
