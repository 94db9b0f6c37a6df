"""What each task does before and after the network: text -> model inputs, numbers -> answers.

Notebook 14. Every task is the same two steps around `backends.TaskGraph`:

    features, context = steps.prepare(items)     # tokenize: one feature per model row
    rows = <run the graph on the features>        # one dict of NumPy arrays per feature
    results = steps.finish(items, context, rows)  # labels, entities, answers, vectors

A text may become several rows (NER and QA windows over long inputs), so `prepare`
returns a `context` saying which rows belong to which input. The steps reuse the
task modules of notebooks 10-12, so the pipeline answers what `bertlab predict` answers:

    TextClassification   bertlab.tasks.classification   label, score, every label's probability
    TokenClassification  bertlab.tasks.ner              entities with character spans and scores
    QuestionAnswering    bertlab.tasks.qa               answer, score, character span (windows, n-best)
    FillMask             (notebook 09's MLM head)       the top-k tokens for every [MASK]
    SentenceEmbedding    (mean pooling, notebook 10)    one vector per text
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from bertlab.data.squad import SquadExample
from bertlab.metrics.entities import get_entities
from bertlab.model import check_positive
from bertlab.tasks import classification, ner, qa

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in the input's dtype (as `transformers`' pipelines compute it)."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def require_text(item: Any, what: str = "text") -> str:
    """`item` if it is a string with something besides whitespace, else a ValueError."""
    if not isinstance(item, str):
        raise ValueError(f"expected a {what} (a string), got {type(item).__name__}")
    if not item.strip():
        raise ValueError(f"the {what} is empty")
    return item


def _inputs_only(encoded, row: int) -> dict:
    return {name: list(encoded[name][row]) for name in MODEL_INPUTS}


class TaskSteps:
    """The base of every task's steps: its name, its settings, the tokenizer, the label names."""

    task = ""
    per_token_outputs: tuple[str, ...] = ()
    """Graph outputs with one value per token: the pipeline trims them to each row's length."""

    def __init__(self, config, tokenizer, settings) -> None:
        self.config = config
        self.tokenizer = tokenizer
        self.settings = settings

    def check(self, item: Any) -> Any:
        """One input, checked (a clear ValueError otherwise) and in the form `prepare` takes."""
        return require_text(item)

    def prepare(self, items: Sequence) -> tuple[list[dict], Any]:
        raise NotImplementedError

    def finish(self, items: Sequence, context: Any, rows: list[dict]) -> list:
        raise NotImplementedError


class WholeTextSteps(TaskSteps):
    """Steps for a task that reads each text whole: classification's features (notebook 10),
    the text cut at `settings.max_length` pieces."""

    def prepare(self, items):
        return classification.make_features(
            self.tokenizer, items, None, self.settings.max_length
        ), None


# --------------------------------------------------------------------------- classification


class TextClassification(WholeTextSteps):
    """Notebook 10's classifier: the label, its probability and every label's probability."""

    task = "text-classification"

    def finish(self, items, context, rows):
        names = [self.config.id2label[i] for i in range(self.config.num_labels)]
        results = []
        for row in rows:
            logits = row["logits"]
            if len(names) == 1:  # one output: a regression score, no softmax
                results.append({"label": names[0], "score": float(logits[0])})
                continue
            probabilities = softmax(logits)
            best = int(np.argmax(logits))
            results.append(
                {
                    "label": names[best],
                    "score": float(probabilities[best]),
                    "probabilities": {n: float(p) for n, p in zip(names, probabilities)},
                }
            )
        return results


# --------------------------------------------------------------------------- token classification


@dataclass
class TokenClassificationSettings(ner.NerSettings):
    """NER's settings plus how sub-token predictions become word predictions.

    `aggregation="words"` (bertlab's, the default): the text is cut into words as
    `bertlab.tasks.ner.split_words` does ("well-known" and "U.S" stay whole, close to
    CoNLL-2003's tokens) and each word takes the label of its first WordPiece, the piece it
    was trained on (notebook 11); this is what `bertlab predict ner` answers. `aggregation="first"`: `transformers`' rule
    (`aggregation_strategy="first"`): a word is a run of WordPieces joined by "##",
    so BERT's pre-tokenizer splits "U.S." into four words. Both group words into
    entities by the IOB2 tags (seqeval's rule, which `transformers` also applies) and
    score an entity by the mean probability of its words' labels.
    """

    aggregation: str = "words"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.aggregation not in ("words", "first"):
            raise ValueError(f"aggregation must be 'words' or 'first', got {self.aggregation!r}")


@dataclass
class Word:
    """One word's prediction: where it is in the text, its label and that label's probability."""

    start: int
    end: int
    label: str = "O"
    score: float = 0.0


