"""Attention views, heatmaps and explorer on the real MiniLM weights (no browser needed).

The rendered pages themselves are checked in a real browser in tests/test_browser.py.
"""

from __future__ import annotations

import io
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
def bertlab_model(minilm_path):
    from bertlab.model import BertModel

    return BertModel.from_pretrained(minilm_path, attn_implementation="explicit").eval()


@pytest.fixture(scope="module")
def bertlab_tokenizer(minilm_path):
    from bertlab.tokenization import BertTokenizer

    return BertTokenizer.from_pretrained(minilm_path)


@pytest.fixture(scope="module")
def pair_attention(bertlab_model, bertlab_tokenizer):
    return compute_attention(bertlab_model, bertlab_tokenizer, TEXT_A, TEXT_B)


def test_bertlab_attention_equals_transformers(pair_attention, hf_model_and_tokenizer):
    """The weights the views show are the reference model's (transformers, eager attention)."""
    model, tokenizer = hf_model_and_tokenizer
    reference, tokens, sentence_b_start = compute_attention(model, tokenizer, TEXT_A, TEXT_B)
    ours, our_tokens, our_b_start = pair_attention
    assert (our_tokens, our_b_start) == (tokens, sentence_b_start)
    for mine, theirs in zip(ours, reference, strict=True):
        torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=1e-5)


def view_params(fragment: str) -> dict:
    """The JSON handed to bertviz's script inside a rendered view."""
    match = re.search(r"var PARAMS = (.*?);\n", fragment)
    assert match, "no PARAMS in the view"
    params = json.loads(match.group(1))
    (full,) = params["attention"]
    # What the page's script does: thousandths to weights, then a pair's four blocks.
    assert np.array(full["attn"]).dtype == np.int64
    weights = np.array(full["attn"]) / 1000
    full["attn"] = weights.tolist()
    b, tokens = params.pop("sentence_b_start"), full["left_text"]
    if b is not None:
        n = len(tokens)
        for name, rows, cols in [
            ("Sentence A -> Sentence A", slice(0, b), slice(0, b)),
            ("Sentence B -> Sentence B", slice(b, n), slice(b, n)),
            ("Sentence A -> Sentence B", slice(0, b), slice(b, n)),
            ("Sentence B -> Sentence A", slice(b, n), slice(0, b)),
        ]:
            block = weights[:, :, rows, cols].tolist()
            params["attention"].append(
                {"name": name, "attn": block, "left_text": tokens[rows], "right_text": tokens[cols]}
            )
    return params


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


# ---------------------------------------------------------------- head roles


def reference_statistics(sentences):
    """head_statistics written as plain loops over every attending token."""
    sums, counts = {}, {}
    for s in sentences:
        n_layers, n_heads, n, _ = s.weights.shape
        for layer in range(n_layers):
            for head in range(n_heads):
                w = s.weights[layer, head]
                for q in range(n):
                    values = {
                        "[CLS]": sum(w[q, k] for k in range(n) if s.tokens[k] == "[CLS]"),
                        "[SEP]": sum(w[q, k] for k in range(n) if s.tokens[k] == "[SEP]"),
                        "punctuation": sum(w[q, k] for k in range(n) if s.tokens[k] in ".,"),
                        "itself": w[q, q],
                        "entropy": -sum(p * np.log(p) for p in w[q] if p > 0),
                    }
                    if q > 0:
                        values["previous"] = w[q, q - 1]
                    if q < n - 1:
                        values["next"] = w[q, q + 1]
                    for name, value in values.items():
                        sums.setdefault(name, np.zeros((n_layers, n_heads)))[layer, head] += value
                        counts[name, layer, head] = counts.get((name, layer, head), 0) + 1
    return {
        name: total
        / np.array(
            [[counts[name, i, j] for j in range(total.shape[1])] for i in range(total.shape[0])]
        )
        for name, total in sums.items()
    }


def random_sentence(tokens, layers=2, heads=3, seed=0):
    from bertlab.viz.head_roles import SentenceAttention

    generator = torch.Generator().manual_seed(seed)
    n = len(tokens)
    weights = (3 * torch.randn(layers, heads, n, n, generator=generator)).softmax(-1)
    return SentenceAttention(weights.numpy(), tokens, [None] + list(range(n - 2)) + [None])


