"""bertlab.tokenization against the Hugging Face fast BERT tokenizer (bert-base-uncased vocab).

Parity means identical input_ids, token_type_ids, attention_mask, offset_mapping, word_ids,
sequence_ids and overflow_to_sample_mapping, on more than 1 MB of real text.
"""

from __future__ import annotations

import json
import os
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bertlab.tokenization import BasicTokenizer, BertTokenizer, WordpieceTokenizer

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def hf(minilm_path):
    return transformers.BertTokenizerFast.from_pretrained(minilm_path)


@pytest.fixture(scope="module")
def tok(minilm_path):
    return BertTokenizer.from_pretrained(minilm_path)


def assert_same(mine, theirs, what: str) -> None:
    """Every key the reference returns, plus word_ids and sequence_ids of every row."""
    for key in theirs.keys():
        assert key in mine, f"{what}: missing key {key}"
        a, b = mine[key], theirs[key]
        if key == "offset_mapping":
            a = [[tuple(pair) for pair in row] for row in a]
            b = [[tuple(pair) for pair in row] for row in b]
        if a != b:
            for row, (x, y) in enumerate(zip(a, b)):
                assert x == y, f"{what}: {key} differs in row {row}"
            assert len(a) == len(b), f"{what}: {key} has {len(a)} rows, expected {len(b)}"
    for row in range(len(theirs["input_ids"])):
        assert mine.word_ids(row) == theirs.word_ids(row), f"{what}: word_ids row {row}"
        assert mine.sequence_ids(row) == theirs.sequence_ids(row), f"{what}: sequence_ids row {row}"


# ---------------------------------------------------------------- real data (>= 1 MB)


def _conll_sentences(path):
    sentences, words = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if words:
                sentences.append(words)
                words = []
        else:
            words.append(line.split("\t")[0])
    if words:
        sentences.append(words)
    return sentences


@pytest.fixture(scope="module")
def real_texts(real_data):
    """Prose, SST-2, SQuAD contexts and questions, WNUT-17 tweets: about 1.2 MB."""
    prose = (real_data / "corpus" / "war_and_peace.txt").read_text(encoding="utf-8")
    paragraphs = [p for p in prose.split("\n\n") if p.strip()][:700]
    wiki = (real_data / "corpus" / "wikitext2_valid.tokens").read_text(encoding="utf-8")
    wiki_lines = [line for line in wiki.splitlines() if line.strip()][:400]
    sst = (real_data / "sst2" / "train.tsv").read_text(encoding="utf-8").splitlines()[1:5001]
    sentences = [line.split("\t")[0] for line in sst]
    squad = json.loads((real_data / "squad_v1.1" / "train.json").read_text(encoding="utf-8"))
    contexts, questions = [], []
    for article in squad["data"][:10]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                contexts.append(paragraph["context"])
                questions.append(qa["question"])
    tweets = _conll_sentences(real_data / "wnut17" / "wnut17train.conll")
    return {
        "single": paragraphs
        + wiki_lines
        + sentences
        + sorted(set(contexts))
        + questions
        + [" ".join(words) for words in tweets],
        "contexts": contexts,
        "questions": questions,
        "sentences": sentences,
        "paragraphs": paragraphs,
        "tweets": tweets,
    }


def test_real_text_is_over_one_megabyte(real_texts):
    size = sum(len(text.encode("utf-8")) for text in real_texts["single"])
    assert size > 1_000_000, size


def test_single_texts_identical_with_offsets(tok, hf, real_texts):
    texts = real_texts["single"]
    kwargs = {"return_offsets_mapping": True, "return_special_tokens_mask": True}
    assert_same(tok(texts, **kwargs), hf(texts, **kwargs), "single texts")


def test_squad_windows_only_second_with_stride(tok, hf, real_texts):
    kwargs = {
        "truncation": "only_second",
        "max_length": 384,
        "stride": 128,
        "return_overflowing_tokens": True,
        "return_offsets_mapping": True,
        "padding": "max_length",
    }
    questions, contexts = real_texts["questions"][:2500], real_texts["contexts"][:2500]
    mine, theirs = tok(questions, contexts, **kwargs), hf(questions, contexts, **kwargs)
    assert len(theirs["input_ids"]) > len(questions)  # some contexts really overflow
    assert_same(mine, theirs, "SQuAD windows")


