"""Every way notebook 13 makes BERT cheaper, on one fine-tuned SST-2 model, in one table.

One process, one model (a fine-tuned MiniLM folder, e.g. `runs/notebook10-sst2`), the
872 SST-2 dev sentences for every row:

    fp32 explicit attention      the attention of notebook 06, written out
    fp32 eager (fused)           bertlab's default path: the reference of every ratio
    bf16 autocast                the same weights, matrix products in bf16
    torch.compile                every encoder layer compiled (Inductor)
    int8 dynamic                 `bertlab quantize`'s model
    50% heads pruned             Michel et al.'s importance, 10% of the heads at a time
    distilled student            3 of the 6 layers, trained on the teacher's soft targets
    ONNX Runtime                 `bertlab export`'s file (when bertlab.serving is there)
    transformers fp32 / bf16     the same folder in `transformers`, for comparison

Columns: examples/s at batch 1 and at batch 32 (the dev set in order of length, padded per
batch), peak memory (weights + the most bytes the tensors of one batch-32 forward pass
held at once), size on disk, dev accuracy (computed as `bertlab evaluate` does, in batches of
64: an int8 model's predictions depend on its batch-mates, since its activation scales are
measured per batch); each with its ratio to fp32 eager. Speed is the
median of `--rounds` passes, the rows interleaved in every round (order reversed every other
round), after one untimed pass each. The CPU's bf16 units are printed above the table: they
decide the bf16 row.

The student and the pruned model are made here unless given (`--student DIR`,
`--pruned DIR`) and saved under `--out`, with the table as JSON.

    BERTLAB_DATA=../shared/data python benchmarks/bench_efficiency.py --model runs/notebook10-sst2
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch

from bertlab.auto import load_model
from bertlab.batching import pad_batch
from bertlab.checkpoints import save_folder
from bertlab.data.classification import load_sst2
from bertlab.efficiency.distillation import add_teacher_logits, distil, student_from
from bertlab.efficiency.kernels import compile_encoder
from bertlab.efficiency.measure import (
    batches_of,
    folder_bytes,
    length_order,
    peak_bytes,
    predict_labels,
    time_call,
    weight_bytes,
)
from bertlab.efficiency.precision import cpu_bf16_support
from bertlab.efficiency.pruning import heads_per_layer, prune_heads_by_importance
from bertlab.efficiency.quantization import quantize_dynamic_int8, save_quantized
from bertlab.finetune import freeze_embedding_table, load_tokenizer
from bertlab.tasks.classification import make_features
from bertlab.training import TrainingConfig, autocast

CPU = torch.device("cpu")


@dataclass
class Row:
    """One way of running the model: `model(**batch)` returns an object with `.logits`."""

    name: str
    model: Callable
    folder: Path | None  # what it takes on disk (None: not a saved model)
    context: Callable = nullcontext
    memory: bool = True  # False where PeakMemory cannot see inside (compiled code, ONNX Runtime)
    note: str = ""
    results: dict = field(default_factory=dict)

    def __call__(self, **batch):
        with self.context():
            return self.model(**batch)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a fine-tuned SST-2 classification folder")
    parser.add_argument(
        "--out", default="runs/bench-efficiency", help="where models and the table go"
    )
    parser.add_argument("--student", help="a distilled student folder (default: distil one here)")
    parser.add_argument(
        "--pruned", help="a folder with half the heads pruned (default: prune here)"
    )
    parser.add_argument("--distill-steps", type=int, default=2000, help="student training steps")
    parser.add_argument(
        "--student-layers", default="1,3,5", help="teacher layers the student keeps"
    )
    parser.add_argument("--rounds", type=int, default=3, help="timed passes per row (median)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument(
        "--b1-limit", type=int, default=None, help="batch-1 timing on N sentences only"
    )
    parser.add_argument(
        "--dev-limit", type=int, default=None, help="first N dev sentences only (a quick check)"
    )
    parser.add_argument(
        "--skip", default="", help="comma-separated rows to leave out (e.g. compile)"
    )
    return parser.parse_args()


# ----------------------------------------------------------------------------- the rows


def pruned_model(teacher, tokenizer, args, out: Path):
    """Half the heads removed by importance on 512 training sentences, saved under `out`."""
    if args.pruned:
        return load_model(args.pruned), Path(args.pruned)
    train = load_sst2("train")
    rows = random.Random(1).sample(range(len(train)), 512)
    features = make_features(
        tokenizer, [train.texts[i] for i in rows], [train.labels[i] for i in rows]
    )
    batches = [pad_batch(features[i : i + 32], tokenizer.pad_token_id) for i in range(0, 512, 32)]
    pruned = prune_heads_by_importance(teacher, batches, 0.5)
    save_folder(out / "pruned-heads", pruned, tokenizer)
    return pruned, out / "pruned-heads"


def student_model(teacher, tokenizer, args, out: Path):
    """The teacher's layers `--student-layers`, distilled for `--distill-steps` steps of 32."""
    if args.student:
        return load_model(args.student), Path(args.student)
    train = load_sst2("train")
    count = min(len(train), args.distill_steps * 32)
    rows = random.Random(0).sample(range(len(train)), count)
    features = make_features(
        tokenizer, [train.texts[i] for i in rows], [train.labels[i] for i in rows]
    )
    print(f"teacher logits for {count:,} training sentences ...", flush=True)
    features = add_teacher_logits(features, teacher, pad_token_id=tokenizer.pad_token_id)
    student = student_from(teacher, [int(i) for i in args.student_layers.split(",")])
    freeze_embedding_table(student)
    config = TrainingConfig(
        learning_rate=1e-4, max_steps=args.distill_steps, epochs=None, log_every=100
    )
    print(f"distilling for {args.distill_steps} steps ...", flush=True)
    distil(student, features, config, pad_token_id=tokenizer.pad_token_id)
    student.requires_grad_(True).eval()
    save_folder(out / "student", student, tokenizer)
    return student, out / "student"


