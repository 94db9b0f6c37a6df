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
    "most_frequent_token_baseline",
    "pretrain",
    "add_pretrain_command",
    "save_for_transformers",
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
class MaskedLMOutput(ModelOutput):
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


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


# ----------------------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate_pretraining(model: BertForPreTraining, batches) -> dict[str, float]:
    """Held-out MLM accuracy (over the masked positions), NSP accuracy and the two losses."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    mlm_correct = mlm_total = nsp_correct = nsp_total = 0
    mlm_loss_sum = nsp_loss_sum = 0.0
    for batch in batches:
        batch = {
            k: v.to(device) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()
            if k != "labelled_logits_only"
        }
        output = model(**batch, labelled_logits_only=True)
        labels = batch["labels"][batch["labels"] != -100]
        mlm_correct += int((output.prediction_logits.argmax(-1) == labels).sum())
        mlm_loss_sum += float(output.mlm_loss) * len(labels)
        mlm_total += len(labels)
        nsp = batch["next_sentence_label"]
        nsp_correct += int((output.seq_relationship_logits.argmax(-1) == nsp).sum())
        nsp_loss_sum += float(output.nsp_loss) * len(nsp)
        nsp_total += len(nsp)
    model.train(was_training)
    if not mlm_total:
        raise ValueError("no evaluation batch had a masked token")
    return {
        "mlm_accuracy": mlm_correct / mlm_total,
        "nsp_accuracy": nsp_correct / nsp_total,
        "eval_mlm_loss": mlm_loss_sum / mlm_total,
        "eval_nsp_loss": nsp_loss_sum / nsp_total,
    }


def most_frequent_token_baseline(train_dataset, eval_dataset) -> tuple[int, float]:
    """The MLM baseline: always predict the token most often masked in training; its
    accuracy on the held-out masked positions. Returns (token id, accuracy)."""
    from collections import Counter

    def masked_labels(dataset):
        for i in range(len(dataset)):
            yield from (label for label in dataset[i]["labels"] if label != -100)

    counts = Counter(masked_labels(train_dataset))
    if not counts:
        raise ValueError("the training data has no masked token")
    token = counts.most_common(1)[0][0]
    held_out = list(masked_labels(eval_dataset))
    return token, sum(label == token for label in held_out) / max(1, len(held_out))


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

    The defaults train a small BERT on a laptop CPU in minutes (notebook 09). Every field
    is a flag of `bertlab pretrain` with the same name (`vocab_size` is `--vocab-size`).
    """

    vocab: str | None = None
    vocab_size: int = 8000
    vocab_sentences: int = 50_000
    layers: int = 4
    hidden: int = 256
    heads: int = 4
    intermediate: int | None = None
    seq_length: int = 128
    max_predictions: int = 20
    short_seq_prob: float = 0.1
    dupe_factor: int = 1
    whole_word: bool = False
    dynamic_masking: bool = False
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
            "max_predictions",
            "dupe_factor",
            "batch_size",
            "holdout_documents",
        )
        for name in ("intermediate", "max_documents"):
            if getattr(self, name) is not None:
                check_positive(self, name)
        if not 0 <= self.short_seq_prob <= 1:
            raise ValueError(f"short_seq_prob must be in [0, 1], got {self.short_seq_prob}")

    def model_config(self, tokenizer) -> BertConfig:
        return BertConfig(
            vocab_size=tokenizer.vocab_size,
            hidden_size=self.hidden,
            num_hidden_layers=self.layers,
            num_attention_heads=self.heads,
            intermediate_size=self.intermediate or 4 * self.hidden,
            pad_token_id=tokenizer.pad_token_id,
        )


def learn_tokenizer(documents, setup: PretrainingSetup):
    """The vocabulary: `setup.vocab` when given, else WordPiece learned on the corpus (notebook 05)."""
    from bertlab.tokenization import BertTokenizer, train_wordpiece_vocab

    if setup.vocab:
        return BertTokenizer.from_pretrained(setup.vocab)
    sentences = [sentence for document in documents for sentence in document]
    if len(sentences) > setup.vocab_sentences:
        step = len(sentences) / setup.vocab_sentences
        sentences = [sentences[int(i * step)] for i in range(setup.vocab_sentences)]
    return BertTokenizer(train_wordpiece_vocab(sentences, setup.vocab_size))


