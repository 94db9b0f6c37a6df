"""One training loop for pretraining and every fine-tuning notebook.

Notebook 09 introduces it while pretraining a small BERT (and writes the same loop in
twenty lines first); notebooks 10-12 reuse it. `train(model, batches, config)` calls
`model(**batch)` on each dict batch and minimises `output.loss`. The loop itself,
`train`, reads in one sitting: forward, backward, clip, step, then log, evaluate and
save. Everything else is a small named helper below it:

- `make_optimizer`: AdamW (`torch.optim.AdamW`, its fused kernel by default: one pass
  over the memory per step instead of several) over `bertlab.optim.decay_parameter_groups`
  (no weight decay on biases and LayerNorm weights; notebook 04 writes AdamW by hand),
  with per-prefix learning-rate multipliers;
- `Budget`: when to stop (`max_steps`, `max_seconds`, `epochs`) and the learning rate
  (linear warmup then linear decay, `bertlab.optim.linear_warmup_decay`; under a time
  budget the schedule follows the elapsed time, so such a run does not repeat step for step);
- `epoch_batches`: the passes over the data, each in an order that depends only on the
  saved random state, so a resumed run sees the very same batches;
- `Checkpointer`: `output_dir/checkpoint/` with model, optimizer, schedule position and
  random states, written atomically, for exact resume;
- `bertlab.distributed.Distributed`: data-parallel training under `torchrun
  --nproc_per_node N` with no code change (N processes follow the same trajectory as one
  process on the same global batch);
- `Logger`: the `History` of losses and metrics, a progress bar on a terminal (plain
  periodic lines otherwise), and live curves in a notebook.

Mixed precision: bf16 autocast on CPU or GPU, fp16 with a gradient scaler on GPU only
(notebook 13 explains both).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bertlab.distributed import Distributed, uses_distributed_sampler
from bertlab.optim import clip_grad_norm_, decay_parameter_groups, linear_warmup_decay
from bertlab.runtime import Progress, get_rng_state, resolve_device, set_rng_state, set_seed

__all__ = ["History", "NonFiniteLossError", "TrainingConfig", "train"]

PRECISIONS = ("fp32", "bf16", "fp16")
CHECKPOINT_NAME = "checkpoint"
_SCHEDULE_RESOLUTION = 1_000_000  # fractional progress -> integer "steps" for the schedule


@dataclass
class TrainingConfig:
    """Everything `train` needs besides the model and the data.

    Training stops at the first of `max_steps` optimizer steps, `max_seconds` of
    training, or `epochs` passes over the data (set `epochs=None` to loop over the
    data until a step or time budget runs out). A run with a step or epoch budget and
    no time budget repeats bit for bit on the same machine; a time budget does not.

    `lr_multipliers` maps parameter-name prefixes to a factor on the learning rate,
    e.g. `{"classifier": 10.0}` lets a freshly initialised head learn faster than the
    pretrained encoder under it (the first matching prefix wins).

    `progress`: True draws a progress bar on a terminal and prints a plain line every
    `log_seconds` otherwise (a log file, CI); False prints nothing.
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
    log_seconds: float = 10.0
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
        _require(self.learning_rate > 0, "learning_rate must be > 0", self.learning_rate)
        _require(self.weight_decay >= 0, "weight_decay must be >= 0", self.weight_decay)
        _require(0 <= self.warmup_ratio < 1, "warmup_ratio must be in [0, 1)", self.warmup_ratio)
        _require(
            self.accumulation_steps >= 1, "accumulation_steps must be >= 1", self.accumulation_steps
        )
        _require(self.log_every >= 1, "log_every must be >= 1", self.log_every)
        _require(self.log_seconds > 0, "log_seconds must be > 0", self.log_seconds)
        for name in (
            "max_steps",
            "max_seconds",
            "epochs",
            "eval_every",
            "save_every",
            "max_grad_norm",
        ):
            value = getattr(self, name)
            _require(value is None or value > 0, f"{name} must be > 0 or None", value)
        if self.max_steps is None and self.max_seconds is None and self.epochs is None:
            raise ValueError("give at least one budget: max_steps, max_seconds or epochs")
        for prefix, factor in self.lr_multipliers.items():
            _require(factor > 0, f"lr_multipliers[{prefix!r}] must be > 0", factor)
        if (self.save_every or self.resume) and self.output_dir is None:
            raise ValueError("save_every and resume need output_dir (where checkpoints live)")

    @property
    def reproducible(self) -> bool:
        """True when the budget is counted in steps or epochs: a rerun gives the same weights."""
        return self.max_seconds is None


