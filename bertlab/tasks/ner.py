"""Named-entity recognition as token classification: one label for every word.

Notebook 11 builds this step by step. The recipe (BERT paper, section 4.3):

1. Split each sentence into words (the data already is) and let the tokenizer
   cut every word into WordPieces (`is_split_into_words=True`; `word_ids()`
   says which word each piece came from).
2. The first piece of each word carries the word's label; the other pieces,
   `[CLS]`, `[SEP]` and padding get -100, which the loss ignores.
3. A linear layer (`classifier`) on top of every final hidden state predicts a
   label per piece; a word's prediction is the one at its first piece.

Sentences longer than the model's maximum length are split into windows of
whole words, so every word gets a prediction and nothing is silently cut.
`[CLS]` plays no part in NER: it is for sequence-level tasks (notebook 10).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from bertlab.batching import sorted_batches
from bertlab.data.conll import Sentence, label_list, load_ner_data
from bertlab.metrics import as_percent
from bertlab.metrics.entities import entity_scores, get_entities
from bertlab.model import (
    BertModelOutput,
    BertWithClassifier,
    LogitsOutput,
    check_positive,
)
from bertlab.tasks import cli_defaults

HEAD_PARAMETERS = ("classifier",)
"""Name prefixes of the head's parameters (`finetune(head_lr_multiplier=...)` speeds them up)."""
IGNORE_INDEX = -100
"""Label of positions the loss skips (as in `torch.nn.CrossEntropyLoss`)."""


# --------------------------------------------------------------------------- the model
@dataclass
class TokenClassifierOutput(LogitsOutput):
    """Hugging Face's `TokenClassifierOutput`: logits are [batch, seq, num_labels]."""


class BertForTokenClassification(BertWithClassifier):
    """BERT + dropout + a linear `classifier` on every token (Hugging Face's names and loss)."""

    def __init__(self, config) -> None:
        super().__init__(config, add_pooling_layer=False)

    def head_output(
        self, outputs: BertModelOutput, labels: torch.Tensor | None = None
    ) -> TokenClassifierOutput:
        """`labels` [batch, seq] holds label ids, -100 where no loss is wanted."""
        logits = self.classifier(self.dropout(outputs.last_hidden_state))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits.view(-1, self.num_labels), labels.view(-1), ignore_index=IGNORE_INDEX
            )
        return TokenClassifierOutput(loss, logits, outputs.hidden_states, outputs.attentions)


# --------------------------------------------------------------------------- words <-> pieces
@dataclass
class Window:
    """Where one model input came from: a run of whole words of one sentence.

    `first_words[k]` is the index (in the sentence) of the word whose first
    piece sits at position `positions[k]` of the input.
    """

    sentence: int
    first_words: list[int]
    positions: list[int]


def _pieces_per_word(tokenizer, sentences: Sequence[Sequence[str]]) -> list[list[list[int]]]:
    """For every sentence, the WordPiece ids of each word (via `word_ids()`)."""
    result = []
    for words in sentences:
        if not words:
            result.append([])
            continue
        encoding = tokenizer(list(words), is_split_into_words=True)
        pieces: list[list[int]] = [[] for _ in words]
        for token_id, word in zip(encoding["input_ids"], encoding.word_ids(0)):
            if word is not None:
                pieces[word].append(token_id)
        result.append(pieces)
    return result


