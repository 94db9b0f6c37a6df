"""Pretraining: corpus reading, instances and masking against Google's reference code,
masking statistics on real text, the heads' loss against transformers, and the CLI."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
import transformers
from hypothesis import given, settings
from hypothesis import strategies as st

from bertlab.data.corpus import read_documents, split_sentences
from bertlab.model import BertConfig
from bertlab.pretraining import (
    BertForMaskedLM,
    BertForPreTraining,
    BertForPreTrainingOutput,
    evaluate_pretraining,
    save_for_transformers,
)
from bertlab.pretraining_data import (
    PretrainingBatches,
    PretrainingCollator,
    PretrainingDataset,
    create_instances,
    mask_tokens,
    tokenize_documents,
    truncate_seq_pair,
)
from bertlab.testing import DEEP, SHALLOW, assert_close

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "corpus_sample.txt"

# ----------------------------------------------------------------------------- Google's reference
# The functions below are Google's create_pretraining_data.py (github.com/google-research/bert),
# transcribed to Python 3 on token strings; only the masking call inside instance creation is
# removed (bertlab masks separately, so that masks can be redrawn every epoch).


def google_truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng):
    while True:
        total_length = len(tokens_a) + len(tokens_b)
        if total_length <= max_num_tokens:
            break
        trunc_tokens = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        assert len(trunc_tokens) >= 1
        if rng.random() < 0.5:
            del trunc_tokens[0]
        else:
            trunc_tokens.pop()


def google_create_instances_from_document(
    all_documents, document_index, max_seq_length, short_seq_prob, rng
):
    document = all_documents[document_index]
    max_num_tokens = max_seq_length - 3
    target_seq_length = max_num_tokens
    if rng.random() < short_seq_prob:
        target_seq_length = rng.randint(2, max_num_tokens)
    instances = []
    current_chunk = []
    current_length = 0
    i = 0
    while i < len(document):
        segment = document[i]
        current_chunk.append(segment)
        current_length += len(segment)
        if i == len(document) - 1 or current_length >= target_seq_length:
            if current_chunk:
                a_end = 1
                if len(current_chunk) >= 2:
                    a_end = rng.randint(1, len(current_chunk) - 1)
                tokens_a = []
                for j in range(a_end):
                    tokens_a.extend(current_chunk[j])
                tokens_b = []
                is_random_next = False
                if len(current_chunk) == 1 or rng.random() < 0.5:
                    is_random_next = True
                    target_b_length = target_seq_length - len(tokens_a)
                    for _ in range(10):
                        random_document_index = rng.randint(0, len(all_documents) - 1)
                        if random_document_index != document_index:
                            break
                    random_document = all_documents[random_document_index]
                    random_start = rng.randint(0, len(random_document) - 1)
                    for j in range(random_start, len(random_document)):
                        tokens_b.extend(random_document[j])
                        if len(tokens_b) >= target_b_length:
                            break
                    num_unused_segments = len(current_chunk) - a_end
                    i -= num_unused_segments
                else:
                    is_random_next = False
                    for j in range(a_end, len(current_chunk)):
                        tokens_b.extend(current_chunk[j])
                google_truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
                assert len(tokens_a) >= 1
                assert len(tokens_b) >= 1
                tokens = ["[CLS]", *tokens_a, "[SEP]", *tokens_b, "[SEP]"]
                segment_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
                instances.append((tokens, segment_ids, is_random_next))
            current_chunk = []
            current_length = 0
        i += 1
    return instances


def google_create_masked_lm_predictions(
    tokens, masked_lm_prob, max_predictions_per_seq, vocab_words, rng, do_whole_word_mask
):
    cand_indexes = []
    for i, token in enumerate(tokens):
        if token == "[CLS]" or token == "[SEP]":
            continue
        if do_whole_word_mask and len(cand_indexes) >= 1 and token.startswith("##"):
            cand_indexes[-1].append(i)
        else:
            cand_indexes.append([i])
    rng.shuffle(cand_indexes)
    output_tokens = list(tokens)
    num_to_predict = min(max_predictions_per_seq, max(1, int(round(len(tokens) * masked_lm_prob))))
    masked_lms = []
    covered_indexes = set()
    for index_set in cand_indexes:
        if len(masked_lms) >= num_to_predict:
            break
        if len(masked_lms) + len(index_set) > num_to_predict:
            continue
        if any(index in covered_indexes for index in index_set):
            continue
        for index in index_set:
            covered_indexes.add(index)
            if rng.random() < 0.8:
                masked_token = "[MASK]"
            else:
                if rng.random() < 0.5:
                    masked_token = tokens[index]
                else:
                    masked_token = vocab_words[rng.randint(0, len(vocab_words) - 1)]
            output_tokens[index] = masked_token
            masked_lms.append((index, tokens[index]))
    masked_lms.sort(key=lambda x: x[0])
    return output_tokens, [p for p, _ in masked_lms], [label for _, label in masked_lms]


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def real_tokenized(tokenizer, real_data) -> list[list[list[int]]]:
    """40 chapters of War and Peace, tokenized with the bert-base-uncased vocabulary."""
    documents = read_documents(real_data / "corpus" / "war_and_peace.txt")[:40]
    return tokenize_documents(documents, tokenizer)


def small_config(tiny_config, vocab_size: int, dropout: float = 0.1) -> BertConfig:
    """The shared tiny BERT, a little wider, with the real vocabulary."""
    return tiny_config(
        vocab_size=vocab_size,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        hidden_size=32,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
    )


# ----------------------------------------------------------------------------- corpus


def test_sentence_splitter_keeps_quotes_and_abbreviations():
    assert split_sentences("He said “Go home.” Then Mr. Smith left. Why? Because.") == [
        "He said “Go home.”",
        "Then Mr. Smith left.",
        "Why?",
        "Because.",
    ]
    assert split_sentences("`` Pipe a song ! '' So I piped .") == [
        "`` Pipe a song ! ''",
        "So I piped .",
    ]


def test_real_corpus_documents(real_data):
    corpus = real_data / "corpus"
    war_and_peace = read_documents(corpus / "war_and_peace.txt")
    text = (corpus / "war_and_peace.txt").read_text(encoding="utf-8")
    chapters = sum(line.startswith("CHAPTER ") for line in text.splitlines())
    assert len(war_and_peace) == chapters  # one document per chapter
    assert war_and_peace[0][0].startswith("“Well, Prince, so Genoa and Lucca")
    wiki_lines = (corpus / "wikitext2_valid.tokens").read_text(encoding="utf-8").splitlines()
    titles = sum(line.startswith(" = ") and not line.startswith(" = = ") for line in wiki_lines)
    wiki = read_documents(corpus / "wikitext2_valid.tokens")
    assert len(wiki) == titles  # one document per article
    assert not any("<unk>" in s or "@-@" in s or s.startswith(" =") for d in wiki for s in d)


def test_sample_corpus_and_bad_corpora(tmp_path):
    documents = read_documents(SAMPLE)
    assert len(documents) == 5 and all(len(d) >= 10 for d in documents)
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty.txt: the corpus is empty"):
        read_documents(tmp_path / "empty.txt")
    (tmp_path / "headings.txt").write_text("CHAPTER I\n\nCHAPTER II\n", encoding="utf-8")
    with pytest.raises(ValueError, match="headings.txt: the corpus is empty"):
        read_documents(tmp_path / "headings.txt")
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        read_documents(tmp_path / "missing.txt")
    (tmp_path / "folder").mkdir()
    with pytest.raises(ValueError, match="no text files"):
        read_documents(tmp_path / "folder")


# ----------------------------------------------------------------------------- instances


def as_strings(tokenized):
    return [[[str(t) for t in sentence] for sentence in document] for document in tokenized]


def test_instances_equal_googles_on_real_text(real_tokenized):
    ours = create_instances(
        real_tokenized, cls_token_id=-1, sep_token_id=-2, max_seq_length=64, seed=7, dupe_factor=2
    )
    rng = random.Random(7)
    documents = as_strings(real_tokenized)
    theirs = []
    for _ in range(2):
        for index in range(len(documents)):
            theirs.extend(google_create_instances_from_document(documents, index, 64, 0.1, rng))
    rng.shuffle(theirs)
    assert len(ours) == len(theirs) > 100
    for mine, (tokens, segments, is_random_next) in zip(ours, theirs, strict=True):
        names = {-1: "[CLS]", -2: "[SEP]"}
        assert [names.get(t, str(t)) for t in mine.input_ids] == tokens
        assert mine.token_type_ids == segments
        assert mine.next_sentence_label == int(is_random_next)
        assert len(mine.input_ids) <= 64


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.integers(1, 30), min_size=1, max_size=8), min_size=2, max_size=6),
    st.integers(8, 40),
    st.integers(0, 10_000),
)
def test_nsp_pairs_come_from_the_right_documents(sentence_lengths, max_seq_length, seed):
    """Token t = (document, sentence, position) encoded in one int: IsNext B continues A in
    the same document; NotNext B comes from another document."""
    documents = [
        [[d * 1_000_000 + s * 1000 + p for p in range(n)] for s, n in enumerate(lengths)]
        for d, lengths in enumerate(sentence_lengths)
    ]
    if all(len(d) < 2 for d in documents):
        with pytest.raises(ValueError, match="single sentence"):
            create_instances(documents, cls_token_id=-1, sep_token_id=-2)
        return
    instances = create_instances(
        documents, cls_token_id=-1, sep_token_id=-2, max_seq_length=max_seq_length, seed=seed
    )
    for instance in instances:
        ids = instance.input_ids
        first_sep = ids.index(-2)
        a, b = ids[1:first_sep], ids[first_sep + 1 : -1]
        assert a and b and ids[0] == -1 and ids[-1] == -2 and len(ids) <= max_seq_length
        assert instance.token_type_ids == [0] * (len(a) + 2) + [1] * (len(b) + 1)
        doc_a = {t // 1_000_000 for t in a}
        doc_b = {t // 1_000_000 for t in b}
        assert len(doc_a) == 1 and len(doc_b) == 1  # A and B each inside one document
        if instance.next_sentence_label == 0:
            assert doc_a == doc_b
            assert max(t // 1000 for t in a) < min(t // 1000 for t in b)  # B after A


def test_nsp_labels_are_balanced(real_tokenized):
    instances = create_instances(real_tokenized, cls_token_id=-1, sep_token_id=-2, seed=3)
    not_next = sum(i.next_sentence_label for i in instances) / len(instances)
    assert 0.45 <= not_next <= 0.56, not_next  # a bit over 1/2: one-sentence chunks are NotNext


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 99), max_size=60),
    st.lists(st.integers(100, 199), max_size=60),
    st.integers(2, 80),
    st.integers(0, 2**32 - 1),
)
def test_truncate_seq_pair_equals_googles(a, b, max_num_tokens, seed):
    ours_a, ours_b, theirs_a, theirs_b = list(a), list(b), list(a), list(b)
    if not a and not b:
        return
    truncate_seq_pair(ours_a, ours_b, max_num_tokens, random.Random(seed))
    try:
        google_truncate_seq_pair(theirs_a, theirs_b, max_num_tokens, random.Random(seed))
    except AssertionError:
        return
    assert (ours_a, ours_b) == (theirs_a, theirs_b)
    assert len(ours_a) + len(ours_b) <= max_num_tokens
    # what is left is a contiguous piece of each side
    assert any(a[i : i + len(ours_a)] == ours_a for i in range(len(a) - len(ours_a) + 1))
    assert any(b[i : i + len(ours_b)] == ours_b for i in range(len(b) - len(ours_b) + 1))
    if len(a) + len(b) > max_num_tokens and min(len(a), len(b)) >= max_num_tokens:
        assert abs(len(ours_a) - len(ours_b)) <= 1  # the longer side is always cut first


# ----------------------------------------------------------------------------- masking


@pytest.mark.parametrize("whole_word", [False, True])
def test_masking_equals_googles_on_real_text(tokenizer, real_tokenized, whole_word):
    instances = create_instances(real_tokenized, **special_ids(tokenizer), seed=5)[:300]
    vocab_words = [tokenizer.ids_to_tokens[i] for i in range(tokenizer.vocab_size)]
    continuation = [w.startswith("##") for w in vocab_words]
    specials = frozenset({tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id})
    for n, instance in enumerate(instances):
        masked, labels = mask_tokens(
            instance.input_ids,
            rng=random.Random(n),
            vocab_size=tokenizer.vocab_size,
            mask_token_id=tokenizer.mask_token_id,
            special_ids=specials,
            is_continuation=[continuation[t] for t in instance.input_ids] if whole_word else None,
        )
        tokens = [vocab_words[t] for t in instance.input_ids]
        output, positions, label_tokens = google_create_masked_lm_predictions(
            tokens, 0.15, 20, vocab_words, random.Random(n), whole_word
        )
        assert [vocab_words[t] for t in masked] == output
        assert [i for i, label in enumerate(labels) if label != -100] == positions
        assert [vocab_words[labels[i]] for i in positions] == label_tokens


def special_ids(tokenizer):
    return dict(cls_token_id=tokenizer.cls_token_id, sep_token_id=tokenizer.sep_token_id)


def test_masking_statistics_on_real_text(tokenizer, real_tokenized):
    """15% of candidates, 80/10/10, exact counts, specials never masked (about 1,500 sequences)."""
    instances = create_instances(real_tokenized, **special_ids(tokenizer), short_seq_prob=0.0)
    dataset = PretrainingDataset(instances, tokenizer, max_predictions=20, seed=1)
    specials = {tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}
    candidates = predicted = as_mask = unchanged = replaced = 0
    for index, instance in enumerate(instances):
        example = dataset[index]
        n_predicted = sum(label != -100 for label in example["labels"])
        assert n_predicted == min(20, max(1, round(0.15 * len(instance.input_ids))))
        candidates += sum(t not in specials for t in instance.input_ids)
        for original, shown, label in zip(
            instance.input_ids, example["input_ids"], example["labels"]
        ):
            if label == -100:
                assert shown == original
                continue
            assert original not in specials and label == original
            predicted += 1
            as_mask += shown == tokenizer.mask_token_id
            unchanged += shown == original
            replaced += shown not in (original, tokenizer.mask_token_id)
    assert predicted > 10_000
    assert abs(predicted / candidates - 0.15) <= 0.005, predicted / candidates
    assert abs(as_mask / predicted - 0.8) <= 0.01
    assert abs(unchanged / predicted - 0.1) <= 0.01
    assert abs(replaced / predicted - 0.1) <= 0.01


def test_whole_word_masking_masks_every_piece_of_a_word(tokenizer, real_tokenized):
    instances = create_instances(real_tokenized, **special_ids(tokenizer), seed=2)[:400]
    dataset = PretrainingDataset(instances, tokenizer, whole_word=True, seed=2)
    words_split = 0
    for index, instance in enumerate(instances):
        labels = dataset[index]["labels"]
        tokens = tokenizer.convert_ids_to_tokens(instance.input_ids)
        for position, token in enumerate(tokens):
            if token.startswith("##") and tokens[position - 1] not in ("[CLS]", "[SEP]"):
                words_split += 1
                assert (labels[position] != -100) == (labels[position - 1] != -100)
    assert words_split > 100


def test_dynamic_masking_changes_every_epoch_static_does_not(tokenizer, real_tokenized):
    instances = create_instances(real_tokenized, **special_ids(tokenizer))[:50]
    dynamic = PretrainingDataset(instances, tokenizer, dynamic=True, seed=4)
    static = PretrainingDataset(instances, tokenizer, seed=4)
    first = [dynamic[i]["labels"] for i in range(50)]
    assert first == [dynamic[i]["labels"] for i in range(50)]  # reproducible within an epoch
    static_first = [static[i]["labels"] for i in range(50)]
    dynamic.set_epoch(1)
    static.set_epoch(1)
    assert first != [dynamic[i]["labels"] for i in range(50)]
    assert static_first == [static[i]["labels"] for i in range(50)]


def test_corpus_that_nsp_cannot_use_gets_clear_errors():
    with pytest.raises(ValueError, match="empty"):
        create_instances([], cls_token_id=1, sep_token_id=2)
    with pytest.raises(ValueError, match="single document"):
        create_instances([[[5, 6], [7]]], cls_token_id=1, sep_token_id=2)
    with pytest.raises(ValueError, match="single sentence"):
        create_instances([[[5, 6]], [[7]], [[8]]], cls_token_id=1, sep_token_id=2)


# ----------------------------------------------------------------------------- the model


def real_batch(tokenizer, real_tokenized, n=6):
    instances = create_instances(real_tokenized, **special_ids(tokenizer), max_seq_length=64)[:n]
    dataset = PretrainingDataset(instances, tokenizer, seed=0)
    return PretrainingCollator(tokenizer.pad_token_id)([dataset[i] for i in range(n)])


def test_pretraining_loss_equals_transformers(tokenizer, real_tokenized, tmp_path, tiny_config):
    torch.manual_seed(0)
    ours = BertForPreTraining(small_config(tiny_config, tokenizer.vocab_size, dropout=0.0)).eval()
    assert ours.cls.predictions.decoder.weight is ours.bert.embeddings.word_embeddings.weight
    save_for_transformers(ours, tokenizer, tmp_path)
    theirs, info = transformers.BertForPreTraining.from_pretrained(
        tmp_path, output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"]
    theirs.eval()
    batch = real_batch(tokenizer, real_tokenized)
    assert (batch["attention_mask"] == 0).any()  # padding is exercised
    mine, reference = ours(**batch), theirs(**batch)
    assert_close(mine.loss, reference.loss, ulps=DEEP)
    assert_close(mine.prediction_logits, reference.prediction_logits, ulps=DEEP)
    assert_close(mine.seq_relationship_logits, reference.seq_relationship_logits, ulps=DEEP)
    sparse = ours(**batch, labelled_logits_only=True)
    assert_close(sparse.loss, reference.loss, ulps=DEEP)
    # gradients agree too (what training uses; dropout is 0 in this config)
    ours.train(), theirs.train()
    ours(**batch, labelled_logits_only=True).loss.backward()
    theirs(**batch).loss.backward()
    assert_close(
        ours.bert.embeddings.word_embeddings.weight.grad,
        theirs.bert.embeddings.word_embeddings.weight.grad,
        ulps=DEEP,
    )


def test_transformers_checkpoint_loads_with_tied_weights(
    tokenizer, real_tokenized, tmp_path, tiny_config
):
    torch.manual_seed(1)
    config = transformers.BertConfig(
        **{**small_config(tiny_config, tokenizer.vocab_size).to_dict(), "attn_implementation": None}
    )
    theirs = transformers.BertForPreTraining(config).eval()
    theirs.save_pretrained(tmp_path)
    ours = BertForPreTraining.from_pretrained(tmp_path)
    assert ours.loading_info["missing_keys"] == [] and ours.loading_info["unexpected_keys"] == []
    assert ours.cls.predictions.decoder.weight is ours.bert.embeddings.word_embeddings.weight
    batch = real_batch(tokenizer, real_tokenized)
    assert_close(ours(**batch).loss, theirs(**batch).loss, ulps=DEEP)
    mlm = BertForMaskedLM.from_pretrained(tmp_path).eval()
    mlm_theirs = transformers.BertForMaskedLM.from_pretrained(tmp_path).eval()
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids", "labels")}
    assert_close(mlm(**inputs).loss, mlm_theirs(**inputs).loss, ulps=DEEP)


def test_evaluation_counts_masked_positions(tokenizer, real_tokenized, tiny_config):
    torch.manual_seed(0)
    model = BertForPreTraining(small_config(tiny_config, tokenizer.vocab_size))
    instances = create_instances(real_tokenized, **special_ids(tokenizer), max_seq_length=64)[:20]
    dataset = PretrainingDataset(instances, tokenizer)
    batches = PretrainingBatches(dataset, 8, PretrainingCollator(0, True), shuffle=False)
    metrics = evaluate_pretraining(model, batches)
    full = [
        model.eval()(**{k: v for k, v in b.items() if k != "labelled_logits_only"}) for b in batches
    ]
    correct = total = 0
    for batch, out in zip(batches, full):
        keep = batch["labels"] != -100
        correct += int((out.prediction_logits.argmax(-1)[keep] == batch["labels"][keep]).sum())
        total += int(keep.sum())
    assert metrics["mlm_accuracy"] == pytest.approx(correct / total)
    assert 0 <= metrics["nsp_accuracy"] <= 1
    assert "mask_accuracy" not in metrics  # only with the [MASK] id


class Copier(torch.nn.Module):
    """Predicts, at every position to predict, the token its input shows there."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.unused = torch.nn.Parameter(torch.zeros(1))  # evaluate_pretraining reads the device

    def forward(self, input_ids, labels, next_sentence_label, **_):
        shown = input_ids[labels != -100]
        zero = torch.zeros(())
        return BertForPreTrainingOutput(
            prediction_logits=torch.nn.functional.one_hot(shown, self.vocab_size).float(),
            seq_relationship_logits=torch.zeros(len(input_ids), 2),
            mlm_loss=zero,
            nsp_loss=zero,
        )


