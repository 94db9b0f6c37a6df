"""Exercises and quiz of notebook 10 (text classification).

The checkers compare with the package (`bertlab.metrics.classification`,
`bertlab.tasks.classification`); the solutions are in
solutions/10_text_classification_solutions.ipynb.
"""

from __future__ import annotations

import torch

from bertlab.exercises.core import (
    Case,
    Computed,
    FunctionExercise,
    Mistake,
    OpenExercise,
    ValueExercise,
)
from bertlab.exercises.questions import ChoiceQuestion, NumberQuestion, Option

# --- 10.1: a one-class predictor on SST-2 -----------------------------------------------------


def _sst2_dev_labels() -> list[int]:
    from bertlab.data.classification import load_sst2

    return load_sst2("dev").labels


def _always(label: int):
    def macro_f1_of_constant() -> float:
        from bertlab.metrics.classification import macro_f1

        labels = _sst2_dev_labels()
        return macro_f1(labels, [label] * len(labels), 2)

    return macro_f1_of_constant


def _negative_share() -> float:
    labels = _sst2_dev_labels()
    return labels.count(0) / len(labels)


def _negative_class_f1() -> float:
    share = _negative_share()
    return 2 * share / (1 + share)


# --- 10.2: mean pooling ------------------------------------------------------------------------


def _mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


def _mean_over_every_position(hidden, mask):
    return hidden.mean(1)


def _sum_of_real_tokens(hidden, mask):
    return (hidden * mask.unsqueeze(-1).to(hidden.dtype)).sum(1)


def _pooling_cases() -> list[Case]:
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


def _top_k(queries: torch.Tensor, corpus: torch.Tensor, k: int) -> torch.Tensor:
    from bertlab.tasks.classification import semantic_search

    return semantic_search(queries, corpus, top_k=k)[1]


def _top_k_by_dot_product(queries, corpus, k):
    return (queries @ corpus.T).topk(k, dim=-1).indices


def _top_k_worst_first(queries, corpus, k):
    return _top_k(queries, corpus, corpus.shape[0]).flip(-1)[:, :k]


def _search_cases() -> list[Case]:
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


def _early_stopping(scores, patience):
    best = 0
    for index, score in enumerate(scores):
        if score > scores[best]:
            best = index
        elif index - best >= patience:
            break
    return best


def _best_of_all(scores, patience):
    return max(range(len(scores)), key=lambda i: scores[i])


def _last(scores, patience):
    return len(scores) - 1


def _stopping_cases() -> list[Case]:
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


EXERCISES = [
    ValueExercise(
        "10.1",
        "A one-class predictor",
        hint="'negative' has precision q (its share of dev) and recall 1; 'positive' is never "
        "predicted.",
        answer=Computed(_always(0)),
        mistakes=[
            Mistake(Computed(_negative_share), "that is its accuracy, not its macro-F1."),
            Mistake(
                Computed(_negative_class_f1),
                "that is the F1 of 'negative' alone; macro-F1 averages it with the 0 of 'positive'.",
            ),
            Mistake(
                Computed(_always(1)),
                "that is the 'always positive' predictor of the notebook; here it is 'negative'.",
            ),
        ],
        explanation="q/(1+q) with q = 428/872, the share of negative dev sentences.",
    ),
    FunctionExercise(
        "10.2",
        "Mean pooling",
        hint="Multiply by the mask (unsqueezed to [batch, tokens, 1]), sum over tokens, divide by "
        "the number of real tokens.",
        reference=_mean_pool,
        inputs=_pooling_cases,
        mistakes=[
            Mistake(_mean_over_every_position, "padding positions must not count in the mean."),
            Mistake(_sum_of_real_tokens, "that is the sum; divide by the number of real tokens."),
        ],
    ),
    FunctionExercise(
        "10.3",
        "Semantic search",
        hint="Normalise both sides to length 1 (torch.nn.functional.normalize), multiply, then "
        "topk along the corpus dimension.",
        reference=_top_k,
        inputs=_search_cases,
        mistakes=[
            Mistake(
                _top_k_by_dot_product,
                "a raw dot product favours long corpus vectors; cosine divides by the lengths.",
            ),
            Mistake(_top_k_worst_first, "best first: the highest similarity comes first."),
        ],
    ),
    FunctionExercise(
        "10.4",
        "Early stopping with patience",
        hint="Walk through the scores, remember the index of the best so far, and stop once "
        "`patience` evaluations have passed without a better one.",
        reference=_early_stopping,
        inputs=_stopping_cases,
        mistakes=[
            Mistake(
                _best_of_all,
                "that looks at scores after training would have stopped; patience ends the run "
                "before a late best is seen.",
            ),
            Mistake(_last, "early stopping keeps the best weights, not the last ones."),
        ],
    ),
    OpenExercise(
        "10.5",
        "Batch size, fairly",
        hint="Keep the number of sentences fixed, run each setting with three seeds, compare the "
        "difference of the means with the spread of the seeds.",
        model_answer=(
            "Halving the batch and doubling the steps sees the same sentences, but makes twice as "
            "many (noisier) updates, each cheaper. On a budget of a few dozen steps the smaller "
            "batch often ends a little higher per sentence; per second of CPU the larger batch uses "
            "the hardware better. Whatever you measure, the difference of two single runs is only "
            "meaningful if it exceeds the spread between seeds of the same setting, which is "
            "several points at this budget."
        ),
    ),
    OpenExercise(
        "10.6",
        "What the fair test depends on",
        hint="A pretrained start and a random start want different learning rates.",
        model_answer=(
            "The outcome can change with the learning rate: a random network needs large updates to "
            "learn anything, while pretrained weights are destroyed by updates that are too large "
            "and under-used by updates that are too small. A fair comparison therefore tunes the "
            "learning rate for each starting point on validation data (the same small grid for both) "
            "and averages over seeds; comparing both at one fixed rate can favour either side."
        ),
    ),
]

