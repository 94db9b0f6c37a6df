"""The tokenizer's Hugging Face API kept whole, checked against `transformers` on real text.

Call options (padding/truncation sides, pad_to_multiple_of, return_* flags), ``pad()``,
``convert_tokens_to_string()`` and a vocabulary without [PAD]/[MASK]; the alignment methods
are in test_tokenization_alignment.py. The reference is transformers' fast BERT tokenizer
(the Rust ``tokenizers`` library) loaded from the same vocabulary.
"""

from __future__ import annotations

import csv
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bertlab.tokenization import BertTokenizer, train_wordpiece_vocab

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def hf(minilm_path):
    return transformers.BertTokenizerFast.from_pretrained(minilm_path)


@pytest.fixture(scope="module")
def tok(minilm_path):
    return BertTokenizer.from_pretrained(minilm_path)


@pytest.fixture(scope="module")
def sst2_dev(real_data):
    with open(real_data / "sst2" / "dev.tsv", encoding="utf-8", newline="") as handle:
        return [row["sentence"] for row in csv.DictReader(handle, delimiter="\t")]


@pytest.fixture(scope="module")
def squad_dev(real_data):
    """(questions, contexts) of the first SQuAD v1.1 dev articles."""
    squad = json.loads((real_data / "squad_v1.1" / "dev.json").read_text(encoding="utf-8"))
    questions, contexts = [], []
    for article in squad["data"][:3]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"][:2]:
                questions.append(qa["question"])
                contexts.append(paragraph["context"])
    return questions, contexts


def assert_same(mine, theirs, what: str) -> None:
    """Same keys, same values (offsets as tuples), same word and sequence ids per row."""
    assert set(mine) == set(theirs), f"{what}: keys {sorted(mine)} vs {sorted(theirs)}"
    for key in theirs:
        a, b = mine[key], theirs[key]
        if isinstance(b, torch.Tensor):
            assert torch.equal(a, b), f"{what}: {key}"
            continue
        if key == "offset_mapping":
            a = [[tuple(pair) for pair in row] for row in a]
            b = [[tuple(pair) for pair in row] for row in b]
        assert a == b, f"{what}: {key} differs"
    for row in range(len(theirs["input_ids"])):
        assert mine.word_ids(row) == theirs.word_ids(row), f"{what}: word_ids row {row}"
        assert mine.sequence_ids(row) == theirs.sequence_ids(row), f"{what}: sequence_ids {row}"


def hf_with(path, **attributes):
    return transformers.BertTokenizerFast.from_pretrained(path, **attributes)


# ------------------------------------------------------------- padding and truncation sides

SIDES = [("right", "right"), ("left", "right"), ("right", "left"), ("left", "left")]


@pytest.mark.parametrize("padding_side,truncation_side", SIDES)
def test_sides_on_squad_windows(tok, minilm_path, squad_dev, padding_side, truncation_side):
    """Question/context windows with stride, padded: as call arguments and as attributes."""
    questions, contexts = squad_dev
    reference = hf_with(minilm_path, padding_side=padding_side, truncation_side=truncation_side)
    kwargs = {
        "truncation": "only_second",
        "max_length": 128,
        "stride": 32,
        "return_overflowing_tokens": True,
        "return_offsets_mapping": True,
        "return_special_tokens_mask": True,
        "padding": True,
    }
    theirs = reference(questions, contexts, **kwargs)
    assert len(theirs["input_ids"]) > len(questions)  # windows really overflow
    sides = {"padding_side": padding_side, "truncation_side": truncation_side}
    assert_same(tok(questions, contexts, **kwargs, **sides), theirs, f"call {sides}")
    by_attribute = BertTokenizer.from_pretrained(minilm_path, **sides)
    assert_same(by_attribute(questions, contexts, **kwargs), theirs, f"attributes {sides}")


@pytest.mark.parametrize("truncation_side", ["left", "right"])
@pytest.mark.parametrize("max_length,stride", [(24, 4), (40, 0), (9, 2)])
def test_truncation_side_longest_first_pairs_and_singles(
    tok, minilm_path, sst2_dev, truncation_side, max_length, stride
):
    reference = hf_with(minilm_path, truncation_side=truncation_side)
    first, second = sst2_dev[:300], sst2_dev[1:301]
    kwargs = {
        "truncation": "longest_first",
        "max_length": max_length,
        "stride": stride,
        "return_overflowing_tokens": True,
        "return_offsets_mapping": True,
        "truncation_side": truncation_side,
    }
    assert_same(tok(first, second, **kwargs), reference(first, second, **kwargs), "pairs")
    assert_same(tok(first, **kwargs), reference(first, **kwargs), "singles")


