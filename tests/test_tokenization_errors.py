"""Bad input to the tokenizer gets a clear error that names the culprit (issue 13).

Out-of-range ids in decode, duplicate tokens and blank lines in vocab.txt, a vocab.txt that
is not UTF-8, vocabularies with missing or repeated ids, broken tokenizer configs; and the
one folder-or-Hub-id rule (`bertlab.hub.resolve_file`) for `from_pretrained`.
"""

from __future__ import annotations

import pytest

from bertlab.tokenization import BertTokenizer, load_vocab

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.fixture(scope="module")
def tok(minilm_path):
    return BertTokenizer.from_pretrained(minilm_path)


def write_vocab(folder, lines: list[str], newline: str = "\n"):
    path = folder / "vocab.txt"
    path.write_bytes("".join(line + newline for line in lines).encode("utf-8"))
    return path


# ------------------------------------------------------------------------------- decode


def test_decode_names_an_out_of_range_id_and_the_vocabulary_size(tok):
    culprit = (
        r"token id 30522 is out of range: the vocabulary \(.*vocab.txt\) has 30522 tokens, "
        r"ids 0 to 30521"
    )
    with pytest.raises(ValueError, match=culprit):
        tok.decode([101, 7592, 30522, 102])
    with pytest.raises(ValueError, match="token id -1 is out of range"):
        tok.decode([-1])
    with pytest.raises(ValueError, match="token id 99999 is out of range"):
        tok.convert_ids_to_tokens(99999)
    with pytest.raises(ValueError, match="token id 40000 is out of range"):
        tok.batch_decode([[101, 102], [101, 40000]])
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="token id 31000 is out of range"):
        tok.decode(torch.tensor([101, 31000]))
    assert tok.decode(torch.tensor([101, 7592, 102]), skip_special_tokens=True) == "hello"


# ---------------------------------------------------------------------------- vocab.txt


def test_duplicate_tokens_are_refused_with_file_and_lines(tmp_path):
    path = write_vocab(tmp_path, SPECIALS + ["hello", "world", "hello", "##s", "world"])
    message = (
        r"vocab.txt: duplicate token\(s\): 'hello' on lines 6 and 8, 'world' on lines 7 and 10\."
        r".*Hugging Face keeps the later one and leaves the earlier id with no token"
    )
    with pytest.raises(ValueError, match=message):
        BertTokenizer.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match=str(path)):
        load_vocab(path)


def test_what_hugging_face_does_with_duplicates_is_what_the_error_says(tmp_path):
    """The error's explanation, checked: the later line wins, the earlier id has no token."""
    transformers = pytest.importorskip("transformers")
    write_vocab(tmp_path, SPECIALS + ["hello", "world", "hello", "##s"])
    reference = transformers.BertTokenizerFast.from_pretrained(tmp_path)
    assert reference("hello", add_special_tokens=False)["input_ids"] == [7]
    assert reference.convert_ids_to_tokens([5, 7]) == [None, "hello"]


def test_blank_lines_are_refused_with_file_and_lines(tmp_path):
    write_vocab(tmp_path, SPECIALS + ["hello", "", "world", "", "##s"])
    with pytest.raises(ValueError, match=r"vocab.txt: blank line\(s\) 7, 9; .*line number"):
        BertTokenizer.from_pretrained(tmp_path)
    (tmp_path / "vocab.txt").write_text("\n".join(SPECIALS) + "\n\n")  # an extra empty last line
    with pytest.raises(ValueError, match=r"blank line\(s\) 6;"):
        BertTokenizer.from_pretrained(tmp_path)