@pytest.mark.parametrize("max_length,stride,count", [(24, 4, 1500), (40, 0, 1500), (9, 2, 60)])
def test_pairs_longest_first_with_overflow(tok, hf, real_texts, max_length, stride, count):
    first, second = real_texts["sentences"][:count], real_texts["sentences"][1 : count + 1]
    kwargs = {
        "truncation": "longest_first",
        "max_length": max_length,
        "stride": stride,
        "return_overflowing_tokens": True,
        "return_offsets_mapping": True,
        "padding": True,
    }
    assert_same(tok(first, second, **kwargs), hf(first, second, **kwargs), "longest_first pairs")


def test_truncation_and_padding_single(tok, hf, real_texts):
    texts = real_texts["paragraphs"][:300]
    for kwargs in (
        {"truncation": True, "max_length": 64, "padding": "max_length"},
        {"truncation": "longest_first", "max_length": 30, "padding": True},
        {"max_length": 20},  # Hugging Face turns truncation on when only max_length is given
        {"padding": "longest"},
    ):
        kwargs["return_offsets_mapping"] = True
        assert_same(tok(texts, **kwargs), hf(texts, **kwargs), f"single {kwargs}")


def test_split_into_words_tweets(tok, hf, real_texts):
    words = real_texts["tweets"]
    kwargs = {
        "is_split_into_words": True,
        "return_offsets_mapping": True,
        "truncation": True,
        "max_length": 64,
        "padding": True,
    }
    assert_same(tok(words, **kwargs), hf(words, **kwargs), "pre-split tweets")


# ---------------------------------------------------------------- Unicode and small cases


def test_every_code_point_normalises_and_splits_like_rust(tok, hf):
    """The character tables: normalisation and punctuation for every code point of planes 0-2,
    the assigned part of plane 3, and plane 14 (planes 4-13 are unassigned; 15-16 are private
    use, checked by a sample)."""
    codes = [*range(0xD800), *range(0xE000, 0x31400), *range(0xE0000, 0xE1000)]
    chars = [chr(c) for c in codes + list(range(0xF0000, 0x110000, 97))]
    joined = "\t".join(chars)
    assert tok.basic.normalize(joined) == hf.backend_tokenizer.normalizer.normalize_str(joined)
    # Each punctuation or symbol character (and the marks the tables move) between two letters:
    # it is punctuation iff it splits off as its own word.
    candidates = [
        c for c in chars if unicodedata.category(c)[0] in "PSM" and tok.basic.normalize_char(c) == c
    ]
    sample = "".join(f"a{c}b " for c in candidates)
    theirs = [word for word, _ in hf.backend_tokenizer.pre_tokenizer.pre_tokenize_str(sample)]
    assert tok.basic.tokenize(sample) == theirs


@pytest.mark.parametrize(
    "text",
    [
        "Héllo Wörld! ÇA VA? naïve café Ærøskøbing İstanbul ΣΟΦΟΣ straße",
        "我爱北京天安门。 日本語のテキスト、東京タワー。 한국어 텍스트",
        "BERT（双向编码器表示）由谷歌于2018年发布。",
        "tabs\tand\nnew\r\nlines\u00a0nbsp\u2003em\u3000ideographic \x00nul \ufffd \u200bzw",
        "$100.00 + 5% = ~$105; e-mail: me@x.org #tag @user :-) <3 «quotes» ‘smart’ — dash…",
        "supercalifragilisticexpialidocious " + "x" * 100 + " " + "y" * 101 + " " + "z" * 150,
        "special [MASK] tokens [SEP] inside[CLS]text [mask] [UNK] [PAD]",
        "emoji 🤗🥰👍🏽 and flags 🇫🇷 and math 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and ﬁ ligature",
        "",
        "   ",
    ],
)
def test_hand_picked_strings(tok, hf, text):
    kwargs = {"return_offsets_mapping": True}
    assert_same(tok([text], **kwargs), hf([text], **kwargs), repr(text))
    assert tok.tokenize(text) == hf.tokenize(text)