def test_head_statistics_equal_plain_loops():
    from bertlab.viz.head_roles import head_statistics

    sentences = [
        random_sentence(["[CLS]", "a", ",", "b", ".", "[SEP]"], seed=1),
        random_sentence(["[CLS]", "x", "[SEP]", "y", "[SEP]"], seed=2),
        random_sentence(["[CLS]", "z", "[SEP]"], seed=3),
    ]
    ours, reference = head_statistics(sentences), reference_statistics(sentences)
    assert set(ours) == set(reference)
    for name in ours:
        np.testing.assert_allclose(ours[name], reference[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_previous_token_head_and_entropy_extremes():
    from bertlab.viz.head_roles import SentenceAttention, attention_entropy, head_statistics

    n = 6
    previous = np.eye(n, k=-1)
    previous[0, 0] = 1.0
    uniform = np.full((n, n), 1 / n)
    weights = np.stack([previous, uniform])[None].astype(np.float32)  # 1 layer, 2 heads
    stats = head_statistics([SentenceAttention(weights, ["t"] * n, list(range(n)))])
    np.testing.assert_allclose(stats["previous"][0], [1.0, 1 / n], rtol=1e-6)
    np.testing.assert_allclose(stats["next"][0], [0.0, 1 / n], atol=1e-7)
    np.testing.assert_allclose(stats["entropy"][0], [0.0, np.log(n)], atol=1e-6)
    rows = torch.randn(4, 7).softmax(-1)
    np.testing.assert_allclose(
        attention_entropy(rows.numpy()),
        torch.distributions.Categorical(probs=rows).entropy().numpy(),
        rtol=1e-5,
    )


def test_word_attention_sums_keys_and_averages_queries():
    from bertlab.viz.head_roles import word_attention

    word_ids = [None, 0, 1, 1, 1, 2, None]
    weights = torch.rand(2, 3, 7, 7, generator=torch.Generator().manual_seed(0)).softmax(-1).numpy()
    words = word_attention(weights, word_ids)
    expected = np.zeros((2, 3, 3, 3))
    for a in range(3):
        queries = [i for i, w in enumerate(word_ids) if w == a]
        for b in range(3):
            keys = [j for j, w in enumerate(word_ids) if w == b]
            expected[..., a, b] = np.mean([weights[..., i, keys].sum(-1) for i in queries], axis=0)
    np.testing.assert_allclose(words, expected, rtol=1e-5)


def test_noun_phrases_and_determiner_pairs(tmp_path):
    from bertlab.viz.head_roles import (
        TaggedSentence,
        determiner_noun_pairs,
        noun_phrases,
        offset_baseline,
        read_pos_chunks,
        relation_accuracy,
    )

    assert noun_phrases(["B-NP", "I-NP", "B-VP", "B-NP", "B-NP", "I-NP", "O"]) == [
        (0, 1),
        (3, 3),
        (4, 5),
    ]
    assert noun_phrases(["I-NP", "I-NP", "I-VP", "I-NP", "B-NP"]) == [(0, 1), (3, 3), (4, 4)]
    sentence = TaggedSentence(
        ["The", "quick", "fox", "saw", "a", "dog", "and", "all", "the", "big"],
        ["DT", "JJ", "NN", "VBD", "DT", "NN", "CC", "PDT", "DT", "JJ"],
        ["B-NP", "I-NP", "I-NP", "B-VP", "B-NP", "I-NP", "O", "B-NP", "I-NP", "I-NP"],
    )
    assert determiner_noun_pairs(sentence) == [(0, 2), (4, 5)]  # last NP ends on an adjective
    path = tmp_path / "tiny.txt"
    path.write_text("-DOCSTART- -X- -X- O\n\nThe DT B-NP O\ncat NN I-NP O\n\nA DT B-NP\n")
    with pytest.raises(ValueError, match=r"tiny.txt:6: expected 4 columns"):
        read_pos_chunks(path)
    word_weights = [np.zeros((1, 2, 3, 3)), np.zeros((1, 2, 3, 3))]
    word_weights[0][0, 0, 0, 2] = word_weights[1][0, 0, 0, 2] = 1.0  # head 0: word 0 -> word 2
    word_weights[0][0, 1, 0, 0] = 1.0  # head 1 looks at itself: left out of the argmax
    pairs = [[(0, 2)], [(0, 1)]]
    np.testing.assert_allclose(relation_accuracy(word_weights, pairs), [[0.5, 0.5]])
    assert offset_baseline([[(0, 2), (3, 4)], [(1, 2)]], max_offset=3) == (1, pytest.approx(2 / 3))


def test_collect_attention_unpads_batches(bertlab_model, bertlab_tokenizer):
    from bertlab.viz.head_roles import collect_attention

    texts = ["A short one.", "This sentence is quite a bit longer than the first one.", "Mid size."]
    batched = collect_attention(bertlab_model, bertlab_tokenizer, texts, batch_size=2)
    for text, sentence in zip(texts, batched, strict=True):
        attentions, tokens, _ = compute_attention(bertlab_model, bertlab_tokenizer, text)
        assert sentence.tokens == tokens
        np.testing.assert_allclose(
            sentence.weights, torch.cat(attentions).numpy(), atol=2e-6, rtol=0
        )
        assert sentence.word_ids[0] is None and sentence.word_ids[1] == 0


# ---------------------------------------------------------------- static pictures and explorer


def test_head_grid_and_thumbnails_show_the_weights(pair_attention):
    import matplotlib.pyplot as plt

    from bertlab.viz import plot_attention, plot_attention_thumbnails, plot_head_grid

    attentions, tokens, _ = pair_attention
    figure = plot_head_grid(attentions, tokens, layer=2)
    axes = [ax for ax in figure.axes if ax.images]
    assert len(axes) == 12
    np.testing.assert_allclose(axes[5].images[0].get_array(), attentions[2][0, 5].numpy())
    assert [label.get_text() for label in axes[5].get_xticklabels()] == tokens
    assert axes[5].get_title() == "layer 2, head 5"
    thumbnails = plot_attention_thumbnails(attentions)
    assert sum(1 for ax in thumbnails.axes if ax.images) == 6 * 12
    with pytest.raises(ValueError, match="layer=6"):
        plot_head_grid(attentions, tokens, layer=6)
    with pytest.raises(ValueError, match="does not fit"):
        plot_attention(attentions[0][0, 0].numpy(), tokens[:-1])
    plt.close("all")


def test_head_scores_plot_annotates_every_head():
    import matplotlib.pyplot as plt

    from bertlab.viz import plot_head_scores

    scores = np.arange(12.0).reshape(2, 6) / 12
    ax = plot_head_scores(scores, "demo")
    assert [t.get_text() for t in ax.texts] == [f"{v:.2f}" for v in scores.ravel()]
    with pytest.raises(ValueError, match="layers, heads"):
        plot_head_scores(scores[0], "bad")
    plt.close("all")


def test_explorer_follows_the_controls(bertlab_model, bertlab_tokenizer):
    from bertlab.viz import attention_explorer

    explorer = attention_explorer(bertlab_model, bertlab_tokenizer, TEXT_A)
    assert explorer.layer.options == tuple(range(6)) and len(explorer.head.options) == 13
    first_picture = bytes(explorer.image.value)
    assert first_picture.startswith(b"\x89PNG")
    explorer.layer.value, explorer.head.value = 3, 7
    np.testing.assert_array_equal(explorer.selected_matrix(), explorer.attentions[3][0, 7].numpy())
    assert bytes(explorer.image.value) != first_picture
    explorer.head.value = "mean of heads"
    np.testing.assert_allclose(
        explorer.selected_matrix(), explorer.attentions[3][0].mean(0).numpy(), rtol=1e-6
    )
    explorer.text_pair.value = TEXT_B
    assert explorer.tokens[-4:] == ["not", "amused", ".", "[SEP]"]
    assert explorer.tokens.count("[SEP]") == 2
    shown = bytes(explorer.image.value)
    explorer.text.value = "   "
    assert "non-empty" in explorer.message.value and bytes(explorer.image.value) == shown


def test_explorer_picture_is_sharp_and_fits_one_screen(bertlab_model, bertlab_tokenizer):
    """Drawn at twice its on-screen size, never taller than MAX_SIDE_PIXELS, boxes wide."""
    from PIL import Image

    from bertlab.viz.explorer import MAX_SIDE_PIXELS, SHARPNESS, attention_explorer

    long_text = " ".join(["the quick brown fox jumps over the lazy dog ."] * 6)  # 62 tokens
    for text in (TEXT_A, long_text):
        explorer = attention_explorer(bertlab_model, bertlab_tokenizer, text)
        shown_width = int(explorer.image.layout.width.removesuffix("px"))
        shown_height = int(explorer.image.layout.height.removesuffix("px"))
        assert shown_height <= MAX_SIDE_PIXELS
        with Image.open(io.BytesIO(bytes(explorer.image.value))) as picture:
            width, height = picture.size
        assert abs(width - SHARPNESS * shown_width) <= 2
        assert abs(height - SHARPNESS * shown_height) <= 2
    assert explorer.text.layout.width == "95%" and explorer.text_pair.layout.width == "95%"


def test_attention_pictures_have_colour_bars(pair_attention):
    import matplotlib.pyplot as plt

    from bertlab.viz import plot_attention, plot_head_grid, plot_head_scores

    attentions, tokens, _ = pair_attention
    ax = plot_attention(attentions[0][0, 0].numpy(), tokens)
    assert len(ax.figure.axes) == 2 and ax.figure.axes[1].get_ylabel() == "attention weight"
    figure = plot_head_grid(attentions, tokens, layer=0)
    assert any(a.get_ylabel() == "attention weight" for a in figure.axes)
    ax = plot_head_scores(np.zeros((2, 3)), "zeros", vmax=1.0)
    assert len(ax.figure.axes) == 2
    ax = plot_attention(attentions[0][0, 0].numpy(), tokens, colorbar=False)
    assert len(ax.figure.axes) == 1
    plt.close("all")


def test_model_view_scales_to_the_width_of_its_output(pair_attention):
    """bertviz draws 970 pixels wide; the view must shrink to a narrower output, not crop."""
    attentions, tokens, _ = pair_attention
    view = model_view(attentions, tokens, html_action="return")
    assert '.attr("viewBox", "0 0 " + DIV_WIDTH + " " + config.divHeight)' in view.data
    assert '.attr("width", "100%")' in view.data


def test_diagrams_draw_their_parts():
    import matplotlib.pyplot as plt

    from bertlab.model import BertConfig
    from bertlab.viz import diagrams

    def texts(figure):
        return [t.get_text() for ax in figure.axes for t in ax.texts] + [
            t.get_text() for t in figure.texts
        ]

    block = texts(diagrams.draw_encoder_block())
    assert block.count("LayerNorm") == 2 and block.count("+") == 2  # post-LN: two sums, two norms
    assert "GELU" in block and "multi-head\nself-attention" in block
    attention = texts(diagrams.draw_attention_block())
    assert "softmax over the keys" in attention and r"scale: $\div\sqrt{d_k}$" in attention
    tokens = ["[CLS]", "my", "dog", "[SEP]", "it", "barks", "[SEP]"]
    bert_input = texts(diagrams.draw_bert_input(tokens, [0, 0, 0, 0, 1, 1, 1]))
    assert bert_input.count("$E_A$") == 4 and bert_input.count("$E_B$") == 3
    assert all(token in bert_input for token in tokens) and "$E_{6}$" in bert_input
    with pytest.raises(ValueError, match="7 tokens but 6 segment ids"):
        diagrams.draw_bert_input(tokens, [0] * 6)
    whole = texts(diagrams.draw_bert_model(BertConfig()))
    assert "× 12" in whole and any("30,522" in t for t in whole)
    family = diagrams.draw_model_family(n_tokens=4)
    assert len(family.axes) == 3 and "ELMo" in family.axes[0].get_title()
    # GPT's panel draws only left-to-right edges; BERT's both directions (red = from the right).
    gpt_colours = {line.get_color() for line in family.axes[1].lines}
    bert_colours = {line.get_color() for line in family.axes[2].lines}
    assert "tab:red" not in gpt_colours and "tab:red" in bert_colours
    plt.close("all")
