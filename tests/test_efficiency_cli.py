"""`bertlab quantize`: end to end on a tiny fine-tuned folder, and a clear error for bad input."""

from __future__ import annotations

import json

import pytest
import torch

from bertlab.auto import load_model
from bertlab.checkpoints import save_folder
from bertlab.cli import main
from bertlab.efficiency.quantization import RECORD_KEY, WEIGHTS_NAME
from bertlab.hub import SAMPLES_DIR
from bertlab.pretraining import BertForMaskedLM

SAMPLE = SAMPLES_DIR / "sst2_sample.tsv"


def run(capsys, *argv) -> tuple[int, dict | None, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err, captured.err
    return code, json.loads(captured.out) if captured.out.strip() else None, captured.err


@pytest.fixture(scope="module")
def fine_tuned(tmp_path_factory, tiny_checkpoint):
    out = tmp_path_factory.mktemp("classification") / "model"
    code = main(
        ["finetune", "classification", "--train", str(SAMPLE), "--dev", str(SAMPLE),
         "--model", str(tiny_checkpoint), "--out", str(out), "--max-steps", "2",
         "--batch-size", "4", "--max-length", "48", "--quiet"]
    )  # fmt: skip
    assert code == 0
    return out


def test_quantize_then_evaluate_predict_and_load(capsys, fine_tuned, tmp_path):
    out = tmp_path / "int8"
    code, summary, err = run(capsys, "quantize", "--model", fine_tuned, "--out", out, "--quiet")
    assert code == 0, err
    assert summary["bytes"]["after"] < summary["bytes"]["before"]
    assert (out / WEIGHTS_NAME).exists() and (out / "vocab.txt").exists()
    config = json.loads((out / "config.json").read_text())
    assert config[RECORD_KEY]["method"].startswith("dynamic int8")
    info = json.loads((out / "training_info.json").read_text())
    assert info["quantized_from"] == str(fine_tuned) and info["source_training_info"]

    code, evaluated, err = run(capsys, "evaluate", "classification", "--model", out, "--data", SAMPLE, "--quiet")  # fmt: skip
    assert code == 0, err
    assert 0 <= evaluated["metrics"]["accuracy"] <= 100
    code, predicted, err = run(capsys, "predict", "classification", "--model", out, "a fine film")
    assert code == 0, err
    assert predicted["predictions"][0]["label"] in ("negative", "positive")

    quantized = load_model(out)
    assert type(quantized).__name__ == "BertForSequenceClassification"
    assert quantized.bert.encoder.layer[0].attention.self.query.weight().dtype == torch.qint8


def test_quantize_refuses_what_it_cannot_quantize(
    capsys, fine_tuned, tmp_path, tokenizer, tiny_config
):
    cases = [
        (tmp_path / "nowhere", "no such folder"),
        (SAMPLE, "is a file"),
        (tmp_path, "not a model folder (it has no config.json)"),
    ]
    masked = save_folder(
        tmp_path / "mlm", BertForMaskedLM(tiny_config(vocab_size=tokenizer.vocab_size)), tokenizer
    )
    cases.append((masked, "config.json says BertForMaskedLM"))
    for model, message in cases:
        code, _, err = run(capsys, "quantize", "--model", model, "--out", tmp_path / "out")
        assert code == 2 and message in err, err
    done = tmp_path / "done"
    assert run(capsys, "quantize", "--model", fine_tuned, "--out", done, "--quiet")[0] == 0
    code, _, err = run(capsys, "quantize", "--model", done, "--out", tmp_path / "again")
    assert code == 2 and "already quantized" in err
    code, _, err = run(capsys, "quantize", "--model", fine_tuned, "--out", done)
    assert code == 2 and "--overwrite" in err