def _require(condition: bool, message: str, value: Any) -> None:
    """Raise ValueError(message, got value) unless `condition`; NaN fails every comparison."""
    if not condition:
        raise ValueError(f"{message}, got {value}")


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint (if any) is kept."""

    def __init__(self, message: str, history: History, checkpoint: Path | None = None):
        super().__init__(message)
        self.history = history
        self.checkpoint = checkpoint


@dataclass
class History:
    """What happened during training: one record per logged step, plus eval metrics.

    Each record is a dict with `step`, `seconds`, `examples`, `loss` (mean training
    loss since the previous record), `lr`, and the metrics `eval_fn` returned at that step.
    `reproducible` is False when a time budget decided the schedule or the end.
    """

    records: list[dict[str, float]] = field(default_factory=list)
    stop_reason: str = ""
    reproducible: bool = True

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
        loss_ax.plot(*self.metric("loss"), label="training loss")
        columns = sorted({k for r in self.records for k in r} - set(_BASE_COLUMNS))
        for name in [name for name in columns if "loss" in name]:
            loss_ax.plot(*self.metric(name), marker="o", label=name)
        loss_ax.set_xlabel("optimizer step")
        loss_ax.set_ylabel("loss")
        loss_ax.legend(loc="upper right")
        others = [name for name in columns if "loss" not in name]
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


@dataclass
class TrainState:
    """Where training is: what a checkpoint must hold to resume exactly."""

    step: int = 0  # optimizer steps done
    epoch: int = 0
    batch_in_epoch: int = 0  # batches of this epoch already consumed
    examples: int = 0
    seconds_before: float = 0.0  # training time spent before this process (resume)
    epoch_rng: dict[str, Any] | None = None  # random state that fixes this epoch's order
    resume_rng: dict[str, Any] | None = None  # random state to restore after skipping batches


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
    device = resolve_device(config.device)
    if config.precision == "fp16" and device.type != "cuda":
        raise ValueError("precision='fp16' needs a CUDA GPU (use 'bf16' on the CPU)")
    distributed = Distributed.join(device, train_batches)
    device = distributed.device
    model.to(device).train()
    set_seed(config.seed)
    optimizer = make_optimizer(model, config, device)
    scaler = torch.amp.GradScaler("cuda") if config.precision == "fp16" else None
    forward_model = distributed.wrap(model)
    budget = Budget(config, train_batches)
    state, history = (
        TrainState(epoch_rng=get_rng_state()),
        History(reproducible=config.reproducible),
    )
    checkpointer = Checkpointer(config.output_dir, distributed.is_main)
    if config.resume:
        checkpointer.restore(model, optimizer, scaler, state, history)
    logger = Logger(config, history, budget.total_steps, state.step, distributed.is_main)
    clock = Clock(state.seconds_before)

    micro = 0
    optimizer.zero_grad(set_to_none=True)
    for batch in epoch_batches(train_batches, state, config, distributed):
        with distributed.sync_gradients(micro + 1, config.accumulation_steps):
            loss = forward_backward(forward_model, batch, config, device, scaler)
        micro += 1
        if not torch.isfinite(loss):
            raise checkpointer.non_finite(loss, state, history, logger)
        logger.add_loss(float(loss))
        if micro % config.accumulation_steps:
            continue  # gradients keep accumulating until the step

        lr = budget.set_learning_rate(optimizer, state.step, clock())
        grad_norm = optimizer_step(model, optimizer, scaler, config.max_grad_norm)
        state.step += 1
        reason = distributed.agree(budget.stop_reason(state.step, clock()))
        logger.log_step(state, clock(), lr, grad_norm, force=bool(reason))
        if (
            eval_fn
            and distributed.is_main
            and config.eval_every
            and state.step % config.eval_every == 0
        ):
            logger.add_metrics(state, clock(), evaluate(model, eval_fn))
        if config.save_every and state.step % config.save_every == 0:
            checkpointer.save(model, optimizer, scaler, state, history, config, clock())
        if reason:
            history.stop_reason = reason
            break
    else:  # the data ran out before any other budget
        history.stop_reason = f"epochs={config.epochs:g} done"

    logger.finish(state, clock(), optimizer)
    if eval_fn is not None and not logger.final_record_has_metrics():
        logger.add_metrics(state, clock(), evaluate(model, eval_fn))
    if config.output_dir is not None:
        checkpointer.save(model, optimizer, scaler, state, history, config, clock())
    return history


def forward_backward(model, batch, config: TrainingConfig, device, scaler) -> torch.Tensor:
    """One micro-batch: forward under autocast, backward of loss / accumulation_steps."""
    with autocast(config.precision, device):
        loss = loss_of(model(**to_device(batch, device)))
    scaled = loss / config.accumulation_steps
    if torch.isfinite(loss.detach()):
        (scaler.scale(scaled) if scaler is not None else scaled).backward()
    return loss.detach()


def optimizer_step(model, optimizer, scaler, max_grad_norm: float | None) -> float | None:
    """Clip the global gradient norm, step, zero the gradients; returns the norm before clipping."""
    if scaler is not None:
        scaler.unscale_(optimizer)
    grad_norm = None
    if max_grad_norm is not None:
        grad_norm = float(clip_grad_norm_(model.parameters(), max_grad_norm))
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return grad_norm


def evaluate(model: nn.Module, eval_fn: Callable) -> dict[str, float]:
    """Run eval_fn in eval mode without touching the training random streams."""
    state = get_rng_state()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            metrics = eval_fn(model)
    finally:
        model.train(was_training)
        set_rng_state(state)
    if not isinstance(metrics, Mapping):
        raise TypeError(f"eval_fn must return a dict of metrics, got {type(metrics).__name__}")
    return {k: float(v) for k, v in metrics.items()}


# ----------------------------------------------------------------------------- batches


def epoch_batches(
    train_batches, state: TrainState, config: TrainingConfig, distributed
) -> Iterator:
    """Yield the batches of every epoch in turn, keeping `state` current.

    Each epoch's order depends only on `state.epoch_rng`, so a resumed run skips the
    batches it already used and then sees exactly the ones it would have seen.
    A fractional `epochs` budget stops inside the last epoch.
    """
    last_epoch = math.ceil(config.epochs) if config.epochs is not None else None
    while last_epoch is None or state.epoch < last_epoch:
        set_rng_state(state.epoch_rng)
        _set_epoch(train_batches, state.epoch)
        iterator = iter(train_batches)
        for _ in range(state.batch_in_epoch):  # resuming: skip what this epoch already used
            next(iterator)
        if state.resume_rng is not None:
            set_rng_state(state.resume_rng)
            state.resume_rng = None
        limit = _batches_in_epoch(train_batches, config, state.epoch)
        for batch in iterator:
            if limit is not None and state.batch_in_epoch >= limit:
                break
            state.batch_in_epoch += 1
            state.examples += batch_size(batch)
            yield distributed.my_slice(batch)
        if state.batch_in_epoch == 0:
            raise ValueError(
                f"train_batches yielded no batch in epoch {state.epoch}: is the data empty?"
            )
        state.epoch += 1
        state.batch_in_epoch = 0
        state.epoch_rng = get_rng_state()


def _set_epoch(train_batches, epoch: int) -> None:
    if hasattr(train_batches, "set_epoch"):
        train_batches.set_epoch(epoch)
    elif uses_distributed_sampler(train_batches):
        train_batches.sampler.set_epoch(epoch)


def _batches_in_epoch(train_batches, config: TrainingConfig, epoch: int) -> int | None:
    """How many batches the last, fractional epoch may use (None: all of them)."""
    if config.epochs is None or epoch != math.ceil(config.epochs) - 1:
        return None
    try:
        return math.ceil(len(train_batches) * (config.epochs - epoch))
    except TypeError:
        return None


def batch_size(batch: Mapping[str, Any]) -> int:
    if not isinstance(batch, Mapping):
        raise TypeError(
            f"train_batches must yield dict batches (passed as model(**batch)), got "
            f"{type(batch).__name__}"
        )
    for value in batch.values():
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return int(value.shape[0])
    return 1


def to_device(batch: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    return {
        k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
        for k, v in batch.items()
    }


def loss_of(output: Any) -> torch.Tensor:
    loss = output.get("loss") if isinstance(output, Mapping) else getattr(output, "loss", None)
    if loss is None:
        raise ValueError(
            "the model returned no loss: pass labels in the batch so that model(**batch).loss is set"
        )
    return loss


def autocast(precision: str, device: torch.device):
    """bf16 or fp16 autocast on `device`; fp32 runs as it is."""
    if precision == "fp32":
        return nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


# ----------------------------------------------------------------------------- optimizer and budget


def make_optimizer(model: nn.Module, config: TrainingConfig, device: torch.device):
    """AdamW over the decay groups, each split by `config.lr_multipliers`."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    fused = config.fused_optimizer and device.type in ("cpu", "cuda")
    return torch.optim.AdamW(
        parameter_groups(model, config),
        lr=config.learning_rate,
        betas=config.adam_betas,
        eps=config.adam_epsilon,
        fused=fused and all(p.is_floating_point() for p in trainable),
    )


