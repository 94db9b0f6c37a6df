"""BertModel vs Hugging Face transformers on the real MiniLM checkpoint (notebook 08)."""

from __future__ import annotations

import pytest
import torch

from bertlab.model import BertConfig, BertModel, BertModelOutput
from bertlab.testing import DEEP, assert_close

transformers = pytest.importorskip("transformers")

SENTENCES = [
    "The cat sat on the mat.",
    "BERT reads the whole sentence at once, so every word sees both its left and right context.",
    "Paris is the capital of France.",
]
PAIRS = [
    ("Who wrote Hamlet?", "Hamlet is a tragedy written by William Shakespeare around 1600."),
    ("Is it raining?", "No."),
    ("The bank raised interest rates.", "Borrowing money became more expensive for households."),
]


@pytest.fixture(scope="module")
def references(minilm_path):
    """transformers' two CPU paths: eager (returns weights) and SDPA (the fused kernel)."""
    return {
        name: transformers.BertModel.from_pretrained(minilm_path, attn_implementation=name).eval()
        for name in ("eager", "sdpa")
    }


@pytest.fixture(scope="module")
def ours(minilm_path):
    """bertlab's model on both attention paths, loaded once for the module."""
    return {
        name: BertModel.from_pretrained(minilm_path, attn_implementation=name)
        for name in ("explicit", "fused")
    }


def batches(tokenizer):
    yield "sentences", tokenizer(SENTENCES, padding=True, return_tensors="pt")
    first, second = zip(*PAIRS)
    yield "pairs", tokenizer(list(first), list(second), padding=True, return_tensors="pt")


def assert_outputs_equal(ours, theirs, name):
    """Bit-equal: bertlab runs the very operations transformers runs, in the same order."""
    assert_close(ours.last_hidden_state, theirs.last_hidden_state, ulps=0)
    assert_close(ours.pooler_output, theirs.pooler_output, ulps=0)
    assert len(ours.hidden_states) == len(theirs.hidden_states) == 7
    for layer, (a, b) in enumerate(zip(ours.hidden_states, theirs.hidden_states)):
        assert_close(a, b, ulps=0, msg=f"{name}: hidden state {layer}")


@pytest.mark.parametrize("implementation", ["explicit", "fused"])
def test_matches_transformers_on_real_checkpoint(tokenizer, references, ours, implementation):
    """explicit vs eager and fused vs SDPA (outputs), every layer's weights vs eager."""
    model = ours[implementation]
    assert model.loading_info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    assert not model.training
    same_kernel = references["eager" if implementation == "explicit" else "sdpa"]
    for name, batch in batches(tokenizer):
        assert (batch["attention_mask"] == 0).any(), f"{name}: the batch should contain padding"
        with torch.no_grad():
            ours = model(**batch, output_hidden_states=True)
            theirs = same_kernel(**batch, output_hidden_states=True)
            assert ours.attentions is None
            assert_outputs_equal(ours, theirs, name)
            ours = model(**batch, output_attentions=True, output_hidden_states=True)
            theirs = references["eager"](**batch, output_attentions=True, output_hidden_states=True)
        assert_outputs_equal(ours, theirs, name)
        assert len(ours.attentions) == len(theirs.attentions) == 6
        for layer, (a, b) in enumerate(zip(ours.attentions, theirs.attentions)):
            assert a.shape == b.shape, f"{name} layer {layer}"
            assert_close(a, b, ulps=0, msg=f"{name} layer {layer}")
            mask = batch["attention_mask"][:, None, None, :] == 0
            assert (a.masked_select(mask) == 0).all(), "padding keys must get weight 0"


def test_fused_close_to_eager_too(tokenizer, references, ours):
    """The fused kernel sums in another order: close to eager within rounding, not bit-equal."""
    model = ours["fused"]
    for name, batch in batches(tokenizer):
        with torch.no_grad():
            ours, theirs = model(**batch), references["eager"](**batch)
        assert_close(ours.last_hidden_state, theirs.last_hidden_state, ulps=DEEP, msg=name)


def test_fused_and_explicit_agree_without_attentions(tokenizer, ours):
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    explicit, fused = ours["explicit"], ours["fused"]
    with torch.no_grad():
        a, b = explicit(**batch), fused(**batch)
    assert a.attentions is None and b.attentions is None and a.hidden_states is None
    assert_close(a.last_hidden_state, b.last_hidden_state, ulps=DEEP)


