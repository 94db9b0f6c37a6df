"""Exercises and quiz of notebook 14 (deployment).

The references are written here and tested against the real thing: 14.1 against
`transformers`' token-classification pipeline through bertlab's (`aggregation="first"`), 14.3
against `bertlab.serving.batcher.MicroBatcher` on the same arrivals, 14.4 against Prometheus'
documented `histogram_quantile`. Solutions: solutions/14_deployment_solutions.ipynb.
"""

from __future__ import annotations

import math

from bertlab.exercises.core import Case, FunctionExercise, Mistake, OpenExercise, ValueExercise
from bertlab.exercises.questions import ChoiceQuestion, NumberQuestion, Option

# --- 14.1: words from WordPieces -----------------------------------------------------------------


def _first_piece_labels(tokens: list[str], labels: list[str]) -> list[tuple[str, str]]:
    """(word, label) for every word: pieces joined, the label of the word's first piece."""
    words: list[tuple[str, str]] = []
    for token, label in zip(tokens, labels):
        if token.startswith("##") and words:
            words[-1] = (words[-1][0] + token[2:], words[-1][1])
        else:
            words.append((token, label))
    return words


def _last_piece_labels(tokens, labels):
    words = []
    for token, label in zip(tokens, labels):
        if token.startswith("##") and words:
            words[-1] = (words[-1][0] + token[2:], label)
        else:
            words.append((token, label))
    return words


def _every_piece_a_word(tokens, labels):
    return [(token.removeprefix("##"), label) for token, label in zip(tokens, labels)]


def _majority_labels(tokens, labels):
    groups: list[tuple[str, list[str]]] = []
    for token, label in zip(tokens, labels):
        if token.startswith("##") and groups:
            groups[-1] = (groups[-1][0] + token[2:], groups[-1][1] + [label])
        else:
            groups.append((token, [label]))
    return [(word, max(sorted(set(votes)), key=votes.count)) for word, votes in groups]


PIECES = [
    Case(
        args=(
            ["ada", "love", "##lace", "met", "charles", "babb", "##age"],
            ["B-PER", "I-PER", "O", "O", "B-PER", "I-PER", "B-LOC"],
        ),  # fmt: skip
        label="Ada Lovelace met Charles Babbage",
    ),
    Case(
        args=(
            ["the", "u", ".", "s", ".", "-", "based", "z", "##y", "##zz", "##y", "##va"],
            ["O", "B-LOC", "I-LOC", "I-LOC", "I-LOC", "O", "O", "B-ORG", "O", "I-ORG", "O", "O"],
        ),  # fmt: skip
        label="the U.S.-based Zyzzyva",
    ),
    Case(args=(["paris"], ["B-LOC"]), label="one word"),
]


# --- 14.2: Little's law --------------------------------------------------------------------------

CLIENTS, LATENCY_S = 16, 0.080


# --- 14.3: planning micro-batches ----------------------------------------------------------------


def _plan_batches(arrivals_ms: list[float], max_batch_size: int, max_wait_ms: float) -> list[int]:
    """Batch sizes: a batch opens at its first request and takes later ones until it is full or
    `max_wait_ms` after that first request (the forward pass itself is taken as instant)."""
    sizes, index = [], 0
    while index < len(arrivals_ms):
        closes = arrivals_ms[index] + max_wait_ms
        size = 1
        while (
            index + size < len(arrivals_ms)
            and size < max_batch_size
            and arrivals_ms[index + size] <= closes
        ):
            size += 1
        sizes.append(size)
        index += size
    return sizes


def _wait_from_the_last_arrival(arrivals_ms, max_batch_size, max_wait_ms):
    sizes, index = [], 0
    while index < len(arrivals_ms):
        size = 1
        while (
            index + size < len(arrivals_ms)
            and size < max_batch_size
            and arrivals_ms[index + size] <= arrivals_ms[index + size - 1] + max_wait_ms
        ):
            size += 1
        sizes.append(size)
        index += size
    return sizes


def _no_size_limit(arrivals_ms, max_batch_size, max_wait_ms):
    return _plan_batches(arrivals_ms, len(arrivals_ms) + 1, max_wait_ms)


