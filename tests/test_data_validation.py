"""Readers that validate (issue 13): every kind of bad input is ONE `DataError` line that names
the file and the line (or the JSON key path), for every reader that can meet it."""

from __future__ import annotations

import json

import pytest

from bertlab.data import DataError
from bertlab.data.classification import load_ag_news, load_classification_data
from bertlab.data.conll import load_ner_data
from bertlab.data.corpus import read_documents
from bertlab.data.squad import SquadFormatError, load_qa_data


def classification(path):
    return load_classification_data("train", str(path))


def classification_with_names(path):
    return load_classification_data("dev", str(path), label_names=["neg", "pos"])


def ner(path):
    return load_ner_data("train", str(path))


def ner_with_names(path):
    return load_ner_data("dev", str(path), label_names=["O", "B-PER", "I-PER"])


def qa(path):
    return load_qa_data("train", str(path))


def squad_document(context="Ada wrote the first program.", question="Who?", answers=None):
    answers = [{"text": "Ada", "answer_start": 0}] if answers is None else answers
    qa_item = {"id": "q-7", "question": question, "answers": answers}
    paragraph = {"context": context, "qas": [qa_item]}
    return json.dumps({"data": [{"title": "T", "paragraphs": [paragraph]}]}, indent=1)


# The first byte that is not UTF-8 sits on line 3, column 5 (0xe9: "é" in Latin-1).
LATIN1_LINE3 = "é".encode("latin-1")
NOT_UTF8 = [
    ("sst2.tsv", b"sentence\tlabel\ngood\t1\nbad " + LATIN1_LINE3 + b"\t0\n", classification),
    ("news.csv", b'"1","a","b"\n"2","c","d"\n"3,"' + LATIN1_LINE3 + b'","e"\n', classification),
    ("own.csv", b"text,label\ngood,pos\nbad " + LATIN1_LINE3 + b",neg\n", classification),
    ("own.jsonl", b'{"text": "a", "label": 1}\n\n{"t' + LATIN1_LINE3 + b'": 1}\n', classification),
    ("conll.txt", b"EU NNP B-NP B-ORG\n\nThe " + LATIN1_LINE3 + b" DT B-NP O\n", ner),
    ("wnut.conll", b"a\tO\nb\tO\nc" + b"\xff\xfe" + b"\tO\n", ner),
    ("ner.jsonl", b'{"tokens": ["a"], "tags": ["O"]}\n\n{"t' + LATIN1_LINE3 + b'": 1}\n', ner),
    ("squad.json", b'{"data": [\n{"title": "x",\n"t' + LATIN1_LINE3 + b'": 1}]}\n', qa),
    ("qa.csv", b"question,context,answer\nq,c c,c\nq " + LATIN1_LINE3 + b",c,c\n", qa),
]


@pytest.mark.parametrize(("name", "content", "load"), NOT_UTF8, ids=[c[0] for c in NOT_UTF8])
def test_not_utf8_names_file_line_and_byte(tmp_path, name, content, load):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError, match=rf"{name}:3: not UTF-8 text \(byte 0x.. at column \d+\)"):
        load(path)


def test_not_utf8_column_is_exact(tmp_path):
    path = tmp_path / "own.csv"
    path.write_bytes(b"text,label\ngood,pos\nbad " + LATIN1_LINE3 + b",neg\n")
    with pytest.raises(DataError, match=r"own\.csv:3: not UTF-8 text \(byte 0xe9 at column 5\)"):
        classification(path)


def test_corpus_not_utf8(tmp_path):
    path = tmp_path / "book.txt"
    path.write_bytes(b"Once upon a time.\n\nThere was " + LATIN1_LINE3 + b".\n")
    with pytest.raises(DataError, match=r"book\.txt:3: not UTF-8"):
        read_documents(path)


EMPTY = [
    ("sst2.tsv", classification),
    ("news.csv", classification),
    ("own.jsonl", classification),
    ("conll.txt", ner),
    ("ner.jsonl", ner),
    ("squad.json", qa),
    ("qa.tsv", qa),
]


