"""Scaled dot-product attention and BERT's multi-head self-attention.

Notebook 06 builds this step by step: scores = Q·Kᵀ / √d_k, an additive padding
mask, a softmax over the keys, dropout, then a weighted sum of the values.

Two paths give the same numbers:

- ``"explicit"`` writes every step out and returns the attention weights
  (for teaching and for the attention views of notebook 08);
- ``"fused"`` calls ``torch.nn.functional.scaled_dot_product_attention``, which
  never materialises the weights and is faster. Asking the fused path for its
  weights (``output_attentions=True``) falls back to the explicit computation
  for that call, so the weights are always real and the outputs identical.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

ATTENTION_IMPLEMENTATIONS = ("explicit", "fused")


def padding_mask_to_additive(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Turn a [batch, seq] mask of 1 (real token) / 0 (padding) into an additive bias.

    The result has shape [batch, 1, 1, seq]: 0 where a key may be attended to and
    the most negative finite number of ``dtype`` where it may not, so that after
    the softmax a padded key gets weight exactly 0. Hugging Face uses
    ``torch.finfo(dtype).min``; Google's original BERT added -10000.
    """
    if attention_mask.dim() != 2:
        raise ValueError(
            f"attention_mask must have shape [batch, seq], got {tuple(attention_mask.shape)}"
        )
    padded = attention_mask[:, None, None, :] == 0
    bias = torch.zeros(padded.shape, dtype=dtype, device=attention_mask.device)
    return bias.masked_fill(padded, torch.finfo(dtype).min)  # +0, not (1 - 1) x min = -0


def causal_mask_to_additive(
    seq_len: int, dtype: torch.dtype, device: torch.device | str | None = None
) -> torch.Tensor:
    """GPT's causal mask as an additive bias [1, 1, seq, seq]: query i sees keys j <= i only.

    BERT never uses it (every token sees every token, notebook 08); notebook 06 builds
    it to show what a left-to-right model cannot see. Same convention as
    ``padding_mask_to_additive``: 0 where allowed, ``torch.finfo(dtype).min`` where not.
    """
    if seq_len < 1:
        raise ValueError(f"seq_len must be at least 1, got {seq_len}")
    later = torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).triu(diagonal=1)
    bias = torch.zeros(seq_len, seq_len, dtype=dtype, device=device)
    return bias.masked_fill(later, torch.finfo(dtype).min)[None, None]


def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_bias: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    training: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention written out: returns (output, weights).

    ``query``/``key``/``value`` are [..., seq, d_k]; ``attn_bias`` is added to the
    scores before the softmax (an additive mask, broadcastable to [..., q, k]).
    """
    d_k = query.size(-1)
    scores = torch.matmul(query, key.transpose(-1, -2)) * (1.0 / math.sqrt(d_k))  # ÷ √d_k
    if attn_bias is not None:
        scores = scores + attn_bias
    weights = torch.softmax(scores, dim=-1)
    dropped = F.dropout(weights, p=dropout_p, training=training)
    return torch.matmul(dropped, value), weights


def fused_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_bias: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    training: bool = False,
) -> torch.Tensor:
    """The same computation through PyTorch's fused kernel (no weights returned)."""
    return F.scaled_dot_product_attention(
        query, key, value, attn_mask=attn_bias, dropout_p=dropout_p if training else 0.0
    )


class BertSelfAttention(nn.Module):
    """Multi-head self-attention with Hugging Face parameter names (query, key, value).

    Multi-head attention is a reshape: the hidden vector of size ``hidden_size``
    is cut into ``num_heads`` slices of size ``head_dim``, each head attends on its
    own slice, and the slices are glued back together.
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        dropout: float = 0.0,
        implementation: str = "explicit",
    ) -> None:
        super().__init__()
        if hidden_size % num_heads != 0:
            raise ValueError(
                f"hidden_size ({hidden_size}) must be divisible by "
                f"num_attention_heads ({num_heads})"
            )
        if implementation not in ATTENTION_IMPLEMENTATIONS:
            raise ValueError(
                f"attn_implementation must be one of {ATTENTION_IMPLEMENTATIONS}, "
                f"got {implementation!r}"
            )
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.dropout_p = dropout
        self.implementation = implementation
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """[batch, seq, hidden] -> [batch, heads, seq, head_dim]."""
        batch, seq, _ = x.shape
        return x.view(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        """[batch, heads, seq, head_dim] -> [batch, seq, hidden]."""
        batch, _, seq, _ = x.shape
        return x.transpose(1, 2).reshape(batch, seq, self.num_heads * self.head_dim)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attn_bias: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns (context [batch, seq, hidden], weights [batch, heads, seq, seq] or None)."""
        q = self.split_heads(self.query(hidden_states))
        k = self.split_heads(self.key(hidden_states))
        v = self.split_heads(self.value(hidden_states))
        if attn_bias is not None and attn_bias.dtype != q.dtype:
            # Under autocast the scores are bf16/fp16: keep the mask finite in that dtype.
            attn_bias = attn_bias.clamp(min=torch.finfo(q.dtype).min).to(q.dtype)
        if self.implementation == "fused" and not output_attentions:
            context = fused_attention(q, k, v, attn_bias, self.dropout_p, self.training)
            weights = None
        else:
            context, weights = scaled_dot_product_attention(
                q, k, v, attn_bias, self.dropout_p, self.training
            )
        return self.merge_heads(context), weights


MultiHeadSelfAttention = BertSelfAttention
"""The name notebook 06 uses; BERT's checkpoints call the module ``attention.self``."""
