"""Serving: throughput and latency of `bertlab serve`, micro-batching vs one request per forward pass.

Two `bertlab serve` processes of the same model on 127.0.0.1, with the same model threads:

- "micro-batched": the defaults (`--max-batch-size 32 --max-wait-ms 5`);
- "one by one":    `--max-batch-size 1 --max-wait-ms 0` (every request its own forward pass).

For each number of concurrent clients (1, 4, 16, 64 by default) both servers get the same
`--requests` requests (one SST-2 dev sentence each), from async httpx clients that send
their next request as soon as the last is answered; the two servers take turns, the order
reversed at every client count. The table gives requests per second, p50/p95/p99 latency
and the mean batch size (from each server's /metrics), then the throughput ratio per client
count. Every answer is checked: its label must equal the in-process `Pipeline`'s and
`bertlab predict`'s on the same sentence, and no request may fail.

Then the forward pass alone: ONNX Runtime vs PyTorch on the same padded batches of 1 and 32
sentences (the file exported by `bertlab export`, checked there within 1e-4), same threads,
interleaved repeats, medians and the speed ratio.

Issue 16's targets: 1,000 requests from 16 clients without an error and with every label
equal to `bertlab predict`'s; micro-batching >= 2x the throughput of one-by-one at 16 clients.

    BERTLAB_DATA=../shared/data HF_HUB_OFFLINE=1 python benchmarks/bench_serving.py \\
        --model runs/notebook10-sst2

`--threads 1` (the default) gives the model one core and leaves the other to HTTP and the
clients on a 2-core machine. Run it alone on the machine (benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import torch
from harness import machine_line, markdown_table, run_command

from bertlab.batching import pad_batch
from bertlab.data.classification import load_classification_data
from bertlab.serving import Pipeline, ServerProcess, export_onnx
from bertlab.serving.backends import MODEL_INPUTS
from bertlab.serving.loadtest import LoadTestResult, load_test

MODES = {
    "micro-batched": ["--max-batch-size", "32", "--max-wait-ms", "5"],
    "one by one": ["--max-batch-size", "1", "--max-wait-ms", "0"],
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="runs/notebook10-sst2", help="a classification folder")
    parser.add_argument("--requests", type=int, default=1000, help="requests per client count")
    parser.add_argument("--clients", default="1,4,16,64", help="comma-separated client counts")
    parser.add_argument("--threads", type=int, default=1, help="the model's threads in each server")
    parser.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="the torch backend's autocast, the same in both servers, the in-process pipeline "
        "and `bertlab predict`",
    )
    parser.add_argument("--max-wait-ms", default="5", help="the micro-batched server's wait")
    parser.add_argument("--repeats", type=int, default=30, help="forward-pass repeats per backend")
    args = parser.parse_args()
    args.clients = [int(n) for n in args.clients.split(",")]
    MODES["micro-batched"][-1] = args.max_wait_ms
    return args


def sentences(count: int) -> list[str]:
    texts = list(load_classification_data("dev").texts)
    return [texts[i % len(texts)] for i in range(count)]


def predicted_by_the_command(folder: str, texts: list[str], precision: str) -> dict[str, str]:
    """Label of every distinct text, from `bertlab predict classification --file`."""
    distinct = sorted(set(texts))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as file:
        file.write("\n".join(distinct) + "\n")
    summary = run_command(["predict", "classification", "--model", folder, "--file", file.name,
                           "--quiet", "--device", "cpu", "--precision", precision])  # fmt: skip
    Path(file.name).unlink()
    return {text: row["label"] for text, row in zip(distinct, summary["predictions"])}


def measure(url: str, payloads: list[dict], clients: int) -> tuple[LoadTestResult, float]:
    """One load test; the mean batch size of its forward passes from the server's counters."""
    before = httpx.get(url + "/metrics").text
    result = asyncio.run(load_test(url, "/classify", payloads, clients))
    after = httpx.get(url + "/metrics").text

    def counters(text):
        found = dict.fromkeys(("bertlab_batch_size_sum", "bertlab_batch_size_count"), 0.0)
        for line in text.splitlines():
            name = line.split(" ")[0]
            if name in found:
                found[name] = float(line.split()[-1])
        return found

    a, b = counters(before), counters(after)
    passes = b["bertlab_batch_size_count"] - a["bertlab_batch_size_count"]
    return result, (b["bertlab_batch_size_sum"] - a["bertlab_batch_size_sum"]) / max(passes, 1)


def check_answers(result: LoadTestResult, texts, in_process, by_command, where: str) -> None:
    if result.errors:
        raise SystemExit(f"{where}: {result.errors} of {result.requests} requests failed")
    served = [answer["results"][0]["label"] for answer in result.answers]
    if served != in_process:
        raise SystemExit(f"{where}: a served label differs from the in-process pipeline's")
    if served != [by_command[text] for text in texts]:
        raise SystemExit(f"{where}: a served label differs from `bertlab predict`'s")


