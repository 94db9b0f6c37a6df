"""Checkers of notebook 07 (positional encoding).

References come from `bertlab.embeddings` (tested against transformers in
tests/test_embeddings.py); the texts are in texts/nb07.toml, the solutions in
solutions/07_positional_encoding_solutions.ipynb.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bertlab.exercises.helpers import meta_parameters
from bertlab.exercises.kinds import Case

# --- 07.1: the sinusoidal table -----------------------------------------------------------------


def sinusoidal(num_positions: int, dim: int) -> torch.Tensor:
    from bertlab.embeddings import sinusoidal_encoding

    return sinusoidal_encoding(num_positions, dim)


def sines_then_cosines(num_positions: int, dim: int) -> torch.Tensor:
    table = sinusoidal(num_positions, dim)
    return torch.cat([table[:, 0::2], table[:, 1::2]], dim=1)


def exponent_per_dimension(num_positions: int, dim: int) -> torch.Tensor:
    position = torch.arange(num_positions, dtype=torch.float32)[:, None]
    frequency = 10000.0 ** (-torch.arange(dim, dtype=torch.float32) / dim)
    angles = position * frequency
    table = torch.empty(num_positions, dim)
    table[:, 0::2] = torch.sin(angles[:, 0::2])
    table[:, 1::2] = torch.cos(angles[:, 1::2])
    return table


TABLE_SIZES = [(1, 2), (10, 8), (50, 16), (512, 384)]  # (num_positions, dim)


# --- 07.2: a lookup as a product ----------------------------------------------------------------


def lookup(ids: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    return F.one_hot(ids, num_classes=table.shape[0]).to(table.dtype) @ table


def positions_instead_of_ids(ids: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    return table[torch.arange(ids.shape[-1])].expand(*ids.shape, table.shape[1])


def lookup_inputs():
    generator = torch.Generator().manual_seed(7)
    table = torch.randn(10, 6, generator=generator)
    return [
        (torch.tensor([3, 1, 3, 7]), table),
        (torch.tensor([[0, 9], [5, 5]]), table),
        (torch.tensor([2]), torch.randn(4, 3, generator=generator)),
    ]


# --- 07.3: BERT's input by hand -----------------------------------------------------------------


def bert_input(embeddings, input_ids, token_type_ids):
    with torch.no_grad():
        return embeddings.eval()(input_ids, token_type_ids)


def without_layer_norm(embeddings, input_ids, token_type_ids):
    positions = torch.arange(input_ids.shape[1])
    with torch.no_grad():
        return (
            embeddings.word_embeddings(input_ids)
            + embeddings.token_type_embeddings(token_type_ids)
            + embeddings.position_embeddings(positions)
        )


def without_segments(embeddings, input_ids, token_type_ids):
    return bert_input(embeddings, input_ids, torch.zeros_like(token_type_ids))


def embedding_inputs():
    from bertlab.embeddings import BertEmbeddings

    cases = []
    for seed, (vocab, hidden, n) in enumerate([(50, 16, 7), (30, 8, 5)]):
        torch.manual_seed(seed)
        embeddings = BertEmbeddings(vocab, hidden, max_position_embeddings=32).eval()
        with torch.no_grad():  # LayerNorm's gamma and beta away from 1 and 0, as when trained
            embeddings.LayerNorm.weight.uniform_(0.5, 1.5)
            embeddings.LayerNorm.bias.normal_(0, 0.1)
        generator = torch.Generator().manual_seed(seed)
        ids = torch.randint(0, vocab, (2, n), generator=generator)
        types = (torch.arange(n) >= n // 2).long().expand(2, n).contiguous()
        cases.append(Case(args=(embeddings, ids, types), label=f"vocab {vocab}, hidden {hidden}"))
    return cases


def position_and_segment_parameters() -> int:
    from bertlab.model import BertConfig, BertModel

    tables = ("embeddings.position_embeddings", "embeddings.token_type_embeddings")
    return meta_parameters(lambda: BertModel(BertConfig()), *tables)