def test_mask_accuracy_counts_only_the_blanks(tokenizer, real_tokenized):
    """A model that copies its input is right wherever the token was left unchanged and
    never at [MASK]: `mlm_accuracy` counts every predicted position, `mask_accuracy` the blanks."""
    instances = create_instances(real_tokenized, **special_ids(tokenizer), max_seq_length=64)[:60]
    dataset = PretrainingDataset(instances, tokenizer)
    batches = PretrainingBatches(dataset, 16, PretrainingCollator(0, True), shuffle=False)
    metrics = evaluate_pretraining(Copier(tokenizer.vocab_size), batches, tokenizer.mask_token_id)
    unchanged = predicted = 0
    for i in range(len(dataset)):
        example = dataset[i]
        for shown, label in zip(example["input_ids"], example["labels"]):
            predicted += label != -100
            unchanged += label != -100 and shown == label
    assert metrics["mask_accuracy"] == 0
    assert metrics["mlm_accuracy"] == pytest.approx(unchanged / predicted) and unchanged > 0


# ----------------------------------------------------------------------------- the command


def cli(*argv: str) -> dict:
    """Run `bertlab pretrain` in this process; its JSON result, or the error it printed."""
    from bertlab.cli import build_parser

    args = build_parser().parse_args(["pretrain", *argv])
    return args.run(args)


