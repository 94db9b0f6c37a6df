"""The user's own data (issue 14): CSV/TSV/JSONL with named columns and Hugging Face datasets,
for all three tasks, plus the `source` and fingerprint that training_info.json records."""

from __future__ import annotations

import hashlib
import json
import sys

import pytest

from bertlab.data import DataError, fingerprint
from bertlab.data.classification import load_classification_data
from bertlab.data.conll import CONLL2003_LABELS, load_ner_data
from bertlab.data.squad import SquadExample, load_qa_data
from bertlab.hub import SAMPLES_DIR


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def jsonl(records):
    return "".join(json.dumps(record) + "\n" for record in records)


# --------------------------------------------------------------------------- classification
def test_csv_with_label_names_and_any_number_of_classes(tmp_path):
    path = write(
        tmp_path,
        "reviews.csv",
        'text,label\n"Great, truly great",good\nmeh,okay\n"two\nlines",bad\nfine,good\n',
    )
    data = load_classification_data("train", path)
    assert data.label_names == ["bad", "good", "okay"]  # the distinct names, sorted
    assert data.texts == ["Great, truly great", "meh", "two\nlines", "fine"]
    assert data.labels == [1, 2, 0, 1]
    assert data.line_numbers == [2, 3, 4, 6]  # the quoted cell spans lines 4-5
    assert data.source == path


def test_dev_numbers_classes_like_train(tmp_path):
    train = load_classification_data(
        "train", write(tmp_path, "t.csv", "text,label\na,x\nb,y\nc,z\n")
    )
    dev = load_classification_data(
        "dev", write(tmp_path, "d.csv", "text,label\nd,z\n"), label_names=train.label_names
    )
    assert dev.label_names == ["x", "y", "z"] and dev.labels == [2]


def test_integer_labels_are_class_ids(tmp_path):
    text = jsonl([{"text": "a", "label": 2}, {"text": "b", "label": 0}])
    path = write(tmp_path, "ids.jsonl", text)
    assert load_classification_data("train", path).label_names == ["0", "1", "2"]
    named = load_classification_data("train", path, label_names=["neg", "neutral", "pos"])
    assert named.labels == [2, 0] and named.label_counts() == {"neg": 1, "neutral": 0, "pos": 1}
    cells = write(tmp_path, "ids.tsv", "text\tlabel\na\t1\nb\t0\n")  # digits in a table cell: ids
    assert load_classification_data("train", cells, label_names=["no", "yes"]).labels == [1, 0]


def test_named_columns_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffid,review,stars\n1,lovely,5\n2,awful,1\n".encode())
    data = load_classification_data("train", str(path), text_column="review", label_column="stars")
    assert data.texts == ["lovely", "awful"] and data.label_names == [str(i) for i in range(6)]
    with pytest.raises(DataError, match=r"excel\.csv: no column 'rating' \(columns: id, review"):
        load_classification_data("train", str(path), text_column="review", label_column="rating")


def test_benchmark_formats_still_read_by_suffix(tmp_path):
    sst2 = load_classification_data("train", write(tmp_path, "s.tsv", "sentence\tlabel\nok\t1\n"))
    assert sst2.label_names == ["negative", "positive"] and sst2.labels == [1]
    news = load_classification_data("train", write(tmp_path, "n.csv", '"2","Title","Body"\n'))
    assert news.texts == ["Title Body"] and news.label_names[news.labels[0]] == "Sports"


def test_benchmarks_by_name(real_data):
    dev = load_classification_data("dev", dataset="ag_news")
    assert len(dev) == 1_520 and "ag_news via BERTLAB_DATA" in dev.source
    assert load_classification_data("dev", label_names=["negative", "positive"]).source.startswith(
        "sst2 dev via BERTLAB_DATA"
    )
    with pytest.raises(DataError, match="the labels are \\['negative', 'positive'\\], not"):
        load_classification_data("dev", label_names=["neg", "pos"])
    with pytest.raises(ValueError, match="unknown dataset 'imdb'"):
        load_classification_data("dev", dataset="imdb")
    with pytest.raises(ValueError, match="pass a path"):
        load_classification_data("dev", text_column="review")


# --------------------------------------------------------------------------- NER
def test_ner_jsonl_csv_and_tsv(tmp_path):
    records = [
        {"tokens": ["Ada", "Lovelace", "wrote"], "tags": ["I-PER", "I-PER", "O"]},  # IOB1
        {"tokens": ["in", "London"], "tags": ["O", "B-LOC"]},
    ]
    from_jsonl = load_ner_data("train", write(tmp_path, "s.jsonl", jsonl(records)))
    assert from_jsonl[0].tags == ["B-PER", "I-PER", "O"]  # IOB2, like every reader
    assert from_jsonl.label_names == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    table = "tokens,tags\nAda Lovelace wrote,I-PER I-PER O\n" + '"[""in"", ""London""]",O B-LOC\n'
    from_csv = load_ner_data("train", write(tmp_path, "s.csv", table))
    assert [s.words for s in from_csv] == [s.words for s in from_jsonl]
    assert from_csv.fingerprint() == from_jsonl.fingerprint()  # same sentences, same print
    named = "words\tlabels\nAda\tB-PER\n"
    path = write(tmp_path, "s.tsv", named)
    assert load_ner_data("train", path, tokens_column="words", tags_column="labels")[0].words == [
        "Ada"
    ]