def test_non_utf8_vocab_names_file_byte_and_line(tmp_path):
    (tmp_path / "vocab.txt").write_bytes(b"[PAD]\n[UNK]\n[CLS]\n[SEP]\ncaf\xe9\n")
    with pytest.raises(ValueError, match=r"vocab.txt: not UTF-8 text: byte 27 \(line 5\)"):
        BertTokenizer.from_pretrained(tmp_path)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_line_ending_reads_the_same(tmp_path, newline):
    write_vocab(tmp_path, SPECIALS + ["hello", "##s"], newline)
    assert list(load_vocab(tmp_path / "vocab.txt")) == SPECIALS + ["hello", "##s"]


def test_vocabulary_lists_and_dicts_are_checked(tmp_path):
    with pytest.raises(ValueError, match=r"'a' on ids 5 and 6"):
        BertTokenizer(SPECIALS + ["a", "a"])
    with pytest.raises(ValueError, match=r"blank id\(s\) 5"):
        BertTokenizer(SPECIALS + [""])
    with pytest.raises(ValueError, match=r"ids must be 0 to 2.*id 2 is missing"):
        BertTokenizer({"[UNK]": 0, "[CLS]": 1, "[SEP]": 5})
    with pytest.raises(ValueError, match=r"id 1 is used twice"):
        BertTokenizer({"[UNK]": 0, "[CLS]": 1, "[SEP]": 1})


def test_a_vocabulary_without_pad_and_mask_loads(tmp_path):
    write_vocab(tmp_path, ["[UNK]", "[CLS]", "[SEP]", "hello", "##s"])
    tok = BertTokenizer.from_pretrained(tmp_path)
    assert tok("hellos")["input_ids"] == [1, 3, 4, 2]
    assert tok.decode([1, 3, 4, 2], skip_special_tokens=True) == "hellos"
    assert tok.pad_token_id is None and tok.mask_token_id is None
    assert tok.tokenize("hello [MASK]") == ["hello", "[UNK]", "[UNK]", "[UNK]"]  # plain text
    with pytest.raises(
        ValueError, match=r"padding needs the pad token '\[PAD\]'.*vocab.txt\) lacks"
    ):
        tok(["hello", "hellos hello"], padding=True)


# ---------------------------------------------------------------------- from_pretrained


def test_a_local_folder_named_like_a_hub_id_is_read_locally(tmp_path, monkeypatch):
    """bertlab.hub.resolve_file decides: an existing folder wins over a Hub id."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "acme" / "tiny-bert").mkdir(parents=True)
    write_vocab(tmp_path / "acme" / "tiny-bert", SPECIALS + ["hello"])
    assert BertTokenizer.from_pretrained("acme/tiny-bert").vocab_size == 6
    with pytest.raises(ConnectionError, match="'acme/other-bert' is not a local folder"):
        BertTokenizer.from_pretrained("acme/other-bert")


def test_a_broken_tokenizer_config_names_the_file(tmp_path):
    write_vocab(tmp_path, SPECIALS + ["hello"])
    (tmp_path / "tokenizer_config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"tokenizer_config.json: not a valid JSON file"):
        BertTokenizer.from_pretrained(tmp_path)
    (tmp_path / "tokenizer_config.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"tokenizer_config.json: expected a JSON object"):
        BertTokenizer.from_pretrained(tmp_path)


def test_bad_call_options_name_the_argument(tok):
    with pytest.raises(ValueError, match="padding='sideways'"):
        tok("text", padding="sideways")
    with pytest.raises(ValueError, match="truncation='middle'"):
        tok("text", truncation="middle")
    with pytest.raises(ValueError, match="pad_to_multiple_of=0"):
        tok("text", padding=True, pad_to_multiple_of=0)
    with pytest.raises(ValueError, match="return_tensors='tf'"):
        tok("text", return_tensors="tf")
    with pytest.raises(TypeError, match=r"pad\(\) takes an encoding"):
        tok.pad(["not", "encodings"])
    with pytest.raises(ValueError, match=r"encoding 1 has the keys \['input_ids'\]"):
        tok.pad([{"input_ids": [1], "attention_mask": [1]}, {"input_ids": [2]}])
