"""Loading and saving checkpoints: both directions through transformers, key mapping, errors."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from bertlab.checkpoints import match_keys, rename_legacy_key
from bertlab.model import BertConfig, BertModel, BertPreTrainedModel
from bertlab.testing import DEEP, assert_close
from bertlab.tokenization import BertTokenizer

transformers = pytest.importorskip("transformers")

SENTENCES = ["The quick brown fox jumps over the lazy dog.", "A short one."]


@pytest.fixture(scope="module")
def batch(minilm_path):
    tokenizer = BertTokenizer.from_pretrained(minilm_path)
    return tokenizer(SENTENCES, padding=True, return_tensors="pt")


@pytest.fixture(scope="module")
def minilm(minilm_path):
    return BertModel.from_pretrained(minilm_path, attn_implementation="explicit")


class TinyClassifier(BertPreTrainedModel):
    """A task head built the agreed way: bert, head layers with HF names, post_init."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        pooled = self.bert(input_ids, attention_mask, token_type_ids).pooler_output
        return self.classifier(self.dropout(pooled))


class TiedLM(BertPreTrainedModel):
    """A decoder tied to the word embeddings, like the MLM head of notebook 09."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def tie_weights(self) -> None:
        self.decoder.weight = self.bert.embeddings.word_embeddings.weight


def test_bertlab_save_then_transformers_load(minilm, batch, tmp_path):
    minilm.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "bert" and config["architectures"] == ["BertModel"]
    assert "attn_implementation" not in config  # transformers would read it as its own
    theirs, info = transformers.BertModel.from_pretrained(
        tmp_path, attn_implementation="eager", output_loading_info=True
    )
    assert info["missing_keys"] == set() or not info["missing_keys"]
    assert not info["unexpected_keys"] and not info["mismatched_keys"]
    with torch.no_grad():
        ours, ref = minilm(**batch), theirs.eval()(**batch)
    assert_close(ours.last_hidden_state, ref.last_hidden_state, ulps=DEEP)
    assert_close(ours.pooler_output, ref.pooler_output, ulps=DEEP)


def test_transformers_save_then_bertlab_load(minilm_path, batch, tmp_path):
    theirs = transformers.BertModel.from_pretrained(minilm_path, attn_implementation="eager").eval()
    theirs.save_pretrained(tmp_path)
    ours = BertModel.from_pretrained(tmp_path, attn_implementation="explicit")
    assert ours.loading_info["missing_keys"] == [] and ours.loading_info["unexpected_keys"] == []
    with torch.no_grad():
        a, b = ours(**batch), theirs(**batch)
    assert_close(a.last_hidden_state, b.last_hidden_state, ulps=DEEP)


def test_task_checkpoint_from_transformers_loads_into_bare_and_head_models(
    minilm_path, batch, tmp_path
):
    theirs = transformers.BertForSequenceClassification.from_pretrained(minilm_path, num_labels=3)
    theirs.save_pretrained(tmp_path)
    bare = BertModel.from_pretrained(tmp_path)
    assert bare.loading_info["missing_keys"] == []
    assert sorted(bare.loading_info["unexpected_keys"]) == ["classifier.bias", "classifier.weight"]
    head = TinyClassifier.from_pretrained(tmp_path)
    assert head.config.num_labels == 3
    assert head.loading_info["missing_keys"] == [] and head.loading_info["unexpected_keys"] == []
    assert_close(head.classifier.weight, theirs.classifier.weight, ulps=0)
    with torch.no_grad():
        a = bare(**batch).pooler_output
        b = theirs.eval().bert(**batch).pooler_output
    assert_close(a, b, ulps=DEEP)


def test_bare_checkpoint_into_head_model_reports_the_new_head(minilm_path, minilm, caplog):
    with caplog.at_level(logging.WARNING, logger="bertlab"):
        head = TinyClassifier.from_pretrained(minilm_path, num_labels=4)
    assert sorted(head.loading_info["missing_keys"]) == ["classifier.bias", "classifier.weight"]
    assert head.loading_info["unexpected_keys"] == []
    assert "classifier.weight" in caplog.text
    assert head.classifier.weight.shape == (4, 384)
    assert float(head.classifier.weight.detach().std()) == pytest.approx(
        0.02, rel=0.2
    )  # initialised
    assert_close(head.bert.pooler.dense.weight, minilm.pooler.dense.weight, ulps=0)


def test_head_model_save_loads_in_transformers(minilm_path, batch, tmp_path):
    head = TinyClassifier.from_pretrained(minilm_path, num_labels=2, id2label={0: "neg", 1: "pos"})
    head.save_pretrained(tmp_path)
    theirs, info = transformers.BertForSequenceClassification.from_pretrained(
        tmp_path, attn_implementation="eager", output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert theirs.config.id2label == {0: "neg", 1: "pos"}
    with torch.no_grad():
        ours = head(**batch)
        ref = theirs.eval()(**batch).logits
    assert_close(ours, ref, ulps=DEEP)
    again = TinyClassifier.from_pretrained(tmp_path)
    assert again.config.id2label == {0: "neg", 1: "pos"} and again.config.label2id["pos"] == 1


def test_tied_weights_save_and_reload(tmp_path, tiny_config):
    torch.manual_seed(0)
    model = TiedLM(tiny_config())
    assert model.decoder.weight is model.bert.embeddings.word_embeddings.weight
    model.save_pretrained(tmp_path)
    saved = load_file(str(tmp_path / "model.safetensors"))
    assert_close(saved["decoder.weight"], saved["bert.embeddings.word_embeddings.weight"], ulps=0)
    (tmp_path / "model.safetensors").unlink()
    del saved["decoder.weight"]  # a file that stores the tied weight once
    save_file(saved, str(tmp_path / "model.safetensors"))
    again = TiedLM.from_pretrained(tmp_path)
    assert again.loading_info["missing_keys"] == []
    assert again.decoder.weight is again.bert.embeddings.word_embeddings.weight
    assert_close(again.decoder.weight, model.decoder.weight, ulps=0)


def test_pytorch_bin_with_legacy_names(minilm_path, minilm, batch, tmp_path):
    state = load_file(str(minilm_path / "model.safetensors"))
    legacy = {}
    for key, tensor in state.items():
        key = key.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
            "LayerNorm.bias", "LayerNorm.beta"
        )
        legacy["bert." + key] = tensor
    torch.save(legacy, tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text((minilm_path / "config.json").read_text())
    loaded = BertModel.from_pretrained(tmp_path, attn_implementation="explicit")
    assert (
        loaded.loading_info["missing_keys"] == [] and loaded.loading_info["unexpected_keys"] == []
    )
    with torch.no_grad():
        assert_close(loaded(**batch).last_hidden_state, minilm(**batch).last_hidden_state, ulps=0)


def test_pickled_objects_are_refused(tmp_path, tiny_config):
    tiny_config().save_pretrained(tmp_path)
    torch.save({"weights": object()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(ValueError, match="pytorch_model.bin: not a weights-only"):
        BertModel.from_pretrained(tmp_path)


def test_shape_mismatch_names_key_and_both_shapes(tmp_path, tiny_config):
    BertModel(tiny_config()).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["intermediate_size"] = 48
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        ValueError,
        match=r"'encoder.layer.0.intermediate.dense.weight' has shape "
        r"\(32, 16\).*expects \(48, 16\)",
    ):
        BertModel.from_pretrained(tmp_path)


def test_mismatched_head_can_be_skipped_on_request(tmp_path, tiny_config):
    TinyClassifier(tiny_config(num_labels=3)).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match=r"'classifier.weight' has shape \(3, 16\).*\(5, 16\)"):
        TinyClassifier.from_pretrained(tmp_path, num_labels=5)
    model = TinyClassifier.from_pretrained(tmp_path, num_labels=5, ignore_mismatched_sizes=True)
    assert sorted(k for k, _, _ in model.loading_info["mismatched_keys"]) == [
        "classifier.bias",
        "classifier.weight",
    ]
    assert model.classifier.weight.shape == (5, 16)


def test_interrupted_save_keeps_the_old_checkpoint(tmp_path, monkeypatch, tiny_config):
    model = BertModel(tiny_config())
    model.save_pretrained(tmp_path)
    before = (tmp_path / "model.safetensors").read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("bertlab.checkpoints.save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        BertModel(tiny_config()).save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]


def test_config_round_trip_keeps_unknown_keys(minilm_path, tmp_path):
    config = BertConfig.from_pretrained(minilm_path)
    assert config.hidden_size == 384 and config.num_hidden_layers == 6
    assert config.transformers_version == "4.8.2"  # an extra key, kept
    config.save_pretrained(tmp_path)
    again = BertConfig.from_pretrained(tmp_path)
    assert again == config
    ref = transformers.BertConfig.from_pretrained(tmp_path)
    assert ref.hidden_size == 384 and ref.intermediate_size == 1536


def test_config_errors(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json: not valid JSON"):
        BertConfig.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(ValueError, match="model_type is 'gpt2'"):
        BertConfig.from_pretrained(tmp_path)
    (tmp_path / "config.json").unlink()
    with pytest.raises(FileNotFoundError, match="config.json: no such file"):
        BertConfig.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such checkpoint folder"):
        BertConfig.from_pretrained(tmp_path / "typo")
    with pytest.raises(AttributeError, match="no field 'nonsense'"):
        _ = BertConfig().nonsense


def test_missing_weights_file(tmp_path, tiny_config):
    tiny_config().save_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="model.safetensors, pytorch_model.bin"):
        BertModel.from_pretrained(tmp_path)


def test_hub_id_offline_is_a_clear_connection_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConnectionError, match="not a local folder.*HF_HUB_OFFLINE"):
        BertModel.from_pretrained("google-bert/bert-base-uncased")


def test_key_matching_rules():
    model_keys = {"bert.embeddings.LayerNorm.weight", "classifier.weight"}
    mapping, unexpected = match_keys(
        ["embeddings.LayerNorm.gamma", "cls.predictions.bias", "embeddings.position_ids"],
        model_keys,
    )
    assert mapping == {"bert.embeddings.LayerNorm.weight": "embeddings.LayerNorm.gamma"}
    assert unexpected == ["cls.predictions.bias"]
    mapping, _ = match_keys(["bert.pooler.dense.weight"], {"pooler.dense.weight"})
    assert mapping == {"pooler.dense.weight": "bert.pooler.dense.weight"}
    assert rename_legacy_key("a.LayerNorm.beta") == "a.LayerNorm.bias"
