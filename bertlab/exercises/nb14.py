"""Checkers of notebook 14 (deployment).

The references are written here and tested against the real thing: 14.1 against
`transformers`' token-classification pipeline through bertlab's (`aggregation="first"`), 14.3
against `bertlab.serving.batcher.MicroBatcher` on the same arrivals, 14.4 against Prometheus'
documented `histogram_quantile`. The texts are in texts/nb14.toml, the solutions in
solutions/14_deployment_solutions.ipynb.
"""

from __future__ import annotations

import math
from functools import partial
from operator import itemgetter

from bertlab.exercises.kinds import Case

# --- 14.1: words from WordPieces -----------------------------------------------------------------


def first_piece_labels(tokens, labels, *, choose=itemgetter(0)) -> list[tuple[str, str]]:
    """(word, label) for every word: pieces joined, the label of the word's first piece (the
    slips: `choose` another of the labels its pieces got)."""
    words: list[tuple[str, list[str]]] = []
    for token, label in zip(tokens, labels):
        if token.startswith("##") and words:
            words[-1] = (words[-1][0] + token[2:], words[-1][1] + [label])
        else:
            words.append((token, [label]))
    return [(word, choose(piece_labels)) for word, piece_labels in words]


def _vote(piece_labels: list[str]) -> str:
    return max(sorted(set(piece_labels)), key=piece_labels.count)


last_piece_labels = partial(first_piece_labels, choose=itemgetter(-1))
majority_labels = partial(first_piece_labels, choose=_vote)


def every_piece_a_word(tokens, labels):
    return [(token.removeprefix("##"), label) for token, label in zip(tokens, labels)]


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


# --- 14.3: planning micro-batches ----------------------------------------------------------------


def plan_batches(arrivals_ms, max_batch_size, max_wait_ms, *, wait_from_first=True) -> list[int]:
    """Batch sizes: a batch opens at its first request and takes later ones until it is full or
    `max_wait_ms` after that first request (the forward pass itself is taken as instant); the
    slip `wait_from_first=False` counts the wait from the latest arrival instead."""
    sizes, index = [], 0
    while index < len(arrivals_ms):
        size = 1
        while index + size < len(arrivals_ms) and size < max_batch_size:
            waiting_since = arrivals_ms[index if wait_from_first else index + size - 1]
            if arrivals_ms[index + size] > waiting_since + max_wait_ms:
                break
            size += 1
        sizes.append(size)
        index += size
    return sizes


wait_from_the_last_arrival = partial(plan_batches, wait_from_first=False)


def no_size_limit(arrivals_ms, max_batch_size, max_wait_ms):
    return plan_batches(arrivals_ms, len(arrivals_ms) + 1, max_wait_ms)


ARRIVALS = [
    Case(args=([0, 1, 2, 3, 20, 21, 40], 8, 5), label="two bursts and a straggler, wait 5 ms"),
    Case(args=([0, 2, 4, 6, 8, 10, 12, 14], 3, 100), label="a steady stream, batches of 3"),
    Case(args=([0, 4, 8, 12, 16], 10, 5), label="4 ms apart, wait 5 ms"),
    Case(args=([0, 0, 0, 0, 0], 1, 10), label="max_batch_size=1: one request, one forward"),
]


# --- 14.4: a percentile from a Prometheus histogram ---------------------------------------------


def histogram_quantile(q: float, bounds: list[float], cumulative: list[int]) -> float:
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


def upper_bound_only(q, bounds, cumulative):
    rank = q * cumulative[-1]
    return next(b for b, c in zip(bounds, cumulative) if c >= rank)


def counts_taken_as_per_bucket(q, bounds, cumulative):
    per_bucket = cumulative  # the slip: these are running totals already
    running, totals = 0, []
    for count in per_bucket:
        running += count
        totals.append(running)
    return histogram_quantile(q, bounds, totals)


INF = float("inf")
HISTOGRAMS = [
    Case(args=(0.5, [0.01, 0.025, 0.05, 0.1, INF], [10, 40, 90, 100, 100]), label="p50"),
    Case(args=(0.99, [0.01, 0.025, 0.05, 0.1, INF], [10, 40, 90, 100, 100]), label="p99"),
    Case(args=(0.95, [0.005, 0.01, 0.025, INF], [0, 0, 80, 100]), label="p95 past the last bound"),
    Case(args=(0.1, [0.005, 0.01, 0.025, INF], [30, 60, 90, 100]), label="p10 in the first bucket"),
]
