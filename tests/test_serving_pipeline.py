"""The one-line pipeline (bertlab/serving/pipeline.py) against `transformers.pipeline` on the same
folders and real sentences, and against `bertlab predict` where transformers has no such task.

Models: the real MiniLM encoder with a seeded random head for each task. Parity needs no
training: both sides compute from the same weights, and a random head predicts a rich mix of
labels (many entities, B- and I- tags side by side), which tests the aggregation harder than
a trained one would. Tolerances: `bertlab.testing.DEEP` ulps of the largest value compared
(two float32 paths through a whole encoder).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
import transformers
from hypothesis import given
from hypothesis import strategies as st

from bertlab.checkpoints import save_folder
from bertlab.data.classification import load_classification_data
from bertlab.data.conll import load_ner_data
from bertlab.data.squad import load_qa_data
from bertlab.finetune import load_for_finetuning
from bertlab.serving import Pipeline, pipeline
from bertlab.serving.pipeline import length_groups
from bertlab.testing import DEEP, assert_close

CONLL_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory, minilm_path):
    """MiniLM with a seeded random head for each task, saved as `bertlab finetune` saves."""
    made = {}
    for task, labels in (
        ("classification", ["negative", "positive"]),
        ("ner", CONLL_TAGS),
        ("qa", None),
    ):
        model, tokenizer = load_for_finetuning(task, label_names=labels, seed=0)
        made[task] = save_folder(tmp_path_factory.mktemp(task) / "model", model, tokenizer)
    from bertlab.pretraining import BertForMaskedLM

    torch.manual_seed(0)
    mlm = BertForMaskedLM.from_pretrained(minilm_path)
    made["mlm"] = save_folder(tmp_path_factory.mktemp("mlm") / "model", mlm, tokenizer)
    return made


@pytest.fixture(scope="module")
def reviews():
    return list(load_classification_data("dev", None, dataset="sst2").texts[:48])


@pytest.fixture(scope="module")
def conll_texts():
    return [" ".join(sentence.words) for sentence in load_ner_data("dev")[:80] if sentence.words]


def hf_pipeline(task, folder, **options):
    return transformers.pipeline(task, model=str(folder), device="cpu", **options)


def test_text_classification_equals_transformers(folders, reviews):
    ours = pipeline("text-classification", model=folders["classification"])(reviews)
    theirs = hf_pipeline("text-classification", folders["classification"], top_k=None)(reviews)
    for mine, reference in zip(ours, theirs):
        assert mine["label"] == reference[0]["label"]
        expected = {row["label"]: row["score"] for row in reference}
        names = sorted(expected)
        assert_close(
            torch.tensor([mine["probabilities"][n] for n in names]),
            torch.tensor([expected[n] for n in names]),
            ulps=DEEP,
        )
        assert mine["score"] == mine["probabilities"][mine["label"]]


def test_labels_equal_bertlab_predict(capsys, folders, reviews, tmp_path):
    from bertlab.cli import main

    lines = tmp_path / "reviews.txt"
    lines.write_text("\n".join(reviews) + "\n", encoding="utf-8")
    assert main(["predict", "classification", "--model", str(folders["classification"]),
                 "--file", str(lines), "--quiet", "--device", "cpu"]) == 0  # fmt: skip
    predicted = json.loads(capsys.readouterr().out)["predictions"]
    ours = pipeline(model=folders["classification"])(reviews)
    assert [p["label"] for p in predicted] == [o["label"] for o in ours]


def test_bf16_labels_equal_bertlab_predict_in_bf16(capsys, folders, reviews, tmp_path):
    """`precision="bf16"` is `bertlab predict --precision bf16`'s autocast: the same labels, and
    probabilities within bf16's rounding of float32's (a bf16 ulp at 1 is 2^-7: a few of them
    through six layers)."""
    from bertlab.cli import main

    lines = tmp_path / "reviews.txt"
    lines.write_text("\n".join(reviews) + "\n", encoding="utf-8")
    assert main(["predict", "classification", "--model", str(folders["classification"]),
                 "--file", str(lines), "--quiet", "--device", "cpu",
                 "--precision", "bf16"]) == 0  # fmt: skip
    predicted = json.loads(capsys.readouterr().out)["predictions"]
    bf16 = pipeline(model=folders["classification"], precision="bf16")(reviews)
    assert [p["label"] for p in predicted] == [o["label"] for o in bf16]
    fp32 = pipeline(model=folders["classification"])(reviews)
    gaps = [abs(a["score"] - b["probabilities"][a["label"]]) for a, b in zip(bf16, fp32)]
    assert 0 < max(gaps) < 8 * 2**-7  # autocast did change the numbers, and only by rounding


def test_precision_errors(folders, tmp_path):
    with pytest.raises(ValueError, match="precision fp16 needs a CUDA GPU"):
        pipeline(model=folders["classification"], precision="fp16", device="cpu")
    with pytest.raises(ValueError, match="precision must be one of"):
        pipeline(model=folders["classification"], precision="int8")
    with pytest.raises(ValueError, match="precision bf16 applies to the torch backend"):
        pipeline(model=folders["classification"], backend="onnx", precision="bf16")


def single_words_only(text: str) -> bool:
    """True when bertlab's words (`split_words`) are also BERT's words: no "U.S.", "well-known"."""
    return all(re.fullmatch(r"\w+|[^\w\s]", word) for word in text.split())


def entity_spans(entities):
    return [(e["entity_group"], e["start"], e["end"]) for e in entities]


def test_token_classification_first_equals_transformers_first(folders, conll_texts):
    texts = conll_texts + ["The U.S.-based firm's well-known C.E.O. met Zyzzyva in São Paulo ."]
    ours = pipeline("ner", model=folders["ner"], aggregation="first")(texts)
    theirs = hf_pipeline("token-classification", folders["ner"], aggregation_strategy="first")(
        texts
    )
    assert sum(len(e) for e in ours) > 100  # a random head tags a lot: a real test of grouping
    for text, mine, reference in zip(texts, ours, theirs):
        assert entity_spans(mine) == entity_spans(reference), text
        assert_close(
            torch.tensor([e["score"] for e in mine]),
            torch.tensor([float(e["score"]) for e in reference]),
            ulps=DEEP,
        )
        for entity in mine:  # transformers rebuilds the word from lower-cased pieces
            assert entity["word"] == text[entity["start"] : entity["end"]]


def test_token_classification_words_equals_transformers_where_words_agree(folders, conll_texts):
    texts = [text for text in conll_texts if single_words_only(text)]
    assert len(texts) > 30
    ours = pipeline("ner", model=folders["ner"])(texts)
    theirs = hf_pipeline("token-classification", folders["ner"], aggregation_strategy="first")(
        texts
    )
    assert [entity_spans(m) for m in ours] == [entity_spans(t) for t in theirs]


def test_token_classification_words_equals_bertlab_predict_ner(folders, conll_texts):
    """bertlab's own rule on every text, "U.S." and hyphenated words included."""
    from bertlab.auto import load_model
    from bertlab.finetune import load_tokenizer
    from bertlab.tasks import ner

    texts = conll_texts + ["The U.S.-based firm's well-known C.E.O. met Zyzzyva in São Paulo ."]
    model, tokenizer = load_model(folders["ner"]), load_tokenizer(folders["ner"])
    expected = ner.predict(model, tokenizer, texts)
    ours = pipeline("ner", model=folders["ner"])(texts)
    for mine, reference in zip(ours, expected):
        spans = [(e["type"], e["start"], e["end"]) for e in reference["entities"]]
        assert entity_spans(mine) == spans