def test_ner_tag_ids_with_label_names(tmp_path):
    path = write(tmp_path, "ids.jsonl", jsonl([{"tokens": ["EU", "rejects"], "tags": [3, 0]}]))
    data = load_ner_data("train", path, label_names=CONLL2003_LABELS)
    assert data[0].tags == ["B-ORG", "O"] and data.label_names == CONLL2003_LABELS


def test_a_tsv_without_header_is_a_column_file(tmp_path):
    data = load_ner_data(
        "train", write(tmp_path, "w.tsv", "Empire\tB-location\nState\tI-location\n")
    )
    assert data[0].tags == ["B-location", "I-location"]


def test_ner_benchmarks_by_name_map_dev(real_data):
    assert len(load_ner_data("dev")) == 3_250  # conll2003's "valid"
    wnut = load_ner_data("dev", dataset="wnut17")
    assert len(wnut) == 1_009 and "wnut17 dev via BERTLAB_DATA" in wnut.source


# --------------------------------------------------------------------------- QA
def test_qa_answers_as_strings_lists_and_starts(tmp_path):
    records = [
        {"question": "Who wrote?", "context": "Ada wrote. Ada again.", "answer": "Ada"},
        {
            "id": "q2",
            "question": "What?",
            "context": "Ada wrote. Ada again.",
            "answer": ["Ada", "Ada again"],
            "answer_start": [11, 11],
        },
    ]
    data = load_qa_data("train", write(tmp_path, "qa.jsonl", jsonl(records)))
    assert data[0] == SquadExample(
        "line-1", "", "Ada wrote. Ada again.", "Who wrote?", ("Ada",), (0,)
    )  # no answer_start: the first occurrence
    assert data[1].id == "q2" and data[1].answer_starts == (11, 11)
    table = "question,context,answer,answer_start\nWho?,Ada wrote. Ada again.,Ada,11\n"
    assert load_qa_data("train", write(tmp_path, "qa.csv", table))[0].answer_starts == (11,)
    custom = "q\tc\ta\nWho?\tAda wrote.\twrote\n"
    path = write(tmp_path, "qa.tsv", custom)
    example = load_qa_data(
        "train", path, question_column="q", context_column="c", answer_column="a"
    )[0]
    assert example.answers == ("wrote",) and example.answer_starts == (4,)


def test_qa_benchmark_by_name(real_data):
    dev = load_qa_data("dev")
    assert len(dev) == 1_746 and dev.source.startswith("squad dev via BERTLAB_DATA")


# --------------------------------------------------------------------------- Hugging Face datasets
@pytest.fixture
def hf_datasets(tmp_path, monkeypatch):
    """`datasets`, offline (whatever the environment said at import) and caching under tmp_path."""
    datasets = pytest.importorskip("datasets")
    import huggingface_hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    return datasets


def test_in_memory_datasets_for_the_three_tasks(hf_datasets):
    from bertlab.data import classification, conll, squad

    features = hf_datasets.Features(
        {
            "sentence": hf_datasets.Value("string"),
            "label": hf_datasets.ClassLabel(names=["neg", "pos"]),
        }
    )
    reviews = hf_datasets.Dataset.from_dict(
        {"sentence": ["good", "bad", "fine"], "label": [1, 0, 1]}, features=features
    )
    data = classification.from_hf_dataset(reviews)
    assert data.label_names == ["neg", "pos"] and data.labels == [1, 0, 1]  # ClassLabel names
    assert data.source == "a datasets.Dataset"
    renamed = classification.from_hf_dataset(reviews, label_names=["pos", "neg"])
    assert renamed.labels == [0, 1, 0]  # ids -> ClassLabel names -> the order given

    tags = hf_datasets.List(hf_datasets.ClassLabel(names=CONLL2003_LABELS))
    sentences = hf_datasets.Dataset.from_dict(
        {"tokens": [["EU", "rejects"]], "ner_tags": [[3, 0]]},
        features=hf_datasets.Features(
            {"tokens": hf_datasets.List(hf_datasets.Value("string")), "ner_tags": tags}
        ),
    )
    assert conll.from_hf_dataset(sentences)[0].tags == ["B-ORG", "O"]

    questions = hf_datasets.Dataset.from_list(
        [
            {
                "id": "5733be284776f41900661182",
                "title": "T",
                "context": "Ada wrote the program.",
                "question": "Who?",
                "answers": {"text": ["Ada"], "answer_start": [0]},
            }
        ]
    )
    example = squad.from_hf_dataset(questions)[0]
    assert (example.id, example.title, example.answers) == (
        "5733be284776f41900661182",
        "T",
        ("Ada",),
    )
    bad = hf_datasets.Dataset.from_list([{"text": "x", "label": -1}])
    with pytest.raises(DataError, match=r"a datasets\.Dataset row 0: label -1 is not a class id"):
        classification.from_hf_dataset(bad)
    empty = hf_datasets.Dataset.from_dict({"text": [], "label": []})
    with pytest.raises(DataError, match=r"my dev set: no rows"):
        classification.from_hf_dataset(empty, source="my dev set")


