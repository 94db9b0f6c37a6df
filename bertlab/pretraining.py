"""BERT's pretraining heads, their joint loss, and the `bertlab pretrain` command.

Notebook 09 teaches this: a masked-language-model head predicts the hidden
tokens, a next-sentence head classifies `[CLS]` as IsNext (0) or NotNext (1),
and the pretraining loss is the sum `L = L_MLM + L_NSP`.

Module and parameter names are Hugging Face's (`cls.predictions.transform.dense`,
`cls.predictions.decoder`, `cls.predictions.bias`, `cls.seq_relationship`), so
`transformers.BertForPreTraining.from_pretrained` loads what `save_pretrained`
writes, and the other way round. The decoder shares its weight matrix with the
input word embeddings (weight tying), as in BERT.

The instances, masking and batches live in `bertlab.pretraining_data`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bertlab.model import (
    HIDDEN_ACT,
    BertConfig,
    BertModel,
    BertModelOutput,
    BertPreTrainedModel,
    BertWithHead,
    LogitsOutput,
    ModelOutput,
    check_positive,
)
from bertlab.runtime import set_seed
from bertlab.training import TrainingConfig

__all__ = [
    "BertForMaskedLM",
    "BertForPreTraining",
    "BertForPreTrainingOutput",
    "MaskedLMOutput",
    "PretrainingSetup",
    "evaluate_pretraining",
    "masked_labels",
    "mlm_accuracy_on_texts",
    "most_frequent_token_baseline",
    "pretrain",
    "add_pretrain_command",
    "save_for_transformers",
    "start_positions_from_sinusoids",
]


@dataclass
class BertForPreTrainingOutput(ModelOutput):
    """Hugging Face's `BertForPreTrainingOutput`, plus the two losses separately."""

    loss: torch.Tensor | None = None
    prediction_logits: torch.Tensor | None = None
    seq_relationship_logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None
    mlm_loss: torch.Tensor | None = None
    nsp_loss: torch.Tensor | None = None


@dataclass
class MaskedLMOutput(LogitsOutput):
    """Hugging Face's `MaskedLMOutput`: logits are [batch, seq, vocab_size]."""


class BertPredictionHeadTransform(nn.Module):
    """dense -> activation (GELU) -> LayerNorm, before the vocabulary projection."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform_act_fn = HIDDEN_ACT[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.transform_act_fn(self.dense(hidden_states)))


class BertLMPredictionHead(nn.Module):
    """Scores over the vocabulary: `transform(h) @ E^T + bias`, E the (tied) word embeddings."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.decoder.bias = self.bias  # one bias, two names (as Hugging Face)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(hidden_states))


