"""Attention views, heatmaps and explorer on the real MiniLM weights (no browser needed).

The rendered pages themselves are checked in a real browser in tests/test_browser.py.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bertlab.viz import attention_array, compute_attention, head_view, model_view, show_attention

TEXT_A = "The quick brown fox jumps over the lazy dog."
TEXT_B = "It was not amused."


@pytest.fixture(scope="module")
def hf_model_and_tokenizer(minilm_path):
    transformers = pytest.importorskip("transformers")
    model = transformers.BertModel.from_pretrained(minilm_path, attn_implementation="eager")
    tokenizer = transformers.BertTokenizerFast.from_pretrained(minilm_path)
    return model.eval(), tokenizer


@pytest.fixture(scope="module")
def pair_attention(hf_model_and_tokenizer):
    model, tokenizer = hf_model_and_tokenizer
    return compute_attention(model, tokenizer, TEXT_A, TEXT_B)


def view_params(fragment: str) -> dict:
    """The JSON handed to bertviz's script inside a rendered view."""
    match = re.search(r"var PARAMS = (.*?);\n", fragment)
    assert match, "no PARAMS in the view"
    return json.loads(match.group(1))


def bertviz_params(fragment: str) -> dict:
    match = re.search(r"const params = (.*?); // HACK", fragment)
    assert match, "no params in bertviz's view"
    return json.loads(match.group(1))


def test_compute_attention_returns_tokens_and_pair_boundary(pair_attention, hf_model_and_tokenizer):
    attentions, tokens, sentence_b_start = pair_attention
    _, tokenizer = hf_model_and_tokenizer
    assert len(attentions) == 6 and attentions[0].shape[:2] == (1, 12)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert tokens[sentence_b_start - 1] == "[SEP]" and tokens[sentence_b_start] == "it"
    assert len(tokens) == attentions[0].shape[-1]
    expected = tokenizer(TEXT_A, TEXT_B)["input_ids"]
    assert tokens == tokenizer.convert_ids_to_tokens(expected)


@pytest.mark.parametrize("view", [head_view, model_view])
def test_views_feed_bertviz_the_same_data_as_bertviz(pair_attention, view):
    """Our params equal bertviz's own (rounded to 3 decimals), for every filter of a pair."""
    import bertviz

    attentions, tokens, sentence_b_start = pair_attention
    ours = view_params(view(attentions, tokens, sentence_b_start, html_action="return").data)
    reference_view = getattr(bertviz, view.__name__)
    theirs = bertviz_params(
        reference_view(attentions, tokens, sentence_b_start, html_action="return").data
    )
    assert [d["name"] for d in ours["attention"]] == [d["name"] for d in theirs["attention"]]
    for mine, reference in zip(ours["attention"], theirs["attention"]):
        assert mine["left_text"] == reference["left_text"]
        assert mine["right_text"] == reference["right_text"]
        np.testing.assert_allclose(mine["attn"], reference["attn"], atol=5e-4, rtol=0)
    for key in theirs:
        if key not in ("attention", "root_div_id"):
            assert ours[key] == theirs[key], key


def test_view_html_needs_no_network_and_no_require(pair_attention):
    attentions, tokens, sentence_b_start = pair_attention
    for view in (head_view, model_view):
        fragment = view(attentions, tokens, sentence_b_start, html_action="return").data
        assert "<script src" not in fragment and "cdnjs" not in fragment
        assert "require.config" not in fragment and "requirejs(" not in fragment
        assert "PYTHON_PARAMS" not in fragment


def test_several_views_have_their_own_element_ids(pair_attention):
    attentions, tokens, sentence_b_start = pair_attention
    fragments = [
        head_view(attentions, tokens, sentence_b_start, html_action="return").data,
        head_view(attentions, tokens, html_action="return").data,
        model_view(attentions, tokens, sentence_b_start, html_action="return").data,
    ]
    ids = [i for fragment in fragments for i in re.findall(r'\sid="([^"]+)"', fragment)]
    assert len(ids) == len(set(ids)) >= 9


def test_save_writes_a_standalone_page(pair_attention, tmp_path):
    attentions, tokens, sentence_b_start = pair_attention
    path = head_view(
        attentions, tokens, sentence_b_start, html_action="save", path=tmp_path / "v" / "h.html"
    )
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    returned = model_view(attentions, tokens, html_action="return")
    assert returned.save_html(tmp_path / "m.html").read_text().count("bertlab-model-view-") >= 3


def test_view_action_displays_and_returns_none(pair_attention, capsys):
    attentions, tokens, _ = pair_attention
    assert head_view(attentions, tokens) is None
    assert "AttentionView" in capsys.readouterr().out  # display() outside a kernel prints repr


def test_layer_and_head_selection(pair_attention):
    attentions, tokens, _ = pair_attention
    params = view_params(
        head_view(
            attentions, tokens, layer=4, heads=[1, 3], include_layers=[2, 4], html_action="return"
        ).data
    )
    assert params["layer"] == 4 and params["heads"] == [1, 3] and params["include_layers"] == [2, 4]
    assert len(params["attention"][0]["attn"]) == 2
    np.testing.assert_allclose(
        params["attention"][0]["attn"][1], attentions[4][0].numpy(), atol=5e-4, rtol=0
    )
    params = view_params(
        model_view(attentions, tokens, include_heads=[0, 5], html_action="return").data
    )
    assert np.array(params["attention"][0]["attn"]).shape == (6, 2, len(tokens), len(tokens))