def test_long_texts_are_read_in_windows_with_every_word_tagged(folders, conll_texts):
    text = " ".join(conll_texts[:12])  # several hundred pieces
    short = pipeline("ner", model=folders["ner"], max_length=32)
    assert len(short.steps.prepare([text])[0]) > 4  # it took several windows
    for aggregation in ("words", "first"):
        entities = pipeline("ner", model=folders["ner"], max_length=32, aggregation=aggregation)(
            text
        )
        assert entities[-1]["end"] > len(text) * 0.9  # tagged up to the end
        assert all(text[e["start"] : e["end"]] == e["word"] for e in entities)


def test_fill_mask_equals_transformers(folders):
    texts = [
        "The capital of France is [MASK] .",
        "She opened the [MASK] and walked into the garden.",
        "[MASK] [MASK] is a city in England.",
    ]
    ours = pipeline("fill-mask", model=folders["mlm"], top_k=5)(texts)
    theirs = hf_pipeline("fill-mask", folders["mlm"], top_k=5)(texts)
    for mine, reference in zip(ours, theirs):
        if isinstance(mine[0], dict):
            mine, reference = [mine], [reference]
        for mine_mask, reference_mask in zip(mine, reference):
            strip = lambda rows: [(r["token"], r["token_str"], r["sequence"]) for r in rows]  # noqa: E731
            assert strip(mine_mask) == strip(reference_mask)
            assert_close(
                torch.tensor([r["score"] for r in mine_mask]),
                torch.tensor([r["score"] for r in reference_mask]),
                ulps=DEEP,
            )


