"""BERT, the encoder: configuration, layers, the assembled model and its base class.

Notebook 08 assembles it: embeddings (notebook 07) -> N post-LayerNorm residual
blocks, each multi-head self-attention (notebook 06) then a GELU feed-forward
network -> a pooler over ``[CLS]``. Module and parameter names follow Hugging
Face ``transformers`` (``encoder.layer.0.attention.self.query``, ...) so that
real checkpoints load by name (``bertlab.checkpoints``).

Task models (notebooks 09-12) subclass ``BertPreTrainedModel``::

    class BertForSequenceClassification(BertPreTrainedModel):
        def __init__(self, config):
            super().__init__(config)
            self.bert = BertModel(config)
            self.classifier = nn.Linear(config.hidden_size, config.num_labels)
            self.post_init()
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from bertlab.attention import ATTENTION_IMPLEMENTATIONS, BertSelfAttention, padding_mask_to_additive
from bertlab.embeddings import BertEmbeddings
from bertlab.files import parse_json

# ----------------------------------------------------------------------------- configuration

SIZES = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "max_position_embeddings",
    "type_vocab_size",
)
"""The config entries that count something: each must be a whole number >= 1."""


def check_positive(settings: Any, *names: str) -> None:
    """Raise ValueError unless every named attribute of `settings` is a whole number >= 1."""
    for name in names:
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")


@dataclass
class BertConfig:
    """The hyper-parameters of a BERT model, with Hugging Face's ``config.json`` names.

    ``attn_implementation`` picks the attention path: "fused" (the default, fast) or
    "explicit" (written out, for teaching). Both return attention weights when asked
    (``output_attentions=True``): the fused path then computes them explicitly for
    that call. In ``config.json`` it is stored as ``bertlab_attn_implementation``.

    The defaults are BERT-base (110M parameters). Keys this class does not know
    (``architectures``, ``transformers_version``, a task's extras ...) are kept in
    ``extra``, readable as attributes, and written back by ``save_pretrained``.
    """

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int | None = 0
    position_embedding_type: str = "absolute"
    classifier_dropout: float | None = None
    num_labels: int = 2
    id2label: dict[int, str] | None = None
    label2id: dict[str, int] | None = None
    attn_implementation: str = "fused"
    extra: dict[str, Any] = field(default_factory=dict)

    model_type: ClassVar[str] = "bert"

    def __post_init__(self) -> None:
        check_positive(self, *SIZES)
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        if not self.layer_norm_eps > 0:
            raise ValueError(f"layer_norm_eps must be > 0, got {self.layer_norm_eps}")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        if self.attn_implementation not in ATTENTION_IMPLEMENTATIONS:
            raise ValueError(
                f"attn_implementation must be one of {ATTENTION_IMPLEMENTATIONS}, "
                f"got {self.attn_implementation!r}"
            )
        if self.hidden_act not in HIDDEN_ACT:
            raise ValueError(
                f"hidden_act {self.hidden_act!r} is not supported; use one of {sorted(HIDDEN_ACT)}"
            )
        if self.position_embedding_type != "absolute":
            raise ValueError(
                f"position_embedding_type {self.position_embedding_type!r} is not supported "
                "(bertlab implements BERT's learned absolute positions)"
            )
        for flag in ("is_decoder", "add_cross_attention"):
            if self.extra.get(flag):
                raise ValueError(
                    f"{flag}=true: bertlab builds BERT's encoder only (no decoder, no cross-attention)"
                )
        if self.id2label is None:
            self.id2label = {i: f"LABEL_{i}" for i in range(self.num_labels)}
        self.id2label = {int(i): str(label) for i, label in self.id2label.items()}
        self.num_labels = len(self.id2label)
        if self.label2id is None or len(self.label2id) != self.num_labels:
            self.label2id = {label: i for i, label in self.id2label.items()}
        self.label2id = {str(label): int(i) for label, i in self.label2id.items()}

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: expose the preserved extra keys.
        extra = self.__dict__.get("extra", {})
        if name in extra:
            return extra[name]
        raise AttributeError(f"BertConfig has no field {name!r}")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, values: dict[str, Any], **overrides: Any) -> BertConfig:
        """Build from a ``config.json`` dictionary; ``overrides`` win over the file.

        Overriding ``num_labels`` without ``id2label`` replaces the file's label names
        by ``LABEL_0 ...``, as Hugging Face does.
        """
        values = dict(values)
        # transformers reads "attn_implementation" as its own setting ("eager", "sdpa", ...),
        # so bertlab's choice travels in config.json under its own key.
        if "bertlab_attn_implementation" in values:
            values["attn_implementation"] = values.pop("bertlab_attn_implementation")
        elif "attn_implementation" in values:
            hf_name = values.pop("attn_implementation")
            values["attn_implementation"] = "explicit" if hf_name == "eager" else "fused"
        merged = {**values, **overrides}
        if "num_labels" in overrides and "id2label" not in overrides:
            merged.pop("id2label", None)
            merged.pop("label2id", None)
        if "id2label" in overrides and "num_labels" not in overrides:
            merged.pop("num_labels", None)
            if "label2id" not in overrides:
                merged.pop("label2id", None)
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        kwargs = {key: value for key, value in merged.items() if key in known}
        extra = {**merged.get("extra", {})}
        extra.update(
            {key: value for key, value in merged.items() if key not in known and key != "extra"}
        )
        extra.pop("model_type", None)
        if "id2label" in merged and merged["id2label"] is not None:
            kwargs["num_labels"] = len(merged["id2label"])
        return cls(**kwargs, extra=extra)

    @classmethod
    def from_json_file(cls, path: str | os.PathLike, **overrides: Any) -> BertConfig:
        path = Path(path)
        values = parse_json(path.read_text(encoding="utf-8"), str(path))
        if not isinstance(values, dict):
            raise ValueError(f"{path}: expected a JSON object, got {type(values).__name__}")
        model_type = values.get("model_type", "bert")
        if model_type != "bert":
            raise ValueError(f"{path}: model_type is {model_type!r}, bertlab loads 'bert' models")
        try:
            return cls.from_dict(values, **overrides)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: {error}") from error

    @classmethod
    def from_pretrained(cls, folder_or_hub_id: str | os.PathLike, **overrides: Any) -> BertConfig:
        """Read ``config.json`` from a folder (or a Hub repository when online)."""
        from bertlab.hub import resolve_file

        return cls.from_json_file(resolve_file(folder_or_hub_id, "config.json"), **overrides)

    def to_dict(self) -> dict[str, Any]:
        """The ``config.json`` dictionary: known fields, then the preserved extras."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        extra = values.pop("extra")
        values["id2label"] = {str(i): label for i, label in self.id2label.items()}
        values["bertlab_attn_implementation"] = values.pop("attn_implementation")
        return {**extra, **values, "model_type": self.model_type}

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Write ``folder/config.json`` (atomically: a temp file, then a rename)."""
        from bertlab.files import atomic_write_bytes

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        return atomic_write_bytes(folder / "config.json", text.encode("utf-8"))


# ----------------------------------------------------------------------------- outputs


@dataclass
class ModelOutput:
    """Base of every model output: fields by attribute (``out.logits``) or key (``out["logits"]``)."""

    def __getitem__(self, key: str) -> Any:
        if not isinstance(key, str) or key not in {f.name for f in dataclasses.fields(self)}:
            raise KeyError(f"{type(self).__name__} has no field {key!r}")
        return getattr(self, key)

    def keys(self) -> list[str]:
        """The names of the fields that are set (not None), as Hugging Face's outputs."""
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None]

    def to_tuple(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.keys())


