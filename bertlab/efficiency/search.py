"""Hyper-parameter search: grid, random, and Optuna's TPE with pruning of bad trials.

Notebook 13 tunes the learning rate and the batch size of a small fine-tuning run three
ways, at the same number of trials, and counts what each search cost (training examples
processed, which does not depend on the machine):

- `grid_search`: every combination of a few values per hyper-parameter (what the
  BERT paper did: batch size {16, 32} x learning rate {5e-5, 3e-5, 2e-5} x epochs {2, 3, 4});
- `random_search`: values drawn from ranges, so that each trial tries a new learning rate
  (Bergstra and Bengio 2012: with few hyper-parameters that matter, random beats grid);
- `optuna_search`: Optuna's Tree-structured Parzen Estimator draws the next trial where
  good trials so far cluster, and its median pruner stops a trial whose intermediate
  score is below the median of earlier trials at the same step, saving the rest of its
  budget.

The objective (`SmallFineTuning`) fine-tunes a fresh copy of a model for a fixed number
of training examples and reports the dev accuracy a few times on the way.
"""

from __future__ import annotations

import copy
import itertools
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from torch import nn

from bertlab.batching import BucketedBatches
from bertlab.efficiency.measure import predict_labels
from bertlab.training import TrainingConfig, train

Space = Mapping[str, tuple]
"""{name: ("log", low, high) | ("float", low, high) | ("choice", [values])}."""


@dataclass
class Trial:
    """One run of the objective: its hyper-parameters, score, cost, and whether it was stopped."""

    params: dict
    score: float = float("nan")  # the last score reported (dev accuracy, percent)
    examples: int = 0  # training examples processed: the cost
    seconds: float = 0.0
    pruned: bool = False
    curve: list[tuple[int, float]] = field(default_factory=list)


class Pruned(Exception):
    """Raised by a report function to stop the trial early."""


class SmallFineTuning:
    """Fine-tune a copy of `model` on `features` for `examples` training examples; score it
    on the dev batches `evaluations` times (the last score is the trial's).

    The params are `lr` and `batch_size`; `report(examples_so_far, score)` may raise
    `Pruned` to stop the run (Optuna's pruner does). `lr_multipliers` is passed to the
    `TrainingConfig` (e.g. {"classifier": 10.0}: a new head learns faster, as in
    `bertlab finetune`).
    """

    def __init__(
        self,
        model: nn.Module,
        features: list[dict],
        dev_batches: Sequence[dict],
        dev_labels: Sequence[int],
        *,
        examples: int = 640,
        evaluations: int = 3,
        pad_token_id: int = 0,
        seed: int = 0,
        lr_multipliers: dict[str, float] | None = None,
    ) -> None:
        self.model, self.features = model, features
        self.lr_multipliers = dict(lr_multipliers or {})
        self.dev_batches, self.dev_labels = dev_batches, list(dev_labels)
        self.examples, self.evaluations = examples, evaluations
        self.pad_token_id, self.seed = pad_token_id, seed

    def accuracy(self, model: nn.Module) -> float:
        predicted = predict_labels(model, self.dev_batches)
        return 100 * sum(p == y for p, y in zip(predicted, self.dev_labels)) / len(predicted)

    def __call__(
        self, params: Mapping, report: Callable[[int, float], None] | None = None
    ) -> Trial:
        batch_size = int(params["batch_size"])
        steps = max(1, self.examples // batch_size)
        trial = Trial(dict(params))
        config = TrainingConfig(
            learning_rate=float(params["lr"]),
            max_steps=steps,
            epochs=None,
            eval_every=max(1, math.ceil(steps / self.evaluations)),
            seed=self.seed,
            progress=False,
            lr_multipliers=self.lr_multipliers,
        )
        batches = BucketedBatches(
            self.features, batch_size, pad_token_id=self.pad_token_id, seed=self.seed
        )
        state = {"step": 0}

        def evaluate(model: nn.Module) -> dict[str, float]:
            state["step"] += config.eval_every
            seen = min(state["step"], steps) * batch_size
            trial.score, trial.examples = self.accuracy(model), seen
            trial.curve.append((seen, trial.score))
            if report is not None:
                report(seen, trial.score)
            return {"dev_accuracy": trial.score}

        start = time.perf_counter()
        try:
            train(copy.deepcopy(self.model), batches, config, eval_fn=evaluate)
            trial.examples = steps * batch_size
        except Pruned:
            trial.pruned = True
        trial.seconds = time.perf_counter() - start
        return trial


def grid_search(objective: Callable[[Mapping], Trial], grid: Mapping[str, Sequence]) -> list[Trial]:
    """One trial for every combination of the values in `grid` ({name: [values]})."""
    names = list(grid)
    return [objective(dict(zip(names, values))) for values in itertools.product(*grid.values())]


def sample(space: Space, rng: random.Random) -> dict:
    """One point of `space`, drawn uniformly (on a log scale for "log" ranges)."""
    point = {}
    for name, (kind, *spec) in space.items():
        if kind == "log":
            point[name] = math.exp(rng.uniform(math.log(spec[0]), math.log(spec[1])))
        elif kind == "float":
            point[name] = rng.uniform(spec[0], spec[1])
        elif kind == "choice":
            point[name] = rng.choice(list(spec[0]))
        else:
            raise ValueError(f"{name}: unknown kind {kind!r} (use 'log', 'float' or 'choice')")
    return point


def random_search(
    objective: Callable[[Mapping], Trial], space: Space, trials: int, seed: int = 0
) -> list[Trial]:
    """`trials` trials at points drawn independently from `space`."""
    rng = random.Random(seed)
    return [objective(sample(space, rng)) for _ in range(trials)]


def optuna_search(
    objective: Callable[..., Trial],
    space: Space,
    trials: int,
    seed: int = 0,
    startup_trials: int = 3,
) -> list[Trial]:
    """`trials` trials chosen by Optuna's TPE sampler; the median pruner stops weak ones.

    The first `startup_trials` are random (TPE needs some results to model), and the
    pruner judges a trial only once that many trials have finished.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=0),
    )
    results: list[Trial] = []

    def run(optuna_trial: optuna.Trial) -> float:
        params = {}
        for name, (kind, *spec) in space.items():
            if kind in ("log", "float"):
                params[name] = optuna_trial.suggest_float(name, spec[0], spec[1], log=kind == "log")
            else:
                params[name] = optuna_trial.suggest_categorical(name, list(spec[0]))

        def report(step: int, score: float) -> None:
            optuna_trial.report(score, step)
            if optuna_trial.should_prune():
                raise Pruned

        trial = objective(params, report)
        results.append(trial)
        if trial.pruned:
            raise optuna.TrialPruned
        return trial.score

    study.optimize(run, n_trials=trials)
    return results


def best(trials: Sequence[Trial]) -> Trial:
    """The finished trial with the highest score."""
    finished = [t for t in trials if not t.pruned]
    if not finished:
        raise ValueError("every trial was pruned: nothing finished")
    return max(finished, key=lambda t: t.score)