def test_hf_spec_reads_a_local_folder_of_csv_files(tmp_path, hf_datasets):
    folder = tmp_path / "reviews"
    folder.mkdir()
    (folder / "train.csv").write_text("text,label\ngood,pos\nbad,neg\nok,pos\n")
    (folder / "dev.csv").write_text("text,label\nfine,pos\n")
    train = load_classification_data("train", f"hf:{folder}")
    dev = load_classification_data("dev", f"hf:{folder}", label_names=train.label_names)
    assert (len(train), train.label_names, dev.labels) == (3, ["neg", "pos"], [1])
    assert train.source == f"hf:{folder} train" and dev.source == f"hf:{folder} validation"
    with pytest.raises(DataError, match=rf"hf:{folder} train: no column 'tokens'"):
        load_ner_data("train", f"hf:{folder}")


def test_hf_spec_errors_are_one_clear_line(tmp_path, hf_datasets):
    with pytest.raises(DataError, match=r"hf:no-such/dataset-xyz: cannot load \(") as caught:
        load_qa_data("train", "hf:no-such/dataset-xyz")
    assert "\n" not in str(caught.value)
    folder = tmp_path / "only_train"
    folder.mkdir()
    (folder / "train.csv").write_text("text,label\ngood,pos\n")
    with pytest.raises(DataError, match=r"only_train: no dev split \(it has train\)"):
        load_classification_data("dev", f"hf:{folder}")


def test_hf_spec_without_the_datasets_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # "import datasets" now fails
    with pytest.raises(ImportError, match="hf:imdb: reading a Hugging Face dataset needs the"):
        load_classification_data("train", "hf:imdb")


# --------------------------------------------------------------------------- fingerprints
def test_fingerprints(tmp_path, real_data):
    path = write(tmp_path, "a.csv", "text,label\ngood,pos\nbad,neg\n")
    assert fingerprint(path) == hashlib.sha256((tmp_path / "a.csv").read_bytes()).hexdigest()
    same_rows = write(
        tmp_path,
        "a.jsonl",
        jsonl([{"text": "good", "label": "pos"}, {"text": "bad", "label": "neg"}]),
    )
    first, second = (
        load_classification_data("train", path),
        load_classification_data("train", same_rows),
    )
    assert (
        fingerprint(first) == first.fingerprint() == second.fingerprint()
    )  # the rows, not the bytes
    assert fingerprint(path) != fingerprint(same_rows)
    train = load_classification_data("train", dataset="ag_news")
    dev = load_classification_data("dev", dataset="ag_news")
    assert train.fingerprint() != dev.fingerprint()  # one file, two splits
    records = [{"b": 1, "a": [1, 2]}]
    assert fingerprint(records) == hashlib.sha256(b'[{"a":[1,2],"b":1}]').hexdigest()
    examples = load_qa_data("dev")
    assert fingerprint(examples) == examples.fingerprint() == fingerprint(list(examples))
    assert len(fingerprint(tmp_path)) == 64  # a folder: its files' names and bytes


def test_the_own_data_samples_load():
    """data/ holds one sample of the user's own data a task, for the README's examples."""
    train = load_classification_data(
        "train",
        str(SAMPLES_DIR / "reviews_train.csv"),
        text_column="review",
        label_column="sentiment",
    )
    dev = load_classification_data(
        "dev",
        str(SAMPLES_DIR / "reviews_dev.csv"),
        text_column="review",
        label_column="sentiment",
        label_names=train.label_names,
    )
    assert train.label_names == ["negative", "neutral", "positive"] and len(dev) == 8
    recipes = load_ner_data("train", str(SAMPLES_DIR / "recipes_ner.jsonl"))
    assert recipes.label_names == ["O", "B-DISH", "I-DISH", "B-INGREDIENT", "I-INGREDIENT"]
    assert len(load_qa_data("train", str(SAMPLES_DIR / "bert_qa.jsonl"))) == 9