@pytest.mark.parametrize("content", ["", "\n  \n"], ids=["no bytes", "blank lines"])
@pytest.mark.parametrize(("name", "load"), EMPTY, ids=[c[0] for c in EMPTY])
def test_empty_files(tmp_path, name, load, content):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match=rf"{name}: the file is empty"):
        load(path)


HEADER_ONLY = [
    ("sst2.tsv", "sentence\tlabel\n\n", classification),
    ("own.csv", "text,label\n", classification),
    ("ner.tsv", "tokens\ttags\n", ner),
    ("qa.csv", "question,context,answer\n", qa),
]


@pytest.mark.parametrize(("name", "content", "load"), HEADER_ONLY, ids=[c[0] for c in HEADER_ONLY])
def test_header_only_files(tmp_path, name, content, load):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match=rf"{name}: only a header line, no rows"):
        load(path)


WRONG_COLUMNS = [
    ("sst2.tsv", "sentence\tlabel\ngood\t1\nbad\t0\textra\n", r"sst2\.tsv:3: expected 2 tab"),
    ("news.csv", '"1","a","b"\n"2","c"\n', r"news\.csv:2: expected 3 columns"),
    ("own.csv", "text,label\ngood,pos\n\nbad,neg,extra\n", r"own\.csv:4: expected 2 comma"),
    ("own.tsv", "text\tlabel\ngood\tpos\nbad\n", r"own\.tsv:3: expected 2 tab"),
]


