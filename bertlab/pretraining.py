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

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bertlab.model import ACTIVATIONS, BertConfig, BertModel, BertPreTrainedModel, ModelOutput

__all__ = [
    "BertForMaskedLM",
    "BertForPreTraining",
    "BertForPreTrainingOutput",
    "MaskedLMOutput",
    "add_cli_arguments",
    "evaluate_pretraining",
    "most_frequent_token_baseline",
    "run_cli",
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
        self.transform_act_fn = ACTIVATIONS[config.hidden_act]
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


class BertForPreTraining(_TiedDecoderMixin, BertPreTrainedModel):
    """BERT with both pretraining heads: masked language model + next-sentence prediction."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=True)
        self.cls = BertPreTrainingHeads(config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        next_sentence_label: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        labelled_logits_only: bool = False,
    ) -> BertForPreTrainingOutput:
        """`labels`: token ids at the masked positions, -100 elsewhere; `next_sentence_label`:
        0 = IsNext, 1 = NotNext. The loss needs both (as in Hugging Face)."""
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
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


class BertForMaskedLM(_TiedDecoderMixin, BertPreTrainedModel):
    """BERT with the masked-language-model head only (no pooler, no NSP): fill in the blanks."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        labelled_logits_only: bool = False,
    ) -> MaskedLMOutput:
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
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
    """`save_pretrained` + the tokenizer: one folder that bertlab and `transformers` both load."""
    folder = Path(model.save_pretrained(folder))
    tokenizer.save_pretrained(folder)
    return folder


# ----------------------------------------------------------------------------- the command


def add_cli_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """Flags of `bertlab pretrain`; the defaults train a small BERT on a laptop CPU."""
    add = parser.add_argument
    add(
        "--corpus",
        help="a text file or a folder of them (default: BERTLAB_DATA/corpus, else a sample)",
    )
    add("--out", required=True, help="output folder (config.json, vocab.txt, model.safetensors)")
    add("--max-seconds", type=float, default=300.0, help="training time budget (default 300)")
    add("--max-steps", type=int, default=None, help="optimizer step budget (default: none)")
    add("--vocab", help="an existing vocab.txt or folder instead of training a vocabulary")
    add("--vocab-size", type=int, default=8000, help="WordPiece vocabulary size to learn (8000)")
    add("--vocab-sentences", type=int, default=50_000, help="sentences used to learn it (50000)")
    add("--layers", type=int, default=4, help="encoder layers (4)")
    add("--hidden", type=int, default=256, help="hidden size (256)")
    add("--heads", type=int, default=4, help="attention heads (4)")
    add("--intermediate", type=int, default=None, help="FFN size (default 4 x hidden)")
    add("--seq-length", type=int, default=128, help="maximum sequence length (128)")
    add("--max-predictions", type=int, default=20, help="masked positions per sequence (20)")
    add("--short-seq-prob", type=float, default=0.1, help="probability of a shorter target (0.1)")
    add("--dupe-factor", type=int, default=1, help="passes over the corpus with new chunkings (1)")
    add("--whole-word", action="store_true", help="whole-word masking")
    add("--dynamic-masking", action="store_true", help="new masks every epoch (RoBERTa)")
    add("--batch-size", type=int, default=32, help="sequences per optimizer step (32)")
    add("--accumulation-steps", type=int, default=1, help="micro-batches per step (1)")
    add("--lr", type=float, default=5e-4, help="peak learning rate (5e-4 suits small models)")
    add("--warmup-ratio", type=float, default=0.1, help="share of the budget for warmup (0.1)")
    add("--precision", choices=("fp32", "bf16", "fp16"), default="fp32")
    add("--holdout-documents", type=int, default=10, help="documents kept for evaluation (10)")
    add("--max-documents", type=int, default=None, help="use at most this many documents")
    add("--eval-every", type=int, default=None, help="evaluate every N steps (default: at the end)")
    add("--save-every", type=int, default=None, help="checkpoint every N steps (resumable)")
    add("--resume", action="store_true", help="resume from OUT/checkpoint")
    add("--seed", type=int, default=0)
    add("--no-progress", action="store_true", help="no progress bar")


def _learn_tokenizer(documents, args):
    from bertlab.tokenization import BertTokenizer

    if args.vocab:
        return BertTokenizer.from_pretrained(args.vocab)
    from bertlab.tokenization import train_wordpiece_vocab

    sentences = [sentence for document in documents for sentence in document]
    if len(sentences) > args.vocab_sentences:
        step = len(sentences) / args.vocab_sentences
        sentences = [sentences[int(i * step)] for i in range(args.vocab_sentences)]
    vocab = train_wordpiece_vocab(sentences, args.vocab_size)
    return BertTokenizer(vocab)


