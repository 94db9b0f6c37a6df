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

import argparse
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from bertlab.data.conll import Sentence, label_list, load_conll2003, read_conll
from bertlab.metrics.entities import entity_scores, get_entities
from bertlab.model import BertModel, BertPreTrainedModel, ModelOutput

HEAD_PARAMETERS = ("classifier",)
"""Name prefixes of the parameters `finetune(head_lr_multiplier=...)` speeds up."""
IGNORE_INDEX = -100
"""Label of positions the loss skips (as in `torch.nn.CrossEntropyLoss`)."""


# --------------------------------------------------------------------------- the model
@dataclass
class TokenClassifierOutput(ModelOutput):
    """Hugging Face's `TokenClassifierOutput`: logits are [batch, seq, num_labels]."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


class BertForTokenClassification(BertPreTrainedModel):
    """BERT + dropout + a linear `classifier` on every token (Hugging Face's names and loss)."""

    def __init__(self, config) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        dropout = config.classifier_dropout
        self.dropout = nn.Dropout(config.hidden_dropout_prob if dropout is None else dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> TokenClassifierOutput:
        """`labels` [batch, seq] holds label ids, -100 where no loss is wanted."""
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
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
@torch.inference_mode()
def predict_tags(
    model: BertForTokenClassification,
    tokenizer,
    sentences: Sequence[Sequence[str]],
    batch_size: int = 64,
    max_length: int = 128,
) -> list[list[str]]:
    """One predicted tag for every word of every (pre-split) sentence."""
    from bertlab.tasks.common import sorted_batches

    features, windows = encode_words(tokenizer, sentences, max_length=max_length)
    id2label = model.config.id2label
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    predicted: list[list[str]] = [["O"] * len(words) for words in sentences]
    for indices, batch in sorted_batches(features, batch_size, tokenizer.pad_token_id):
        batch = {key: value.to(device) for key, value in batch.items()}
        label_ids = model(**batch).logits.argmax(-1).cpu()
        for row, index in enumerate(indices):
            window = windows[index]
            for word, position in zip(window.first_words, window.positions):
                predicted[window.sentence][word] = id2label[int(label_ids[row, position])]
    model.train(was_training)
    return predicted


def evaluate(
    model: BertForTokenClassification,
    tokenizer,
    sentences: Sequence[Sentence],
    batch_size: int = 64,
    max_length: int = 128,
) -> dict:
    """Entity-level micro precision/recall/F1 (seqeval's default mode) and the same per type."""
    predicted = predict_tags(model, tokenizer, [s.words for s in sentences], batch_size, max_length)
    return entity_scores([s.tags for s in sentences], predicted)


WORD = re.compile(r"\w+(?:[-'’.]\w+)*|[^\w\s]")


def split_words(text: str) -> list[tuple[str, int, int]]:
    """Raw text -> (word, start, end) with character offsets: words and single punctuation marks."""
    return [(match.group(), match.start(), match.end()) for match in WORD.finditer(text)]


def predict_entities(
    model: BertForTokenClassification, tokenizer, text: str, max_length: int = 128
) -> list[dict]:
    """Entities found in raw text: `{"type", "text", "start", "end"}` with character offsets."""
    words = split_words(text)
    tags = predict_tags(model, tokenizer, [[word for word, _, _ in words]], max_length=max_length)
    entities = []
    for kind, first, last in get_entities(tags[0]):
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
        color = colors.get(entity["type"], PALETTE[-1])
        parts.append(
            f'<span style="background:{color};padding:1px 4px;border-radius:4px">'
            f"{html.escape(entity['text'])}"
            f'<sup style="font-size:70%;margin-left:3px">{html.escape(entity["type"])}</sup></span>'
        )
        cursor = entity["end"]
    parts.append(html.escape(text[cursor:]))
    return '<div style="line-height:2">' + "".join(parts) + "</div>"


# --------------------------------------------------------------------------- fine-tuning
def finetune(
    model,
    tokenizer,
    train_sentences: Sequence[Sentence],
    *,
    max_seconds: float | None = None,
    max_steps: int | None = None,
    epochs: float | None = 1.0,
    batch_size: int = 32,
    learning_rate: float = 1e-4,
    max_length: int = 128,
    seed: int = 0,
    progress: bool = True,
    eval_fn=None,
    eval_every: int | None = None,
    freeze_word_embeddings: bool = False,
    head_lr_multiplier: float = 1.0,
):
    """Fine-tune `model` on labelled sentences with `bertlab.training.train`; returns its History.

    The speed comes from the batching (`bertlab.tasks.common.BucketedBatches`):
    each batch is padded only to its own longest input, and inputs of similar
    length share a batch, so little time goes into `[PAD]` tokens.
    `freeze_word_embeddings` keeps the token table fixed (`common.freeze_embedding_table`);
    `head_lr_multiplier` scales the learning rate of the `classifier` layer.
    """
    from bertlab.tasks.common import BucketedBatches, freeze_embedding_table
    from bertlab.training import TrainingConfig, train

    if freeze_word_embeddings:
        freeze_embedding_table(model)

    features = encode_sentences(tokenizer, train_sentences, model.config.label2id, max_length)
    batches = BucketedBatches(
        features,
        batch_size,
        pad_token_id=tokenizer.pad_token_id,
        pad_values={"labels": IGNORE_INDEX},
        seed=seed,
    )
    config = TrainingConfig(
        learning_rate=learning_rate,
        max_seconds=max_seconds,
        max_steps=max_steps,
        epochs=epochs,
        seed=seed,
        progress=progress,
        eval_every=eval_every,
        device="cpu" if not torch.cuda.is_available() else None,
        lr_multipliers=dict.fromkeys(HEAD_PARAMETERS, head_lr_multiplier),
    )
    return train(model, batches, config, eval_fn=eval_fn)


def load_model(model_dir: str | Path):
    """(model, tokenizer) from a fine-tuned NER folder written by `bertlab finetune ner`."""
    from bertlab.tasks.common import load_tokenizer, resolve_checkpoint

    folder = resolve_checkpoint(model_dir)
    model = BertForTokenClassification.from_pretrained(str(folder))
    if model.loading_info["missing_keys"]:
        raise ValueError(
            f"{folder}: not a token-classification checkpoint "
            f"(missing {', '.join(model.loading_info['missing_keys'])})"
        )
    return model, load_tokenizer(folder)


# --------------------------------------------------------------------------- command line
def _read_data(path: str | None, split: str, fmt: str) -> list[Sentence]:
    if path is None:
        return load_conll2003(split)
    return read_conll(Path(path), format=fmt)


def add_cli_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """Flags of `bertlab {finetune,evaluate,predict} ner`."""
    fmt_help = "column format of the data files (default: detected)"
    if command == "finetune":
        from bertlab.tasks.common import add_finetune_arguments

        add_finetune_arguments(
            parser,
            max_length=128,
            batch_size=32,
            lr=2e-4,
            max_seconds=150.0,
            dropout=0.0,
            freeze_word_embeddings=True,
        )
        parser.add_argument("--format", default="auto", choices=["auto", "conll2003", "wnut17"])
        return
    parser.add_argument("--model", required=True, help="a folder written by `bertlab finetune ner`")
    parser.add_argument("--max-length", type=int, default=128, help="WordPieces per window")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--format", default="auto", choices=["auto", "conll2003", "wnut17"], help=fmt_help
    )
    if command == "evaluate":
        parser.add_argument(
            "--data", help="CoNLL-2003 or WNUT-17 column file (default: CoNLL-2003 valid)"
        )
    else:
        parser.add_argument("--text", nargs="+", required=True, help="raw text(s) to tag")


def _scores_json(scores: dict) -> dict:
    rounded = {key: round(scores[key], 6) for key in ("precision", "recall", "f1")}
    per_type = {
        kind: {
            key: round(value, 6) if isinstance(value, float) else value for key, value in s.items()
        }
        for kind, s in scores["per_type"].items()
    }
    return {**rounded, "support": scores["support"], "per_type": per_type}


def run_cli(command: str, args: argparse.Namespace) -> dict:
    """Run one `bertlab ... ner` command and return its JSON-able result."""
    if command == "finetune":
        from bertlab.runtime import set_seed
        from bertlab.tasks.common import dropout_overrides, load_for_finetuning, save_finetuned

        set_seed(args.seed)
        train_set = _read_data(args.train, "train", args.format)
        dev_set = _read_data(args.dev, "valid", args.format)
        labels = label_list([*train_set, *dev_set])
        model, tokenizer = load_for_finetuning(
            args.model,
            BertForTokenClassification,
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            **dropout_overrides(args.dropout),
        )
        history = finetune(
            model,
            tokenizer,
            train_set,
            max_seconds=args.max_seconds,
            max_steps=args.max_steps,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            max_length=args.max_length,
            seed=args.seed,
            progress=False,
            freeze_word_embeddings=args.freeze_word_embeddings,
            head_lr_multiplier=args.head_lr_multiplier,
        )
        scores = _scores_json(evaluate(model, tokenizer, dev_set, max_length=args.max_length))
        last = history.records[-1] if history.records else {}
        result = {
            **scores,
            "train_sentences": len(train_set),
            "steps": last.get("step", 0),
            "examples_seen": last.get("examples", 0),
            "train_seconds": round(last.get("seconds", 0.0), 1),
            "out": str(args.out),
        }
        save_finetuned(args.out, model, tokenizer, extra=result)
        return result
    model, tokenizer = load_model(args.model)
    if command == "evaluate":
        data = _read_data(args.data, "valid", args.format)
        return _scores_json(evaluate(model, tokenizer, data, args.batch_size, args.max_length))
    return {
        "predictions": [
            {"text": text, "entities": predict_entities(model, tokenizer, text, args.max_length)}
            for text in args.text
        ]
    }
