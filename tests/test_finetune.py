"""The one fine-tuning recipe (bertlab.finetune), the loader and the folder writes under it."""

from __future__ import annotations

import logging
import os
import stat

import pytest
import torch
from safetensors.torch import load_file

from bertlab.auto import load_model
from bertlab.checkpoints import save_folder
from bertlab.data.classification import read_sst2_tsv
from bertlab.files import recover_folder, replace_folder
from bertlab.finetune import (
    dropout_overrides,
    finetune,
    freeze_embedding_table,
    load_for_finetuning,
    task_of_model,
)
from bertlab.hub import SAMPLES_DIR
from bertlab.model import BertModel
from bertlab.tasks import classification, ner, qa
from bertlab.training import TrainingConfig


def test_each_task_head_is_named_by_its_prefixes(tiny_config):
    """head_lr_multiplier reaches exactly the head's parameters in every task model."""
    heads = {
        classification: {"bert.pooler.dense.weight", "bert.pooler.dense.bias"}
        | {"classifier.weight", "classifier.bias"},
        ner: {"classifier.weight", "classifier.bias"},
        qa: {"qa_outputs.weight", "qa_outputs.bias"},
    }
    for task, head in heads.items():
        names = [name for name, _ in task.MODEL_CLASS(tiny_config()).named_parameters()]
        assert {n for n in names if n.startswith(task.HEAD_PARAMETERS)} == head


def test_dropout_overrides_and_freezing_the_token_table(tiny_config):
    assert dropout_overrides(None) == {}
    assert dropout_overrides(0.0) == {
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
    }
    with pytest.raises(ValueError, match="dropout must be in"):
        dropout_overrides(1.0)
    model = classification.BertForSequenceClassification(tiny_config())
    freeze_embedding_table(model)
    frozen = [name for name, p in model.named_parameters() if not p.requires_grad]
    assert frozen == ["bert.embeddings.word_embeddings.weight"]


def test_the_seed_reaches_the_new_head(tiny_checkpoint):
    heads = [
        load_for_finetuning("classification", tiny_checkpoint, label_names=["a", "b"], seed=s)[0]
        for s in (1, 1, 2)
    ]
    weights = [h.classifier.weight for h in heads]
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])


def test_finetune_twice_with_one_seed_gives_the_same_weights(tiny_checkpoint):
    data = read_sst2_tsv(SAMPLES_DIR / "sst2_sample.tsv")
    runs = []
    for _ in range(2):
        model, tokenizer = load_for_finetuning(
            "classification", tiny_checkpoint, label_names=data.label_names, dropout=0.1, seed=3
        )
        config = TrainingConfig(max_steps=4, learning_rate=1e-3, seed=3, progress=False)
        history = finetune(
            "classification", model, tokenizer, data, config, batch_size=8, dev_data=data
        )
        runs.append(model.state_dict())
        assert history.reproducible and "dev_accuracy" in history.records[-1]
    for name in runs[0]:
        assert torch.equal(runs[0][name], runs[1][name]), name


def test_a_starting_point_must_hold_the_whole_encoder(
    tiny_checkpoint, tmp_path, tiny_config, tokenizer
):
    # a config that promises more layers than the weights hold
    deeper = tiny_config(
        vocab_size=tokenizer.vocab_size, num_hidden_layers=3, max_position_embeddings=512
    )
    shallow = BertModel(tiny_config(vocab_size=tokenizer.vocab_size, max_position_embeddings=512))
    save_folder(tmp_path / "m", shallow, tokenizer)
    deeper.save_pretrained(tmp_path / "m")
    with pytest.raises(ValueError, match=r"missing from the weights: .*encoder\.layer\.2"):
        load_for_finetuning("ner", tmp_path / "m", label_names=["O", "B-X"])


def test_another_heads_weights_are_left_behind_and_reported(tiny_checkpoint, tmp_path, caplog):
    model, tokenizer = load_for_finetuning("qa", tiny_checkpoint, seed=0)
    save_folder(tmp_path / "qa", model, tokenizer)
    with caplog.at_level(logging.WARNING, logger="bertlab"):
        cls, _ = load_for_finetuning("classification", tmp_path / "qa", label_names=["a", "b"])
    assert "qa_outputs.weight" in caplog.text and "left behind" in caplog.text
    assert task_of_model(cls) is classification


def test_load_model_builds_the_saved_class_and_refuses_a_mismatch(tiny_checkpoint, tmp_path):
    model, tokenizer = load_for_finetuning("ner", tiny_checkpoint, label_names=["O", "B-PER"])
    save_folder(tmp_path / "ner", model, tokenizer)
    loaded = load_model(tmp_path / "ner")
    assert type(loaded).__name__ == "BertForTokenClassification" and not loaded.training
    assert task_of_model(loaded) is ner
    assert type(load_model(tiny_checkpoint)).__name__ == "BertModel"
    # another architecture's weights under this config
    qa_model, _ = load_for_finetuning("qa", tiny_checkpoint)
    qa_model.save_pretrained(tmp_path / "other")
    (tmp_path / "other" / "config.json").write_bytes(
        (tmp_path / "ner" / "config.json").read_bytes()
    )
    with pytest.raises(ValueError, match=r"qa_outputs\.weight"):
        load_model(tmp_path / "other")


def test_replace_folder_keeps_the_old_folder_until_the_new_one_is_whole(tmp_path):
    target = tmp_path / "model"
    replace_folder(target, lambda f: (f / "a.txt").write_text("old"))

    def broken(folder):
        (folder / "a.txt").write_text("new")
        raise KeyboardInterrupt  # killed half-way

    with pytest.raises(KeyboardInterrupt):
        replace_folder(target, broken)
    assert (target / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no stray temporary folder
    # a kill between the two renames: the old folder waits beside the target and comes back
    target.rename(tmp_path / ".model.previous")
    assert recover_folder(target) and (target / "a.txt").read_text() == "old"


def test_saved_files_get_normal_permissions(tiny_checkpoint, tmp_path):
    old = os.umask(0o022)
    try:
        model, tokenizer = load_for_finetuning("qa", tiny_checkpoint)
        folder = save_folder(tmp_path / "out", model, tokenizer, {"note": "x"})
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert set(modes.values()) == {0o644}, modes
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert set(load_file(str(folder / "model.safetensors"))) >= {"qa_outputs.weight"}