@pytest.mark.parametrize(
    ("name", "content", "message"), WRONG_COLUMNS, ids=[c[0] for c in WRONG_COLUMNS]
)
def test_rows_with_the_wrong_number_of_columns(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        classification(path)


def test_column_files_with_the_wrong_number_of_columns(tmp_path):
    path = tmp_path / "bad.conll"
    path.write_text("EU NNP B-NP B-ORG\nrejects VBZ O\n")
    with pytest.raises(DataError, match=r"bad\.conll:2: expected 4 space-separated"):
        ner(path)


LABELS = [
    ("own.csv", "text,label\ngood,pos\nbad,\n", classification, r"own\.csv:3: missing label"),
    (
        "own.jsonl",
        '{"text": "a", "label": "pos"}\n{"text": "b"}\n',
        classification,
        r"own\.jsonl:2: missing 'label'",
    ),
    (
        "own.jsonl",
        '{"text": "a", "label": null}\n',
        classification,
        r"own\.jsonl:1: the label should be a name or an integer id, found nothing",
    ),
    (
        "own.csv",
        "text,label\ngood,pos\nbad,meh\n",
        classification_with_names,
        r"own\.csv:3: unknown label 'meh' \(expected one of \['neg', 'pos'\]\)",
    ),
    (
        "own.csv",
        "text,label\ngood,1\nbad,2\n",
        classification_with_names,
        r"own\.csv:3: unknown label '2'",
    ),
    (
        "own.jsonl",
        '{"text": "a", "label": -1}\n',
        classification,
        r"own\.jsonl:1: label -1 is not a class id",
    ),
    (
        "own.csv",
        "text,label\ngood,1\nbad,neg\n",
        classification,
        r"own\.csv:3: label 'neg' is a name, but .*own\.csv:2 has the class id '1'",
    ),
    ("own.csv", "text,label\ngood,pos\n ,neg\n", classification, r"own\.csv:3: empty text"),
    (
        "own.csv",
        "words,label\ngood,pos\n",
        classification,
        r"own\.csv: no column 'text' \(columns: words, label\); name yours with text_column",
    ),
    (
        "ner.jsonl",
        '{"tokens": ["Ada"], "tags": ["B-PER"]}\n{"tokens": ["x"], "tags": ["B-LOC"]}\n',
        ner_with_names,
        r"ner\.jsonl:2: unknown tag 'B-LOC'",
    ),
    (
        "ner.jsonl",
        '{"tokens": ["Ada", "x"], "tags": ["B-PER"]}\n',
        ner,
        r"ner\.jsonl:1: 2 tokens but 1 tags",
    ),
    (
        "ner.jsonl",
        '{"tokens": ["Ada"], "tags": [3]}\n',
        ner,
        r"ner\.jsonl:1: tag 3 is an id: pass label_names",
    ),
    (
        "ner.jsonl",
        '{"tokens": ["Ada"], "tags": ["PER"]}\n',
        ner,
        r"ner\.jsonl:1: tag 'PER' is not IOB",
    ),
    ("bad.conll", "Ada\tB-PER\n\nx\tB-LOC\n", ner_with_names, r"bad\.conll:3: unknown tag 'B-LOC'"),
]


@pytest.mark.parametrize(("name", "content", "load", "message"), LABELS)
def test_unknown_or_missing_labels(tmp_path, name, content, load, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        load(path)


def test_empty_dev_set(tmp_path):
    path = tmp_path / "news.csv"  # two rows a class: 20% of 2 rounds to no dev row at all
    path.write_text("".join(f'"{c}","t","d"\n' for c in (1, 1, 2, 2)))
    with pytest.raises(DataError, match=r"news\.csv.*: the dev split is empty \(4 rows in all\)"):
        load_ag_news("dev", path)


QA_ROWS = [
    (
        squad_document(answers=[]),
        "squad.json",
        r"qas\[0\] \(question id q-7\): no answers \(SQuAD v2's unanswerable",
    ),
    (squad_document(context="  "), "squad.json", r"data\[0\]\.paragraphs\[0\]\.context is empty"),
    (squad_document(question=""), "squad.json", r"qas\[0\] \(question id q-7\): empty question"),
    (
        squad_document(answers=[{"text": "Ada", "answer_start": 3}]),
        "squad.json",
        r"answers\[0\] \(question id q-7\): answer_start 3 points at ' wr', not at the answer text",
    ),
    (
        squad_document(answers=[{"text": "", "answer_start": 0}]),
        "squad.json",
        r"answers\[0\] \(question id q-7\): empty answer text",
    ),
    (
        '{"question": "Who?", "context": "Ada wrote.", "answer": []}\n',
        "qa.jsonl",
        r"qa\.jsonl:1: no answer",
    ),
    (
        '{"question": "Who?", "context": "", "answer": "Ada"}\n',
        "qa.jsonl",
        r"qa\.jsonl:1: empty context",
    ),
    ("question,context,answer\n,Ada wrote.,Ada\n", "qa.csv", r"qa\.csv:2: empty question"),
    (
        "question,context,answer\nWho?,Ada wrote.,Bob\n",
        "qa.csv",
        r"qa\.csv:2: the answer 'Bob' does not occur in the context",
    ),
    (
        "question,context,answer,answer_start\nWho?,Ada wrote.,Ada,4\n",
        "qa.csv",
        r"qa\.csv:2: answer_start 4 points at 'wro', not at the answer text 'Ada'",
    ),
    (
        '{"question": "Who?", "context": "Ada wrote.", "answer": ["Ada", "Ada w"], '
        '"answer_start": [0]}\n',
        "qa.jsonl",
        r"qa\.jsonl:1: 2 answers but 1 answer_start values",
    ),
    (
        '{"id": "a", "question": "Who?", "context": "Ada.", "answer": "Ada"}\n'
        '{"id": "a", "question": "What?", "context": "Ada.", "answer": "Ada"}\n',
        "qa.jsonl",
        r"qa\.jsonl:2: id 'a' again \(first at .*qa\.jsonl:1\)",
    ),
]


@pytest.mark.parametrize(("content", "name", "message"), QA_ROWS)
def test_questions_without_answers_empty_texts_and_misplaced_starts(
    tmp_path, content, name, message
):
    path = tmp_path / name
    path.write_text(content)
    error = SquadFormatError if name.endswith(".json") else DataError
    with pytest.raises(error, match=message) as caught:
        qa(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)  # one line


def test_unknown_suffix_and_split(tmp_path):
    path = tmp_path / "data.xml"
    path.write_text("<x/>")
    with pytest.raises(DataError, match=r"data\.xml: expected a \.tsv, \.csv or \.jsonl"):
        classification(path)
    with pytest.raises(ValueError, match="split must be 'train' or 'dev', got 'test'"):
        load_qa_data("test")
    with pytest.raises(FileNotFoundError, match="nope.jsonl: no such file"):
        ner(tmp_path / "nope.jsonl")