def test_tokens_cannot_break_out_of_the_script(pair_attention):
    attentions, tokens, _ = pair_attention
    evil = ["</script><b>x</b>"] + tokens[1:]
    fragment = head_view(attentions, evil, html_action="return").data
    assert fragment.count("</script>") == 1
    assert view_params(fragment)["attention"][0]["left_text"][0] == evil[0]


# ---------------------------------------------------------------- bad input


def test_tokens_and_attention_shapes_must_match(pair_attention):
    attentions, tokens, _ = pair_attention
    with pytest.raises(ValueError, match=r"covers \d+ positions but \d+ tokens"):
        head_view(attentions, tokens[:-1], html_action="return")
    with pytest.raises(ValueError, match=r"covers \d+ positions but \d+ tokens"):
        model_view(attentions, tokens + ["[PAD]"], html_action="return")
    with pytest.raises(ValueError, match="attention\\[1\\] has shape"):
        head_view((attentions[0], attentions[1][:, :, :-1, :-1]), tokens, html_action="return")
    with pytest.raises(ValueError, match="batch of 2"):
        head_view([torch.cat([a, a]) for a in attentions], tokens, html_action="return")
    with pytest.raises(ValueError, match="one 4-D tensor"):
        head_view(torch.cat(attentions), tokens, html_action="return")
    with pytest.raises(ValueError, match="sentence_b_start"):
        head_view(attentions, tokens, sentence_b_start=len(tokens), html_action="return")
    with pytest.raises(TypeError, match="list of strings"):
        head_view(attentions, " ".join(tokens), html_action="return")
    with pytest.raises(ValueError, match="NaN"):
        head_view([a * float("nan") for a in attentions], tokens, html_action="return")


def test_bad_arguments_are_named(pair_attention):
    attentions, tokens, _ = pair_attention
    with pytest.raises(ValueError, match="html_action"):
        head_view(attentions, tokens, html_action="show")
    with pytest.raises(ValueError, match="needs path"):
        head_view(attentions, tokens, html_action="save")
    with pytest.raises(ValueError, match="layer=7"):
        head_view(attentions, tokens, layer=7, html_action="return")
    with pytest.raises(ValueError, match="include_heads"):
        model_view(attentions, tokens, include_heads=[12], html_action="return")
    with pytest.raises(ValueError, match="display_mode"):
        model_view(attentions, tokens, display_mode="blue", html_action="return")


def test_missing_attentions_give_a_clear_error(hf_model_and_tokenizer):
    _, tokenizer = hf_model_and_tokenizer
    with pytest.raises(ValueError, match="output_attentions=True"):
        head_view(None, ["[CLS]"])

    class NoAttentions(torch.nn.Module):
        def forward(self, input_ids, **kwargs):
            return SimpleNamespace(last_hidden_state=None, attentions=None)

    with pytest.raises(ValueError, match="NoAttentions returned no attention weights"):
        show_attention(NoAttentions(), tokenizer, TEXT_A)
    with pytest.raises(ValueError, match="view="):
        show_attention(NoAttentions(), tokenizer, TEXT_A, view="neuron")


def test_show_attention_matches_a_direct_model_call(hf_model_and_tokenizer):
    model, tokenizer = hf_model_and_tokenizer
    view = show_attention(model, tokenizer, TEXT_A, TEXT_B, view="model", html_action="return")
    params = view_params(view.data)
    encoding = tokenizer(TEXT_A, TEXT_B, return_tensors="pt")
    with torch.no_grad():
        reference = model(**encoding, output_attentions=True).attentions
    np.testing.assert_allclose(
        params["attention"][0]["attn"], torch.cat(reference).numpy(), atol=5e-4, rtol=0
    )
    assert len(params["attention"]) == 5  # All, A->A, B->B, A->B, B->A


@settings(max_examples=25, deadline=None)
@given(
    layers=st.integers(1, 3),
    heads=st.integers(1, 4),
    n=st.integers(2, 7),
    seed=st.integers(0, 2**16),
)
def test_attention_array_accepts_every_layout(layers, heads, n, seed):
    generator = torch.Generator().manual_seed(seed)
    weights = torch.rand(layers, 1, heads, n, n, generator=generator).softmax(-1)
    expected = weights[:, 0].numpy()
    np.testing.assert_array_equal(attention_array(tuple(weights)), expected)
    np.testing.assert_array_equal(attention_array(weights), expected)
    np.testing.assert_array_equal(attention_array([w[0].numpy() for w in weights]), expected)
    tokens = [f"t{i}" for i in range(n)]
    params = view_params(head_view(tuple(weights), tokens, html_action="return").data)
    np.testing.assert_allclose(params["attention"][0]["attn"], expected, atol=5e-4, rtol=0)
