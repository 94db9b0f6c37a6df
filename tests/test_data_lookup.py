"""The one dataset lookup rule (bertlab.hub.lookup_dataset) and the five loaders that use it.

explicit path -> BERTLAB_DATA/<relative> -> the Hugging Face Hub -> the sample in data/,
with one policy: a missing explicit path or BERTLAB_DATA folder is an error, never a
fallback; a Hub that is offline or fails falls through to the sample with ONE warning
that says why; an error while reading a file that was found is never a fallback.
"""

from __future__ import annotations

import warnings

import pytest

from bertlab import hub
from bertlab.data import DataError
from bertlab.data.classification import load_ag_news, load_sst2
from bertlab.data.conll import load_conll2003, load_wnut17
from bertlab.data.corpus import load_corpus
from bertlab.data.squad import load_squad
from bertlab.hub import SampleDataWarning, lookup_dataset

LOADERS = {
    "sst2": lambda: load_sst2("dev"),
    "ag_news": lambda: load_ag_news("dev"),
    "conll2003": lambda: load_conll2003("valid"),
    "wnut17": lambda: load_wnut17("dev"),
    "squad": lambda: load_squad("dev"),
    "corpus": lambda: load_corpus(),
}


def read_words(path):
    return path.read_text(encoding="utf-8").split()


@pytest.fixture
def offline_without_data(monkeypatch):
    monkeypatch.delenv("BERTLAB_DATA", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def caught_warnings(function):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = function()
    return result, [w for w in caught if issubclass(w.category, SampleDataWarning)], caught


def test_explicit_path_first_and_its_absence_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTLAB_DATA", str(tmp_path))
    (tmp_path / "words.txt").write_text("from BERTLAB_DATA")
    mine = tmp_path / "mine.txt"
    mine.write_text("from the path")
    data, source = lookup_dataset("words", "words.txt", read_words, path=mine, sample="x")
    assert data == ["from", "the", "path"] and source == str(mine)
    with pytest.raises(FileNotFoundError, match="nope.txt: no such file"):
        lookup_dataset("words", "words.txt", read_words, path=tmp_path / "nope.txt", sample="x")


def test_bertlab_data_second_and_a_missing_folder_is_an_error(tmp_path, monkeypatch):
    (tmp_path / "words.txt").write_text("from BERTLAB_DATA")
    monkeypatch.setenv("BERTLAB_DATA", str(tmp_path))
    data, source = lookup_dataset("words train", "words.txt", read_words)
    assert data == ["from", "BERTLAB_DATA"]
    assert source == f"words train via BERTLAB_DATA ({tmp_path / 'words.txt'})"
    monkeypatch.setenv("BERTLAB_DATA", str(tmp_path / "typo"))
    with pytest.raises(FileNotFoundError, match="BERTLAB_DATA=.*typo.* is not a folder"):
        lookup_dataset("words", "words.txt", read_words, sample="sst2_sample.tsv")


def test_hub_third_when_online(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTLAB_DATA", str(tmp_path))  # a folder without the file
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    data, source = lookup_dataset(
        "words", "words.txt", read_words, from_hub=lambda: ["hub"], hub_name="me/words"
    )
    assert data == ["hub"] and source == "words from the Hugging Face Hub (me/words)"


@pytest.mark.parametrize(
    ("offline", "failure", "reason"),
    [
        ("1", None, "BERTLAB_DATA is not set and HF_HUB_OFFLINE is set"),
        ("0", ConnectionError("no route to host"), "the Hub failed (no route to host)"),
        ("0", ImportError("needs pyarrow"), "the Hub failed (needs pyarrow)"),
    ],
)
def test_sample_last_with_one_warning_that_says_why(monkeypatch, offline, failure, reason):
    monkeypatch.delenv("BERTLAB_DATA", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", offline)

    def from_hub():
        raise failure

    (data, source), samples, everything = caught_warnings(
        lambda: lookup_dataset(
            "sst2 dev", "sst2/dev.tsv", read_words, from_hub=from_hub, sample="sst2_sample.tsv"
        )
    )
    assert data[:2] == ["sentence", "label"]
    assert source == "sst2 dev: the small sample data/sst2_sample.tsv"
    assert len(samples) == 1 and len(everything) == 1  # one warning, no other
    assert reason in str(samples[0].message)
    assert samples[0].filename == __file__  # it points at the caller's line, not at bertlab


def test_sample_warning_names_the_missing_file_under_bertlab_data(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTLAB_DATA", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _, samples, _ = caught_warnings(
        lambda: lookup_dataset("sst2 dev", "sst2/dev.tsv", read_words, sample="sst2_sample.tsv")
    )
    assert "BERTLAB_DATA has no sst2/dev.tsv" in str(samples[0].message)


def test_no_sample_left_is_a_clear_error(offline_without_data):
    with pytest.raises(FileNotFoundError, match="words: no dataset found"):
        lookup_dataset("words", "words.txt", read_words)
    with pytest.raises(FileNotFoundError, match="set BERTLAB_DATA"):
        hub.sample_file("no_such_sample.txt")


def test_a_bad_file_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    (tmp_path / "sst2").mkdir()
    (tmp_path / "sst2" / "dev.tsv").write_text("sentence\tlabel\nfine\t7\n")
    monkeypatch.setenv("BERTLAB_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"dev\.tsv:2: unknown label '7'"):
        load_sst2("dev")


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_every_loader_falls_back_to_its_sample_with_one_warning(offline_without_data, name):
    data, samples, _ = caught_warnings(LOADERS[name])
    assert len(data) > 0
    assert len(samples) == 1, [str(w.message) for w in samples]
    assert "HF_HUB_OFFLINE is set" in str(samples[0].message)
    if name != "corpus":
        assert "the small sample data/" in data.source


def test_every_loader_reads_bertlab_data(tmp_path, monkeypatch):
    """The five loaders find their file under BERTLAB_DATA by the same relative names."""
    files = {
        "sst2/dev.tsv": "sentence\tlabel\nmine\t1\n",
        "ag_news/test.csv": "".join(f'"{1 + i % 4}","t{i}","d"\n' for i in range(20)),
        "conll2003/valid.txt": "Mine NNP B-NP B-PER\n",
        "wnut17/emerging.dev.conll": "mine\tB-person\n",
        "squad_v1.1/dev.json": (
            '{"data": [{"title": "t", "paragraphs": [{"context": "mine", "qas": '
            '[{"id": "q", "question": "whose?", "answers": [{"text": "mine", "answer_start": 0}]}]}]}]}'
        ),
        "corpus/mine.txt": "Mine is a sentence. Here is another one.\n",
    }
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text, encoding="utf-8")
    monkeypatch.setenv("BERTLAB_DATA", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SampleDataWarning)
        loaded = {name: load() for name, load in LOADERS.items()}
    assert loaded["sst2"].texts == ["mine"]
    assert len(loaded["ag_news"]) == 4  # 20% of 20 rows, stratified
    assert loaded["conll2003"][0].words == ["Mine"] and loaded["wnut17"][0].words == ["mine"]
    assert loaded["squad"][0].answers == ("mine",)
    assert loaded["corpus"] == [["Mine is a sentence.", "Here is another one."]]
    for name in ("sst2", "conll2003", "wnut17", "squad"):
        assert "via BERTLAB_DATA" in loaded[name].source