def test_sentence_embeddings_are_transformers_token_vectors_averaged(minilm_path, reviews):
    ours = pipeline("sentence-embedding")(reviews[:16])
    theirs = hf_pipeline("feature-extraction", minilm_path)(reviews[:16])
    for mine, tokens in zip(ours, theirs):
        reference = torch.tensor(tokens[0]).mean(0)  # one text alone: no padding to exclude
        assert_close(torch.from_numpy(mine), reference, ulps=DEEP)
    normalised = pipeline("sentence-embedding", normalize=True)(reviews[:4])
    assert np.allclose([np.linalg.norm(v) for v in normalised], 1.0, atol=1e-6)


def test_question_answering_equals_bertlab_predict_qa_in_windows(folders):
    """transformers 5 has no question-answering pipeline; `bertlab predict qa` is the reference."""
    from bertlab.auto import load_model
    from bertlab.finetune import load_tokenizer
    from bertlab.tasks import qa

    examples = load_qa_data("dev")[:12]
    inputs = [{"question": e.question, "context": e.context} for e in examples]
    settings = dict(max_length=96, doc_stride=32)  # several windows per context
    model, tokenizer = load_model(folders["qa"]), load_tokenizer(folders["qa"])
    expected = qa.predict(model, tokenizer, inputs, qa.QASettings(**settings))
    reader = pipeline("question-answering", model=folders["qa"], **settings)
    assert len(reader.steps.prepare(inputs)[0]) > len(inputs)  # windows were needed
    ours = reader(inputs)
    for mine, reference in zip(ours, expected):
        assert (mine["answer"], mine["start"], mine["end"]) == (
            reference["answer"], reference["start"], reference["end"],
        )  # fmt: skip
        assert mine["score"] == pytest.approx(reference["probability"], abs=1e-5)
    one = reader(question=inputs[0]["question"], context=inputs[0]["context"])
    assert one["answer"] == ours[0]["answer"]


def test_settings_come_from_training_info_like_bertlab_predict(folders, tmp_path):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(folders["classification"], folder)
    (folder / "training_info.json").write_text(json.dumps({"settings": {"max_length": 6}}))
    pipe = pipeline(model=folder)
    assert pipe.settings.max_length == 6
    assert (
        len(pipe.steps.prepare(["a rather long sentence with many words in it"])[0][0]["input_ids"])
        == 6
    )
    assert pipeline(model=folder, max_length=9).settings.max_length == 9  # an argument wins


