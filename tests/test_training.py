"""The training loop against a hand-written torch loop, and its resume / DDP / AMP guarantees."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from transformers import get_linear_schedule_with_warmup

from bertlab.optim import decay_parameter_groups
from bertlab.testing import DEEP, assert_close
from bertlab.training import History, NonFiniteLossError, TrainingConfig, train

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Output:
    loss: torch.Tensor


class ToyRegressor(nn.Module):
    """Linear -> LayerNorm -> GELU -> dropout -> Linear, with an MSE loss."""

    def __init__(self, dropout: float = 0.0):
        super().__init__()
        self.dense = nn.Linear(6, 16)
        self.LayerNorm = nn.LayerNorm(16)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(16, 1)

    def forward(self, x, y):
        hidden = self.dropout(nn.functional.gelu(self.LayerNorm(self.dense(x))))
        return Output(nn.functional.mse_loss(self.out(hidden).squeeze(-1), y))


def toy_data(n: int = 64, seed: int = 0) -> TensorDataset:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=generator)
    y = x @ torch.linspace(-1, 1, 6) + 0.1 * torch.randn(n, generator=generator)
    return TensorDataset(x, y)


class DictLoader:
    """A re-iterable of dict batches over a DataLoader (shuffled with torch's global RNG)."""

    def __init__(self, dataset, batch_size, shuffle=False):
        self.loader = DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for x, y in self.loader:
            yield {"x": x, "y": y}


def fresh_model(seed: int = 1, dropout: float = 0.0) -> ToyRegressor:
    torch.manual_seed(seed)
    return ToyRegressor(dropout)


def quiet(**kwargs) -> TrainingConfig:
    defaults = dict(learning_rate=1e-2, progress=False, device="cpu", log_every=1)
    return TrainingConfig(**{**defaults, **kwargs})


def test_matches_a_hand_written_torch_loop():
    """AdamW with no decay on bias/LayerNorm, HF's linear warmup schedule, torch's clipping."""
    data = DictLoader(toy_data(), batch_size=8)
    ours = fresh_model()
    history = train(
        ours, data, quiet(max_steps=12, epochs=None, warmup_ratio=0.25, max_grad_norm=0.5)
    )

    reference = fresh_model()
    groups = decay_parameter_groups(reference, 0.01)
    assert {id(p) for p in groups[1]["params"]} == {
        id(reference.dense.bias),
        id(reference.out.bias),
        id(reference.LayerNorm.weight),
        id(reference.LayerNorm.bias),
    }
    optimizer = torch.optim.AdamW(groups, lr=1e-2, eps=1e-6)
    schedule = get_linear_schedule_with_warmup(optimizer, 3, 12)
    losses, step = [], 0
    while step < 12:
        for batch in data:
            loss = reference(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(reference.parameters(), 0.5)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            step += 1
            if step == 12:
                break
    for a, b in zip(ours.parameters(), reference.parameters(), strict=True):
        assert_close(a, b, ulps=DEEP)
    steps, logged = history.metric("loss")
    assert steps == list(range(1, 13))
    assert logged == pytest.approx(losses, rel=1e-5)
    assert history.stop_reason == "max_steps=12 reached"
    # the logged learning rates follow warmup (3 steps) then linear decay to zero
    assert history.metric("lr")[1][:4] == pytest.approx([0.0, 1e-2 / 3, 2e-2 / 3, 1e-2])


def test_lr_multipliers_give_a_head_its_own_learning_rate():
    """lr_multipliers={"out": 10} equals a torch loop with the `out` layer in 10x-lr groups."""
    data = DictLoader(toy_data(), batch_size=8)
    ours = fresh_model()
    config = quiet(max_steps=6, epochs=None, warmup_ratio=0.0, lr_multipliers={"out": 10.0})
    history = train(ours, data, config)

    reference = fresh_model()
    head = {id(p) for p in reference.out.parameters()}
    groups = []
    for group in decay_parameter_groups(reference, 0.01):
        for in_head, factor in ((False, 1.0), (True, 10.0)):
            params = [p for p in group["params"] if (id(p) in head) == in_head]
            groups.append({**group, "params": params, "lr": 1e-2 * factor})
    optimizer = torch.optim.AdamW(groups, lr=1e-2, eps=1e-6)
    schedule = get_linear_schedule_with_warmup(optimizer, 0, 6)
    batches = iter(data)
    for _ in range(6):
        reference(**next(batches)).loss.backward()
        torch.nn.utils.clip_grad_norm_(reference.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
    for a, b in zip(ours.parameters(), reference.parameters(), strict=True):
        assert_close(a, b, ulps=DEEP)
    assert history.metric("lr")[1][0] == pytest.approx(1e-2)  # the base rate is what is logged

    with pytest.raises(ValueError, match="no parameter name starts with 'head'"):
        train(fresh_model(), data, quiet(max_steps=1, lr_multipliers={"head": 10.0}))
    with pytest.raises(ValueError, match=r"lr_multipliers\['out'\] must be > 0"):
        quiet(max_steps=1, lr_multipliers={"out": 0.0})


def test_the_fused_optimizer_is_used_and_matches_the_unfused_one(monkeypatch):
    made = []

    class RecordingAdamW(torch.optim.AdamW):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self.defaults["fused"])

    monkeypatch.setattr(torch.optim, "AdamW", RecordingAdamW)
    data = DictLoader(toy_data(), batch_size=8)
    fused, plain = fresh_model(), fresh_model()
    train(fused, data, quiet(max_steps=8, epochs=None))
    train(plain, data, quiet(max_steps=8, epochs=None, fused_optimizer=False))
    assert made == [True, False]
    for a, b in zip(fused.parameters(), plain.parameters(), strict=True):
        assert_close(a, b, ulps=DEEP)


def test_gradient_accumulation_equals_the_big_batch():
    big = fresh_model()
    train(big, DictLoader(toy_data(), batch_size=16), quiet(max_steps=4, epochs=None))
    small = fresh_model()
    train(
        small,
        DictLoader(toy_data(), batch_size=8),
        quiet(max_steps=4, epochs=None, accumulation_steps=2),
    )
    for a, b in zip(big.parameters(), small.parameters(), strict=True):
        assert_close(a, b, ulps=DEEP)


def test_epochs_budget_and_training_reduces_the_loss():
    data = DictLoader(toy_data(), batch_size=8)  # 8 batches an epoch
    history = train(fresh_model(), data, quiet(epochs=2.5, learning_rate=3e-2, warmup_ratio=0.0))
    assert history.records[-1]["step"] == 20
    assert history.stop_reason == "epochs=2.5 done"
    assert history.records[-1]["examples"] == 20 * 8
    assert history.metric("loss")[1][-1] < 0.5 * history.metric("loss")[1][0]


def test_evaluation_does_not_change_the_training_trajectory():
    def eval_fn(model):
        torch.rand(100)  # an eval that consumes random numbers must not shift training
        assert not model.training
        return {"eval_loss": 1.0, "accuracy": 0.5}

    data = DictLoader(toy_data(), batch_size=8, shuffle=True)
    plain, evaluated = fresh_model(dropout=0.2), fresh_model(dropout=0.2)
    train(plain, data, quiet(max_steps=6, epochs=None))
    history = train(evaluated, data, quiet(max_steps=6, epochs=None, eval_every=2), eval_fn)
    for a, b in zip(plain.parameters(), evaluated.parameters(), strict=True):
        assert_close(a, b, ulps=0)
    assert history.metric("accuracy")[0] == [2, 4, 6]
    assert evaluated.training


class Interrupted(Exception):
    pass


class InterruptAfter:
    """Yields the wrapped batches, then raises after `limit` batches in total (a crash)."""

    def __init__(self, batches, limit):
        self.batches, self.limit, self.count = batches, limit, 0

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        for batch in self.batches:
            if self.count == self.limit:
                raise Interrupted
            self.count += 1
            yield batch


def test_resume_after_an_interruption_is_exact(tmp_path):
    """Shuffled data, dropout, accumulation, 3 epochs: the resumed run ends bit-identical."""
    data = DictLoader(toy_data(40), batch_size=8, shuffle=True)  # 5 batches an epoch
    settings = dict(max_steps=7, epochs=None, accumulation_steps=2, save_every=2)
    uninterrupted = fresh_model(dropout=0.3)
    train(uninterrupted, data, quiet(**settings, output_dir=tmp_path / "a"))

    crashed = fresh_model(dropout=0.3)
    with pytest.raises(Interrupted):  # dies during step 6, after the checkpoint of step 4
        train(crashed, InterruptAfter(data, 11), quiet(**settings, output_dir=tmp_path / "b"))
    resumed = fresh_model(seed=99, dropout=0.3)  # a new process: different init, same checkpoint
    history = train(resumed, data, quiet(**settings, output_dir=tmp_path / "b", resume=True))
    for a, b in zip(uninterrupted.parameters(), resumed.parameters(), strict=True):
        assert_close(a, b, ulps=0)
    assert [r["step"] for r in history.records] == list(range(1, 8))


def test_non_finite_loss_stops_with_a_message_and_keeps_the_checkpoint(tmp_path):
    class Exploding(ToyRegressor):
        calls = 0

        def forward(self, x, y):
            Exploding.calls += 1
            out = super().forward(x, y)
            return Output(out.loss * (math.inf if Exploding.calls == 5 else 1.0))

    torch.manual_seed(0)
    model = Exploding()
    data = DictLoader(toy_data(), batch_size=8)
    with pytest.raises(NonFiniteLossError, match="optimizer step 5") as error:
        train(model, data, quiet(max_steps=10, epochs=None, save_every=2, output_dir=tmp_path))
    assert "last good checkpoint" in str(error.value)
    state = torch.load(tmp_path / "checkpoint" / "training_state.pt", weights_only=True)
    assert state["step"] == 4
    assert error.value.history.records[-1]["step"] == 4


def test_bf16_autocast_on_cpu_trains_and_fp16_needs_a_gpu():
    history = train(
        fresh_model(), DictLoader(toy_data(), batch_size=8), quiet(max_steps=8, precision="bf16")
    )
    losses = history.metric("loss")[1]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="fp16"):
            train(fresh_model(), DictLoader(toy_data(), 8), quiet(max_steps=1, precision="fp16"))


def test_bad_configuration_and_bad_batches_get_clear_errors():
    with pytest.raises(ValueError, match="precision"):
        TrainingConfig(precision="int8")
    with pytest.raises(ValueError, match="budget"):
        TrainingConfig(epochs=None)
    with pytest.raises(ValueError, match="output_dir"):
        TrainingConfig(resume=True)
    with pytest.raises(TypeError, match="dict batches"):
        train(fresh_model(), [(torch.zeros(2, 6), torch.zeros(2))], quiet(max_steps=1))

    class NoLoss(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = nn.Linear(6, 1)

        def forward(self, x):
            return {"logits": self.dense(x)}

    with pytest.raises(ValueError, match="no loss"):
        train(NoLoss(), [{"x": torch.zeros(2, 6)}], quiet(max_steps=1))
    with pytest.raises(ValueError, match="no batch"):
        train(fresh_model(), [], quiet(max_steps=1))


def test_time_budget_stops_and_plot_draws():
    history = train(
        fresh_model(), DictLoader(toy_data(), 8), quiet(max_seconds=0.5, epochs=None, log_every=5)
    )
    assert history.stop_reason.startswith("max_seconds")
    assert isinstance(history, History) and history.records[-1]["lr"] < 1e-2
    import matplotlib

    matplotlib.use("Agg")
    figure = history.plot()
    assert len(figure.axes) == 2


DDP_SCRIPT = textwrap.dedent(
    """
    # Self-contained (no transformers import) so that each torchrun process starts fast.
    import sys
    import torch
    from torch import nn
    from bertlab.training import TrainingConfig, train

    class Toy(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense, self.LayerNorm, self.out = nn.Linear(6, 16), nn.LayerNorm(16), nn.Linear(16, 1)

        def forward(self, x, y):
            hidden = nn.functional.gelu(self.LayerNorm(self.dense(x)))
            return {"loss": nn.functional.mse_loss(self.out(hidden).squeeze(-1), y)}

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 6, generator=generator)
    batches = [{"x": x[i : i + 16], "y": x[i : i + 16].sum(-1)} for i in range(0, 64, 16)]
    torch.manual_seed(1)
    model = Toy()
    config = TrainingConfig(learning_rate=1e-2, max_steps=4, epochs=None, progress=False, device="cpu")
    train(model, batches, config)
    import torch.distributed as dist
    if not dist.is_initialized() or dist.get_rank() == 0:
        torch.save(model.state_dict(), sys.argv[1])
    """
)


@pytest.mark.slow
def test_two_process_torchrun_matches_one_process(tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    env.pop("WORLD_SIZE", None)
    subprocess.run([sys.executable, str(script), str(tmp_path / "one.pt")], env=env, check=True)
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
    ]
    result = subprocess.run(
        [*torchrun, str(script), str(tmp_path / "two.pt")], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    one = torch.load(tmp_path / "one.pt", weights_only=True)
    two = torch.load(tmp_path / "two.pt", weights_only=True)
    for name in one:
        assert_close(one[name], two[name], ulps=DEEP)
    torch.manual_seed(1)
    initial = nn.Linear(6, 16).weight
    assert not torch.allclose(one["dense.weight"], initial)  # it did train


def test_the_last_record_is_complete_when_an_evaluation_started_it():
    """Data that runs out on an evaluation step: the final record still has the training fields."""
    data = DictLoader(toy_data(20), batch_size=4)  # 5 batches, one epoch
    config = quiet(epochs=1, eval_every=1, log_every=20)
    history = train(fresh_model(), data, config, lambda model: {"accuracy": 0.5})
    last = history.records[-1]
    assert last["step"] == 5 and last["examples"] == 20 and "loss" in last and "accuracy" in last
    assert history.last["examples"] == 20