def load_tests(args, texts, in_process, by_command) -> dict:
    payloads = [{"texts": [text]} for text in texts]
    common = ["--threads", str(args.threads), "--backend", args.backend]
    common += ["--precision", args.precision]
    servers = {mode: ServerProcess(args.model, *common, *flags) for mode, flags in MODES.items()}
    results = {}
    try:
        for server in servers.values():
            server.start()
            asyncio.run(load_test(server.url, "/classify", payloads[:64], 8))  # warm up
        for turn, clients in enumerate(args.clients):
            order = list(MODES) if turn % 2 == 0 else list(reversed(MODES))
            for mode in order:
                result, batch = measure(servers[mode].url, payloads, clients)
                check_answers(result, texts, in_process, by_command, f"{mode}, {clients} clients")
                results[mode, clients] = (result, batch)
                print(f"  {mode:<13} {clients:>3} clients: {result.throughput:7.1f} requests/s",
                      flush=True)  # fmt: skip
    finally:
        for server in servers.values():
            server.stop()
    return results


def print_load_table(results: dict, clients: list[int]) -> None:
    rows = []
    for (mode, count), (result, batch) in results.items():
        row = result.row()
        rows.append([mode, count, row["requests"], row["errors"], row["requests/s"],
                     row["p50 ms"], row["p95 ms"], row["p99 ms"], f"{batch:.1f}"])  # fmt: skip
    rows.sort(key=lambda row: (row[0], row[1]))
    header = ["server", "clients", "requests", "errors", "requests/s", "p50 ms", "p95 ms",
              "p99 ms", "mean batch"]  # fmt: skip
    print(markdown_table(header, rows))
    print()
    for count in clients:
        batched = results["micro-batched", count][0].throughput
        single = results["one by one", count][0].throughput
        print(f"{count:>3} clients: micro-batching gives {batched / single:.2f}x the throughput")


def forward_speed(args, texts: list[str]) -> None:
    """ONNX Runtime vs PyTorch on the same padded batches: medians of interleaved repeats."""
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        onnx_file = Path(folder) / "model.onnx"
        summary = export_onnx(args.model, onnx_file)
        pytorch = Pipeline.from_pretrained(args.model, device="cpu")
        onnx = Pipeline.from_pretrained(
            args.model, backend="onnx", onnx_path=onnx_file, threads=args.threads
        )
        features, _ = pytorch.steps.prepare(texts[:32])
        inputs = [{k: f[k] for k in MODEL_INPUTS} for f in features]
        print(f"\nexport parity on the sample sentences: {summary['parity']['max_abs_diff']:.1e}")
        rows = []
        for size in (1, 32):
            batch = pad_batch(inputs[:size], pytorch.tokenizer.pad_token_id)
            gap = float(
                np.abs(pytorch.backend(batch)["logits"] - onnx.backend(batch)["logits"]).max()
            )
            times = {"torch": [], "onnx": []}
            for repeat in range(args.repeats):
                for name in ("torch", "onnx") if repeat % 2 == 0 else ("onnx", "torch"):
                    backend = pytorch.backend if name == "torch" else onnx.backend
                    started = time.perf_counter()
                    backend(batch)
                    times[name].append(time.perf_counter() - started)
            torch_ms = 1000 * statistics.median(times["torch"])
            onnx_ms = 1000 * statistics.median(times["onnx"])
            rows.append(
                [
                    size,
                    f"{torch_ms:.2f}",
                    f"{onnx_ms:.2f}",
                    f"{torch_ms / onnx_ms:.2f}x",
                    f"{gap:.1e}",
                ]
            )
    header = ["batch", "PyTorch ms", "ONNX Runtime ms", "ONNX Runtime speed", "max |difference|"]
    print(markdown_table(header, rows))


def main() -> None:
    args = parse_args()
    if not (Path(args.model) / "config.json").exists():
        raise SystemExit(f"--model {args.model}: no model folder there (`bertlab finetune "
                         "classification --out DIR` writes one)")  # fmt: skip
    print(machine_line())
    print(f"model {args.model}, backend {args.backend} ({args.precision}), "
          f"{args.threads} model thread(s) per server, "
          f"{args.requests} requests per point, Python {sys.version.split()[0]}")  # fmt: skip
    texts = sentences(args.requests)
    pipe = Pipeline.from_pretrained(args.model, device="cpu", precision=args.precision)
    in_process = [answer["label"] for answer in pipe(texts)]
    by_command = predicted_by_the_command(args.model, texts, args.precision)
    results = load_tests(args, texts, in_process, by_command)
    print()
    print_load_table(results, args.clients)
    print(
        "every answer: status 200, label equal to the in-process pipeline's and to `bertlab predict`'s"
    )
    forward_speed(args, texts)


if __name__ == "__main__":
    main()
