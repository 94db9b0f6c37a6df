"""Where a token is, and which segment it belongs to: BERT's input embeddings.

Attention alone is blind to order (notebook 07 shows it by permuting the input).
The original Transformer added fixed sinusoidal encodings; BERT instead *learns*
one vector per position (up to ``max_position_embeddings``, 512) and one per
segment (sentence A / B). Notebook 07 compares the two; notebook 08 assembles
``BertEmbeddings`` into the full model.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_encoding(num_positions: int, dim: int, base: float = 10000.0) -> torch.Tensor:
    """The Transformer's fixed encodings, [num_positions, dim].

    PE[pos, 2i] = sin(pos / base^(2i/dim)), PE[pos, 2i+1] = cos(pos / base^(2i/dim)).
    """
    if dim % 2 != 0:
        raise ValueError(f"dim must be even for sinusoidal encodings, got {dim}")
    position = torch.arange(num_positions, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(base) / dim))
    encoding = torch.zeros(num_positions, dim)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency)
    return encoding


def check_ids_in_range(ids: torch.Tensor, size: int, argument: str, config_field: str) -> None:
    """Raise a clear IndexError naming the argument and the bad id (embedding lookups
    otherwise fail with an opaque 'index out of range in self')."""
    if ids.numel() == 0:
        return
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= size:
        bad = low if low < 0 else high
        raise IndexError(
            f"{argument} contains id {bad}, outside [0, {size - 1}] ({config_field}={size})"
        )


class BertEmbeddings(nn.Module):
    """word + learned position + token type (segment) embeddings, then LayerNorm and dropout."""

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        layer_norm_eps: float = 1e-12,
        dropout: float = 0.1,
        pad_token_id: int | None = 0,
    ) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, hidden_size, padding_idx=pad_token_id)
        self.position_embeddings = nn.Embedding(max_position_embeddings, hidden_size)
        self.token_type_embeddings = nn.Embedding(type_vocab_size, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer(
            "position_ids", torch.arange(max_position_embeddings)[None, :], persistent=False
        )

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        seq_len = input_ids.size(1)
        max_positions = self.position_embeddings.num_embeddings
        if seq_len > max_positions:
            raise ValueError(
                f"input_ids has sequence length {seq_len}, longer than "
                f"max_position_embeddings={max_positions}: truncate it or use sliding windows"
            )
        check_ids_in_range(
            input_ids, self.word_embeddings.num_embeddings, "input_ids", "vocab_size"
        )
        if position_ids is None:
            position_ids = self.position_ids[:, :seq_len]
        else:
            check_ids_in_range(
                position_ids, max_positions, "position_ids", "max_position_embeddings"
            )
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        else:
            check_ids_in_range(
                token_type_ids,
                self.token_type_embeddings.num_embeddings,
                "token_type_ids",
                "type_vocab_size",
            )
        # Summed in Hugging Face's order (word + type, then + position): same rounding, same numbers.
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))