def test_padding_does_not_change_real_tokens(tokenizer, ours):
    model = ours["fused"]
    alone = tokenizer(SENTENCES[0], return_tensors="pt")
    padded = tokenizer(SENTENCES[:2], padding=True, return_tensors="pt")
    n = alone["input_ids"].shape[1]
    with torch.no_grad():
        a = model(**alone).last_hidden_state[0]
        b = model(**padded).last_hidden_state[0, :n]
    assert_close(a, b, ulps=DEEP)  # other shapes, other kernel blocking: rounding differs


def test_parameter_counts_from_configs():
    with torch.device("meta"):  # shapes only: no memory, no weights needed
        base = BertModel(BertConfig())
        minilm = BertConfig(hidden_size=384, num_hidden_layers=6, intermediate_size=1536)
        small = BertModel(minilm)
        no_pooler = BertModel(minilm, add_pooling_layer=False)
    assert sum(p.numel() for p in base.parameters()) == 109_482_240
    assert small.num_parameters == 22_713_216
    assert no_pooler.num_parameters == 22_713_216 - (384 * 384 + 384)


def test_same_parameter_names_as_transformers():
    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=40,
    )
    ref_config = transformers.BertConfig(
        **{k: v for k, v in config.to_dict().items() if k != "attn_implementation"}
    )
    theirs = transformers.BertModel(ref_config).state_dict()
    ours = BertModel(config).state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == {
        k: tuple(v.shape) for k, v in theirs.items() if k != "embeddings.position_ids"
    }


@pytest.mark.parametrize("activation", ["gelu", "gelu_new", "relu"])
def test_activations_match_transformers(activation):
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=40,
        hidden_act=activation,
    )
    ours = BertModel(config).eval()
    ref_config = transformers.BertConfig(
        **{k: v for k, v in config.to_dict().items() if k != "attn_implementation"}
    )
    theirs = transformers.BertModel(ref_config, add_pooling_layer=True).eval()
    theirs.load_state_dict(ours.state_dict(), strict=False)
    ids = torch.randint(0, 100, (2, 9))
    with torch.no_grad():  # gelu_new is written out by transformers, fused by torch here
        assert_close(ours(ids).last_hidden_state, theirs(ids).last_hidden_state, ulps=DEEP)


def test_output_is_a_model_output():
    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
    )
    out = BertModel(config)(torch.tensor([[1, 2, 3]]))
    assert isinstance(out, BertModelOutput)
    assert out["last_hidden_state"] is out.last_hidden_state
    assert out.keys() == ["last_hidden_state", "pooler_output"]
    with pytest.raises(KeyError, match="logits"):
        out["logits"]
    no_pool = BertModel(config, add_pooling_layer=False)(torch.tensor([[1, 2, 3]]))
    assert no_pool.pooler_output is None


# ----------------------------------------------------------------------------- bad input


def small_model(**overrides):
    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=8,
        **overrides,
    )
    return BertModel(config).eval()


def test_hidden_size_not_divisible_by_heads():
    with pytest.raises(ValueError, match=r"hidden_size \(100\).*num_attention_heads \(12\)"):
        BertConfig(hidden_size=100, num_attention_heads=12)


def test_decoder_configs_are_refused():
    with pytest.raises(ValueError, match="is_decoder=true"):
        BertConfig.from_dict({"is_decoder": True})
    assert BertConfig.from_dict({"is_decoder": False}).extra == {"is_decoder": False}


def test_unknown_attention_implementation_and_activation():
    with pytest.raises(ValueError, match="attn_implementation"):
        BertConfig(attn_implementation="flash")
    with pytest.raises(ValueError, match="hidden_act 'swish'"):
        BertConfig(hidden_act="swish")


def test_sequence_longer_than_max_positions():
    with pytest.raises(ValueError, match=r"sequence length 9.*max_position_embeddings=8"):
        small_model()(torch.ones(1, 9, dtype=torch.long))


def test_token_ids_out_of_range():
    model = small_model()
    with pytest.raises(IndexError, match=r"input_ids contains id 50.*vocab_size=50"):
        model(torch.tensor([[1, 50, 2]]))
    with pytest.raises(IndexError, match=r"input_ids contains id -1"):
        model(torch.tensor([[1, -1, 2]]))
    with pytest.raises(IndexError, match=r"token_type_ids contains id 2.*type_vocab_size=2"):
        model(torch.tensor([[1, 2, 3]]), token_type_ids=torch.tensor([[0, 1, 2]]))
    with pytest.raises(IndexError, match=r"position_ids contains id 8"):
        model(torch.tensor([[1, 2, 3]]), position_ids=torch.tensor([[0, 1, 8]]))


def test_mismatched_mask_shape():
    with pytest.raises(ValueError, match=r"attention_mask has shape \(1, 2\)"):
        small_model()(torch.tensor([[1, 2, 3]]), attention_mask=torch.ones(1, 2))
