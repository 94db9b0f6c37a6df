"""Question-answering data: SQuAD v1.1's official JSON, validated, and your own questions.

Notebook 12 uses it. The official file is `{"version": ..., "data": [article, ...]}`
with `article = {"title", "paragraphs": [{"context", "qas": [{"id", "question",
"answers": [{"text", "answer_start"}, ...]}]}]}`. `answer_start` is a character
offset into `context`; the reader checks that every one of them points at its
answer text, and names the JSON key path and the question id when one does not.

Your own data: JSON lines, or a CSV/TSV with a header, with the columns `question`,
`context` and `answer` (a string, or a list of strings), optionally `answer_start`
(an int, or a list of ints; when absent, the answer's first occurrence in the
context) and `id`; or a Hugging Face dataset (`hf:NAME[:CONFIG]`) such as SQuAD's own
layout, whose `answers` column holds `{"text": [...], "answer_start": [...]}`.

Every question needs a non-empty question, a non-empty context and at least one
answer that occurs in the context; anything else raises `DataError` (a
`SquadFormatError` for the official JSON) naming the file and the line or key.

Where SQuAD itself comes from (`load_squad`): `bertlab.hub.lookup_dataset`, that is
an explicit path, else `BERTLAB_DATA/squad_v1.1/{train,dev}.json`, else the Hugging
Face Hub dataset `rajpurkar/squad` (with internet), else the small sample
`data/squad_sample.json`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bertlab.data.common import DataError, canonical_json, read_text
from bertlab.data.tables import Row, Table, cell, load_split, read_table_file, table_from_hf
from bertlab.files import parse_json
from bertlab.hub import hub_download, lookup_dataset

SPLITS = ("train", "dev")
HUB_REPO = "rajpurkar/squad"
HUB_FILES = {
    "train": "plain_text/train-00000-of-00001.parquet",
    "dev": "plain_text/validation-00000-of-00001.parquet",
}
QUESTION_COLUMNS = ("question",)
CONTEXT_COLUMNS = ("context",)
ANSWER_COLUMNS = ("answer", "answers")
ANSWER_START_COLUMNS = ("answer_start",)
ID_COLUMNS = ("id",)


@dataclass(frozen=True)
class SquadExample:
    """One question about one paragraph, with its gold answers (text and character start)."""

    id: str
    title: str
    context: str
    question: str
    answers: tuple[str, ...]
    answer_starts: tuple[int, ...]


class QADataset(list):
    """A list of `SquadExample`s that remembers where it came from (`source`). A slice is a plain list."""

    def __init__(self, examples: Iterable[SquadExample] = (), source: str = ""):
        super().__init__(examples)
        self.source = source

    def fingerprint(self) -> str:
        """sha256 of the examples (ids, texts, answers, starts) as canonical JSON."""
        return hashlib.sha256(canonical_json(list(self))).hexdigest()


class SquadFormatError(DataError):
    """A SQuAD file that does not follow the official layout; the message names file and key."""


def _get(node: dict, key: str, where: str, source: str, kind: type):
    if not isinstance(node, dict):
        raise SquadFormatError(f"{source}: {where} should be an object, got {type(node).__name__}")
    if key not in node:
        raise SquadFormatError(f"{source}: {where}: missing key {key!r}")
    value = node[key]
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise SquadFormatError(
            f"{source}: {where}.{key} should be {kind.__name__}, got {type(value).__name__}"
        )
    return value


def _check_answer(context: str, text: str, start: int, where: str, error=DataError) -> None:
    """An answer must be non-empty text, and `answer_start` must point at it."""
    if not text.strip():
        raise error(f"{where}: empty answer text")
    found = context[start : start + len(text)] if start >= 0 else ""
    if found != text:
        raise error(
            f"{where}: answer_start {start} points at {found!r}, not at the answer text {text!r}"
        )


def _parse_question(qa: dict, q_where: str, context: str, title: str, source: str) -> SquadExample:
    question_id = _get(qa, "id", q_where, source, str)
    question = _get(qa, "question", q_where, source, str)
    where = f"{source}: {q_where} (question id {question_id})"
    if not question.strip():
        raise SquadFormatError(f"{where}: empty question")
    answers = _get(qa, "answers", q_where, source, list)
    if not answers:
        raise SquadFormatError(
            f"{where}: no answers (SQuAD v2's unanswerable questions are not supported)"
        )
    texts, starts = [], []
    for n, answer in enumerate(answers):
        a_where = f"{q_where}.answers[{n}]"
        text = _get(answer, "text", a_where, source, str)
        start = _get(answer, "answer_start", a_where, source, int)
        a_where = f"{source}: {a_where} (question id {question_id})"
        _check_answer(context, text, start, a_where, SquadFormatError)
        texts.append(text)
        starts.append(start)
    return SquadExample(question_id, title, context, question, tuple(texts), tuple(starts))


def parse_squad(document: dict, source: str = "<squad>") -> QADataset:
    """Turn an official SQuAD v1.1 document (already decoded JSON) into validated examples."""
    examples = QADataset(source=source)
    seen_ids = set()
    articles = _get(document, "data", "top level", source, list)
    for a, article in enumerate(articles):
        where = f"data[{a}]"
        title = article.get("title", "") if isinstance(article, dict) else ""
        for p, paragraph in enumerate(_get(article, "paragraphs", where, source, list)):
            p_where = f"{where}.paragraphs[{p}]"
            context = _get(paragraph, "context", p_where, source, str)
            if not context.strip():
                raise SquadFormatError(f"{source}: {p_where}.context is empty")
            for q, qa in enumerate(_get(paragraph, "qas", p_where, source, list)):
                example = _parse_question(qa, f"{p_where}.qas[{q}]", context, title, source)
                if example.id in seen_ids:
                    raise SquadFormatError(f"{source}: question id {example.id!r} appears twice")
                seen_ids.add(example.id)
                examples.append(example)
    if not examples:
        raise SquadFormatError(f"{source}: no questions in the file")
    return examples


def read_squad(path: str | os.PathLike) -> QADataset:
    """Read and validate one SQuAD v1.1 JSON file."""
    path = Path(path)
    document = parse_json(read_text(path), str(path), SquadFormatError)
    return parse_squad(document, str(path))


# --------------------------------------------------------------------------- your own data
def _texts_and_starts(row: Row, answer, start) -> tuple[list, list | None]:
    """Answers as given: a string or a list of strings, or SQuAD's {"text", "answer_start"}."""
    if isinstance(answer, dict) and "text" in answer:
        answer, start = answer["text"], answer.get("answer_start", start)
    texts = [answer] if isinstance(answer, str) else answer
    if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
        raise DataError(f"{row.where}: the answer should be a string or a list of strings")
    if start is None or start == "":
        return texts, None
    starts = start if isinstance(start, list) else [start]
    starts = [int(s) if isinstance(s, str) and s.strip().isdecimal() else s for s in starts]
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in starts):
        raise DataError(f"{row.where}: answer_start should be an integer or a list of integers")
    if len(starts) != len(texts):
        raise DataError(f"{row.where}: {len(texts)} answers but {len(starts)} answer_start values")
    return texts, starts