def onnx_row(folder: Path, out: Path) -> Row | str:
    """The ONNX Runtime export of notebook 14, or why there is none."""
    try:
        from bertlab.serving.backends import OnnxBackend
        from bertlab.serving.export import export_onnx
    except ImportError as error:
        return f"ONNX Runtime row left out: {error}"
    path = out / "model.onnx"
    try:
        export_onnx(folder, path, overwrite=True)
        backend = OnnxBackend(path, threads=torch.get_num_threads())
    except Exception as error:  # notebook 14's code is young: report, and measure the rest
        return f"ONNX Runtime row left out: {type(error).__name__}: {error}"

    class Logits:
        def __init__(self, outputs):
            self.logits = torch.from_numpy(next(iter(outputs.values())))

    return Row("ONNX Runtime", lambda **batch: Logits(backend(batch)), path, memory=False)


def transformers_rows(folder: Path) -> list[Row]:
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    reference = transformers.BertForSequenceClassification.from_pretrained(folder).eval()
    bf16 = lambda: autocast("bf16", CPU)  # noqa: E731
    return [
        Row("transformers fp32", reference, folder),
        Row("transformers bf16 autocast", reference, folder, context=bf16),
    ]


def build_rows(args, out: Path) -> list[Row]:
    folder = Path(args.model)
    teacher, tokenizer = load_model(folder), load_tokenizer(folder)
    skip = set(filter(None, args.skip.split(",")))
    rows = [
        Row("fp32 explicit attention", load_model(folder, attn_implementation="explicit"), folder),
        Row("fp32 eager (fused)", teacher, folder),
        Row("bf16 autocast", teacher, folder, context=lambda: autocast("bf16", CPU)),
    ]
    if "compile" not in skip:
        rows.append(compile_row(teacher, tokenizer))
    quantized = quantize_dynamic_int8(teacher)
    save_quantized(out / "int8", quantized, tokenizer)
    rows.append(Row("int8 dynamic", quantized, out / "int8"))
    if "pruned" not in skip:
        pruned, where = pruned_model(teacher, tokenizer, args, out)
        rows.append(
            Row(
                "50% heads pruned", pruned, where, note=f"heads per layer {heads_per_layer(pruned)}"
            )
        )
    if "student" not in skip:
        student, where = student_model(teacher, tokenizer, args, out)
        rows.append(
            Row(f"distilled student ({student.config.num_hidden_layers} layers)", student, where)
        )
    if "onnx" not in skip:
        onnx = onnx_row(folder, out)
        rows.append(onnx) if isinstance(onnx, Row) else print(onnx)
    if "transformers" not in skip:
        rows += transformers_rows(folder)
    return rows


def compile_row(model, tokenizer) -> Row:
    example = batches_of(make_features(tokenizer, ["warm up the compiler"] * 2), 2)[0]
    compiled = compile_encoder(model, lambda m: m(**example), dynamic=None)
    note = (
        f"first call {compiled.seconds:.0f} s"
        if compiled.compiled
        else f"not compiled: {compiled.reason}"
    )
    return Row("torch.compile", compiled.model, None, memory=False, note=note)


# ----------------------------------------------------------------------------- measuring