class TokenClassification(TaskSteps):
    """Notebook 11's tagger: entities with their type, text, character span and score."""

    task = "token-classification"
    per_token_outputs = ("logits",)

    def prepare(self, items):
        if self.settings.aggregation == "words":
            return self._prepare_words(items)
        return self._prepare_pieces(items)

    def _prepare_words(self, texts):
        """bertlab's rule: words from `split_words`, windows of whole words (`encode_words`)."""
        words = [ner.split_words(text) for text in texts]
        features, windows = ner.encode_words(
            self.tokenizer,
            [[w for w, _, _ in ws] for ws in words],
            max_length=self.settings.max_length,
        )
        spans = [[Word(start, end) for _, start, end in ws] for ws in words]
        first_pieces = [
            (window.sentence, list(zip(window.first_words, window.positions))) for window in windows
        ]
        return features, (spans, first_pieces)

    def _prepare_pieces(self, texts):
        """`transformers`' rule: a piece starts a word unless it is a "##" continuation."""
        features, first_pieces = [], []
        spans: list[list[Word]] = [[] for _ in texts]
        for index, text in enumerate(texts):
            encoded = self.tokenizer(
                text,
                truncation=True,
                max_length=self.settings.max_length,
                return_overflowing_tokens=True,
                return_offsets_mapping=True,
            )
            for row in range(len(encoded["input_ids"])):  # windows may cut a word: it continues
                features.append(_inputs_only(encoded, row))
                starts = []
                for position, start, end, continues in self._pieces(text, encoded, row):
                    if continues and spans[index]:
                        spans[index][-1].end = end
                    else:
                        starts.append((len(spans[index]), position))
                        spans[index].append(Word(start, end))
                first_pieces.append((index, starts))
        return features, (spans, first_pieces)

    def _pieces(self, text, encoded, row):
        """(position, start, end, continues a word?) for every text piece of a row.

        A piece continues a word when its token is longer than the text it covers (the
        "##" of "##ing"), `transformers`' test; `[UNK]` always starts a word.
        """
        ids = encoded["input_ids"][row]
        tokens = self.tokenizer.convert_ids_to_tokens(ids)
        offsets = encoded["offset_mapping"][row]
        for position, kind in enumerate(encoded.sequence_ids(row)):
            if kind is None:  # [CLS], [SEP]
                continue
            start, end = offsets[position]
            continues = ids[position] != self.tokenizer.unk_token_id and len(
                tokens[position]
            ) != len(text[start:end])
            yield position, start, end, continues

    def finish(self, texts, context, rows):
        spans, first_pieces = context
        id2label = self.config.id2label
        for (index, starts), row in zip(first_pieces, rows):
            probabilities = softmax(row["logits"])
            for word, position in starts:
                best = int(np.argmax(probabilities[position]))
                spans[index][word].label = id2label[best]
                spans[index][word].score = float(probabilities[position, best])
        return [entities_of(text, words) for text, words in zip(texts, spans)]


def entities_of(text: str, words: list[Word]) -> list[dict]:
    """Words -> entities: `{"entity_group", "score", "word", "start", "end"}` (`transformers`' keys).

    `word` is the text's own span (`transformers` rebuilds it from lower-cased pieces).
    """
    entities = []
    for kind, first, last in get_entities([word.label for word in words]):
        start, end = words[first].start, words[last].end
        score = float(np.mean([word.score for word in words[first : last + 1]]))
        entities.append(
            {
                "entity_group": kind,
                "score": score,
                "word": text[start:end],
                "start": start,
                "end": end,
            }
        )
    return entities


# --------------------------------------------------------------------------- question answering


class QuestionAnswering(TaskSteps):
    """Notebook 12's reader: windows with a stride, n-best spans with the max-context rule.

    `score` is the answer's probability among the n-best spans (what `bertlab predict qa`
    calls `probability`); an unanswerable window set gives `{"answer": "", "score": 0.0}`.
    """

    task = "question-answering"
    per_token_outputs = ("start_logits", "end_logits")

    def check(self, item):
        if not isinstance(item, dict):
            raise ValueError(
                f'expected {{"question": ..., "context": ...}}, got {type(item).__name__}'
            )
        unknown = sorted(set(item) - {"question", "context"})
        if unknown:
            raise ValueError(f"unknown key(s) {unknown}: expected question and context")
        return {
            "question": require_text(item.get("question"), "question"),
            "context": require_text(item.get("context"), "context"),
        }

    def prepare(self, items):
        s = self.settings
        examples = [
            SquadExample(str(i), "", item["context"], item["question"], (), ())
            for i, item in enumerate(items)
        ]
        features = qa.prepare_eval_features(
            examples, self.tokenizer, s.max_length, s.doc_stride, s.max_query_length
        )
        return [{k: f[k] for k in MODEL_INPUTS} for f in features], features

    def finish(self, items, features, rows):
        windows: dict[int, list[int]] = {}
        for index, feature in enumerate(features):
            windows.setdefault(feature["example_index"], []).append(index)
        results = []
        for example_index, item in enumerate(items):
            mine = windows[example_index]
            answers = qa.best_spans(
                item["context"],
                [features[i] for i in mine],
                [rows[i]["start_logits"] for i in mine],
                [rows[i]["end_logits"] for i in mine],
                self.settings.n_best,
                self.settings.max_answer_length,
            )
            if not answers:
                results.append({"answer": "", "score": 0.0, "start": None, "end": None})
                continue
            best = answers[0]
            results.append(
                {
                    "answer": best["text"],
                    "score": best["probability"],
                    "start": best["start"],
                    "end": best["end"],
                }
            )
        return results