def _row_example(row: Row, columns: dict[str, str | None], default_id: str) -> SquadExample:
    question = cell(row, columns["question"])
    context = cell(row, columns["context"])
    for what, value in (("question", question), ("context", context)):
        if not isinstance(value, str):
            raise DataError(f"{row.where}: the {what} should be text, found {type(value).__name__}")
        if not value.strip():
            raise DataError(f"{row.where}: empty {what}")
    start = row.record.get(columns["answer_start"]) if columns["answer_start"] else None
    texts, starts = _texts_and_starts(row, cell(row, columns["answer"]), start)
    if not texts:
        raise DataError(f"{row.where}: no answer")
    given = starts is not None
    starts = starts if given else [context.find(text) for text in texts]  # first occurrences
    for text, start in zip(texts, starts):
        if not given and start < 0:
            raise DataError(f"{row.where}: the answer {text!r} does not occur in the context")
        _check_answer(context, text, start, row.where)
    example_id = row.record.get(columns["id"]) if columns["id"] else None
    example_id = str(example_id) if example_id not in (None, "") else default_id
    title = row.record.get("title") or ""
    return SquadExample(example_id, str(title), context, question, tuple(texts), tuple(starts))


def from_table(
    table: Table,
    question_column: str | None = None,
    context_column: str | None = None,
    answer_column: str | None = None,
    answer_start_column: str | None = None,
    id_column: str | None = None,
) -> QADataset:
    """Questions from rows with question, context and answer columns (answer_start, id optional)."""
    columns = {
        "question": table.column(
            question_column, QUESTION_COLUMNS, "question_column (--question-column)"
        ),
        "context": table.column(
            context_column, CONTEXT_COLUMNS, "context_column (--context-column)"
        ),
        "answer": table.column(answer_column, ANSWER_COLUMNS, "answer_column (--answer-column)"),
        "answer_start": table.optional_column(answer_start_column, ANSWER_START_COLUMNS),
        "id": table.optional_column(id_column, ID_COLUMNS),
    }
    examples = QADataset(source=table.source)
    seen: dict[str, str] = {}
    for index, row in enumerate(table.rows):
        example = _row_example(row, columns, f"line-{row.line}" if row.line else f"row-{index}")
        if example.id in seen:
            raise DataError(f"{row.where}: id {example.id!r} again (first at {seen[example.id]})")
        seen[example.id] = row.where
        examples.append(example)
    return examples