def test_a_model_in_memory(folders):
    from bertlab.auto import load_model
    from bertlab.finetune import load_tokenizer

    model, tokenizer = (
        load_model(folders["classification"]),
        load_tokenizer(folders["classification"]),
    )
    in_memory = pipeline(model=model, tokenizer=tokenizer)
    from_folder = pipeline(model=folders["classification"])
    assert in_memory("a gripping film")["label"] == from_folder("a gripping film")["label"]
    with pytest.raises(ValueError, match="needs its tokenizer"):
        pipeline(model=model)


def test_mistakes_get_clear_errors(folders, tmp_path):
    with pytest.raises(ValueError, match="holds a BertForSequenceClassification, which does "
                       "text-classification, not token-classification"):  # fmt: skip
        pipeline("token-classification", model=folders["classification"])
    with pytest.raises(ValueError, match="unknown task 'translation'"):
        pipeline("translation", model=folders["classification"])
    with pytest.raises(
        ValueError, match=r"unknown setting\(s\) \['top_k'\] for text-classification"
    ):
        pipeline(model=folders["classification"], top_k=3)
    with pytest.raises(ValueError, match="give model=FOLDER"):
        pipeline("text-classification")
    with pytest.raises(ValueError, match="aggregation must be 'words' or 'first'"):
        pipeline(model=folders["ner"], aggregation="max")
    with pytest.raises(ValueError, match="backend must be 'torch' or 'onnx'"):
        pipeline(model=folders["classification"], backend="tensorflow")
    classify = pipeline(model=folders["classification"])
    with pytest.raises(ValueError, match="no inputs"):
        classify([])
    with pytest.raises(ValueError, match="input 1: expected a text"):
        classify(["fine", 3])
    with pytest.raises(ValueError, match="input 0: the text is empty"):
        classify(["  "])
    with pytest.raises(ValueError, match=r"no \[MASK\] in the text"):
        pipeline(model=folders["mlm"])("nothing to fill")
    with pytest.raises(ValueError, match=r"lies beyond max_length=4"):
        pipeline(model=folders["mlm"], max_length=4)("one two three four five [MASK]")
    reader = pipeline(model=folders["qa"])
    with pytest.raises(ValueError, match="input 0: the context is empty"):
        reader(question="Who?", context=" ")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['answer'\]"):
        reader({"question": "Who?", "context": "Me.", "answer": "Me"})


def test_repr_and_task_aliases(folders):
    pipe = pipeline("sentiment-analysis", model=folders["classification"])
    assert repr(pipe).startswith("Pipeline(task='text-classification', backend='torch'")
    assert isinstance(pipeline("qa", model=folders["qa"]), Pipeline)


@given(
    lengths=st.lists(st.integers(1, 512), min_size=1, max_size=80),
    max_rows=st.integers(1, 64),
    pass_cost=st.integers(0, 200),
)
def test_length_groups_cover_every_text_once_and_pad_at_most_one_pass_cost(
    lengths, max_rows, pass_cost
):
    groups = length_groups(lengths, max_rows, pass_cost)
    assert sorted(i for group in groups for i in group) == list(range(len(lengths)))
    for group in groups:
        assert 1 <= len(group) <= max_rows
        group_lengths = [lengths[i] for i in group]
        assert group_lengths == sorted(group_lengths)
        assert len(group) == 1 or len(group) * max(group_lengths) - sum(group_lengths) <= pass_cost
    flat = [lengths[i] for group in groups for i in group]
    assert flat == sorted(lengths)  # passes follow each other in order of length


def test_answers_do_not_depend_on_how_texts_are_grouped(folders, reviews):
    pipe = pipeline(model=folders["classification"])
    grouped = pipe(reviews)
    pipe.pass_cost = 10**6  # one pass for everything, padded to the longest
    together = pipe(reviews)
    assert [a["label"] for a in grouped] == [b["label"] for b in together]
    assert_close(
        torch.tensor([a["score"] for a in grouped]),
        torch.tensor([b["score"] for b in together]),
        ulps=DEEP,
    )