def encode_words(
    tokenizer,
    sentences: Sequence[Sequence[str]],
    tags: Sequence[Sequence[str]] | None = None,
    label2id: dict[str, int] | None = None,
    max_length: int = 128,
) -> tuple[list[dict], list[Window]]:
    """Model inputs (and labels on first pieces) for pre-split sentences, plus their windows.

    A sentence whose pieces do not fit `max_length` (with `[CLS]` and `[SEP]`) is
    split into several windows of whole words; a single word longer than a window
    keeps only the pieces that fit (its first piece, which carries its label, stays).
    """
    if max_length < 3:
        raise ValueError(
            f"max_length must leave room for [CLS], a piece and [SEP], got {max_length}"
        )
    if tags is not None and label2id is None:
        raise ValueError("tags given without label2id")
    budget = max_length - 2
    features, windows = [], []
    for index, pieces in enumerate(_pieces_per_word(tokenizer, sentences)):
        start = 0
        while start < len(pieces) or (start == 0 and not pieces):
            ids, labels, first_words, positions = [tokenizer.cls_token_id], [IGNORE_INDEX], [], []
            word = start
            while word < len(pieces) and (
                word == start or len(ids) - 1 + len(pieces[word]) <= budget
            ):
                word_pieces = pieces[word][:budget] or [tokenizer.unk_token_id]
                first_words.append(word)
                positions.append(len(ids))
                if tags is not None:
                    tag = tags[index][word]
                    if tag not in label2id:
                        raise ValueError(f"sentence {index}, word {word}: unknown tag {tag!r}")
                    labels += [label2id[tag]] + [IGNORE_INDEX] * (len(word_pieces) - 1)
                ids += word_pieces
                word += 1
            ids.append(tokenizer.sep_token_id)
            feature = {
                "input_ids": ids,
                "token_type_ids": [0] * len(ids),
                "attention_mask": [1] * len(ids),
            }
            if tags is not None:
                feature["labels"] = labels + [IGNORE_INDEX]
            features.append(feature)
            windows.append(Window(index, first_words, positions))
            start = word if pieces else 1
    return features, windows


def encode_sentences(
    tokenizer, sentences: Sequence[Sentence], label2id: dict[str, int], max_length: int = 128
) -> list[dict]:
    """Training features for labelled sentences (labels on first pieces, -100 elsewhere)."""
    features, _ = encode_words(
        tokenizer, [s.words for s in sentences], [s.tags for s in sentences], label2id, max_length
    )
    return features


# --------------------------------------------------------------------------- prediction
@dataclass
class NerSettings:
    """How sentences are cut and batched (the `--max-length`, `--eval-batch-size` flags).

    Sentences longer than `max_length` pieces are split into windows of whole words
    that do not overlap, so a word at a window's edge sees context on one side only.
    """

    max_length: int = 128
    eval_batch_size: int = 64

    def __post_init__(self) -> None:
        check_positive(self, "max_length", "eval_batch_size")


@torch.inference_mode()
def predict_tags(
    model: BertForTokenClassification,
    tokenizer,
    sentences: Sequence[Sequence[str]],
    settings: NerSettings | None = None,
    progress: bool | str = False,
) -> list[list[str]]:
    """One predicted tag for every word of every (pre-split) sentence."""
    settings = settings or NerSettings()
    features, windows = encode_words(tokenizer, sentences, max_length=settings.max_length)
    id2label = model.config.id2label
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    predicted: list[list[str]] = [["O"] * len(words) for words in sentences]
    batches = sorted_batches(
        features, settings.eval_batch_size, tokenizer.pad_token_id, progress=progress
    )
    for indices, batch in batches:
        batch = {key: value.to(device) for key, value in batch.items()}
        label_ids = model(**batch).logits.argmax(-1).cpu()
        for row, index in enumerate(indices):
            window = windows[index]
            for word, position in zip(window.first_words, window.positions):
                predicted[window.sentence][word] = id2label[int(label_ids[row, position])]
    model.train(was_training)
    return predicted


def evaluate(
    model, tokenizer, sentences: Sequence[Sentence], settings=None, progress=False
) -> dict:
    """Entity-level micro precision/recall/F1 (seqeval's default mode) and the same per type (0-1)."""
    unknown = sorted({t for s in sentences for t in s.tags} - set(model.config.label2id))
    if unknown:
        raise ValueError(
            f"{getattr(sentences, 'source', '') or 'the data'}: tags {unknown} are not among the "
            f"model's labels {list(model.config.label2id)}"
        )
    predicted = predict_tags(model, tokenizer, [s.words for s in sentences], settings, progress)
    return entity_scores([s.tags for s in sentences], predicted)


WORD = re.compile(r"\w+(?:[-'’.]\w+)*|[^\w\s]")


def split_words(text: str) -> list[tuple[str, int, int]]:
    """Raw text -> (word, start, end) with character offsets: words and single punctuation marks."""
    return [(match.group(), match.start(), match.end()) for match in WORD.finditer(text)]