def from_hf_dataset(dataset, *, source: str = "a datasets.Dataset", **columns) -> QADataset:
    """A `datasets.Dataset` in memory as questions; `columns` as for `load_qa_data`."""
    return from_table(table_from_hf(dataset, source), **columns)


def read_qa_file(path: str | os.PathLike, **columns) -> QADataset:
    """A `.json` file in SQuAD's official layout, or your own `.jsonl`/`.csv`/`.tsv`."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix == ".json":
        if any(value is not None for value in columns.values()):
            raise ValueError(
                f"{path}: column names apply to .jsonl/.csv/.tsv files, not SQuAD JSON"
            )
        return read_squad(path)
    return from_table(read_table_file(path), **columns)


# --------------------------------------------------------------------------- SQuAD itself
def _examples_from_hub(split: str) -> QADataset:
    """The Hub's `rajpurkar/squad` split (parquet: needs pyarrow), validated like a file."""
    parquet = hub_download(HUB_REPO, HUB_FILES[split], repo_type="dataset")
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise ImportError(f"reading {parquet} needs pyarrow (pip install pyarrow)") from error
    paragraphs: dict[tuple[str, str], list] = {}
    for row in pq.read_table(parquet).to_pylist():
        answers = [
            {"text": t, "answer_start": s}
            for t, s in zip(row["answers"]["text"], row["answers"]["answer_start"])
        ]
        qa = {"id": row["id"], "question": row["question"], "answers": answers}
        paragraphs.setdefault((row["title"], row["context"]), []).append(qa)
    articles: dict[str, list] = {}
    for (title, context), qas in paragraphs.items():
        articles.setdefault(title, []).append({"context": context, "qas": qas})
    document = {"data": [{"title": t, "paragraphs": ps} for t, ps in articles.items()]}
    return parse_squad(document, f"hub:{HUB_REPO}/{HUB_FILES[split]}")


def load_squad(split: str = "dev", path: str | os.PathLike | None = None) -> QADataset:
    """SQuAD v1.1 examples: explicit `path`, else BERTLAB_DATA, else the Hub, else the sample.

    Under BERTLAB_DATA, `squad_v1.1/train.json` and `dev.json` are the official
    dev set split by article (see data/README.md): scores on them are not
    comparable with published SQuAD dev numbers.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    examples, source = lookup_dataset(
        f"squad {split}",
        f"squad_v1.1/{split}.json",
        read_squad,
        path=path,
        from_hub=lambda: _examples_from_hub(split),
        hub_name=f"{HUB_REPO} {split}",
        sample="squad_sample.json",
    )
    examples.source = source
    return examples


def load_qa_data(split: str, path: str | None = None, **columns: str | None) -> QADataset:
    """One split of QA data: SQuAD v1.1, a file, or a Hugging Face dataset.

    - `path=None`: SQuAD v1.1 through the lookup rule;
    - `path="hf:NAME[:CONFIG]"`: `datasets.load_dataset(NAME, CONFIG)`, train or validation;
    - any other path: `read_qa_file` (SQuAD `.json`, or `.jsonl`/`.csv`/`.tsv` with named columns).

    `columns` name the columns of your own data, as `from_table` takes them: `question_column`,
    `context_column`, `answer_column`, `answer_start_column`, `id_column`.
    """
    return load_split(
        split,
        path,
        columns,
        benchmark=lambda: load_squad(split),
        from_table=partial(from_table, **columns),
        read_file=partial(read_qa_file, **columns),
    )


def gold_answers(examples: list[SquadExample]) -> dict[str, list[str]]:
    """Question id -> gold answer texts, the form `bertlab.metrics.squad.squad_scores` takes."""
    return {example.id: list(example.answers) for example in examples}
