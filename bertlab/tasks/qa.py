"""Extractive question answering (SQuAD v1.1): notebook 12 builds each step.

Question and context go into ONE sequence, `[CLS] question [SEP] context-window [SEP]`;
the model scores every token as a possible answer start and a possible answer end,
and the answer is the best-scoring valid span inside the context. Long contexts are
read in overlapping windows. The defaults follow Google's `run_squad.py`: max length
384, 128 tokens shared by consecutive windows (`stride`, Hugging Face's meaning), max
query length 64, n-best 20, max answer length 30.

- `BertForQuestionAnswering`: the encoder + `qa_outputs` (hidden -> 2), Hugging Face names;
- `prepare_train_features` / `prepare_eval_features`: windows, answer character span ->
  token start/end (windows without the answer point at `[CLS]`), offsets kept for decoding;
- `best_spans`: n-best span search over all windows of a question with the max-context rule;
- `QASettings`: every window and decoding knob in one object;
- `predict_answers`, `evaluate`, and the task protocol at the end: what the one fine-tuning
  recipe and the `bertlab finetune|evaluate|predict qa` commands need (`bertlab.finetune`).
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, fields
from functools import partial

import numpy as np
import torch
from torch import nn

from bertlab.batching import sorted_batches
from bertlab.data.squad import SquadExample, gold_answers, load_qa_data
from bertlab.metrics.squad import squad_scores
from bertlab.model import BertModel, BertModelOutput, BertWithHead, ModelOutput, check_positive
from bertlab.tasks import cli_defaults

HEAD_PARAMETERS = ("qa_outputs",)
"""Name prefixes of the head's parameters (`finetune(head_lr_multiplier=...)` speeds them up)."""
MAX_LENGTH = 384
DOC_STRIDE = 128
MAX_QUERY_LENGTH = 64
N_BEST = 20
MAX_ANSWER_LENGTH = 30
MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask")


# --------------------------------------------------------------------------- the model
@dataclass
class QuestionAnsweringOutput(ModelOutput):
    """Start and end scores for every token (Hugging Face's `QuestionAnsweringModelOutput`)."""

    loss: torch.Tensor | None = None
    start_logits: torch.Tensor | None = None
    end_logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class BertForQuestionAnswering(BertWithHead):
    """BERT + one linear layer giving every token a start score and an end score."""

    def __init__(self, config) -> None:
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.qa_outputs = nn.Linear(config.hidden_size, 2)
        self.post_init()

    def head_output(
        self,
        encoded: BertModelOutput,
        start_positions: torch.Tensor | None = None,
        end_positions: torch.Tensor | None = None,
    ) -> QuestionAnsweringOutput:
        """Logits [batch, seq] each; with positions, the mean of the start and end cross-entropies.

        Positions outside the sequence are clamped to `seq` and ignored, as in Hugging Face.
        """
        start_logits, end_logits = self.qa_outputs(encoded.last_hidden_state).unbind(dim=-1)
        loss = None
        if start_positions is not None and end_positions is not None:
            ignored = start_logits.size(1)
            loss_fn = nn.CrossEntropyLoss(ignore_index=ignored)
            start_loss = loss_fn(start_logits, start_positions.view(-1).clamp(0, ignored))
            end_loss = loss_fn(end_logits, end_positions.view(-1).clamp(0, ignored))
            loss = (start_loss + end_loss) / 2
        return QuestionAnsweringOutput(
            loss=loss,
            start_logits=start_logits.contiguous(),
            end_logits=end_logits.contiguous(),
            hidden_states=encoded.hidden_states,
            attentions=encoded.attentions,
        )


# --------------------------------------------------------------------------- features
def truncate_question(question: str, tokenizer, max_query_length: int = MAX_QUERY_LENGTH) -> str:
    """The question cut after its first `max_query_length` WordPieces (run_squad.py's rule)."""
    encoded = tokenizer(question, return_offsets_mapping=True)
    offsets = encoded["offset_mapping"][1:-1]  # drop [CLS] and [SEP]
    if len(offsets) <= max_query_length:
        return question
    return question[: offsets[max_query_length - 1][1]]


