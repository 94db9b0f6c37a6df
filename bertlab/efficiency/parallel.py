"""More examples per step than memory holds, and more processes than one: both checked equal.

Notebook 13 verifies two claims on real weights, with `bertlab.training.train` itself:

- gradient accumulation: k micro-batches of B/k examples, each loss divided by k and
  back-propagated before one optimizer step, give the gradient of one batch of B
  (`split_batches` makes the micro-batches from the same batches);
- data parallelism: `torchrun --nproc_per_node 2` starts two processes; each computes
  the gradient of its half of every batch and DistributedDataParallel averages the two
  before the step (an all-reduce over gloo on CPUs; on GPUs `train` picks NCCL, which
  moves the gradients GPU to GPU), so both follow the trajectory of one process on the
  whole batch. `run_data_parallel` trains the same model both ways and returns both.

Run as a script (what `run_data_parallel` does twice):

    python -m bertlab.efficiency.parallel --model DIR --out FILE.safetensors [--steps 3]
    python -m torch.distributed.run --standalone --nproc_per_node 2 \\
        -m bertlab.efficiency.parallel --model DIR --out FILE.safetensors
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

LEARNING_RATE = 1e-4  # the AdamW rate of both runs of run_data_parallel


def split_batches(batches: Sequence[dict], k: int) -> list[dict]:
    """Each batch cut into `k` equal micro-batches (along the first dimension), in order."""
    micro = []
    for batch in batches:
        size = len(next(iter(batch.values())))
        if size % k:
            raise ValueError(
                f"a batch of {size} examples does not split into {k} equal micro-batches"
            )
        parts = {key: value.tensor_split(k) for key, value in batch.items()}
        micro += [{key: parts[key][i] for key in batch} for i in range(k)]
    return micro


def sst2_batches(tokenizer, examples: int, batch_size: int, max_length: int = 64) -> list[dict]:
    """The first `examples` SST-2 training sentences as padded batches (with labels), in order."""
    from bertlab.batching import pad_batch
    from bertlab.data.classification import load_sst2
    from bertlab.tasks.classification import make_features

    data = load_sst2("train")
    features = make_features(tokenizer, data.texts[:examples], data.labels[:examples], max_length)
    return [
        pad_batch(features[i : i + batch_size], tokenizer.pad_token_id)
        for i in range(0, len(features), batch_size)
    ]


def train_and_save(model_dir: str, out: str, steps: int, batch_size: int, seed: int) -> None:
    """Fine-tune the model in `model_dir` for `steps` steps on SST-2; rank 0 saves the weights."""
    from safetensors.torch import save_file

    from bertlab.auto import load_model
    from bertlab.finetune import load_tokenizer
    from bertlab.training import TrainingConfig, train

    # Dropout off: every process would draw its own masks, and the runs would agree only on average.
    model = load_model(model_dir, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    tokenizer = load_tokenizer(model_dir)
    batches = sst2_batches(tokenizer, steps * batch_size, batch_size)
    config = TrainingConfig(
        learning_rate=LEARNING_RATE,
        max_steps=steps,
        epochs=None,
        seed=seed,
        progress=False,
        device="cpu",
    )
    train(model, batches, config)
    if int(os.environ.get("RANK", "0")) == 0:
        state = {key: value.contiguous() for key, value in model.state_dict().items()}
        save_file(state, out)


def run_data_parallel(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    processes: int = 2,
    steps: int = 3,
    batch_size: int = 16,
) -> dict[str, dict[str, torch.Tensor]]:
    """Train the same model as one process and as `processes` torchrun processes (gloo).

    Returns {"one": weights, "torchrun": weights}. Each process uses one thread.
    """
    from safetensors.torch import load_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    script = ["-m", "bertlab.efficiency.parallel", "--model", str(model_dir), "--steps", str(steps)]
    script += ["--batch-size", str(batch_size)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    runs = {"one": [], "torchrun": launcher}
    for name, prefix in runs.items():
        command = [sys.executable, *prefix, *script, "--out", str(out_dir / f"{name}.safetensors")]
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return {name: load_file(str(out_dir / f"{name}.safetensors")) for name in runs}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a fine-tuned classification folder")
    parser.add_argument("--out", required=True, help="where rank 0 writes the trained weights")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    train_and_save(args.model, args.out, args.steps, args.batch_size, args.seed)


if __name__ == "__main__":
    main()
