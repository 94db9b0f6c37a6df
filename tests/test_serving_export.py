"""`bertlab export` (bertlab/serving/export.py): ONNX Runtime equals PyTorch within 1e-4 on real
sentences at any batch size and length, the pipeline and the server run on the file, a stale or
mismatched file is refused, and what tracing cannot capture behaves as the docstring says."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from bertlab.batching import pad_batch
from bertlab.checkpoints import save_folder
from bertlab.data.classification import load_classification_data
from bertlab.data.conll import load_ner_data
from bertlab.finetune import load_for_finetuning
from bertlab.serving import Pipeline, export_onnx, pipeline
from bertlab.serving.backends import MODEL_INPUTS, OnnxBackend
from bertlab.serving.export import TOLERANCE, trace_to_onnx
from bertlab.testing import DEEP, assert_close

CONLL_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """MiniLM classification and NER folders (seeded heads), each exported with the command."""
    from bertlab.cli import main

    made = {}
    for task, labels in (("classification", ["negative", "positive"]), ("ner", CONLL_TAGS)):
        model, tokenizer = load_for_finetuning(task, label_names=labels, seed=0)
        folder = save_folder(tmp_path_factory.mktemp(task) / "model", model, tokenizer)
        assert main(["export", "--model", str(folder), "--format", "onnx"]) == 0
        made[task] = folder
    return made


@pytest.fixture(scope="module")
def reviews():
    return list(load_classification_data("dev", None, dataset="sst2").texts[:64])


LOADED: dict = {}


def both_backends(folder):
    """(PyTorch pipeline, ONNX pipeline) of a folder, loaded once for the module."""
    if folder not in LOADED:
        LOADED[folder] = (
            Pipeline.from_pretrained(folder, device="cpu"),
            Pipeline.from_pretrained(folder, backend="onnx"),
        )
    return LOADED[folder]


def largest_difference(torch_pipe, onnx_pipe, texts, batch_size):
    """Both backends on the same padded batches of `batch_size`: max |difference| and the outputs."""
    features, _ = torch_pipe.steps.prepare(texts)
    inputs = [{k: f[k] for k in MODEL_INPUTS} for f in features]
    worst = 0.0
    for start in range(0, len(inputs), batch_size):
        batch = pad_batch(inputs[start : start + batch_size], torch_pipe.tokenizer.pad_token_id)
        expected, actual = torch_pipe.backend(batch), onnx_pipe.backend(batch)
        for name in expected:
            worst = max(worst, float(np.abs(expected[name] - actual[name]).max()))
            assert_close(
                torch.from_numpy(actual[name]), torch.from_numpy(expected[name]), ulps=DEEP
            )
    return worst


@pytest.mark.parametrize("batch_size", [1, 32])
def test_onnx_runtime_equals_pytorch_on_real_sentences(exported, reviews, batch_size):
    torch_pipe, onnx_pipe = both_backends(exported["classification"])
    texts = reviews[:24] if batch_size == 1 else reviews
    assert largest_difference(torch_pipe, onnx_pipe, texts, batch_size) <= TOLERANCE
    assert [r["label"] for r in onnx_pipe(texts)] == [r["label"] for r in torch_pipe(texts)]


def test_onnx_ner_equals_pytorch_and_gives_the_same_entities(exported):
    texts = [" ".join(s.words) for s in load_ner_data("dev")[:40] if s.words]
    torch_pipe, onnx_pipe = both_backends(exported["ner"])
    assert largest_difference(torch_pipe, onnx_pipe, texts, 16) <= TOLERANCE
    assert spans(onnx_pipe(texts)) == spans(torch_pipe(texts))


def spans(results):
    return [[(e["entity_group"], e["start"], e["end"]) for e in r] for r in results]


def test_the_axes_are_free_one_text_to_a_batch_of_long_ones(exported, reviews):
    torch_pipe, onnx_pipe = both_backends(exported["classification"])
    long_text = " ".join(reviews)  # cut at max_length=128 pieces
    for texts in ([reviews[0]], reviews[:3], [long_text] * 5):
        assert largest_difference(torch_pipe, onnx_pipe, texts, len(texts)) <= TOLERANCE


def test_the_command_reports_its_check_and_records_where_the_file_came_from(
    capsys, exported, tmp_path
):
    from bertlab.cli import main

    out = tmp_path / "cls.onnx"
    assert main(["export", "--model", str(exported["classification"]), "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["out"] == str(out)
    assert summary["bertlab_task"] == "text-classification"
    assert summary["outputs"] == ["logits"]
    assert summary["parity"]["max_abs_diff"] <= TOLERANCE and summary["parity"]["same_predictions"]
    assert OnnxBackend(out).metadata["bertlab_architecture"] == "BertForSequenceClassification"


def test_export_refuses_to_overwrite_and_names_the_problem(capsys, exported, tmp_path):
    from bertlab.cli import main

    folder = str(exported["classification"])
    assert main(["export", "--model", folder]) == 2
    assert "model.onnx: exists; pass --overwrite" in capsys.readouterr().err
    assert main(["export", "--model", folder, "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(["export", "--model", folder, "--out", str(tmp_path / "no" / "x.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", "--model", folder, "--format", "tflite"])


def test_a_stale_or_foreign_export_is_refused(exported, tmp_path):
    folder = tmp_path / "retrained"
    shutil.copytree(exported["classification"], folder)
    model, tokenizer = load_for_finetuning("classification", folder, seed=1)
    with torch.no_grad():
        model.classifier.bias += 1.0  # "fine-tuned again": the weights changed
    save_folder(folder, model, tokenizer)
    (folder / "model.onnx").write_bytes((exported["classification"] / "model.onnx").read_bytes())
    with pytest.raises(ValueError, match="exported from other weights"):
        Pipeline.from_pretrained(folder, backend="onnx")
    with pytest.raises(ValueError, match="exported from a BertForTokenClassification"):
        Pipeline.from_pretrained(folder, backend="onnx", onnx_path=exported["ner"] / "model.onnx")
    with pytest.raises(ValueError, match="ONNX Runtime cannot load it"):
        (tmp_path / "broken.onnx").write_bytes(b"not onnx")
        OnnxBackend(tmp_path / "broken.onnx")


def test_the_server_runs_on_the_onnx_file(exported, reviews):
    import httpx

    from bertlab.serving import ServerProcess

    torch_labels = [r["label"] for r in pipeline(model=exported["classification"])(reviews[:8])]
    with ServerProcess(exported["classification"], "--backend", "onnx") as server:
        health = httpx.get(server.url + "/health").json()
        answer = httpx.post(server.url + "/classify", json={"texts": reviews[:8]}).json()
    assert health["backend"] == "onnx"
    assert [r["label"] for r in answer["results"]] == torch_labels


# --------------------------------------------------------------------------- what export cannot capture


def test_a_trace_without_padding_records_a_graph_that_ignores_the_mask(exported, reviews, tmp_path):
    """The model skips the mask when a batch has no padding; a trace records only that branch."""
    pipe = Pipeline.from_pretrained(exported["classification"], device="cpu")
    features, _ = pipe.steps.prepare(reviews[:2])
    unpadded = pad_batch([features[0]], pipe.tokenizer.pad_token_id)  # one text: no padding
    trace_to_onnx(pipe, unpadded, tmp_path / "no-mask.onnx", 17)
    padded = pad_batch(features, pipe.tokenizer.pad_token_id)
    assert not bool(padded["attention_mask"].all())
    traced = OnnxBackend(tmp_path / "no-mask.onnx")
    assert "attention_mask" not in traced.input_names  # never used on that path: not even an input
    wrong = traced(padded)["logits"]
    right = pipe.backend(padded)["logits"]
    shorter = int(padded["attention_mask"].sum(1).argmin())
    assert np.abs(wrong[shorter] - right[shorter]).max() > 1e-3  # the padded text is read wrongly


def test_the_models_input_checks_are_not_in_the_graph(exported):
    """PyTorch's clear errors come from Python checks; the graph has only ONNX Runtime's own."""
    torch_pipe, onnx_pipe = both_backends(exported["classification"])

    def batch(length, token_id):
        inputs = {name: torch.zeros(1, length, dtype=torch.long) for name in MODEL_INPUTS}
        inputs["input_ids"][0, 1] = token_id
        return inputs

    with pytest.raises(ValueError, match="longer than max_position_embeddings=512"):
        torch_pipe.backend(batch(600, 1000))
    with pytest.raises(Exception, match="broadcast"):  # a shape mismatch deep in the graph
        onnx_pipe.backend(batch(600, 1000))
    with pytest.raises(IndexError, match="input_ids contains id 40000"):
        torch_pipe.backend(batch(4, 40_000))
    with pytest.raises(Exception, match="out of data bounds"):
        onnx_pipe.backend(batch(4, 40_000))
    with pytest.raises(IndexError, match="input_ids contains id -1"):
        torch_pipe.backend(batch(4, -1))
    silently = onnx_pipe.backend(batch(4, -1))["logits"]  # ONNX's Gather counts from the end
    assert np.isfinite(silently).all()


def test_every_task_exports(tmp_path, tokenizer, tiny_config):
    """QA, fill-mask and a bare encoder: the export's own check passes, outputs are named."""
    from bertlab.model import BertModel
    from bertlab.pretraining import BertForMaskedLM
    from bertlab.tasks.qa import BertForQuestionAnswering

    expected = {
        BertForQuestionAnswering: ["start_logits", "end_logits"],
        BertForMaskedLM: ["logits"],
        BertModel: ["sentence_embedding"],
    }
    for model_class, outputs in expected.items():
        torch.manual_seed(0)
        config = tiny_config(vocab_size=tokenizer.vocab_size, max_position_embeddings=512)
        folder = save_folder(tmp_path / model_class.__name__, model_class(config), tokenizer)
        summary = export_onnx(folder)
        assert summary["outputs"] == outputs
        assert (
            summary["parity"]["max_abs_diff"] <= TOLERANCE and summary["parity"]["same_predictions"]
        )
        torch_pipe, onnx_pipe = both_backends(folder)
        sample = {
            BertForQuestionAnswering: {
                "question": "Who built it?",
                "context": "Stevenson built it.",
            },
            BertForMaskedLM: "Paris is the [MASK] of France.",
            BertModel: "A man plays a guitar.",
        }[model_class]
        a, b = torch_pipe(sample), onnx_pipe(sample)
        if model_class is BertModel:
            assert_close(torch.from_numpy(b), torch.from_numpy(a), ulps=DEEP)
        elif model_class is BertForMaskedLM:
            assert [c["token"] for c in a] == [c["token"] for c in b]
        else:
            assert a["answer"] == b["answer"]