TINY = ["--layers", "1", "--hidden", "32", "--heads", "2", "--seq-length", "48", "--no-progress"]


def test_pretrain_command_writes_a_folder_transformers_loads(tmp_path):
    out = tmp_path / "run"
    result = cli(
        "--corpus", str(SAMPLE), "--out", str(out), "--max-steps", "4", "--batch-size", "4",
        "--vocab-size", "300", *TINY,
    )  # fmt: skip
    assert result["steps"] == 4 and result["stop_reason"] == "max_steps=4 reached"
    for name in ("config.json", "vocab.txt", "tokenizer_config.json", "model.safetensors"):
        assert (out / name).is_file()
    model, info = transformers.BertForPreTraining.from_pretrained(out, output_loading_info=True)
    assert not any(info.values()), info
    assert model.config.vocab_size == result["vocab_size"] <= 300
    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    assert tokenizer.mask_token == "[MASK]"
    history = json.loads((out / "training_history.json").read_text())
    assert history[-1]["step"] == 4 and "mlm_accuracy" in history[-1]
    ours = BertForPreTraining.from_pretrained(out)
    assert ours.loading_info["missing_keys"] == []


def test_pretrain_command_rejects_bad_corpora(tmp_path):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="empty"):
        cli("--corpus", str(tmp_path / "empty.txt"), "--out", str(tmp_path / "a"), *TINY)
    lines = "\n\n".join(f"CHAPTER {i}\nOnly one sentence here number {i}." for i in range(12))
    (tmp_path / "single.txt").write_text(lines, encoding="utf-8")
    with pytest.raises(ValueError, match="single sentence"):
        cli(
            "--corpus",
            str(tmp_path / "single.txt"),
            "--out",
            str(tmp_path / "b"),
            "--vocab-size",
            "120",
            *TINY,
        )
    with pytest.raises(SystemExit):  # argparse: "argument --max-steps: must be >= 1, got 0"
        cli("--corpus", str(SAMPLE), "--out", str(tmp_path / "c"), "--max-steps", "0", *TINY)


