"""SQuAD v1.1 reader: the official JSON layout, validated (notebook 12).

The official file is `{"version": ..., "data": [article, ...]}` with
`article = {"title", "paragraphs": [{"context", "qas": [{"id", "question",
"answers": [{"text", "answer_start"}, ...]}]}]}`. `answer_start` is a
character offset into `context`; the reader checks that every one of them
points at its answer text and names the question id when one does not.

Where the file comes from (`load_squad`): an explicit path, else
`BERTLAB_DATA/squad_v1.1/{train,dev}.json`, else the Hugging Face Hub dataset
`rajpurkar/squad` (with internet), else the small sample `data/squad_sample.json`.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from bertlab.hub import find_dataset_file, hub_download, sample_file

SPLITS = ("train", "dev")
HUB_REPO = "rajpurkar/squad"
HUB_FILES = {
    "train": "plain_text/train-00000-of-00001.parquet",
    "dev": "plain_text/validation-00000-of-00001.parquet",
}


@dataclass(frozen=True)
class SquadExample:
    """One question about one paragraph, with its gold answers (text and character start)."""

    id: str
    title: str
    context: str
    question: str
    answers: tuple[str, ...]
    answer_starts: tuple[int, ...]


class SquadFormatError(ValueError):
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


def parse_squad(document: dict, source: str = "<squad>") -> list[SquadExample]:
    """Turn an official SQuAD v1.1 document (already decoded JSON) into validated examples."""
    examples = []
    seen_ids = set()
    articles = _get(document, "data", "top level", source, list)
    for a, article in enumerate(articles):
        where = f"data[{a}]"
        title = article.get("title", "") if isinstance(article, dict) else ""
        for p, paragraph in enumerate(_get(article, "paragraphs", where, source, list)):
            p_where = f"{where}.paragraphs[{p}]"
            context = _get(paragraph, "context", p_where, source, str)
            for q, qa in enumerate(_get(paragraph, "qas", p_where, source, list)):
                q_where = f"{p_where}.qas[{q}]"
                question_id = _get(qa, "id", q_where, source, str)
                question = _get(qa, "question", q_where, source, str)
                if question_id in seen_ids:
                    raise SquadFormatError(f"{source}: question id {question_id!r} appears twice")
                seen_ids.add(question_id)
                texts, starts = [], []
                for n, answer in enumerate(_get(qa, "answers", q_where, source, list)):
                    a_where = f"{q_where}.answers[{n}] (question id {question_id})"
                    text = _get(answer, "text", a_where, source, str)
                    start = _get(answer, "answer_start", a_where, source, int)
                    found = context[start : start + len(text)] if start >= 0 else ""
                    if found != text:
                        raise SquadFormatError(
                            f"{source}: question id {question_id}: answer_start {start} points at "
                            f"{found!r}, not at the answer text {text!r}"
                        )
                    texts.append(text)
                    starts.append(start)
                examples.append(
                    SquadExample(question_id, title, context, question, tuple(texts), tuple(starts))
                )
    return examples


def read_squad(path: str | os.PathLike) -> list[SquadExample]:
    """Read and validate one SQuAD v1.1 JSON file."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise SquadFormatError(
            f"{path}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    return parse_squad(document, str(path))


def _examples_from_hub(split: str) -> list[SquadExample]:
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


def load_squad(split: str = "dev", path: str | os.PathLike | None = None) -> list[SquadExample]:
    """SQuAD v1.1 examples: explicit `path`, else BERTLAB_DATA, else the Hub, else the sample.

    Under BERTLAB_DATA, `squad_v1.1/train.json` and `dev.json` are the official
    dev set split by article (see data/README.md): scores on them are not
    comparable with published SQuAD dev numbers.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    found = find_dataset_file(f"squad_v1.1/{split}.json", path)
    if found is not None:
        return read_squad(found)
    try:
        return _examples_from_hub(split)
    except (ConnectionError, ImportError) as error:
        warnings.warn(f"SQuAD from the Hub unavailable ({error})", stacklevel=2)
    return read_squad(sample_file("squad_sample.json"))


def gold_answers(examples: list[SquadExample]) -> dict[str, list[str]]:
    """Question id -> gold answer texts, the form `bertlab.metrics.squad.squad_scores` takes."""
    return {example.id: list(example.answers) for example in examples}