def parameter_groups(model: nn.Module, config: TrainingConfig) -> list[dict]:
    """`decay_parameter_groups`, each split further by `config.lr_multipliers`."""
    names = [name for name, _ in model.named_parameters()]
    unmatched = [p for p in config.lr_multipliers if not any(n.startswith(p) for n in names)]
    if unmatched:
        raise ValueError(f"lr_multipliers: no parameter name starts with {unmatched[0]!r}")
    factor_of = {}
    for name, param in model.named_parameters():
        prefix = next((p for p in config.lr_multipliers if name.startswith(p)), None)
        factor_of[id(param)] = config.lr_multipliers[prefix] if prefix is not None else 1.0
    groups = []
    for group in decay_parameter_groups(model, config.weight_decay):
        for factor in sorted({factor_of[id(p)] for p in group["params"]}):
            params = [p for p in group["params"] if factor_of[id(p)] == factor]
            groups.append({**group, "params": params, "lr_multiplier": factor})
    return groups


class Budget:
    """When training stops, and the learning rate at each step (warmup, then linear decay).

    The schedule runs over the planned optimizer steps when they can be counted
    (`max_steps`, or `epochs` over data with a length). With a time budget the schedule
    also follows the elapsed time, whichever is further along, so it ends on time.
    """

    def __init__(self, config: TrainingConfig, train_batches) -> None:
        self.config = config
        self.total_steps = planned_steps(train_batches, config)
        if self.total_steps is None and config.max_seconds is None:
            raise ValueError(
                "train_batches has no len(): give max_steps or max_seconds so the schedule has an end"
            )
        self.warmup_steps = (
            math.ceil(config.warmup_ratio * self.total_steps) if self.total_steps else 0
        )

    def set_learning_rate(self, optimizer, step: int, seconds: float) -> float:
        """Set every group's rate for the coming step; returns the base rate."""
        config = self.config
        multiplier, step_fraction = 0.0, 0.0
        if self.total_steps is not None:
            multiplier = linear_warmup_decay(step, self.warmup_steps, self.total_steps)
            step_fraction = step / self.total_steps
        if config.max_seconds is not None and seconds / config.max_seconds > step_fraction:
            done = round(min(1.0, seconds / config.max_seconds) * _SCHEDULE_RESOLUTION)
            warmup = math.ceil(config.warmup_ratio * _SCHEDULE_RESOLUTION)
            multiplier = linear_warmup_decay(done, warmup, _SCHEDULE_RESOLUTION)
        lr = config.learning_rate * multiplier
        for group in optimizer.param_groups:
            group["lr"] = lr * group.get("lr_multiplier", 1.0)  # absent in older checkpoints
        return lr

    def stop_reason(self, step: int, seconds: float) -> str:
        """Why training must stop after this step ("" to go on)."""
        if self.config.max_steps is not None and step >= self.config.max_steps:
            return f"max_steps={self.config.max_steps} reached"
        if self.config.max_seconds is not None and seconds >= self.config.max_seconds:
            return f"max_seconds={self.config.max_seconds:g} reached"
        return ""