def measure(
    rows: list[Row], batches: dict[int, list[dict]], labels: list[int], rounds: int
) -> None:
    """Accuracy (on `batches[64]`), memory and size of every row, then speed in interleaved
    rounds (at the other batch sizes: 32 and 1)."""
    timed = {size: passes for size, passes in batches.items() if size != 64}
    for row in rows:
        with torch.no_grad():
            predicted = predict_labels(row, batches[64])
        row.results["accuracy"] = 100 * sum(p == y for p, y in zip(predicted, labels)) / len(labels)
        largest = max(batches[32], key=lambda b: b["input_ids"].numel())
        if row.memory:
            activations = peak_bytes(lambda row=row, largest=largest: row(**largest))
            row.results["memory"] = weight_bytes(row.model) + activations
        if row.folder is not None:
            row.results["disk"] = folder_bytes(row.folder)
    for size, passes in timed.items():
        examples = sum(len(b["input_ids"]) for b in passes)
        timings: dict[str, list[float]] = {row.name: [] for row in rows}
        for round_index in range(rounds + 1):  # round 0 is the untimed warm-up
            order = rows if round_index % 2 else rows[::-1]
            for row in order:
                seconds = time_call(
                    lambda row=row, passes=passes: [row(**b) for b in passes], warmup=0, repeats=1
                )
                if round_index:
                    timings[row.name].append(seconds.median)
        for row in rows:
            row.results[f"b{size}"] = examples / statistics.median(timings[row.name])


def table(rows: list[Row], reference: Row) -> str:
    def ratio(row, key, invert=False):
        if key not in row.results or key not in reference.results:
            return "n/a", ""
        value, base = row.results[key], reference.results[key]
        return value, f"{(base / value if invert else value / base):.2f}x"

    lines = [
        "| | ex/s b1 | | ex/s b32 | | peak MB | smaller | disk MB | smaller | dev acc | Δ points |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        b1, b1x = ratio(row, "b1")
        b32, b32x = ratio(row, "b32")
        memory, memx = ratio(row, "memory", invert=True)
        disk, diskx = ratio(row, "disk", invert=True)
        accuracy = row.results["accuracy"]
        delta = accuracy - reference.results["accuracy"]
        mb = lambda v: v if v == "n/a" else f"{v / 2**20:.1f}"  # noqa: E731
        lines.append(
            f"| {row.name} | {b1:.1f} | {b1x} | {b32:.1f} | {b32x} | {mb(memory)} | {memx} | "
            f"{mb(disk)} | {diskx} | {accuracy:.2f} | {delta:+.2f} |"
        )
    notes = [f"- {row.name}: {row.note}" for row in rows if row.note]
    return "\n".join(lines + ([""] + notes if notes else []))


def bf16_matmul_ratio(size: int = 2048) -> float:
    """How many times faster a size x size matrix product runs in bf16 than in fp32 here."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    fp32 = time_call(lambda: a @ b, repeats=5).median
    a16, b16 = a.bfloat16(), b.bfloat16()
    return fp32 / time_call(lambda: a16 @ b16, repeats=5).median


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = load_tokenizer(args.model)
    dev = load_sst2("dev")
    if args.dev_limit:
        dev = dev.subset(range(args.dev_limit))
    features = make_features(tokenizer, dev.texts, dev.labels, max_length=128)
    # accuracy as `bertlab evaluate` computes it (batches of 64: an int8 model's activation
    # scales are measured per batch, so its predictions depend on the batching); speed at 32 and 1
    batches = {size: batches_of(features, size, tokenizer.pad_token_id) for size in (64, 32)}
    ones = batches_of(features, 1, tokenizer.pad_token_id)
    step = max(1, len(ones) // args.b1_limit) if args.b1_limit else 1
    batches[1] = ones[::step][: args.b1_limit]
    labels = [features[i]["labels"] for i in length_order(features)]
    support = cpu_bf16_support()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, int8 engine {torch.backends.quantized.engine}"
    )
    print(
        f"CPU: {support['machine']}, {support['torch_cpu_capability']}, bf16 units: {support['verdict']} "
        f"({', '.join(support['flags']) or 'no bf16 flag'}); 2048² matmul bf16 vs fp32: {bf16_matmul_ratio():.2f}x"
    )
    started = time.perf_counter()
    rows = build_rows(args, out)
    measure(rows, batches, labels, args.rounds)
    reference = next(row for row in rows if row.name == "fp32 eager (fused)")
    print(table(rows, reference))
    print(f"\n{time.perf_counter() - started:.0f} s in all")
    results = {row.name: {**row.results, "note": row.note} for row in rows}
    (out / "efficiency.json").write_text(
        json.dumps({"cpu": support, "rows": results}, indent=2, default=str)
    )


if __name__ == "__main__":
    main()
