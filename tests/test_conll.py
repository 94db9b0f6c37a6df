"""The CoNLL-2003 and WNUT-17 readers (bertlab.data.conll): formats, IOB1 -> IOB2, bad lines."""

from __future__ import annotations

import pytest

from bertlab.data.conll import (
    detect_format,
    iob1_to_iob2,
    label_list,
    load_conll2003,
    load_wnut17,
    read_conll,
)
from bertlab.hub import SAMPLES_DIR, SampleDataWarning
from bertlab.metrics.entities import get_entities


def write(tmp_path, text, name="file.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_conll2003_columns_and_skips_docstart(tmp_path):
    path = write(
        tmp_path,
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n"
        "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n\n\n-DOCSTART- -X- -X- O\n"
        "BRUSSELS NNP B-NP B-LOC\n",
    )
    sentences = read_conll(path)
    assert [s.words for s in sentences] == [["EU", "rejects"], ["Peter", "Blackburn"], ["BRUSSELS"]]
    assert [s.tags for s in sentences] == [["B-ORG", "O"], ["B-PER", "I-PER"], ["B-LOC"]]
    assert detect_format(path) == "conll2003"


def test_reads_wnut17_tab_columns(tmp_path):
    path = write(tmp_path, "Empire\tB-location\nState\tI-location\n=\tO\n\n@paul\tO\n")
    sentences = read_conll(path)
    assert detect_format(path) == "wnut17"
    assert sentences[0].tags == ["B-location", "I-location", "O"]
    assert sentences[1].words == ["@paul"]


def test_iob1_is_converted_to_iob2(tmp_path):
    # Original CoNLL-2003 style: I- everywhere, B- only where two entities of a type touch.
    iob1 = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG", "I-MISC", "I-MISC"]
    iob2 = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "B-ORG", "B-MISC", "I-MISC"]
    assert iob1_to_iob2(iob1) == iob2
    assert iob1_to_iob2(iob2) == iob2
    # the conversion keeps the entities conlleval reads
    assert get_entities(iob1) == get_entities(iob2)
    text = "".join(f"w{i} NN B-NP {tag}\n" for i, tag in enumerate(iob1))
    assert read_conll(write(tmp_path, text)).pop().tags == iob2
    assert read_conll(write(tmp_path, text), to_iob2=False).pop().tags == iob1


@pytest.mark.parametrize(
    ("text", "fmt", "line", "message"),
    [
        ("EU NNP B-NP B-ORG\nrejects VBZ O\n", "conll2003", 2, "expected 4"),
        ("EU NNP B-NP B-ORG\n\nA B C D E\n", "auto", 3, "expected 4"),
        ("Empire\tB-location\nState I-location\n", "wnut17", 2, "expected 2"),
        ("EU NNP B-NP B-ORG\nrejects VBZ B-VP X-ORG\n", "auto", 2, "not IOB"),
        ("Empire\tB-location\nState\tlocation\n", "auto", 2, "not IOB"),
        ("Empire\tB-\n", "wnut17", 1, "not IOB"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, text, fmt, line, message):
    path = write(tmp_path, text, "bad.conll")
    with pytest.raises(ValueError, match=message) as error:
        read_conll(path, format=fmt)
    assert f"bad.conll:{line}:" in str(error.value)


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="format must be one of"):
        read_conll(write(tmp_path, "a\tO\n"), format="csv")
    with pytest.raises(ValueError, match="bad.txt:2: cannot tell the format"):
        detect_format(write(tmp_path, "\nEU B-ORG\n", "bad.txt"))


def test_samples_are_in_the_real_formats():
    conll = read_conll(SAMPLES_DIR / "conll2003_sample.txt")
    wnut = read_conll(SAMPLES_DIR / "wnut17_sample.conll")
    assert detect_format(SAMPLES_DIR / "conll2003_sample.txt") == "conll2003"
    assert detect_format(SAMPLES_DIR / "wnut17_sample.conll") == "wnut17"
    assert len(conll) >= 20 and len(wnut) >= 20
    assert label_list(conll) == [
        "O",
        "B-LOC",
        "I-LOC",
        "B-MISC",
        "I-MISC",
        "B-ORG",
        "I-ORG",
        "B-PER",
        "I-PER",
    ]
    assert {tag[2:] for s in wnut for tag in s.tags if tag != "O"} == {
        "corporation",
        "creative-work",
        "group",
        "location",
        "person",
        "product",
    }


def test_sample_fallback_warns(monkeypatch):
    monkeypatch.delenv("BERTLAB_DATA", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.warns(SampleDataWarning):
        sentences = load_wnut17("train")
    assert len(sentences) == 20


def test_real_files_read_completely(real_data):
    train = load_conll2003("train")
    valid = load_conll2003("valid")
    assert (len(train), len(valid)) == (14041, 3250)
    assert len(load_wnut17("train")) == 3394
    assert len(load_wnut17("dev")) == 1009
    assert len(load_wnut17("test", real_data / "wnut17" / "emerging.test.annotated")) == 1287
    assert label_list(train) == [
        "O",
        "B-LOC",
        "I-LOC",
        "B-MISC",
        "I-MISC",
        "B-ORG",
        "I-ORG",
        "B-PER",
        "I-PER",
    ]