def run_cli(command: str, args: argparse.Namespace) -> dict[str, Any]:
    """`bertlab pretrain`: corpus -> vocabulary -> instances -> MLM+NSP training -> folder."""
    from bertlab.data.corpus import load_corpus
    from bertlab.pretraining_data import (
        PretrainingBatches,
        PretrainingCollator,
        PretrainingDataset,
        create_instances,
        tokenize_documents,
    )
    from bertlab.runtime import set_seed
    from bertlab.training import TrainingConfig, train

    for name in ("max_seconds", "max_steps", "batch_size", "vocab_size", "layers", "hidden"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be > 0, got {value}")
    set_seed(args.seed)
    started = time.perf_counter()
    log = sys.stderr
    documents = load_corpus(args.corpus)
    if args.max_documents:
        documents = documents[: args.max_documents]
    print(f"corpus: {len(documents)} documents", file=log)
    tokenizer = _learn_tokenizer(documents, args)
    tokenized = tokenize_documents(documents, tokenizer)
    holdout = min(args.holdout_documents, max(2, len(tokenized) // 5))
    if len(tokenized) - holdout < 2:
        raise ValueError(
            f"{args.corpus or 'the corpus'}: {len(tokenized)} documents are too few: pretraining "
            "holds out 2+ documents for evaluation and needs 2+ more to train on"
        )
    ids = dict(cls_token_id=tokenizer.cls_token_id, sep_token_id=tokenizer.sep_token_id)
    shape = dict(max_seq_length=args.seq_length, short_seq_prob=args.short_seq_prob)
    train_instances = create_instances(
        tokenized[holdout:], **ids, **shape, dupe_factor=args.dupe_factor, seed=args.seed
    )
    eval_instances = create_instances(tokenized[:holdout], **ids, **shape, seed=args.seed + 1)
    masking = dict(max_predictions=args.max_predictions, whole_word=args.whole_word)
    train_data = PretrainingDataset(
        train_instances, tokenizer, **masking, dynamic=args.dynamic_masking, seed=args.seed
    )
    eval_data = PretrainingDataset(eval_instances[:2000], tokenizer, **masking, seed=args.seed + 1)
    collator = PretrainingCollator(tokenizer.pad_token_id, labelled_logits_only=True)
    train_batches = PretrainingBatches(train_data, args.batch_size, collator, shuffle=True)
    eval_batches = PretrainingBatches(eval_data, 64, collator, shuffle=False)
    print(
        f"instances: {len(train_data)} train, {len(eval_data)} held out; "
        f"vocabulary {tokenizer.vocab_size}",
        file=log,
    )

    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        intermediate_size=args.intermediate or 4 * args.hidden,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = BertForPreTraining(config)
    training = TrainingConfig(
        learning_rate=args.lr,
        warmup_ratio=args.warmup_ratio,
        max_steps=args.max_steps,
        max_seconds=args.max_seconds,
        epochs=None,
        accumulation_steps=args.accumulation_steps,
        precision=args.precision,
        eval_every=args.eval_every,
        log_every=10,
        seed=args.seed,
        progress=not args.no_progress,
        output_dir=args.out,
        save_every=args.save_every,
        resume=args.resume,
    )
    history = train(model, train_batches, training, lambda m: evaluate_pretraining(m, eval_batches))
    model.to("cpu")
    if torch.distributed.is_initialized() and torch.distributed.get_rank() != 0:
        return {"rank": torch.distributed.get_rank(), "steps": history.last.get("step")}
    out = save_for_transformers(model, tokenizer, args.out)
    (out / "training_history.json").write_text(json.dumps(history.records, indent=1) + "\n")
    token, baseline = most_frequent_token_baseline(train_data, eval_data)
    final = history.last
    return {
        "out": str(out),
        "documents": len(documents),
        "train_instances": len(train_data),
        "eval_instances": len(eval_data),
        "vocab_size": tokenizer.vocab_size,
        "parameters": model.num_parameters,
        "steps": final["step"],
        "stop_reason": history.stop_reason,
        "train_loss": final.get("loss"),
        "mlm_accuracy": final.get("mlm_accuracy"),
        "nsp_accuracy": final.get("nsp_accuracy"),
        "most_frequent_token": tokenizer.convert_ids_to_tokens(token),
        "most_frequent_token_accuracy": baseline,
        "seconds": round(time.perf_counter() - started, 1),
    }