def test_chinese_characters_are_single_tokens(tok):
    pieces = tok.tokenize("我爱北京")
    assert pieces == ["我", "[UNK]", "北", "京"] or all(len(p) == 1 for p in pieces)
    assert len(pieces) == 4


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_random_unicode_ids_identical(tok, hf, text):
    assert tok(text)["input_ids"] == hf(text)["input_ids"]


# Letters, accented letters, stacked combining marks of several classes (NFD reorders them),
# Thai, Hangul, CJK, symbols and zero-width characters: the hard cases for offsets.
_MARKS = "abXYZ É.,!'ʼ\u0301\u0316\u0345\u05b7\u05ae\u0e48\u0f71\u1b44\u302e\u200d\u200b"
_MARKS += "\u00c0\u1e09\u0130\u03a3\uac00\u4e00\u3042\ufb01\U0001d165\U0001d16d\U0001f600"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(_MARKS), max_size=30))
def test_random_combining_marks_offsets_identical(tok, hf, text):
    kwargs = {"return_offsets_mapping": True}
    assert_same(tok([text], **kwargs), hf([text], **kwargs), repr(text))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.integers(min_value=4, max_value=20),
)
def test_random_pairs_truncated_identical(tok, hf, first, second, max_length):
    kwargs = {
        "truncation": "longest_first",
        "max_length": max_length,
        "return_offsets_mapping": True,
        "return_overflowing_tokens": True,
        "stride": 0,
    }
    assert_same(tok([first], [second], **kwargs), hf([first], [second], **kwargs), "random pair")


def test_unbatched_output_shapes_match(tok, hf):
    text = "The quick brown fox."
    assert dict(tok(text)) == dict(hf(text))
    assert dict(tok(text, "It jumps.")) == dict(hf(text, "It jumps."))
    mine = tok(text, return_overflowing_tokens=True, truncation=True, max_length=5, stride=1)
    theirs = hf(text, return_overflowing_tokens=True, truncation=True, max_length=5, stride=1)
    assert dict(mine) == dict(theirs)


def test_char_to_token_matches_reference(tok, hf, real_texts):
    question, context = real_texts["questions"][0], real_texts["contexts"][0]
    mine, theirs = tok([question], [context]), hf([question], [context])
    for char in range(0, len(context), 7):
        assert mine.char_to_token(0, char, 1) == theirs.char_to_token(0, char, 1), char
    assert tok(context).char_to_token(5) == hf(context).char_to_token(5)


def test_return_tensors_pt(tok, hf):
    torch = pytest.importorskip("torch")
    texts = ["A short one.", "A somewhat longer sentence with more words."]
    mine = tok(texts, padding=True, return_tensors="pt", return_offsets_mapping=True)
    theirs = hf(texts, padding=True, return_tensors="pt", return_offsets_mapping=True)
    for key in theirs:
        assert torch.equal(mine[key], theirs[key]), key
    with pytest.raises(ValueError, match="padding"):
        tok(texts, return_tensors="pt")


def test_decode_matches_reference(tok, hf, real_texts):
    for text in real_texts["sentences"][:300] + ["[MASK] is here, isn't it? Émile said: ok!"]:
        ids = hf(text)["input_ids"]
        assert tok.decode(ids) == hf.decode(ids)
        assert tok.decode(ids, skip_special_tokens=True) == hf.decode(ids, skip_special_tokens=True)


def test_decode_merges_pieces(tok):
    ids = tok("tokenization is unaffable")["input_ids"]
    assert "##" in "".join(tok.convert_ids_to_tokens(ids))
    assert tok.decode(ids, skip_special_tokens=True) == "tokenization is unaffable"