class BertPreTrainingHeads(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.predictions = BertLMPredictionHead(config)
        self.seq_relationship = nn.Linear(config.hidden_size, 2)


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.predictions = BertLMPredictionHead(config)


def masked_lm_logits(
    head: BertLMPredictionHead,
    sequence_output: torch.Tensor,
    labels: torch.Tensor | None,
    labelled_logits_only: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Vocabulary scores and the MLM loss (mean cross-entropy over positions with label != -100).

    With `labelled_logits_only=True` the head runs on the labelled positions only (about
    15% of the tokens): the loss is the same, the logits have shape [n_labelled, vocab].
    Training needs nothing else, and the vocabulary projection is the costliest layer of
    a small BERT.
    """
    if labels is not None and labelled_logits_only:
        keep = labels != -100
        logits = head(sequence_output[keep])
        return logits, F.cross_entropy(logits.float(), labels[keep])
    logits = head(sequence_output)
    loss = None
    if labels is not None:
        loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), labels.view(-1))
    return logits, loss


class _TiedDecoderMixin:
    def tie_weights(self) -> None:
        """The decoder's weight IS the input embedding matrix (one tensor, two names)."""
        predictions = self.cls.predictions
        predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight
        predictions.decoder.bias = predictions.bias

    def get_output_embeddings(self) -> nn.Linear:
        return self.cls.predictions.decoder


class BertForPreTraining(_TiedDecoderMixin, BertWithHead):
    """BERT with both pretraining heads: masked language model + next-sentence prediction."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=True)
        self.cls = BertPreTrainingHeads(config)
        self.post_init()

    def head_output(
        self,
        outputs: BertModelOutput,
        labels: torch.Tensor | None = None,
        next_sentence_label: torch.Tensor | None = None,
        labelled_logits_only: bool = False,
    ) -> BertForPreTrainingOutput:
        """`labels`: token ids at the masked positions, -100 elsewhere; `next_sentence_label`:
        0 = IsNext, 1 = NotNext. The loss needs both (as in Hugging Face)."""
        both = labels is not None and next_sentence_label is not None
        prediction_logits, mlm_loss = masked_lm_logits(
            self.cls.predictions,
            outputs.last_hidden_state,
            labels if both else None,
            labelled_logits_only,
        )
        nsp_logits = self.cls.seq_relationship(outputs.pooler_output)
        nsp_loss = loss = None
        if both:
            nsp_loss = F.cross_entropy(nsp_logits.float().view(-1, 2), next_sentence_label.view(-1))
            loss = mlm_loss + nsp_loss
        return BertForPreTrainingOutput(
            loss=loss,
            prediction_logits=prediction_logits,
            seq_relationship_logits=nsp_logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            mlm_loss=mlm_loss,
            nsp_loss=nsp_loss,
        )


class BertForMaskedLM(_TiedDecoderMixin, BertWithHead):
    """BERT with the masked-language-model head only (no pooler, no NSP): fill in the blanks."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)
        self.post_init()

    def head_output(
        self,
        outputs: BertModelOutput,
        labels: torch.Tensor | None = None,
        labelled_logits_only: bool = False,
    ) -> MaskedLMOutput:
        logits, loss = masked_lm_logits(
            self.cls.predictions, outputs.last_hidden_state, labels, labelled_logits_only
        )
        return MaskedLMOutput(
            loss=loss,
            logits=logits,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


@torch.no_grad()
def start_positions_from_sinusoids(model: BertPreTrainedModel) -> None:
    """Start the learned position table from the Transformer's sinusoids (notebook 07),
    scaled to the spread BERT initialises it with (std = `initializer_range`, 0.02).

    The table stays a learned parameter, and the checkpoint stays a BERT checkpoint. What
    changes is the start: random rows know nothing about order, so a fresh model must
    first learn which positions are neighbours before attention can use the words next to
    a blank; sinusoids of nearby positions are already similar. Notebook 09 starts this way
    to get past that phase within minutes; BERT itself starts from random rows.
    """
    from bertlab.embeddings import sinusoidal_encoding

    table = model.bert.embeddings.position_embeddings.weight
    sines = sinusoidal_encoding(table.shape[0], table.shape[1]).to(table.device, table.dtype)
    table.copy_(sines * (model.config.initializer_range / sines.std()))


# ----------------------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate_pretraining(
    model: BertForPreTraining, batches, mask_token_id: int | None = None
) -> dict[str, float]:
    """Held-out MLM accuracy (over the masked positions), NSP accuracy and the two losses.

    `mlm_accuracy` counts every position chosen for prediction, as Google's
    `masked_lm_accuracy` does, so the 10% left unchanged count too, and there the answer
    is in the input. Given the `[MASK]` id, `mask_accuracy` and `eval_mask_loss` count
    only the positions shown as `[MASK]`: the blanks the model must fill from the context.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    counts = dict.fromkeys(("mlm_correct", "mlm", "mask_correct", "mask", "nsp_correct", "nsp"), 0)
    mlm_loss_sum = nsp_loss_sum = mask_loss_sum = 0.0
    for batch in batches:
        batch = {
            k: v.to(device) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()
            if k != "labelled_logits_only"
        }
        output = model(**batch, labelled_logits_only=True)
        keep = batch["labels"] != -100
        right = output.prediction_logits.argmax(-1) == batch["labels"][keep]
        counts["mlm_correct"] += int(right.sum())
        counts["mlm"] += len(right)
        mlm_loss_sum += float(output.mlm_loss) * len(right)
        if mask_token_id is not None:
            at_mask = batch["input_ids"][keep] == mask_token_id
            counts["mask_correct"] += int(right[at_mask].sum())
            counts["mask"] += int(at_mask.sum())
            losses = F.cross_entropy(
                output.prediction_logits.float(), batch["labels"][keep], reduction="none"
            )
            mask_loss_sum += float(losses[at_mask].sum())
        nsp = batch["next_sentence_label"]
        counts["nsp_correct"] += int((output.seq_relationship_logits.argmax(-1) == nsp).sum())
        counts["nsp"] += len(nsp)
        nsp_loss_sum += float(output.nsp_loss) * len(nsp)
    model.train(was_training)
    if not counts["mlm"]:
        raise ValueError("no evaluation batch had a masked token")
    metrics = {
        "mlm_accuracy": counts["mlm_correct"] / counts["mlm"],
        "nsp_accuracy": counts["nsp_correct"] / counts["nsp"],
        "eval_mlm_loss": mlm_loss_sum / counts["mlm"],
        "eval_nsp_loss": nsp_loss_sum / counts["nsp"],
    }
    if counts["mask"]:
        metrics["mask_accuracy"] = counts["mask_correct"] / counts["mask"]
        metrics["eval_mask_loss"] = mask_loss_sum / counts["mask"]
    return metrics


def masked_labels(dataset, at_mask_only: bool = False, mask_token_id: int | None = None):
    """The labels of every position chosen for prediction in `dataset` (or only of those
    shown as `[MASK]`), in order."""
    for i in range(len(dataset)):
        example = dataset[i]
        for shown, label in zip(example["input_ids"], example["labels"]):
            if label != -100 and (not at_mask_only or shown == mask_token_id):
                yield label


def most_frequent_token_baseline(
    train_dataset, eval_dataset, mask_token_id: int | None = None
) -> tuple[int, float]:
    """The MLM baseline: always predict the token most often masked in training; its
    accuracy on the held-out masked positions (only those shown as `[MASK]` when
    `mask_token_id` is given). Returns (token id, accuracy)."""
    from collections import Counter

    counts = Counter(masked_labels(train_dataset))
    if not counts:
        raise ValueError("the training data has no masked token")
    token = counts.most_common(1)[0][0]
    held_out = list(masked_labels(eval_dataset, mask_token_id is not None, mask_token_id))
    return token, sum(label == token for label in held_out) / max(1, len(held_out))


def mlm_accuracy_on_texts(
    model: BertForPreTraining,
    tokenizer,
    texts: list[str],
    *,
    max_length: int = 64,
    masked_lm_prob: float = 0.15,
    seed: int = 0,
) -> dict[str, Any]:
    """MLM accuracy on plain texts (say, text the model never trained on) and its baseline.

    Each text becomes one segment `[CLS] text [SEP]` (cut to `max_length`), masked once
    with Google's rule (`mask_tokens`, a fixed `seed`). Returns `mlm_accuracy` (every
    predicted position) and `mask_accuracy` (those shown as `[MASK]`), each with the
    best constant guess in hindsight beside it: the token most often masked in these very
    texts, always predicted (`baseline_token`, `baseline_accuracy`,
    `mask_baseline_accuracy`); and `masked_positions`.
    """
    from collections import Counter

    from bertlab.pretraining_data import (
        PretrainingBatches,
        PretrainingCollator,
        PretrainingDataset,
        PretrainingInstance,
    )

    instances = []
    for text in texts:
        ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(text))[: max_length - 2]
        if ids:
            tokens = [tokenizer.cls_token_id, *ids, tokenizer.sep_token_id]
            instances.append(PretrainingInstance(tokens, [0] * len(tokens), 0))
    if not instances:
        raise ValueError("no text to evaluate on: every text was empty after tokenization")
    predictions = max(1, round(masked_lm_prob * max_length))
    dataset = PretrainingDataset(
        instances, tokenizer, masked_lm_prob=masked_lm_prob, max_predictions=predictions, seed=seed
    )
    collator = PretrainingCollator(tokenizer.pad_token_id, labelled_logits_only=True)
    batches = PretrainingBatches(dataset, 64, collator, shuffle=False)
    metrics = evaluate_pretraining(model, batches, tokenizer.mask_token_id)
    labels = Counter(masked_labels(dataset))
    token, count = labels.most_common(1)[0]
    at_mask = list(masked_labels(dataset, True, tokenizer.mask_token_id))
    return {
        "mlm_accuracy": metrics["mlm_accuracy"],
        "mask_accuracy": metrics.get("mask_accuracy", 0.0),
        "baseline_token": tokenizer.convert_ids_to_tokens(token),
        "baseline_accuracy": count / sum(labels.values()),
        "mask_baseline_accuracy": at_mask.count(token) / max(1, len(at_mask)),
        "masked_positions": sum(labels.values()),
    }


# ----------------------------------------------------------------------------- saving


def save_for_transformers(model: BertPreTrainedModel, tokenizer, folder: str | Path) -> Path:
    """`save_pretrained` + the tokenizer: one folder that bertlab and `transformers` both load
    (`bertlab.checkpoints.save_folder`, which every command saves through)."""
    from bertlab.checkpoints import save_folder

    return save_folder(folder, model, tokenizer)


# ----------------------------------------------------------------------------- the recipe


@dataclass
class PretrainingSetup:
    """What `pretrain` builds: the vocabulary, the model's sizes, the instances and batches.

    Every field is a flag of `bertlab pretrain` with the same name (`vocab_size` is
    `--vocab-size`). The defaults are sized for minutes on two CPU cores (notebook 09
    explains the same choices): BERT-tiny's shape (2 layers, hidden 128, 2 heads; Turc
    et al. 2019), a 4,000-piece vocabulary learned on the corpus (a small table is cheap
    to score and each row is seen often), sequences of 64 tokens in batches of 32 (many
    short steps: a small model first learns local context), masks redrawn every epoch
    (RoBERTa's dynamic masking: a repeated sequence gets new blanks), the learned position
    table started from sinusoids (`start_positions_from_sinusoids`, not BERT's recipe: it
    gets a small model past the frequent-token phase sooner) and no dropout.
    Dropout fights overfitting, which a budget of a few passes over the corpus does not
    reach, and drawing its masks costs CPU time; it is a budget choice, not a rule: raise
    `dropout` to 0.1 (BERT's) for long runs. BERT-base's own setting was 12 layers,
    hidden 768, a 30,522-piece vocabulary, 128 tokens for 90% of its steps, static masks.
    """

    vocab: str | None = None
    vocab_size: int = 4000
    vocab_sentences: int = 20_000
    layers: int = 2
    hidden: int = 128
    heads: int = 2
    intermediate: int | None = None
    dropout: float = 0.0
    sinusoidal_positions: bool = True
    seq_length: int = 64
    masked_lm_prob: float = 0.15
    max_predictions: int | None = None
    short_seq_prob: float = 0.1
    dupe_factor: int = 1
    whole_word: bool = False
    dynamic_masking: bool = True
    batch_size: int = 32
    holdout_documents: int = 10
    max_documents: int | None = None

    def __post_init__(self) -> None:
        check_positive(
            self,
            "vocab_size",
            "vocab_sentences",
            "layers",
            "hidden",
            "heads",
            "seq_length",
            "dupe_factor",
            "batch_size",
            "holdout_documents",
        )
        for name in ("intermediate", "max_predictions", "max_documents"):
            if getattr(self, name) is not None:
                check_positive(self, name)
        for name in ("short_seq_prob", "masked_lm_prob", "dropout"):
            value = getattr(self, name)
            if not 0 <= value <= (1 if name == "short_seq_prob" else 0.99):
                raise ValueError(f"{name} must be a probability, got {value}")
        if self.masked_lm_prob == 0:
            raise ValueError("masked_lm_prob must be > 0: MLM needs masked tokens to predict")

    @property
    def predictions_per_sequence(self) -> int:
        """The cap on masked positions: `max_predictions`, else 15% (`masked_lm_prob`) of
        `seq_length` (Google pairs 128 tokens with 20, 512 with 80)."""
        return self.max_predictions or max(1, round(self.masked_lm_prob * self.seq_length))

    def model_config(self, tokenizer) -> BertConfig:
        return BertConfig(
            vocab_size=tokenizer.vocab_size,
            hidden_size=self.hidden,
            num_hidden_layers=self.layers,
            num_attention_heads=self.heads,
            intermediate_size=self.intermediate or 4 * self.hidden,
            hidden_dropout_prob=self.dropout,
            attention_probs_dropout_prob=self.dropout,
            pad_token_id=tokenizer.pad_token_id,
        )


def split_documents(documents: list, setup: PretrainingSetup) -> tuple[list, list]:
    """(training documents, held-out documents): the first `holdout_documents` documents
    (at most a fifth of the corpus, at least 2) are kept out of everything, the vocabulary
    included, so the held-out accuracy is measured on text the model never saw."""
    holdout = min(setup.holdout_documents, max(2, len(documents) // 5))
    if len(documents) - holdout < 2:
        raise ValueError(
            f"the corpus has {len(documents)} documents, too few: pretraining holds out 2+ "
            "documents for evaluation and needs 2+ more to train on"
        )
    return documents[holdout:], documents[:holdout]


def learn_tokenizer(documents, setup: PretrainingSetup):
    """The vocabulary: `setup.vocab` when given, else WordPiece learned on the corpus (notebook 05)
    from `vocab_sentences` sentences spread evenly over it."""
    from bertlab.tokenization import BertTokenizer, train_wordpiece_vocab

    if setup.vocab:
        return BertTokenizer.from_pretrained(setup.vocab)
    sentences = [sentence for document in documents for sentence in document]
    if len(sentences) > setup.vocab_sentences:
        step = len(sentences) / setup.vocab_sentences
        sentences = [sentences[int(i * step)] for i in range(setup.vocab_sentences)]
    return BertTokenizer(train_wordpiece_vocab(sentences, setup.vocab_size))


def pretraining_data(train_documents, heldout_documents, tokenizer, setup: PretrainingSetup, seed):
    """Instances and masks: training (masks redrawn every epoch with `dynamic_masking`) and
    held out (masks fixed, so every evaluation scores the same blanks)."""
    from bertlab.pretraining_data import PretrainingDataset, create_instances, tokenize_documents

    ids = dict(cls_token_id=tokenizer.cls_token_id, sep_token_id=tokenizer.sep_token_id)
    shape = dict(max_seq_length=setup.seq_length, short_seq_prob=setup.short_seq_prob)
    train_instances = create_instances(
        tokenize_documents(train_documents, tokenizer),
        **ids,
        **shape,
        dupe_factor=setup.dupe_factor,
        seed=seed,
    )
    eval_instances = create_instances(
        tokenize_documents(heldout_documents, tokenizer), **ids, **shape, seed=seed + 1
    )
    masking = dict(
        masked_lm_prob=setup.masked_lm_prob,
        max_predictions=setup.predictions_per_sequence,
        whole_word=setup.whole_word,
    )
    train_data = PretrainingDataset(
        train_instances, tokenizer, **masking, dynamic=setup.dynamic_masking, seed=seed
    )
    eval_data = PretrainingDataset(eval_instances[:2000], tokenizer, **masking, seed=seed + 1)
    return train_data, eval_data


def pretrain(
    corpus: str | None,
    out: str | Path,
    setup: PretrainingSetup,
    training: TrainingConfig,
    log=print,
) -> dict[str, Any]:
    """Corpus -> vocabulary -> instances -> MLM + NSP training -> a saved folder; returns a summary.

    The folder loads in bertlab (`bertlab.auto.load_model`) and in
    `transformers.BertForPreTraining`; the summary and the last line logged give the
    held-out MLM accuracy beside the most-frequent-token baseline, and the held-out NSP
    accuracy beside the majority label.
    """
    from bertlab.checkpoints import save_folder
    from bertlab.data.corpus import load_corpus
    from bertlab.files import atomic_write_json
    from bertlab.pretraining_data import PretrainingBatches, PretrainingCollator
    from bertlab.training import train

    set_seed(training.seed)
    started = time.perf_counter()
    documents = load_corpus(corpus)
    if setup.max_documents:
        documents = documents[: setup.max_documents]
    train_documents, heldout_documents = split_documents(documents, setup)
    log(f"corpus: {len(train_documents)} documents to train on, {len(heldout_documents)} held out")
    tokenizer = learn_tokenizer(train_documents, setup)
    train_data, eval_data = pretraining_data(
        train_documents, heldout_documents, tokenizer, setup, training.seed
    )
    pad_id = tokenizer.require_token_id("pad_token", "batching")
    collator = PretrainingCollator(pad_id, labelled_logits_only=True)
    train_batches = PretrainingBatches(train_data, setup.batch_size, collator, shuffle=True)
    eval_batches = PretrainingBatches(eval_data, 64, collator, shuffle=False)
    log(
        f"instances: {len(train_data)} train, {len(eval_data)} held out; "
        f"vocabulary {tokenizer.vocab_size}"
    )
    model = BertForPreTraining(setup.model_config(tokenizer))
    if setup.sinusoidal_positions:
        start_positions_from_sinusoids(model)
    mask_id = tokenizer.mask_token_id
    history = train(
        model, train_batches, training, lambda m: evaluate_pretraining(m, eval_batches, mask_id)
    )
    model.to("cpu")
    if torch.distributed.is_initialized() and torch.distributed.get_rank() != 0:
        return {"rank": torch.distributed.get_rank(), "steps": history.last.get("step")}
    result = summarize(history, model, tokenizer, train_data, eval_data)
    result = {"out": str(out), "documents": len(documents), **result}
    result["seconds"] = round(time.perf_counter() - started, 1)
    log(
        f"held-out MLM accuracy {result['mlm_accuracy']:.3f} ([MASK] positions only: "
        f"{result['mask_accuracy']:.3f}) vs {result['most_frequent_token_accuracy']:.3f} "
        f"({result['mask_baseline_accuracy']:.3f}) always predicting "
        f"{result['most_frequent_token']!r}; NSP accuracy {result['nsp_accuracy']:.3f} vs "
        f"{result['nsp_majority_accuracy']:.3f} always predicting the majority label"
    )
    info = {"setup": asdict(setup), "training": asdict(training), "result": result}

    def write(folder: Path) -> None:
        atomic_write_json(folder / "training_history.json", history.records)

    save_folder(out, model, tokenizer, info, extra=write)
    return result


def nsp_majority_baseline(dataset) -> float:
    """Accuracy of always answering the more frequent NSP label of `dataset`."""
    not_next = sum(dataset[i]["next_sentence_label"] for i in range(len(dataset))) / len(dataset)
    return max(not_next, 1 - not_next)


def summarize(history, model, tokenizer, train_data, eval_data) -> dict[str, Any]:
    """What `pretrain` returns: sizes, the budget used, the held-out scores and their baselines."""
    token, baseline = most_frequent_token_baseline(train_data, eval_data)
    _, mask_baseline = most_frequent_token_baseline(train_data, eval_data, tokenizer.mask_token_id)
    final = history.last
    return {
        "train_instances": len(train_data),
        "eval_instances": len(eval_data),
        "vocab_size": tokenizer.vocab_size,
        "parameters": model.num_parameters,
        "steps": final["step"],
        "stop_reason": history.stop_reason,
        "reproducible": history.reproducible,
        "train_loss": final.get("loss"),
        "mlm_accuracy": final.get("mlm_accuracy"),
        "mask_accuracy": final.get("mask_accuracy"),
        "most_frequent_token": tokenizer.convert_ids_to_tokens(token),
        "most_frequent_token_accuracy": baseline,
        "mask_baseline_accuracy": mask_baseline,
        "nsp_accuracy": final.get("nsp_accuracy"),
        "nsp_majority_accuracy": nsp_majority_baseline(eval_data),
    }


# ----------------------------------------------------------------------------- the command


SETUP_HELP = {
    "vocab": "an existing vocab.txt or folder instead of learning one",
    "vocab_size": "WordPiece vocabulary learned on the corpus",
    "vocab_sentences": "sentences the vocabulary is learned from, spread over the corpus",
    "layers": "encoder layers",
    "hidden": "hidden size",
    "heads": "attention heads",
    "intermediate": "feed-forward size (default: 4 x hidden)",
    "dropout": "dropout of every layer (BERT: 0.1; 0 saves CPU time on a short budget)",
    "sinusoidal_positions": "start the learned positions from sinusoids (BERT: random rows)",
    "seq_length": "tokens per instance, [CLS] and [SEP]s included",
    "masked_lm_prob": "share of the tokens to predict",
    "max_predictions": "cap on predicted tokens per instance (default: masked-lm-prob x seq-length)",
    "short_seq_prob": "probability of a shorter target length",
    "dupe_factor": "passes over the corpus to cut instances (each with other cuts)",
    "whole_word": "mask all the WordPieces of a word together",
    "dynamic_masking": "new masks every epoch (RoBERTa); --no-dynamic-masking masks once (BERT)",
    "batch_size": "instances per optimizer step",
    "holdout_documents": "documents kept out of training for the held-out scores",
    "max_documents": "use only the first N documents of the corpus",
}


def add_setup_flags(parser) -> None:
    """One flag per `PretrainingSetup` field, typed and checked like every bertlab flag."""
    import argparse
    from dataclasses import fields

    from bertlab.flags import probability, whole_number

    for setting in fields(PretrainingSetup):
        flag = "--" + setting.name.replace("_", "-")
        help_text = SETUP_HELP[setting.name]
        if setting.default is not None and "default:" not in help_text:
            help_text += " (default: %(default)s)"
        if setting.type == "bool":
            kind = dict(action=argparse.BooleanOptionalAction)
        elif setting.name == "vocab":
            kind = dict(type=str)
        elif setting.type == "float":
            kind = dict(type=probability)
        else:
            kind = dict(type=whole_number)
        parser.add_argument(flag, default=setting.default, help=help_text, **kind)


def add_pretrain_command(commands) -> None:
    """`bertlab pretrain`: the corpus, the output, the budget and schedule, then the setup."""
    import argparse

    from bertlab.flags import add_model_running_flags, positive_number, probability, whole_number

    description = "pretrain a small BERT with MLM + NSP on a text corpus (notebook 09)"
    parser = commands.add_parser("pretrain", help=description, description=description)
    add = parser.add_argument
    add(
        "--corpus",
        help="a text file or a folder of them (default: BERTLAB_DATA/corpus, else a sample)",
    )
    add("--out", required=True, help="output folder (config.json, vocab.txt, model.safetensors)")
    add(
        "--overwrite",
        action="store_true",
        help="replace a non-empty --out (once the new model is saved)",
    )
    add(
        "--max-seconds",
        type=positive_number,
        default=None,
        help="training time budget (default: 300 unless --max-steps is given)",
    )
    add(
        "--max-steps", type=whole_number, default=None, help="optimizer step budget (default: none)"
    )
    add(
        "--lr", type=positive_number, default=2e-3, help="peak learning rate (default: %(default)s)"
    )
    add(
        "--warmup-ratio",
        type=probability,
        default=0.1,
        help="share of the budget for warmup (default: %(default)s)",
    )
    add(
        "--accumulation-steps",
        type=whole_number,
        default=1,
        help="micro-batches per step (default: %(default)s)",
    )
    add(
        "--eval-every",
        type=whole_number,
        default=None,
        help="evaluate every N steps (default: at the end)",
    )
    add(
        "--save-every", type=whole_number, default=None, help="checkpoint every N steps (resumable)"
    )
    add("--resume", action="store_true", help="resume from OUT/checkpoint")
    add(
        "--seed",
        type=int,
        default=0,
        help="seeds the vocabulary sample, instances, masks and weights",
    )
    add("--no-progress", dest="quiet_progress", action="store_true", help=argparse.SUPPRESS)
    add_setup_flags(parser)
    add_model_running_flags(parser)
    parser.set_defaults(run=run_pretrain)


def run_pretrain(args) -> dict:
    """Check the output folder, build the setup and the TrainingConfig from the flags, pretrain."""
    from dataclasses import fields

    from bertlab.flags import check_output_folder, log

    args.model = None
    out = check_output_folder(args)
    setup = PretrainingSetup(**{f.name: getattr(args, f.name) for f in fields(PretrainingSetup)})
    seconds = args.max_seconds if args.max_seconds or args.max_steps else 300.0
    training = TrainingConfig(
        learning_rate=args.lr,
        warmup_ratio=args.warmup_ratio,
        max_steps=args.max_steps,
        max_seconds=seconds,
        epochs=None,
        accumulation_steps=args.accumulation_steps,
        precision=args.precision,
        eval_every=args.eval_every,
        seed=args.seed,
        progress=not (args.quiet or args.quiet_progress),
        output_dir=Path(out),
        save_every=args.save_every,
        resume=args.resume,
        device=args.device,
    )
    return pretrain(args.corpus, out, setup, training, log=lambda message: log(args, message))
