"""Classification loaders (notebook 10): real files parse, bad rows are named by file and line."""

from __future__ import annotations

import warnings

import pytest

from bertlab.data.classification import (
    load_ag_news,
    load_sst2,
    read_ag_news_csv,
    read_classification_file,
    read_sst2_tsv,
)
from bertlab.hub import SampleDataWarning


def test_real_sst2_rows_and_labels(real_data):
    train = read_sst2_tsv(real_data / "sst2" / "train.tsv")
    dev = load_sst2("dev")
    assert (len(train), len(dev)) == (65_349, 872)
    assert train.label_counts() == {"negative": 28_909, "positive": 36_440}
    assert dev.label_counts() == {"negative": 428, "positive": 444}
    assert train.texts[0] == "hide new secretions from the parental units"
    assert dev[0] == ("it 's a charming and often affecting journey .", 1)
    assert dev.line_numbers[0] == 2


def test_real_ag_news_rows_labels_and_fixed_split(real_data):
    everything = read_ag_news_csv(real_data / "ag_news" / "test.csv")
    assert len(everything) == 7_600
    assert everything.label_names == ["World", "Sports", "Business", "Sci/Tech"]
    assert set(everything.label_counts().values()) == {1_900}
    assert everything.labels[0] == 2 and everything.texts[0].startswith("Fears for T N pension")
    train, dev = load_ag_news("train"), load_ag_news("dev")
    assert (len(train), len(dev)) == (6_080, 1_520)
    assert set(dev.label_counts().values()) == {380}
    assert not set(train.line_numbers) & set(dev.line_numbers)
    assert load_ag_news("dev").texts == dev.texts  # the same split every time
    assert load_ag_news("dev", seed=1).texts != dev.texts


def test_samples_are_used_without_data(monkeypatch):
    monkeypatch.delenv("BERTLAB_DATA", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.warns(SampleDataWarning):
        train = load_sst2("train")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDataWarning)
        dev = load_sst2("dev")
        news_train, news_dev = load_ag_news("train"), load_ag_news("dev")
    assert (len(train), len(dev)) == (30, 10)
    assert set(train.labels) == set(dev.labels) == {0, 1}
    assert (len(news_train), len(news_dev)) == (32, 8)
    assert set(news_dev.label_counts().values()) == {2}


def test_explicit_path_wins(tmp_path, monkeypatch):
    monkeypatch.delenv("BERTLAB_DATA", raising=False)
    path = tmp_path / "mine.tsv"
    path.write_text("sentence\tlabel\ngreat fun \t1\nawful \t0\n")
    data = load_sst2("train", path=path)
    assert data.texts == ["great fun", "awful"] and data.labels == [1, 0]
    assert read_classification_file(path).labels == [1, 0]
    with pytest.raises(FileNotFoundError, match="nope.tsv"):
        load_sst2("train", path=tmp_path / "nope.tsv")


@pytest.mark.parametrize(
    "content, message",
    [
        ("sentence\tlabel\ngood \t1\nbad\t0\textra\n", r"bad\.tsv:3: expected 2 tab-separated"),
        ("sentence\tlabel\ngood \t1\nno label here\n", r"bad\.tsv:3: expected 2 tab-separated"),
        ("sentence\tlabel\ngood \t1\n\nmeh \t2\n", r"bad\.tsv:4: unknown label '2'"),
        ("text\tlabel\ngood \t1\n", r"bad\.tsv:1: expected the header"),
    ],
)
def test_malformed_sst2_rows_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_sst2_tsv(path)


@pytest.mark.parametrize(
    "content, message",
    [
        ('"1","a","b"\n"2","c"\n', r"bad\.csv:2: expected 3 columns"),
        (
            '"1","a","b"\n"3","multi\nline title","d"\n"5","e","f"\n',
            r"bad\.csv:4: unknown class '5'",
        ),
        ('"1","a","b"\n"World","c","d"\n', r"bad\.csv:2: unknown class 'World'"),
    ],
)
def test_malformed_ag_news_rows_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_ag_news_csv(path)


def test_unknown_file_type_and_split(tmp_path):
    path = tmp_path / "data.json"
    path.write_text("{}")
    with pytest.raises(ValueError, match=r"data\.json: expected a \.tsv"):
        read_classification_file(path)
    with pytest.raises(ValueError, match="split must be"):
        load_sst2("test")