def predict_entities(
    model: BertForTokenClassification, tokenizer, text: str, settings: NerSettings | None = None
) -> list[dict]:
    """Entities found in raw text: `{"type", "text", "start", "end"}` with character offsets."""
    return predict(model, tokenizer, [text], settings)[0]["entities"]


def entities_in_text(text: str, words: list[tuple[str, int, int]], tags: list[str]) -> list[dict]:
    """Entities from one tag per word, with the character span each covers in `text`."""
    entities = []
    for kind, first, last in get_entities(tags):
        start, end = words[first][1], words[last][2]
        entities.append({"type": kind, "text": text[start:end], "start": start, "end": end})
    return entities


PALETTE = ["#8dd3c7", "#fdb462", "#bebada", "#fb8072", "#80b1d3", "#b3de69", "#fccde5", "#d9d9d9"]


def entity_colors(types: Sequence[str]) -> dict[str, str]:
    """A fixed colour per entity type (in the order given)."""
    return {kind: PALETTE[i % len(PALETTE)] for i, kind in enumerate(types)}


def entities_html(text: str, entities: Sequence[dict], colors: dict[str, str] | None = None) -> str:
    """The text as HTML with each entity in a coloured span labelled with its type."""
    colors = colors or entity_colors(sorted({e["type"] for e in entities}))
    parts, cursor = [], 0
    for entity in sorted(entities, key=lambda e: e["start"]):
        parts.append(html.escape(text[cursor : entity["start"]]))
        color = html.escape(colors.get(entity["type"], PALETTE[-1]), quote=True)
        parts.append(
            f'<span style="background:{color};padding:1px 4px;border-radius:4px">'
            f"{html.escape(entity['text'])}"
            f'<sup style="font-size:70%;margin-left:3px">{html.escape(entity["type"])}</sup></span>'
        )
        cursor = entity["end"]
    parts.append(html.escape(text[cursor:]))
    return '<div style="line-height:2">' + "".join(parts) + "</div>"


# --------------------------------------------------------------------------- the task protocol
# What `bertlab.finetune` (the one recipe and its command line) needs from every task.

NAME = "ner"
MODEL_CLASS = BertForTokenClassification
Settings = NerSettings
PAD_VALUES = {"labels": IGNORE_INDEX}
DATASETS = ("conll2003", "wnut17")
DATA_OPTIONS = ("dataset", "format", "tokens_column", "tags_column", "label_names")
CLI_DEFAULTS = cli_defaults(
    max_length=128, batch_size=32, lr=2e-4, max_seconds=150.0, epochs=1.0, head_lr_multiplier=1.0
)
"""Defaults measured to learn the most per CPU second with MiniLM (README, notebook 11)."""
load_data = load_ner_data
PREDICT_INPUT = "text"
"""Each input to `predict` is one raw text (split into words by `split_words`)."""


def label_names(train: Sequence[Sentence], dev: Sequence[Sentence] | None) -> list[str]:
    """The head's labels: every tag seen in the training (and dev) sentences, "O" first."""
    return label_list([*train, *(dev or [])])


def training_features(
    tokenizer, sentences: Sequence[Sentence], settings: NerSettings, label2id: dict[str, int]
) -> list[dict]:
    """Pieces of every sentence with labels on first pieces (-100 elsewhere), windows for long ones."""
    return encode_sentences(tokenizer, sentences, label2id, settings.max_length)


def predict(model, tokenizer, texts: Sequence[str], settings=None, progress=False) -> list[dict]:
    """For each raw text: its entities with types and character offsets."""
    settings = settings or NerSettings()
    words = [split_words(text) for text in texts]
    tags = predict_tags(
        model, tokenizer, [[w for w, _, _ in ws] for ws in words], settings, progress
    )
    return [
        {"text": text, "entities": entities_in_text(text, text_words, text_tags)}
        for text, text_words, text_tags in zip(texts, words, tags)
    ]


def scores(report: dict) -> tuple[dict[str, float], dict]:
    """Entity precision, recall and F1 in percent (micro, seqeval's default), and per type."""
    report = as_percent(report)
    headline = {key: report[key] for key in ("precision", "recall", "f1")}
    details = {key: report[key] for key in report if key not in headline}
    return headline, details