def encode_windows(
    question: str,
    context: str,
    tokenizer,
    max_length: int = MAX_LENGTH,
    doc_stride: int = DOC_STRIDE,
    max_query_length: int = MAX_QUERY_LENGTH,
) -> list[dict]:
    """`[CLS] question [SEP] context-window [SEP]` for every window over the context.

    Each window dict has the model inputs, `offsets` (character span of each token in
    the context, None for question and special tokens) and `context_tokens` (first and
    last position of the context inside the window). Consecutive windows share
    `doc_stride` context tokens.
    """
    question = truncate_question(question.strip(), tokenizer, max_query_length)
    encoded = tokenizer(
        question,
        context,
        truncation="only_second",
        max_length=max_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    windows = []
    for w in range(len(encoded["input_ids"])):
        sequence_ids = encoded.sequence_ids(w)
        in_context = [i for i, s in enumerate(sequence_ids) if s == 1]
        if not in_context:
            raise ValueError(f"max_length={max_length} leaves no room for the context")
        offsets = [
            tuple(span) if sequence_ids[i] == 1 else None
            for i, span in enumerate(encoded["offset_mapping"][w])
        ]
        window = {key: list(encoded[key][w]) for key in MODEL_INPUTS}
        window["offsets"] = offsets
        window["context_tokens"] = (in_context[0], in_context[-1])
        windows.append(window)
    return windows


def answer_token_span(window: dict, answer_start: int, answer_text: str) -> tuple[int, int]:
    """Token positions of the answer inside one window, or (0, 0) (`[CLS]`) if it is not all in."""
    first, last = window["context_tokens"]
    offsets = window["offsets"]
    answer_end = answer_start + len(answer_text)
    if not (offsets[first][0] <= answer_start and answer_end <= offsets[last][1]):
        return 0, 0
    start = first
    while start < last and offsets[start][1] <= answer_start:
        start += 1
    end = last
    while end > start and offsets[end][0] >= answer_end:
        end -= 1
    return start, end


def max_context_flags(windows: list[dict], doc_stride: int) -> list[list[bool]]:
    """For each window and position: is this window the token's "max context" one?

    A context token seen in several windows is scored in each by
    `min(tokens to its left, tokens to its right) + 0.01 * window length` (run_squad.py's
    `_check_is_max_context`); only the best window may start an answer on it.
    """
    spans = []  # (first context index in the whole document, number of context tokens)
    document_start = 0
    for window in windows:
        first, last = window["context_tokens"]
        spans.append((document_start, last - first + 1))
        document_start += last - first + 1 - doc_stride
    flags = []
    for w, window in enumerate(windows):
        first, last = window["context_tokens"]
        row = [False] * len(window["input_ids"])
        for position in range(first, last + 1):
            token = spans[w][0] + position - first
            best_window, best_score = None, None
            for v, (start, length) in enumerate(spans):
                if start <= token < start + length:
                    score = min(token - start, start + length - 1 - token) + 0.01 * length
                    if best_score is None or score > best_score:
                        best_window, best_score = v, score
            row[position] = best_window == w
        flags.append(row)
    return flags


def prepare_features(
    examples: list[SquadExample],
    tokenizer,
    max_length: int = MAX_LENGTH,
    doc_stride: int = DOC_STRIDE,
    max_query_length: int = MAX_QUERY_LENGTH,
    *,
    for_training: bool = False,
) -> list[dict]:
    """One feature per window over each example's context (`encode_windows`).

    For training (`prepare_train_features`): the model inputs and the first gold answer's
    token span as `start_positions`/`end_positions`, as in run_squad.py. For decoding
    (`prepare_eval_features`): the window with its example's index and its max-context flags.
    """
    features = []
    for index, example in enumerate(examples):
        windows = encode_windows(
            example.question, example.context, tokenizer, max_length, doc_stride, max_query_length
        )
        if for_training:
            features += [_with_answer_span(window, example) for window in windows]
            continue
        for window, flags in zip(windows, max_context_flags(windows, doc_stride)):
            window["example_index"] = index
            window["max_context"] = flags
            features.append(window)
    return features


def _with_answer_span(window: dict, example: SquadExample) -> dict:
    start, end = answer_token_span(window, example.answer_starts[0], example.answers[0])
    feature = {key: window[key] for key in MODEL_INPUTS}
    feature["start_positions"], feature["end_positions"] = start, end
    return feature


prepare_train_features = partial(prepare_features, for_training=True)
prepare_eval_features = partial(prepare_features, for_training=False)


# --------------------------------------------------------------------------- decoding
def best_spans(
    context: str,
    features: list[dict],
    start_logits: list[np.ndarray],
    end_logits: list[np.ndarray],
    n_best: int = N_BEST,
    max_answer_length: int = MAX_ANSWER_LENGTH,
) -> list[dict]:
    """The n-best answers of one question over all its windows, best first.

    Candidates pair the `n_best` highest start scores with the `n_best` highest end
    scores of each window; a pair is kept when both tokens are in the context, the
    start token has its max context in this window, end >= start and the span has
    at most `max_answer_length` tokens. Score = start logit + end logit; the text is
    cut from the context through the offsets; duplicates keep their best score;
    `probability` is the softmax of the scores over the n-best list; `window` is the
    index (in `features`) of the window the answer was read from.
    """
    candidates = []
    for window, (feature, starts, ends) in enumerate(zip(features, start_logits, end_logits)):
        offsets, max_context = feature["offsets"], feature["max_context"]
        top_starts = np.argsort(starts)[::-1][:n_best]
        top_ends = np.argsort(ends)[::-1][:n_best]
        for s in top_starts:
            if s >= len(offsets) or offsets[s] is None or not max_context[s]:
                continue
            for e in top_ends:
                if e >= len(offsets) or offsets[e] is None or e < s:
                    continue
                if e - s + 1 > max_answer_length:
                    continue
                score = float(starts[s] + ends[e])
                candidates.append((score, offsets[s][0], offsets[e][1], window))
    candidates.sort(key=lambda candidate: -candidate[0])
    answers, seen = [], set()
    for score, start_char, end_char, window in candidates:
        text = context[start_char:end_char]
        if text in seen:
            continue
        seen.add(text)
        answers.append(
            {"text": text, "score": score, "start": start_char, "end": end_char, "window": window}
        )
        if len(answers) == n_best:
            break
    if answers:
        scores = np.array([answer["score"] for answer in answers])
        probabilities = np.exp(scores - scores.max())
        probabilities /= probabilities.sum()
        for answer, probability in zip(answers, probabilities):
            answer["probability"] = float(probability)
    return answers


@torch.inference_mode()
def run_model(
    model, features: list[dict], batch_size: int = 64, pad_token_id: int = 0, progress=False
):
    """Start and end logits of every feature (trimmed to its length), batched by length."""
    model.eval()
    device = next(model.parameters()).device
    inputs = [{key: feature[key] for key in MODEL_INPUTS} for feature in features]
    start_logits: list = [None] * len(features)
    end_logits: list = [None] * len(features)
    for indices, batch in sorted_batches(inputs, batch_size, pad_token_id, progress=progress):
        output = model(**{key: value.to(device) for key, value in batch.items()})
        starts = output.start_logits.float().cpu().numpy()
        ends = output.end_logits.float().cpu().numpy()
        for row, index in enumerate(indices):
            length = len(features[index]["input_ids"])
            start_logits[index], end_logits[index] = starts[row, :length], ends[row, :length]
    return start_logits, end_logits


@dataclass
class QASettings:
    """Windows and decoding for question answering, in one place (the CLI flags of the same names).

    Defaults are Google's `run_squad.py`: windows of 384 tokens sharing 128 (`doc_stride`,
    Hugging Face's meaning), questions cut at 64 tokens, the 20 best start and end
    tokens searched (`n_best`) for spans of at most 30 tokens. Training windows may be
    shorter (`train_max_length`, `train_doc_stride`): they train faster on a CPU.
    """

    max_length: int = MAX_LENGTH
    doc_stride: int = DOC_STRIDE
    max_query_length: int = MAX_QUERY_LENGTH
    n_best: int = N_BEST
    max_answer_length: int = MAX_ANSWER_LENGTH
    eval_batch_size: int = 64
    train_max_length: int = 256
    train_doc_stride: int = 96

    def __post_init__(self) -> None:
        check_positive(self, *(f.name for f in fields(self)))
        for length, stride in (
            ("max_length", "doc_stride"),
            ("train_max_length", "train_doc_stride"),
        ):
            if getattr(self, stride) >= getattr(self, length):
                raise ValueError(
                    f"{stride}={getattr(self, stride)} must be smaller than "
                    f"{length}={getattr(self, length)}: the windows would never move on"
                )


def predict_answers(
    model,
    tokenizer,
    examples: list[SquadExample],
    settings: QASettings | None = None,
    progress: bool | str = False,
) -> dict[str, list[dict]]:
    """Question id -> n-best answers (dicts with text, score, probability, start, end)."""
    s = settings or QASettings()
    features = prepare_eval_features(
        examples, tokenizer, s.max_length, s.doc_stride, s.max_query_length
    )
    start_logits, end_logits = run_model(
        model, features, s.eval_batch_size, tokenizer.pad_token_id, progress
    )
    by_example: dict[int, list[int]] = {}
    for index, feature in enumerate(features):
        by_example.setdefault(feature["example_index"], []).append(index)
    predictions = {}
    for example_index, indices in by_example.items():
        example = examples[example_index]
        predictions[example.id] = best_spans(
            example.context,
            [features[i] for i in indices],
            [start_logits[i] for i in indices],
            [end_logits[i] for i in indices],
            s.n_best,
            s.max_answer_length,
        )
    return predictions


def evaluate(model, tokenizer, examples: list[SquadExample], settings=None, progress=False) -> dict:
    """SQuAD v1.1 exact match and F1 (percent, as the official script) of the best answers."""
    start = time.perf_counter()
    nbest = predict_answers(model, tokenizer, examples, settings, progress)
    best = {qid: answers[0]["text"] if answers else "" for qid, answers in nbest.items()}
    scores = squad_scores(best, gold_answers(examples))
    scores["questions"] = len(examples)
    scores["eval_seconds"] = round(time.perf_counter() - start, 1)
    return scores


evaluate_qa = evaluate
"""The name notebook 12 first used for `evaluate`."""


def answer_question(
    model, tokenizer, question: str, context: str, settings: QASettings | None = None
) -> list[dict]:
    """The n-best answers to one question about one paragraph."""
    example = SquadExample("question", "", context, question, (), ())
    return predict_answers(model, tokenizer, [example], settings)["question"]


def answer_html(context: str, answers: list[dict], runners_up: int = 4) -> str:
    """The paragraph as HTML with the best answer highlighted, its score and the runner-up spans.

    Notebook 12's widget shows this.
    """
    if not answers:
        return f"<p>{html.escape(context)}</p><p><i>no valid span found</i></p>"
    best = answers[0]
    marked = (
        html.escape(context[: best["start"]])
        + '<mark style="background:#ffd54f">'
        + html.escape(context[best["start"] : best["end"]])
        + "</mark>"
        + html.escape(context[best["end"] :])
    )
    rows = "".join(
        f"<tr><td>{i + 2}</td><td>{html.escape(a['text'])}</td>"
        f"<td>{a['probability']:.3f}</td><td>{a['score']:.2f}</td></tr>"
        for i, a in enumerate(answers[1 : 1 + runners_up])
    )
    return (
        f"<p style='line-height:1.6'>{marked}</p>"
        f"<p><b>answer:</b> {html.escape(best['text'])} &nbsp; <b>probability</b> "
        f"{best['probability']:.3f} (n-best softmax) &nbsp; <b>score</b> {best['score']:.2f}"
        " (start + end logit)</p>"
        "<table><tr><th>rank</th><th>runner-up span</th><th>probability</th><th>score</th></tr>"
        f"{rows}</table>"
    )


# --------------------------------------------------------------------------- the task protocol
# What `bertlab.finetune` (the one recipe and its command line) needs from every task.

NAME = "qa"
MODEL_CLASS = BertForQuestionAnswering
Settings = QASettings
PAD_VALUES: dict[str, int] = {}
DATASETS = ("squad",)
DATA_OPTIONS = (
    "question_column",
    "context_column",
    "answer_column",
    "answer_start_column",
    "id_column",
)
CLI_DEFAULTS = cli_defaults(
    max_length=MAX_LENGTH, batch_size=16, lr=2e-4, max_seconds=300.0, epochs=2.0
)
"""Defaults measured to learn the most per CPU second with MiniLM (README, notebook 12)."""
load_data = load_qa_data
PREDICT_INPUT = "question+context"
"""Each input to `predict` is a dict with a "question" and a "context"."""


def label_names(train, dev) -> None:
    """QA has no label set: the answer is a span of the context."""
    return None


def training_features(tokenizer, examples: list[SquadExample], settings: QASettings, label2id=None):
    """Training windows (`train_max_length`, `train_doc_stride`) with the answer's token span."""
    return prepare_train_features(
        examples,
        tokenizer,
        settings.train_max_length,
        settings.train_doc_stride,
        settings.max_query_length,
    )


def predict(model, tokenizer, inputs: list[dict], settings=None, progress=False) -> list[dict]:
    """For each {"question", "context"}: the best answer, its probability and the runners-up."""
    examples = [
        SquadExample(str(i), "", item["context"], item["question"], (), ())
        for i, item in enumerate(inputs)
    ]
    nbest = predict_answers(model, tokenizer, examples, settings, progress)
    results = []
    for example in examples:
        answers = nbest.get(example.id, [])
        best = (
            answers[0] if answers else {"text": "", "probability": 0.0, "start": None, "end": None}
        )
        results.append(
            {
                "question": example.question,
                "answer": best["text"],
                "probability": round(best["probability"], 6),
                "start": best["start"],
                "end": best["end"],
                "runners_up": [
                    {"text": a["text"], "probability": round(a["probability"], 6)}
                    for a in answers[1:4]
                ],
            }
        )
    return results


def scores(report: dict) -> tuple[dict[str, float], dict]:
    """SQuAD exact match and F1, already in percent as the official script reports them."""
    headline = {"exact_match": report["exact_match"], "f1": report["f1"]}
    details = {key: report[key] for key in report if key not in headline}
    return headline, details