ARRIVALS = [
    Case(args=([0, 1, 2, 3, 20, 21, 40], 8, 5), label="two bursts and a straggler, wait 5 ms"),
    Case(args=([0, 2, 4, 6, 8, 10, 12, 14], 3, 100), label="a steady stream, batches of 3"),
    Case(args=([0, 4, 8, 12, 16], 10, 5), label="4 ms apart, wait 5 ms"),
    Case(args=([0, 0, 0, 0, 0], 1, 10), label="max_batch_size=1: one request, one forward"),
]


# --- 14.4: a percentile from a Prometheus histogram ---------------------------------------------


def _histogram_quantile(q: float, bounds: list[float], cumulative: list[int]) -> float:
    """Prometheus' `histogram_quantile`: find the bucket holding rank q * total, interpolate
    linearly inside it (the first bucket starts at 0); in the +Inf bucket, the largest bound."""
    total = cumulative[-1]
    rank = q * total
    below, lower = 0, 0.0
    for bound, count in zip(bounds, cumulative):
        if count >= rank:
            if math.isinf(bound):
                return lower
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 0.0)
        below, lower = count, bound
    return lower


def _upper_bound_only(q, bounds, cumulative):
    rank = q * cumulative[-1]
    return next(b for b, c in zip(bounds, cumulative) if c >= rank)


def _counts_taken_as_per_bucket(q, bounds, cumulative):
    per_bucket = cumulative  # the slip: these are running totals already
    running, totals = 0, []
    for count in per_bucket:
        running += count
        totals.append(running)
    return _histogram_quantile(q, bounds, totals)


INF = float("inf")
HISTOGRAMS = [
    Case(args=(0.5, [0.01, 0.025, 0.05, 0.1, INF], [10, 40, 90, 100, 100]), label="p50"),
    Case(args=(0.99, [0.01, 0.025, 0.05, 0.1, INF], [10, 40, 90, 100, 100]), label="p99"),
    Case(args=(0.95, [0.005, 0.01, 0.025, INF], [0, 0, 80, 100]), label="p95 past the last bound"),
    Case(args=(0.1, [0.005, 0.01, 0.025, INF], [30, 60, 90, 100]), label="p10 in the first bucket"),
]