def test_padding_side_left_on_sst2_and_tensors(tok, hf, sst2_dev):
    texts = sst2_dev[:200]
    kwargs = {"padding": True, "padding_side": "left", "return_offsets_mapping": True}
    assert_same(tok(texts, **kwargs), hf(texts, **kwargs), "left padding")
    pt = {"padding": "max_length", "max_length": 64, "truncation": True, "return_tensors": "pt"}
    assert_same(tok(texts, padding_side="left", **pt), hf(texts, padding_side="left", **pt), "pt")


def test_sides_are_validated(tok):
    with pytest.raises(ValueError, match="padding_side='middle'"):
        tok("a text", padding=True, padding_side="middle")
    with pytest.raises(ValueError, match="truncation_side='up'"):
        tok("a text", truncation=True, truncation_side="up")


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=50)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _TEXT,
    _TEXT,
    st.integers(min_value=9, max_value=24),
    st.sampled_from(["longest_first", "only_first", "only_second"]),
    st.sampled_from(["left", "right"]),
    st.integers(min_value=0, max_value=1),
)
def test_random_pairs_both_sides_identical(
    tok, hf, first, second, max_length, strategy, side, stride
):
    if strategy != "longest_first":
        stride = 0  # Rust panics when the window is not longer than the stride
    kwargs = {
        "truncation": strategy,
        "max_length": max_length,
        "stride": stride,
        "return_offsets_mapping": True,
        "return_overflowing_tokens": True,
    }
    hf.truncation_side = side
    try:
        theirs = hf([first], [second], **kwargs)
    except Exception:  # Rust: "sequence to truncate too short"
        with pytest.raises(ValueError, match="cannot truncate"):
            tok([first], [second], truncation_side=side, **kwargs)
        return
    finally:
        hf.truncation_side = "right"
    assert_same(tok([first], [second], truncation_side=side, **kwargs), theirs, "random pair")


# --------------------------------------------------------------------- pad_to_multiple_of


@pytest.mark.parametrize(
    "kwargs",
    [
        {"padding": True, "pad_to_multiple_of": 8},
        {"padding": "longest", "pad_to_multiple_of": 5, "padding_side": "left"},
        {"padding": "max_length", "max_length": 48, "truncation": True, "pad_to_multiple_of": 16},
        {"padding": "max_length", "max_length": 13, "pad_to_multiple_of": 8},
        {"pad_to_multiple_of": 8},  # no padding: nothing happens
    ],
)
def test_pad_to_multiple_of(tok, hf, sst2_dev, squad_dev, kwargs):
    texts = sst2_dev[:100]
    assert_same(tok(texts, **kwargs), hf(texts, **kwargs), str(kwargs))
    questions, contexts = squad_dev
    pair_kwargs = {**kwargs, "truncation": "only_second", "stride": 16}
    pair_kwargs.update(return_overflowing_tokens=True, max_length=kwargs.get("max_length", 64))
    try:
        theirs = hf(questions, contexts, **pair_kwargs)
    except ValueError:  # the truncation length is not a multiple: refused by both
        with pytest.raises(ValueError, match="multiple"):
            tok(questions, contexts, **pair_kwargs)
    else:
        assert_same(tok(questions, contexts, **pair_kwargs), theirs, f"pairs {pair_kwargs}")


def test_pad_to_multiple_of_must_divide_the_truncation_length(tok, hf):
    kwargs = {"padding": True, "truncation": True, "max_length": 50, "pad_to_multiple_of": 16}
    with pytest.raises(ValueError):
        hf(["some text"], **kwargs)
    with pytest.raises(ValueError, match=r"truncation length 50 .* pad_to_multiple_of=16"):
        tok(["some text"], **kwargs)


# ------------------------------------------------------------------------- return_* flags


@pytest.mark.parametrize("token_types", [None, True, False])
@pytest.mark.parametrize("attention", [None, True, False])
def test_return_attention_mask_and_token_type_ids(tok, hf, sst2_dev, token_types, attention):
    flags = {"return_token_type_ids": token_types, "return_attention_mask": attention}
    texts, pairs = sst2_dev[:50], sst2_dev[50:100]
    for inputs in ((texts,), (texts, pairs), (texts[0],), (texts[0], pairs[0])):
        mine, theirs = tok(*inputs, padding=True, **flags), hf(*inputs, padding=True, **flags)
        assert dict(mine) == dict(theirs), (flags, len(inputs))
    mine = tok(texts, padding=True, return_tensors="pt", **flags)
    assert set(mine) == set(hf(texts, padding=True, return_tensors="pt", **flags))