QUIZ = [
    NumberQuestion(
        "A classifier answers 'positive' for every sentence of a dev set that is half positive, half "
        "negative. What is its macro-F1 (two decimals)?",
        answer=1 / 3,
        tolerance=0.01,
        why="positive: precision 1/2, recall 1, F1 2/3; negative: F1 0; the mean is 1/3.",
        mistakes={
            0.5: "0.5 is its accuracy.",
            0.67: "2/3 is the F1 of the positive class alone; macro-F1 averages it with 0.",
        },
    ),
    ChoiceQuestion(
        "In this notebook's fair test of pretraining, what differs between the two models?",
        [
            Option(
                "only the starting weights",
                right=True,
                why="same configuration, vocabulary, data order, steps and learning rate: only one "
                "cause is left for the difference.",
            ),
            Option(
                "the vocabulary and the number of layers",
                why="then the comparison would mix pretraining with model size and tokenization.",
            ),
            Option(
                "the pretrained one fine-tunes for fewer steps",
                why="both get the same steps; compute is matched.",
            ),
        ],
    ),
    ChoiceQuestion(
        "Training accuracy reaches 100% while the validation loss climbs. What is happening, and "
        "what helps?",
        [
            Option(
                "underfitting: train longer with a larger learning rate",
                why="the training set is already fitted perfectly; more training makes it worse.",
            ),
            Option(
                "the learning rate is too small",
                why="a too-small rate would leave the training accuracy low, not at 100%.",
            ),
            Option(
                "overfitting: keep the best validation epoch (early stopping), add dropout or weight "
                "decay, or get more data",
                right=True,
                why="the model memorises the training texts and grows over-confident on new ones.",
            ),
        ],
    ),
    ChoiceQuestion(
        "How was all-MiniLM-L6-v2 trained to make sentence vectors?",
        [
            Option(
                "the pooler over [CLS], trained with next-sentence prediction",
                why="that is BERT's pretraining; MiniLM's pooler weights look untrained (notebook 08).",
            ),
            Option(
                "the mean of its token vectors, trained with a contrastive loss on sentence pairs",
                right=True,
                why="its model card: mean pooling, then normalisation, over a billion pairs.",
            ),
            Option(
                "the [SEP] vector",
                why="no BERT model uses [SEP]'s vector as the sentence vector.",
            ),
        ],
    ),
    ChoiceQuestion(
        "Which peak learning rate did the BERT paper use to fine-tune BERT-base?",
        [
            Option("1e-3", why="myth 12: at 1e-3 the first updates wreck the pretrained weights."),
            Option(
                "2e-5 to 5e-5, with warmup and linear decay",
                right=True,
                why="appendix A.3 of the paper; small models such as MiniLM take a little more.",
            ),
            Option(
                "1e-1", why="that is a rate for plain SGD on small models, not for Adam on BERT."
            ),
        ],
    ),
]