@dataclass
class BertModelOutput(ModelOutput):
    """What ``BertModel`` returns (Hugging Face's ``BaseModelOutputWithPooling``)."""

    last_hidden_state: torch.Tensor | None = None
    pooler_output: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


@dataclass
class LogitsOutput(ModelOutput):
    """What a head with one set of logits returns: loss (given targets), logits, the encoder's extras.

    The output classes of masked-LM, sequence and token classification subclass it (Hugging
    Face's `MaskedLMOutput`, `SequenceClassifierOutput`, `TokenClassifierOutput` have these fields).
    """

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


# ----------------------------------------------------------------------------- layers


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """The tanh approximation of GELU (Hendrycks & Gimpel 2016; notebook 01 plots both)."""
    return F.gelu(x, approximate="tanh")


HIDDEN_ACT = {
    "gelu": F.gelu,  # exact: x * Φ(x) with the erf; what Hugging Face's "gelu" means
    "gelu_new": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "relu": F.relu,
}
"""`config.hidden_act` name (Hugging Face's) -> the torch function the layers call.
(`bertlab.functional.ACTIVATIONS` is notebook 01's table of functions with their derivatives.)"""


class BertSelfOutput(nn.Module):
    """Project back to the hidden size (dense), dropout, then add the residual and LayerNorm.

    "Add & norm" (post-LN): it ends both halves of a block, after attention (here, where the
    heads are projected back) and after the feed-forward network (`BertOutput`).
    """

    def __init__(self, config: BertConfig, in_features: int | None = None) -> None:
        super().__init__()
        self.dense = nn.Linear(in_features or config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + residual)