# ---------------------------------------------------------------------------------- pad()


def test_pad_a_list_of_encodings_like_a_collate_function(tok, hf, sst2_dev):
    texts = sst2_dev[:64]
    mine = [tok(text, return_special_tokens_mask=True) for text in texts]
    theirs = [hf(text, return_special_tokens_mask=True) for text in texts]
    for kwargs in (
        {"return_tensors": "pt"},
        {"padding_side": "left", "pad_to_multiple_of": 8},
        {"padding": "max_length", "max_length": 80, "return_tensors": "np"},
        {"padding": False},
    ):
        a, b = tok.pad(mine, **kwargs), hf.pad(theirs, **kwargs)
        assert set(a) == set(b), kwargs
        for key in b:
            assert type(a[key]) is type(b[key]), (kwargs, key)
            assert (a[key] == b[key]).all() if hasattr(b[key], "all") else a[key] == b[key]


def test_pad_a_dict_of_lists_and_tensors(tok, hf, sst2_dev):
    texts = sst2_dev[100:140]
    batch = dict(tok(texts))
    assert batch == dict(hf(texts))
    for kwargs in (
        {},
        {"padding_side": "left"},
        {"padding": "max_length", "max_length": 70, "pad_to_multiple_of": 32},
    ):
        assert dict(tok.pad(batch, **kwargs)) == dict(hf.pad(dict(batch), **kwargs)), kwargs
    without_mask = {"input_ids": batch["input_ids"], "token_type_ids": batch["token_type_ids"]}
    assert dict(tok.pad(without_mask)) == dict(hf.pad(dict(without_mask)))
    assert dict(tok.pad(without_mask, return_attention_mask=False)) == dict(
        hf.pad(dict(without_mask), return_attention_mask=False)
    )
    # return_attention_mask=False: no mask, as documented (Hugging Face 5.23 keeps the mask it
    # was given, unpadded, so its rows no longer match the ids).
    assert "attention_mask" not in tok.pad(batch, return_attention_mask=False)
    examples = [{"input_ids": torch.tensor(ids)} for ids in batch["input_ids"][:8]]
    a, b = tok.pad(examples), hf.pad(examples)
    assert set(a) == set(b)
    assert all(torch.equal(a[key], b[key]) for key in b)  # tensors in, tensors out
    labelled = [{"input_ids": ids, "labels": label} for label, ids in enumerate(batch["input_ids"])]
    assert dict(tok.pad(labelled[:5])) == dict(hf.pad(labelled[:5]))
    assert dict(tok.pad(labelled[0])) == dict(hf.pad(dict(labelled[0])))
    single = {"input_ids": batch["input_ids"][0]}
    assert dict(tok.pad(single, pad_to_multiple_of=16)) == dict(
        hf.pad(single, pad_to_multiple_of=16)
    )


def test_pad_leaves_unknown_keys_and_refuses_ragged_tensors(tok, hf, sst2_dev):
    texts = sst2_dev[:4]
    mine = tok.pad(tok(texts, return_offsets_mapping=True))
    theirs = hf.pad(hf(texts, return_offsets_mapping=True))
    assert mine["offset_mapping"] == [[tuple(p) for p in row] for row in theirs["offset_mapping"]]
    with pytest.raises(ValueError):
        hf.pad(hf(texts, return_offsets_mapping=True), return_tensors="pt")
    with pytest.raises(ValueError, match="'offset_mapping'.*different lengths"):
        tok.pad(tok(texts, return_offsets_mapping=True), return_tensors="pt")
    with pytest.raises(ValueError, match="input_ids"):
        tok.pad({"attention_mask": [[1, 1]]})


# -------------------------------------------------------------- convert_tokens_to_string


def test_convert_tokens_to_string_matches_reference(tok, hf, sst2_dev):
    for text in sst2_dev[:300]:
        tokens = hf.convert_ids_to_tokens(hf(text)["input_ids"])
        assert tok.convert_tokens_to_string(tokens) == hf.convert_tokens_to_string(tokens)
    for tokens in (
        [],
        ["##a", "b", "##c"],
        ["isn", "'", "t", "it", "?", "##s"],
        ["do", "not", "'", "s", "they", "'", "re", ".", ",", "!"],
        ["[CLS]", "hello", "[MASK]", "[SEP]", "[PAD]"],
        [".com", "e", ".g", "'m", "n't"],
    ):
        assert tok.convert_tokens_to_string(tokens) == hf.convert_tokens_to_string(tokens)