def planned_steps(train_batches: Iterable, config: TrainingConfig) -> int | None:
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


class Clock:
    """Seconds of training so far, including those of the run this one resumes."""

    def __init__(self, seconds_before: float) -> None:
        self.seconds_before = seconds_before
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return self.seconds_before + (time.perf_counter() - self.start)


# ----------------------------------------------------------------------------- checkpoints


class Checkpointer:
    """`output_dir/checkpoint/`: weights + everything `TrainState` holds, for exact resume.

    Each save writes a new folder beside the old one and swaps it in
    (`bertlab.checkpoints.replace_folder`), so a run killed mid-save keeps the last good one.
    """

    def __init__(self, output_dir, is_main: bool) -> None:
        self.folder = Path(output_dir) / CHECKPOINT_NAME if output_dir is not None else None
        self.is_main = is_main
        self.last_good: Path | None = None

    def save(self, model, optimizer, scaler, state: TrainState, history: History, config, seconds):
        from safetensors.torch import save_model

        from bertlab.files import replace_folder

        if self.folder is None or not self.is_main:
            return
        training_state = {
            "step": state.step,
            "epoch": state.epoch,
            "batch_in_epoch": state.batch_in_epoch,
            "seconds": seconds,
            "examples": state.examples,
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "rng": get_rng_state(),
            "epoch_rng": state.epoch_rng,
            "history": history.records,
            "config": {k: v for k, v in asdict(config).items() if k != "output_dir"},
        }

        def write(partial: Path) -> None:
            save_model(model, str(partial / "model.safetensors"))  # handles tied weights
            torch.save(training_state, partial / "training_state.pt")

        self.last_good = replace_folder(self.folder, write)

    def restore(self, model, optimizer, scaler, state: TrainState, history: History) -> None:
        """Load the checkpoint into the model, optimizer and `state`; a clear error if absent."""
        from safetensors.torch import load_model

        from bertlab.files import recover_folder

        if self.folder is None or not recover_folder(self.folder):
            raise FileNotFoundError(
                f"resume: there is no checkpoint to resume from ({self.folder} does not exist); "
                "start without resume, with save_every set, to write one"
            )
        load_model(model, str(self.folder / "model.safetensors"))
        saved = torch.load(self.folder / "training_state.pt", weights_only=True)
        optimizer.load_state_dict(saved["optimizer"])
        if scaler is not None and saved.get("scaler"):
            scaler.load_state_dict(saved["scaler"])
        state.step, state.epoch = saved["step"], saved["epoch"]
        state.batch_in_epoch, state.seconds_before = saved["batch_in_epoch"], saved["seconds"]
        state.examples, state.epoch_rng = saved["examples"], saved["epoch_rng"]
        state.resume_rng = saved["rng"]
        history.records = list(saved["history"])
        self.last_good = self.folder

    def non_finite(self, loss, state: TrainState, history: History, logger) -> NonFiniteLossError:
        """The error to raise when the loss is NaN or infinite (the checkpoint stays as it was)."""
        logger.close()
        history.stop_reason = f"non-finite loss at step {state.step + 1}"
        kept = f"; the last good checkpoint is {self.last_good}" if self.last_good else ""
        return NonFiniteLossError(
            f"training stopped: the loss is {float(loss)} at optimizer step {state.step + 1} "
            f"(epoch {state.epoch}, batch {state.batch_in_epoch}). Lower the learning rate or "
            f"check the inputs{kept}.",
            history,
            self.last_good,
        )