class BertAttention(nn.Module):
    """Self-attention (``self``) followed by its output projection and residual (``output``)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.self = BertSelfAttention(
            config.hidden_size,
            config.num_attention_heads,
            config.attention_probs_dropout_prob,
            config.attn_implementation,
        )
        self.output = BertSelfOutput(config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attn_bias: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        context, weights = self.self(hidden_states, attn_bias, output_attentions)
        return self.output(context, hidden_states), weights


class BertIntermediate(nn.Module):
    """The first half of the feed-forward network: GELU(W1·x + b1), hidden -> intermediate."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = HIDDEN_ACT[config.hidden_act]

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden_states))


class BertOutput(BertSelfOutput):
    """The second half of the FFN: W2·h + b2 from the intermediate size back, then add & norm."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config, in_features=config.intermediate_size)


class BertLayer(nn.Module):
    """One encoder block: x = LN(x + Attention(x)); x = LN(x + FFN(x))."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attn_bias: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.attention(hidden_states, attn_bias, output_attentions)
        return self.output(self.intermediate(attended), attended), weights


class BertEncoder(nn.Module):
    """A stack of ``num_hidden_layers`` identical blocks (``encoder.layer.{i}``)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))

    def forward(
        self,
        hidden_states: torch.Tensor,
        attn_bias: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> BertModelOutput:
        all_hidden = [hidden_states] if output_hidden_states else None
        all_attentions = [] if output_attentions else None
        for block in self.layer:
            hidden_states, weights = block(hidden_states, attn_bias, output_attentions)
            if all_hidden is not None:
                all_hidden.append(hidden_states)
            if all_attentions is not None:
                all_attentions.append(weights)
        return BertModelOutput(
            last_hidden_state=hidden_states,
            hidden_states=tuple(all_hidden) if all_hidden is not None else None,
            attentions=tuple(all_attentions) if all_attentions is not None else None,
        )


class BertPooler(nn.Module):
    """tanh(W·h_[CLS] + b): the sentence vector the next-sentence and classification heads use."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden_states[:, 0]))


# ----------------------------------------------------------------------------- models


class BertPreTrainedModel(nn.Module):
    """Base class of every bertlab BERT: weight initialisation, loading and saving.

    Subclasses build their modules, then call ``self.post_init()``.
    ``from_pretrained`` loads any BERT checkpoint (bare ``BertModel`` keys or
    ``bert.``-prefixed task keys), leaves missing heads at their initialisation and
    reports them in ``model.loading_info`` (see ``bertlab.checkpoints``).
    """

    config_class: ClassVar[type[BertConfig]] = BertConfig
    base_model_prefix: ClassVar[str] = "bert"

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        if not isinstance(config, BertConfig):
            raise TypeError(f"config must be a BertConfig, got {type(config).__name__}")
        self.config = config
        self.loading_info: dict[str, list] = {
            "missing_keys": [],
            "unexpected_keys": [],
            "mismatched_keys": [],
        }

    def _init_weights(self, module: nn.Module) -> None:
        """BERT's initialisation: normal(0, initializer_range) weights, zero biases, LayerNorm 1/0."""
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def tie_weights(self) -> None:
        """Hook for heads that share weights (the MLM decoder and the word embeddings)."""

    def post_init(self) -> None:
        """Initialise every weight, then tie the shared ones. Call at the end of ``__init__``."""
        with torch.no_grad():
            self.apply(self._init_weights)
        self.tie_weights()

    @property
    def num_parameters(self) -> int:
        """Distinct parameters (tied weights counted once)."""
        return sum(p.numel() for p in self.parameters())

    @classmethod
    def from_pretrained(
        cls,
        folder_or_hub_id: str | os.PathLike,
        *,
        ignore_mismatched_sizes: bool = False,
        **config_overrides: Any,
    ):
        """Build the model from ``config.json`` (plus overrides) and load its weights.

        ``ignore_mismatched_sizes=True`` skips (and reports) tensors whose shape does
        not fit, e.g. a classifier trained for another number of labels; by default a
        shape mismatch is an error naming the key and both shapes.
        """
        from bertlab.checkpoints import load_pretrained

        return load_pretrained(
            cls,
            folder_or_hub_id,
            ignore_mismatched_sizes=ignore_mismatched_sizes,
            **config_overrides,
        )

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Write ``config.json`` + ``model.safetensors`` in Hugging Face's layout."""
        from bertlab.checkpoints import save_pretrained

        return save_pretrained(self, folder)