# ------------------------------------------------------- a vocabulary without [PAD]/[MASK]


@pytest.fixture(scope="module")
def vocab_without_pad_and_mask(real_data, tmp_path_factory):
    """A vocabulary learnt with only [UNK], [CLS] and [SEP] as special tokens."""
    text = (real_data / "corpus" / "war_and_peace.txt").read_text(encoding="utf-8")
    lines = text.splitlines()[:3000]
    vocab = train_wordpiece_vocab(lines, 800, special_tokens=["[UNK]", "[CLS]", "[SEP]"])
    assert "[PAD]" not in vocab and "[MASK]" not in vocab
    folder = tmp_path_factory.mktemp("no-pad-mask")
    BertTokenizer(vocab).save_pretrained(folder)
    return folder


def test_vocab_without_pad_and_mask_loads_and_tokenizes_like_reference(
    vocab_without_pad_and_mask, sst2_dev
):
    mine = BertTokenizer.from_pretrained(vocab_without_pad_and_mask)
    theirs = transformers.AutoTokenizer.from_pretrained(vocab_without_pad_and_mask)
    assert mine.pad_token_id is None and mine.mask_token_id is None
    texts = sst2_dev[:200]
    kwargs = {"return_offsets_mapping": True, "truncation": True, "max_length": 40}
    assert_same(mine(texts, **kwargs), theirs(texts, **kwargs), "no [PAD]/[MASK]")
    ids = mine(texts[0])["input_ids"]
    assert mine.decode(ids) == theirs.decode(ids)


def test_vocab_without_pad_fails_only_when_padding(vocab_without_pad_and_mask, sst2_dev):
    mine = BertTokenizer.from_pretrained(vocab_without_pad_and_mask)
    culprit = r"padding needs the pad token '\[PAD\]'.*no-pad-mask.*vocab.txt"
    with pytest.raises(ValueError, match=culprit):
        mine(sst2_dev[:2], padding=True)
    with pytest.raises(ValueError, match=culprit):
        mine.pad(dict(mine(sst2_dev[:2])))
    with pytest.raises(ValueError, match=r"masking needs the mask token '\[MASK\]'"):
        mine.require_token_id("mask_token", "masking")
    assert mine.require_token_id("cls_token", "framing") == mine.cls_token_id
    # Naming an existing token as the pad token works, as in Hugging Face.
    padded = BertTokenizer.from_pretrained(vocab_without_pad_and_mask, pad_token="[UNK]")
    reference = transformers.AutoTokenizer.from_pretrained(
        vocab_without_pad_and_mask, pad_token="[UNK]"
    )
    texts = sst2_dev[:20]
    assert dict(padded(texts, padding=True)) == dict(reference(texts, padding=True))


def test_save_pretrained_keeps_the_sides(tok, tmp_path, sst2_dev):
    sided = BertTokenizer(tok.vocab, padding_side="left", truncation_side="left")
    sided.save_pretrained(tmp_path)
    again = BertTokenizer.from_pretrained(tmp_path)
    auto = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert (again.padding_side, again.truncation_side) == ("left", "left")
    assert (auto.padding_side, auto.truncation_side) == ("left", "left")
    kwargs = {"padding": True, "truncation": True, "max_length": 12}
    assert dict(again(sst2_dev[:30], **kwargs)) == dict(auto(sst2_dev[:30], **kwargs))


def test_no_known_length_limit_means_no_padding_or_truncation_to_it(
    minilm_path, tmp_path, sst2_dev
):
    """Hugging Face writes model_max_length=1e30 when a model has no known limit; padding to
    'max_length' or truncating without a max_length then does nothing (it does not pad to 1e30)."""
    (tmp_path / "vocab.txt").write_bytes((minilm_path / "vocab.txt").read_bytes())
    config = {"tokenizer_class": "BertTokenizer", "model_max_length": int(1e30)}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    mine = BertTokenizer.from_pretrained(tmp_path)
    theirs = transformers.AutoTokenizer.from_pretrained(tmp_path)
    texts = sst2_dev[:20]
    for kwargs in ({"padding": "max_length"}, {"truncation": True}, {"padding": True}):
        assert dict(mine(texts, **kwargs)) == dict(theirs(texts, **kwargs)), kwargs
    mine.save_pretrained(tmp_path / "again")
    reloaded = transformers.AutoTokenizer.from_pretrained(tmp_path / "again")
    assert dict(reloaded(texts, padding="max_length")) == dict(theirs(texts, padding="max_length"))