def test_vocab_helpers(tok, hf):
    assert tok.vocab_size == hf.vocab_size == 30522
    assert (tok.cls_token_id, tok.sep_token_id, tok.pad_token_id) == (101, 102, 0)
    assert (tok.mask_token_id, tok.unk_token_id) == (103, 100)
    tokens = ["[CLS]", "hello", "##ing", "no-such-token"]
    assert tok.convert_tokens_to_ids(tokens) == hf.convert_tokens_to_ids(tokens)
    assert tok.convert_ids_to_tokens([101, 7592, 102]) == ["[CLS]", "hello", "[SEP]"]
    assert tok.vocab["hello"] == 7592


def test_save_pretrained_loads_in_transformers(tok, tmp_path, real_texts):
    tok.save_pretrained(tmp_path)
    auto = transformers.AutoTokenizer.from_pretrained(tmp_path)
    again = BertTokenizer.from_pretrained(tmp_path)
    texts = real_texts["sentences"][:500] + ["Héllo 東京 [MASK]!"]
    kwargs = {"return_offsets_mapping": True, "truncation": True, "max_length": 32}
    assert_same(tok(texts, **kwargs), auto(texts, **kwargs), "AutoTokenizer after save")
    assert again(texts)["input_ids"] == tok(texts)["input_ids"]


def test_cased_tokenizer_keeps_case_and_accents(tmp_path, minilm_path):
    (tmp_path / "vocab.txt").write_bytes((minilm_path / "vocab.txt").read_bytes())
    config = {"do_lower_case": False, "tokenizer_class": "BertTokenizer"}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    cased = BertTokenizer.from_pretrained(tmp_path)
    reference = transformers.AutoTokenizer.from_pretrained(tmp_path)
    text = "Héllo Wörld, Paris is NICE in the Spring of 1999 İ"
    kwargs = {"return_offsets_mapping": True}
    assert_same(cased([text], **kwargs), reference([text], **kwargs), "cased")
    assert "hello" not in cased.tokenize("Hello")


@pytest.mark.parametrize(
    "config",
    [
        {"tokenize_chinese_chars": False},
        {"do_lower_case": True, "strip_accents": False},
        {"do_lower_case": False, "strip_accents": True},
    ],
)
def test_other_options_match_reference(tmp_path, minilm_path, config):
    (tmp_path / "vocab.txt").write_bytes((minilm_path / "vocab.txt").read_bytes())
    config = {**config, "tokenizer_class": "BertTokenizer"}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    mine = BertTokenizer.from_pretrained(tmp_path)
    reference = transformers.AutoTokenizer.from_pretrained(tmp_path)
    texts = ["我爱北京天安门 Café ÉCOLE naïve", "Dvořák's «Nový svět» İstanbul ΣΟΦΟΣ"]
    kwargs = {"return_offsets_mapping": True}
    assert_same(mine(texts, **kwargs), reference(texts, **kwargs), str(config))


def test_from_pretrained_reads_do_lower_case(tmp_path, minilm_path):
    (tmp_path / "vocab.txt").write_bytes((minilm_path / "vocab.txt").read_bytes())
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}))
    assert BertTokenizer.from_pretrained(tmp_path).do_lower_case is False
    assert BertTokenizer.from_pretrained(tmp_path / "vocab.txt").do_lower_case is True


# ---------------------------------------------------------------- bad input


def test_missing_vocab_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no-such"):
        BertTokenizer.from_pretrained(tmp_path / "no-such" / "vocab.txt")
    with pytest.raises(FileNotFoundError, match="vocab.txt"):
        BertTokenizer.from_pretrained(tmp_path)


def test_empty_vocab_file(tmp_path):
    (tmp_path / "vocab.txt").write_text("")
    with pytest.raises(ValueError, match="empty"):
        BertTokenizer.from_pretrained(tmp_path)


def test_vocab_without_cls_and_sep_names_them(tmp_path):
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\nhello\n##s\n")
    with pytest.raises(ValueError, match=r"vocab.txt.*\[SEP\].*\[CLS\]"):
        BertTokenizer.from_pretrained(tmp_path / "vocab.txt")