class BertModel(BertPreTrainedModel):
    """The bare encoder: embeddings, encoder, and (optionally) the pooler."""

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True) -> None:
        super().__init__(config)
        self.embeddings = BertEmbeddings(
            vocab_size=config.vocab_size,
            hidden_size=config.hidden_size,
            max_position_embeddings=config.max_position_embeddings,
            type_vocab_size=config.type_vocab_size,
            layer_norm_eps=config.layer_norm_eps,
            dropout=config.hidden_dropout_prob,
            pad_token_id=config.pad_token_id,
        )
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, embeddings: nn.Embedding) -> None:
        self.embeddings.word_embeddings = embeddings

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> BertModelOutput:
        """``input_ids`` [batch, seq]; ``attention_mask`` 1 for tokens, 0 for padding.

        ``attentions`` (when asked for) are the softmax weights of every layer,
        [batch, heads, seq, seq] each; on the fused path they are computed
        explicitly for that call.
        """
        if input_ids.dim() != 2:
            raise ValueError(
                f"input_ids must have shape [batch, seq], got {tuple(input_ids.shape)}"
            )
        for name, tensor in (
            ("attention_mask", attention_mask),
            ("token_type_ids", token_type_ids),
        ):
            if tensor is not None and tensor.shape != input_ids.shape:
                raise ValueError(
                    f"{name} has shape {tuple(tensor.shape)}, "
                    f"input_ids has shape {tuple(input_ids.shape)}: they must match"
                )
        hidden = self.embeddings(input_ids, token_type_ids, position_ids)
        attn_bias = None
        if attention_mask is not None and not bool(attention_mask.all()):
            # No padding, no mask: lets the fused kernel take its fastest path.
            attn_bias = padding_mask_to_additive(attention_mask, hidden.dtype)
        output = self.encoder(hidden, attn_bias, output_attentions, output_hidden_states)
        if self.pooler is not None:
            output.pooler_output = self.pooler(output.last_hidden_state)
        return output


class BertWithHead(BertPreTrainedModel):
    """BERT with a task head on top: the encoder runs here once for every task model.

    A subclass builds `self.bert` and its head in `__init__` and says in `head_output`
    what the head makes of the encoder's output (`encoded`, a `BertModelOutput`) and of
    the targets its loss needs (`labels`, `start_positions`, ...). `forward` takes
    Hugging Face's arguments, so `model(**tokenizer(...), labels=y)` works as there.
    """

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        **targets: Any,
    ) -> ModelOutput:
        encoded = self.bert(
            input_ids, attention_mask, token_type_ids, position_ids, output_attentions,
            output_hidden_states,
        )  # fmt: skip
        return self.head_output(encoded, **targets)

    def head_output(self, encoded: BertModelOutput, **targets: Any) -> ModelOutput:
        raise NotImplementedError(f"{type(self).__name__} must define head_output")


class BertWithClassifier(BertWithHead):
    """BERT, dropout and a linear `classifier` to `config.num_labels` outputs (Hugging Face's names).

    The shared body of sequence classification (the classifier reads the pooled `[CLS]`
    vector, so it keeps the pooler) and token classification (it reads every token's vector).
    The dropout is `config.classifier_dropout`, or `hidden_dropout_prob` when that is unset.
    """

    def __init__(self, config: BertConfig, add_pooling_layer: bool) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=add_pooling_layer)
        dropout = config.classifier_dropout
        self.dropout = nn.Dropout(config.hidden_dropout_prob if dropout is None else dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()