EXERCISES = [
    FunctionExercise(
        "14.1",
        "Words from WordPieces",
        hint="A piece that starts with ## continues the word before it; the word keeps the label "
        "its first piece got.",
        reference=_first_piece_labels,
        inputs=PIECES,
        mistakes=[
            Mistake(_last_piece_labels, "a word takes the label of its first piece, not its last."),
            Mistake(_every_piece_a_word, "a ## piece continues the word before it: join them."),
            Mistake(
                _majority_labels,
                "that is a vote over the pieces; the rule here (transformers' 'first') takes the "
                "first piece's label, the one the model was trained on.",
            ),
        ],
    ),
    ValueExercise(
        "14.2",
        "Little's law",
        hint="In a closed loop every client always has exactly one request in the system: "
        "requests in the system = throughput × time each spends there.",
        answer=CLIENTS / LATENCY_S,
        abs_tol=0.5,
        mistakes=[
            Mistake(1 / LATENCY_S, "that is one client's rate; 16 clients each send that many."),
            Mistake(
                CLIENTS * LATENCY_S * 1000,
                "multiply the clients by the rate 1/latency, not by the latency.",
            ),  # fmt: skip
            Mistake(CLIENTS * LATENCY_S, "throughput = clients / latency (in seconds)."),
        ],
        explanation="16 requests always in flight, each 0.08 s: 16 / 0.08 = 200 requests per second. "
        "The notebook's load test checks its own throughput and mean latency this way.",
    ),
    FunctionExercise(
        "14.3",
        "Plan the micro-batches",
        hint="Walk through the arrivals: open a batch at the next waiting request, keep adding "
        "while the batch is not full and the arrival is no later than the first one + max_wait.",
        reference=_plan_batches,
        inputs=ARRIVALS,
        mistakes=[
            Mistake(
                _wait_from_the_last_arrival,
                "the wait counts from the batch's first request, not from the latest one: "
                "otherwise a steady stream would never close the batch.",
            ),
            Mistake(_no_size_limit, "a batch also closes when max_batch_size requests are in it."),
        ],
    ),
    FunctionExercise(
        "14.4",
        "A percentile from a Prometheus histogram",
        hint="Counts are cumulative: find the first bucket whose count reaches q × total, then "
        "interpolate between its lower and upper bound by how far into the bucket the rank lies.",
        reference=_histogram_quantile,
        inputs=HISTOGRAMS,
        abs_tol=1e-12,
        mistakes=[
            Mistake(
                _upper_bound_only,
                "that returns the bucket's upper bound; histogram_quantile interpolates inside it.",
            ),
            Mistake(
                _counts_taken_as_per_bucket,
                "the _bucket counts are cumulative (each counts every observation <= its bound).",
            ),
        ],
    ),
    OpenExercise(
        "14.5",
        "The 600-token request",
        hint="The sequence axis is free; is everything the graph multiplies free too?",
        model_answer=(
            "The axis is free, but the position table has 512 rows: the graph adds 512 position "
            "vectors to 600 token vectors and ONNX Runtime fails on the shapes. PyTorch says so "
            "clearly because the model checks the length in Python, and Python checks are not "
            "exported. The remedy is outside the graph: the pipeline cuts texts to max_length or "
            "reads them in windows (NER, QA), and the server limits the characters of a text."
        ),
    ),
    OpenExercise(
        "14.6",
        "Two workers on two cores",
        hint="What does each worker hold, and which requests can share a batch?",
        model_answer=(
            "Each worker is a process with its own copy of the model (memory doubles) and its own "
            "micro-batcher: requests are split between them, so batches are about half as large. "
            "With the model forward using one thread each, two workers can keep both cores busy "
            "with forward passes; with one worker, one core runs the model and the other parses "
            "HTTP. Throughput can rise when the model is the bottleneck; latency at low load does "
            "not improve; measure both with the load test before deciding."
        ),
    ),
]

QUIZ = [
    ChoiceQuestion(
        "What does a larger max_wait_ms buy, and what does it cost?",
        [
            Option(
                "Larger batches when requests trickle in, for up to max_wait_ms more latency",
                right=True,
                why="a lone request waits for company; under load batches fill without waiting.",
            ),
            Option(
                "More accuracy, for more memory",
                why="batching changes neither the weights nor the answers (beyond float rounding).",
            ),
            Option(
                "Nothing under load: the queue is always empty",
                why="under load the queue is full; it is at low load that the wait matters.",
            ),
        ],
    ),
    ChoiceQuestion(
        "What is in the exported ONNX file?",
        [
            Option(
                "The tokenizer, the network and the decoding of the answers",
                why="only tensor operations are recorded; tokenizing and decoding stay in Python.",
            ),
            Option(
                "The network's tensor operations on one traced path, with the weights",
                right=True,
                why="Python branches and checks are not recorded; the weights are.",
            ),
            Option(
                "The model's Python source, run by ONNX Runtime",
                why="ONNX Runtime runs a graph of operators, not Python.",
            ),
        ],
    ),
    ChoiceQuestion(
        "model(input_ids, labels) on a BertForTokenClassification: what happens?",
        [
            Option(
                "The loss is computed from the labels",
                why="the second positional argument is attention_mask, not labels.",
            ),
            Option(
                "The labels become the attention mask and the output is silently wrong",
                right=True,
                why="tags with id 0 ('O') mask their tokens; nothing fails (shown in the notebook).",
            ),
            Option(
                "An error says labels must be passed by keyword",
                why="the shapes match ([batch, seq] both), so no check fires.",
            ),
        ],
    ),
    NumberQuestion(
        "16 requests arrive at once. One forward pass takes 20 ms for one text and 80 ms for 16. "
        "Served one request per forward, how many ms does the last request wait for its answer?",
        answer=320,
        tolerance=1,
        why="16 passes of 20 ms one after the other: 320 ms; one batched pass answers all in 80 ms.",
        mistakes={
            80: "that is the batched pass; one request per pass runs 16 passes in a row.",
            20: "that is the first request; the last one waits for the 15 before it.",
        },
    ),
]