def test_non_string_input_names_type_and_position(tok):
    with pytest.raises(TypeError, match="batch item 1 is a int"):
        tok(["fine", 3])
    with pytest.raises(TypeError, match="NoneType"):
        tok(None)
    with pytest.raises(TypeError, match="word 1 of batch item 0 is a float"):
        tok(["a", 1.5], is_split_into_words=True)
    with pytest.raises(ValueError, match="text_pair"):
        tok(["a", "b"], ["c"])


def test_hub_id_offline_is_a_clear_connection_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConnectionError, match="HF_HUB_OFFLINE"):
        BertTokenizer.from_pretrained("google-bert/bert-base-uncased")


# ---------------------------------------------------------------- the building blocks


def test_basic_tokenizer_matches_google_rules():
    basic = BasicTokenizer(do_lower_case=True)
    assert basic.tokenize(" \tHeLLo!how  \n Are yoU?  ") == ["hello", "!", "how", "are", "you", "?"]
    assert basic.tokenize("H\u00e9llo") == ["hello"]
    assert basic.tokenize("ah\u535a\u63a8zz") == ["ah", "\u535a", "\u63a8", "zz"]
    cased = BasicTokenizer(do_lower_case=False)
    assert cased.tokenize(" \tHeLLo!how  \n Are yoU?  ") == ["HeLLo", "!", "how", "Are", "yoU", "?"]


def test_wordpiece_greedy_longest_match():
    vocab = {
        t: i for i, t in enumerate(["[UNK]", "want", "##want", "##ed", "wa", "un", "runn", "##ing"])
    }
    wordpiece = WordpieceTokenizer(vocab)
    assert wordpiece.tokenize("unwanted") == ["un", "##want", "##ed"]
    assert wordpiece.tokenize("unwantedx") == ["[UNK]"]
    assert wordpiece.tokenize("wanted") == ["want", "##ed"]
    assert wordpiece.tokenize("running") == ["runn", "##ing"]
    assert wordpiece.split("wanted") == [("want", 0, 4), ("##ed", 4, 6)]
    assert WordpieceTokenizer(vocab, max_input_chars_per_word=5).tokenize("wanted") == ["[UNK]"]


def test_wordpiece_tokenize_is_googles_on_whitespace_separated_text(tok, real_texts):
    """Google's WordpieceTokenizer.tokenize (as ported in transformers' legacy BERT tokenizer)
    takes text: it splits on whitespace, then splits each word; a word longer than the limit
    is [UNK]. Raw text, basic-tokenized text, odd whitespace and over-long words."""
    legacy = pytest.importorskip("transformers.models.bert.tokenization_bert_legacy")
    contexts = sorted(set(real_texts["contexts"]))[:150]
    texts = real_texts["sentences"][:2000] + contexts
    texts += [" ".join(tok.basic.tokenize(context)) for context in contexts]
    texts += [" ".join(words) for words in real_texts["tweets"][:500]]
    texts += [
        "",
        "   ",
        " tabs\tand\nnew lines\u00a0nbsp\u3000ideographic\u2028separator\x1cfile\x85next ",
        " ".join(["a" * 100, "b" * 101, "ab" * 100, "x" * 201, "unaffable"]),
    ]
    for limit in (100, 200):  # Hugging Face's limit and Google's
        ours = WordpieceTokenizer(tok.vocab, max_input_chars_per_word=limit)
        google = legacy.WordpieceTokenizer(tok.vocab, "[UNK]", max_input_chars_per_word=limit)
        for text in texts:
            assert ours.tokenize(text) == google.tokenize(text), (limit, text[:60])
    assert ours.tokenize("unaffable  " + "b" * 201) == ["una", "##ffa", "##ble", "[UNK]"]


def test_hf_limit_of_100_characters_per_word(tok, hf):
    for length in (99, 100, 101, 150):
        word = "ab" * (length // 2) + "a" * (length % 2)
        assert tok.tokenize(word) == hf.tokenize(word), length
    assert tok.tokenize("a" * 101) == ["[UNK]"]


def test_unicode_categories_sanity():
    assert unicodedata.category("\u0301") == "Mn"  # the accent NFD splits off and we drop