# ----------------------------------------------------------------------------- logging


def _where_training_is(state: TrainState, seconds: float) -> dict:
    """The columns that start every full record: step, seconds so far, examples seen, epoch."""
    return {
        "step": state.step,
        "seconds": round(seconds, 3),
        "examples": state.examples,
        "epoch": state.epoch,
    }


class Logger:
    """Fills the History (on the main process) and shows progress: a bar, lines or live curves."""

    def __init__(self, config: TrainingConfig, history: History, total, initial, is_main) -> None:
        self.config, self.history, self.is_main = config, history, is_main
        self.running_loss, self.running_count = 0.0, 0
        show = config.progress and is_main
        self.progress = Progress(
            total, "training", "step", initial, enabled=show, every_seconds=config.log_seconds
        )
        self.live = _LivePlot() if config.live_plot and is_main else None

    def add_loss(self, loss: float) -> None:
        self.running_loss += loss
        self.running_count += 1

    def log_step(
        self, state: TrainState, seconds: float, lr: float, grad_norm, force: bool
    ) -> None:
        """A record every `log_every` steps, on the first and on the last."""
        self.progress.update(1)
        if not (state.step % self.config.log_every == 0 or force or state.step == 1):
            return
        record = {
            **_where_training_is(state, seconds),
            "loss": self.running_loss / max(1, self.running_count),
            "lr": lr,
        }
        if grad_norm is not None:
            record["grad_norm"] = grad_norm
        self.running_loss, self.running_count = 0.0, 0
        self.progress.note(loss=f"{record['loss']:.4f}", lr=f"{lr:.2e}")
        self._append(record)

    def add_metrics(self, state: TrainState, seconds: float, metrics: dict[str, float]) -> None:
        """Evaluation results join this step's record (or start one)."""
        if not self.is_main:
            return
        records = self.history.records
        if records and records[-1]["step"] == state.step:
            records[-1].update(metrics)
        else:
            records.append({"step": state.step, "seconds": round(seconds, 3), **metrics})
        self.progress.note(**{k: f"{v:.4g}" for k, v in metrics.items()})
        self._redraw()

    def final_record_has_metrics(self) -> bool:
        records = self.history.records
        return not self.is_main or any(k not in _BASE_COLUMNS for k in records[-1])

    def finish(self, state: TrainState, seconds: float, optimizer) -> None:
        """Close the progress display; make sure the last step has a full record (an evaluation
        alone may have started it)."""
        self.close()
        records = self.history.records
        if not self.is_main or (
            records and "examples" in records[-1] and records[-1]["step"] == state.step
        ):
            return
        final = _where_training_is(state, seconds)
        if self.running_count:
            final.update(
                loss=self.running_loss / self.running_count, lr=optimizer.param_groups[0]["lr"]
            )
        if records and records[-1]["step"] == state.step:
            records[-1].update(final)
        else:
            records.append(final)
        self._redraw()

    def close(self) -> None:
        self.progress.close()

    def _append(self, record: dict) -> None:
        if self.is_main:
            self.history.records.append(record)
            self._redraw()

    def _redraw(self) -> None:
        if self.live is not None:
            self.live.update(self.history)


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