def pretraining_data(documents, tokenizer, setup: PretrainingSetup, seed: int):
    """Held-out documents first, then instances and masks for training and evaluation."""
    from bertlab.pretraining_data import PretrainingDataset, create_instances, tokenize_documents

    tokenized = tokenize_documents(documents, tokenizer)
    holdout = min(setup.holdout_documents, max(2, len(tokenized) // 5))
    if len(tokenized) - holdout < 2:
        raise ValueError(
            f"the corpus has {len(tokenized)} documents, too few: pretraining holds out 2+ "
            "documents for evaluation and needs 2+ more to train on"
        )
    ids = dict(cls_token_id=tokenizer.cls_token_id, sep_token_id=tokenizer.sep_token_id)
    shape = dict(max_seq_length=setup.seq_length, short_seq_prob=setup.short_seq_prob)
    train_instances = create_instances(
        tokenized[holdout:], **ids, **shape, dupe_factor=setup.dupe_factor, seed=seed
    )
    eval_instances = create_instances(tokenized[:holdout], **ids, **shape, seed=seed + 1)
    masking = dict(max_predictions=setup.max_predictions, whole_word=setup.whole_word)
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
    `transformers.BertForPreTraining`; the summary gives held-out MLM accuracy beside the
    most-frequent-token baseline.
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
    log(f"corpus: {len(documents)} documents")
    tokenizer = learn_tokenizer(documents, setup)
    train_data, eval_data = pretraining_data(documents, tokenizer, setup, training.seed)
    pad_id = tokenizer.require_token_id("pad_token", "batching")
    collator = PretrainingCollator(pad_id, labelled_logits_only=True)
    train_batches = PretrainingBatches(train_data, setup.batch_size, collator, shuffle=True)
    eval_batches = PretrainingBatches(eval_data, 64, collator, shuffle=False)
    log(
        f"instances: {len(train_data)} train, {len(eval_data)} held out; vocabulary {tokenizer.vocab_size}"
    )
    model = BertForPreTraining(setup.model_config(tokenizer))
    history = train(model, train_batches, training, lambda m: evaluate_pretraining(m, eval_batches))
    model.to("cpu")
    if torch.distributed.is_initialized() and torch.distributed.get_rank() != 0:
        return {"rank": torch.distributed.get_rank(), "steps": history.last.get("step")}
    token, baseline = most_frequent_token_baseline(train_data, eval_data)
    final = history.last
    result = {
        "out": str(out),
        "documents": len(documents),
        "train_instances": len(train_data),
        "eval_instances": len(eval_data),
        "vocab_size": tokenizer.vocab_size,
        "parameters": model.num_parameters,
        "steps": final["step"],
        "stop_reason": history.stop_reason,
        "reproducible": history.reproducible,
        "train_loss": final.get("loss"),
        "mlm_accuracy": final.get("mlm_accuracy"),
        "nsp_accuracy": final.get("nsp_accuracy"),
        "most_frequent_token": tokenizer.convert_ids_to_tokens(token),
        "most_frequent_token_accuracy": baseline,
        "seconds": round(time.perf_counter() - started, 1),
    }
    info = {"setup": asdict(setup), "training": asdict(training), "result": result}

    def write(folder: Path) -> None:
        atomic_write_json(folder / "training_history.json", history.records)

    save_folder(out, model, tokenizer, info, extra=write)
    return result


# ----------------------------------------------------------------------------- the command


def add_pretrain_command(commands) -> None:
    """`bertlab pretrain`: one flag per `PretrainingSetup` field, plus the budget and schedule."""
    import argparse
    from dataclasses import fields

    from bertlab.flags import add_model_running_flags, positive_number, probability, whole_number
    from bertlab.pretraining import PretrainingSetup

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
        "--lr", type=positive_number, default=5e-4, help="peak learning rate (default: %(default)s)"
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
    for setting in fields(PretrainingSetup):
        flag = "--" + setting.name.replace("_", "-")
        if setting.type in ("bool",):
            add(flag, action="store_true", help=f"{setting.name.replace('_', ' ')}")
        elif setting.name == "vocab":
            add(flag, default=None, help="an existing vocab.txt or folder instead of learning one")
        elif setting.name == "short_seq_prob":
            add(
                flag,
                type=probability,
                default=setting.default,
                help="probability of a shorter target sequence (default: %(default)s)",
            )
        else:
            add(
                flag,
                type=whole_number,
                default=setting.default,
                help=f"{setting.name.replace('_', ' ')} (default: %(default)s)",
            )
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