# ----------------------------------------------------------------------------- the recipe's setup


def test_setup_defaults_are_the_cpu_budget_recipe(tokenizer):
    from bertlab.pretraining import PretrainingSetup

    setup = PretrainingSetup()
    config = setup.model_config(tokenizer)
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (2, 128, 2)
    assert config.hidden_dropout_prob == config.attention_probs_dropout_prob == 0.0
    assert setup.dynamic_masking and setup.sinusoidal_positions and not setup.whole_word
    assert setup.predictions_per_sequence == 10  # round(0.15 * 64), Google's rule
    assert PretrainingSetup(seq_length=128).predictions_per_sequence == 19
    assert PretrainingSetup(max_predictions=20).predictions_per_sequence == 20
    assert PretrainingSetup(dropout=0.1).model_config(tokenizer).hidden_dropout_prob == 0.1
    for bad in (
        dict(dropout=1.5),
        dict(masked_lm_prob=0.0),
        dict(layers=0),
        dict(max_predictions=0),
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            PretrainingSetup(**bad)


def test_command_flags_fill_the_setup():
    from bertlab.cli import build_parser

    parse = build_parser().parse_args
    args = parse(["pretrain", "--out", "x"])
    assert args.dynamic_masking is True and args.dropout == 0.0 and args.lr == 2e-3
    args = parse(
        ["pretrain", "--out", "x", "--no-dynamic-masking", "--whole-word", "--dropout", "0.1"]
    )
    assert args.dynamic_masking is False and args.whole_word is True and args.dropout == 0.1
    for bad in (["--dropout", "1"], ["--masked-lm-prob", "-0.1"], ["--max-predictions", "0"]):
        with pytest.raises(SystemExit):
            parse(["pretrain", "--out", "x", *bad])


def corpus_with_a_rare_word(path: Path, chapters_with_it: range) -> Path:
    """Eight chapters of the sample's sentences; `chapters_with_it` also say 'quorblex' a lot."""
    sentences = [s for doc in read_documents(SAMPLE) for s in doc]
    chapters = []
    for c in range(8):
        text = " ".join(sentences[(c * 9 + k) % len(sentences)] for k in range(9))
        if c in chapters_with_it:
            text += " The quorblex rang. " * 40
        chapters.append(f"CHAPTER {c + 1}\n{text}\n")
    path.write_text("\n".join(chapters), encoding="utf-8")
    return path


def test_heldout_documents_stay_out_of_the_vocabulary(tmp_path):
    """The held-out chapters (the first ones) are unseen text: not even the vocabulary learns
    from them. The same word in a training chapter does enter the vocabulary."""
    flags = ["--max-steps", "1", "--batch-size", "4", "--vocab-size", "200"]
    flags += ["--holdout-documents", "2", *TINY]
    for chapters, expected in ((range(0, 2), False), (range(6, 8), True)):
        corpus = corpus_with_a_rare_word(tmp_path / f"corpus{expected}.txt", chapters)
        out = tmp_path / f"run{expected}"
        cli("--corpus", str(corpus), "--out", str(out), *flags)
        vocab = (out / "vocab.txt").read_text(encoding="utf-8").split("\n")
        assert ("quorblex" in vocab) is expected


def test_pretrain_command_reports_heldout_accuracy_beside_its_baselines(tmp_path, capsys):
    result = cli(
        "--corpus", str(SAMPLE), "--out", str(tmp_path / "run"), "--max-steps", "2",
        "--batch-size", "4", "--vocab-size", "300", *TINY,
    )  # fmt: skip
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line.startswith(f"held-out MLM accuracy {result['mlm_accuracy']:.3f}")
    assert f"[MASK] positions only: {result['mask_accuracy']:.3f}" in last_line
    assert f"vs {result['most_frequent_token_accuracy']:.3f}" in last_line
    assert f"({result['mask_baseline_accuracy']:.3f})" in last_line
    assert f"always predicting {result['most_frequent_token']!r}" in last_line
    assert f"{result['nsp_accuracy']:.3f} vs {result['nsp_majority_accuracy']:.3f}" in last_line
    assert 0.5 <= result["nsp_majority_accuracy"] <= 1


def test_mlm_accuracy_on_texts_scores_google_masks_against_the_best_constant(
    tokenizer, tiny_config
):
    from collections import Counter

    from bertlab.pretraining import mlm_accuracy_on_texts

    torch.manual_seed(0)
    model = BertForPreTraining(small_config(tiny_config, tokenizer.vocab_size)).eval()
    # one length for all (no padding), several of each so the baseline has a clear winner
    texts = [f"the {word} sat on the mat, and the dog ran." for word in ("cat", "bird", "man")] * 5
    scores = mlm_accuracy_on_texts(model, tokenizer, texts, max_length=16, seed=3)
    # the same masks by hand: one [CLS] text [SEP] segment each, mask_tokens with its stream
    right = total = right_at_mask = at_mask = 0
    labels_seen, labels_at_mask = Counter(), Counter()
    for index, text in enumerate(texts):
        ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text))[:14]
        tokens = [tokenizer.cls_token_id, *ids, tokenizer.sep_token_id]
        masked, labels = mask_tokens(
            tokens, rng=random.Random(f"3-0-{index}"), vocab_size=tokenizer.vocab_size,
            mask_token_id=tokenizer.mask_token_id,
            special_ids={tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id},
            max_predictions=2,
        )  # fmt: skip
        with torch.no_grad():
            logits = model(torch.tensor([masked])).prediction_logits[0]
        for position, label in enumerate(labels):
            if label != -100:
                guessed = int(logits[position].argmax() == label)
                right, total = right + guessed, total + 1
                labels_seen[label] += 1
                if masked[position] == tokenizer.mask_token_id:
                    right_at_mask, at_mask = right_at_mask + guessed, at_mask + 1
                    labels_at_mask[label] += 1
    assert scores["masked_positions"] == total
    assert scores["mlm_accuracy"] == pytest.approx(right / total)
    assert scores["mask_accuracy"] == pytest.approx(right_at_mask / at_mask)
    token, count = labels_seen.most_common(1)[0]
    assert scores["baseline_accuracy"] == pytest.approx(count / total)
    assert scores["mask_baseline_accuracy"] == pytest.approx(labels_at_mask[token] / at_mask)
    assert scores["baseline_token"] == tokenizer.convert_ids_to_tokens(token)
    with pytest.raises(ValueError, match="no text"):
        mlm_accuracy_on_texts(model, tokenizer, ["", "   "])