# --------------------------------------------------------------------------- fill-mask


@dataclass
class FillMaskSettings:
    """How many candidates to return for each `[MASK]`, and where texts are cut."""

    top_k: int = 5
    max_length: int = 512
    eval_batch_size: int = 32

    def __post_init__(self) -> None:
        check_positive(self, *(f.name for f in fields(self)))


class FillMask(TaskSteps):
    """Notebook 09's masked-language-model head: the likeliest tokens for every `[MASK]`.

    The output follows `transformers.pipeline("fill-mask")`: for a text with one mask, a
    list of `{"score", "token", "token_str", "sequence"}`; with several, one such list per mask.
    """

    task = "fill-mask"
    per_token_outputs = ("logits",)

    def check(self, item):
        text = require_text(item)
        if self.tokenizer.mask_token not in text:
            raise ValueError(f"no {self.tokenizer.mask_token} in the text: nothing to fill in")
        return text

    def prepare(self, items):
        encoded = self.tokenizer(list(items), truncation=True, max_length=self.settings.max_length)
        features = [_inputs_only(encoded, row) for row in range(len(items))]
        mask_id = self.tokenizer.mask_token_id
        for index, feature in enumerate(features):
            if mask_id not in feature["input_ids"]:
                raise ValueError(
                    f"text {index}: its {self.tokenizer.mask_token} lies beyond "
                    f"max_length={self.settings.max_length} tokens"
                )
        return features, features

    def finish(self, items, features, rows):
        return [self._fill(row["logits"], f["input_ids"]) for row, f in zip(rows, features)]

    def _fill(self, logits: np.ndarray, input_ids: list[int]):
        ids = np.asarray(input_ids)
        positions = np.flatnonzero(ids == self.tokenizer.mask_token_id)
        single = len(positions) == 1
        per_mask = []
        for position in positions:
            probabilities = softmax(logits[position])
            top = np.argsort(-probabilities, kind="stable")[: self.settings.top_k]
            candidates = []
            for token_id in top.tolist():
                filled = ids.copy()
                filled[position] = token_id
                candidates.append(
                    {
                        "score": float(probabilities[token_id]),
                        "token": token_id,
                        "token_str": self.tokenizer.decode([token_id]),
                        "sequence": self.tokenizer.decode(
                            filled.tolist(), skip_special_tokens=single
                        ),
                    }
                )
            per_mask.append(candidates)
        return per_mask[0] if single else per_mask


# --------------------------------------------------------------------------- sentence embeddings


@dataclass
class SentenceEmbeddingSettings:
    """Where texts are cut (256 WordPieces, as sentence-transformers' all-MiniLM-L6-v2), and
    whether vectors are scaled to length 1 (then a dot product is the cosine similarity)."""

    max_length: int = 256
    eval_batch_size: int = 64
    normalize: bool = False

    def __post_init__(self) -> None:
        check_positive(self, "max_length", "eval_batch_size")


class SentenceEmbedding(WholeTextSteps):
    """A bare encoder's sentence vectors: the mean of its token vectors, padding excluded."""

    task = "sentence-embedding"

    def finish(self, items, context, rows):
        vectors = [row["sentence_embedding"] for row in rows]
        if self.settings.normalize:
            vectors = [v / max(float(np.linalg.norm(v)), 1e-12) for v in vectors]
        return vectors


# --------------------------------------------------------------------------- which steps for which model

STEPS: dict[str, tuple[type[TaskSteps], type]] = {
    "BertForSequenceClassification": (TextClassification, classification.ClassificationSettings),
    "BertForTokenClassification": (TokenClassification, TokenClassificationSettings),
    "BertForQuestionAnswering": (QuestionAnswering, qa.QASettings),
    "BertForMaskedLM": (FillMask, FillMaskSettings),
    "BertForPreTraining": (FillMask, FillMaskSettings),
    "BertModel": (SentenceEmbedding, SentenceEmbeddingSettings),
}
"""The architecture named in config.json -> its steps and their settings class."""
TASK_NAMES = {steps.task: architecture for architecture, (steps, _) in STEPS.items()}
