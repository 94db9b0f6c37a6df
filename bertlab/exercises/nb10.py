"""Checkers of notebook 10 (text classification).

The checkers compare with the package (`bertlab.metrics.classification`,
`bertlab.tasks.classification`); the texts are in texts/nb10.toml, the solutions in
solutions/10_text_classification_solutions.ipynb.
"""

from __future__ import annotations

from functools import partial

import torch

from bertlab.exercises.kinds import Case

# --- 10.1: a one-class predictor on SST-2 -----------------------------------------------------


def _sst2_dev_labels() -> list[int]:
    from bertlab.data.classification import load_sst2

    return load_sst2("dev").labels


def one_class_macro_f1(label: int = 0) -> float:
    """Macro-F1 on SST-2's dev set of a predictor that always answers `label` (0: negative)."""
    from bertlab.metrics.classification import macro_f1

    labels = _sst2_dev_labels()
    return macro_f1(labels, [label] * len(labels), 2)


always_positive_macro_f1 = partial(one_class_macro_f1, label=1)


def negative_share() -> float:
    labels = _sst2_dev_labels()
    return labels.count(0) / len(labels)


def negative_class_f1() -> float:
    share = negative_share()
    return 2 * share / (1 + share)


# --- 10.2: mean pooling ------------------------------------------------------------------------


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


def mean_over_every_position(hidden, mask):
    return hidden.mean(1)


def sum_of_real_tokens(hidden, mask):
    return (hidden * mask.unsqueeze(-1).to(hidden.dtype)).sum(1)


def pooling_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(10)
    masks = [
        torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]),
        torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0]]),
    ]
    cases = []
    for mask in masks:
        hidden = torch.randn(*mask.shape, 6, generator=generator)
        cases.append(
            Case(args=(hidden, mask), label=f"hidden {tuple(hidden.shape)}, mask {mask.tolist()}")
        )
    return cases


# --- 10.3: semantic search ---------------------------------------------------------------------


def top_k(queries: torch.Tensor, corpus: torch.Tensor, k: int) -> torch.Tensor:
    from bertlab.tasks.classification import semantic_search

    return semantic_search(queries, corpus, top_k=k)[1]


def top_k_by_dot_product(queries, corpus, k):
    return (queries @ corpus.T).topk(k, dim=-1).indices


def top_k_worst_first(queries, corpus, k):
    return top_k(queries, corpus, corpus.shape[0]).flip(-1)[:, :k]


def search_cases() -> list[Case]:
    generator = torch.Generator().manual_seed(11)
    cases = []
    for n_queries, n_corpus, k in [(3, 12, 4), (5, 30, 1), (2, 8, 8)]:
        queries = torch.randn(n_queries, 16, generator=generator)
        lengths = torch.rand(n_corpus, 1, generator=generator) * 9 + 0.5  # very different norms
        corpus = torch.nn.functional.normalize(
            torch.randn(n_corpus, 16, generator=generator), dim=1
        )
        label = f"{n_queries} queries, {n_corpus} corpus rows of different lengths, k={k}"
        cases.append(Case(args=(queries, corpus * lengths, k), label=label))
    return cases


# --- 10.4: early stopping with patience ----------------------------------------------------------


def early_stopping(scores, patience):
    best = 0
    for index, score in enumerate(scores):
        if score > scores[best]:
            best = index
        elif index - best >= patience:
            break
    return best


def best_of_all(scores, patience):
    return max(range(len(scores)), key=lambda i: scores[i])


def last(scores, patience):
    return len(scores) - 1


def stopping_cases() -> list[Case]:
    curves = [
        ([60.0, 70.0, 75.0, 74.0, 73.0, 72.0, 71.0], 2),
        ([60.0, 70.0, 69.0, 68.0, 67.0, 80.0], 3),  # a late best that patience never reaches
        ([55.0, 58.0, 61.0, 64.0], 2),  # still improving at the end
        ([70.0, 70.0, 71.0, 69.0, 72.0, 60.0, 60.0, 60.0], 1),
    ]
    return [
        Case(args=(scores, patience), label=f"scores {scores}, patience {patience}")
        for scores, patience in curves
    ]