def test_sinusoidal_start_is_still_a_learned_bert_position_table(tmp_path, tiny_config):
    from bertlab.embeddings import sinusoidal_encoding
    from bertlab.pretraining import start_positions_from_sinusoids

    torch.manual_seed(0)
    model = BertForPreTraining(small_config(tiny_config, 100))
    start_positions_from_sinusoids(model)
    table = model.bert.embeddings.position_embeddings.weight
    assert table.requires_grad  # still a parameter the optimizer trains
    sines = sinusoidal_encoding(*table.shape)
    assert_close(table.detach(), sines * (0.02 / sines.std()), ulps=SHALLOW)
    assert table.std().item() == pytest.approx(model.config.initializer_range, rel=1e-3)
    neighbours = torch.nn.functional.cosine_similarity(table[:-1], table[1:], dim=-1)
    assert neighbours.min() > 0.5  # nearby positions start alike (random rows: about 0)
    model.save_pretrained(tmp_path)
    theirs = transformers.BertForPreTraining.from_pretrained(tmp_path)
    assert torch.equal(theirs.bert.embeddings.position_embeddings.weight, table.detach())


def test_pretrain_command_starts_positions_as_asked(tmp_path):
    """--no-sinusoidal-positions trains from BERT's random start: one step later, the table is
    still near its random start, far from the sinusoids it starts from by default."""
    from bertlab.embeddings import sinusoidal_encoding

    flags = [
        "--corpus",
        str(SAMPLE),
        "--max-steps",
        "1",
        "--batch-size",
        "4",
        "--vocab-size",
        "300",
    ]
    distances = {}
    for choice in ("--sinusoidal-positions", "--no-sinusoidal-positions"):
        out = tmp_path / choice
        cli(*flags, "--out", str(out), choice, *TINY, "--lr", "1e-5")
        table = BertForPreTraining.from_pretrained(out).bert.embeddings.position_embeddings.weight
        table = table.detach()
        sines = sinusoidal_encoding(*table.shape)
        distances[choice] = float((table - sines * (0.02 / sines.std())).abs().max())
    assert distances["--sinusoidal-positions"] < 1e-3 < distances["--no-sinusoidal-positions"]
