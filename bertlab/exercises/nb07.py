"""Exercises and quiz of notebook 07 (positional encoding).

References come from `bertlab.embeddings` (tested against transformers in
tests/test_embeddings.py); the solutions are in solutions/07_positional_encoding_solutions.ipynb.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bertlab.exercises.core import (
    Case,
    Computed,
    FunctionExercise,
    Mistake,
    OpenExercise,
    ValueExercise,
)
from bertlab.exercises.questions import ChoiceQuestion, NumberQuestion, Option

# --- 07.1: the sinusoidal table -----------------------------------------------------------------


def _sinusoidal(num_positions: int, dim: int) -> torch.Tensor:
    from bertlab.embeddings import sinusoidal_encoding

    return sinusoidal_encoding(num_positions, dim)


def _sines_then_cosines(num_positions: int, dim: int) -> torch.Tensor:
    table = _sinusoidal(num_positions, dim)
    return torch.cat([table[:, 0::2], table[:, 1::2]], dim=1)


def _exponent_per_dimension(num_positions: int, dim: int) -> torch.Tensor:
    position = torch.arange(num_positions, dtype=torch.float32)[:, None]
    frequency = 10000.0 ** (-torch.arange(dim, dtype=torch.float32) / dim)
    angles = position * frequency
    table = torch.empty(num_positions, dim)
    table[:, 0::2] = torch.sin(angles[:, 0::2])
    table[:, 1::2] = torch.cos(angles[:, 1::2])
    return table


# --- 07.2: a lookup as a product ----------------------------------------------------------------


def _lookup(ids: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    return F.one_hot(ids, num_classes=table.shape[0]).to(table.dtype) @ table


def _positions_instead_of_ids(ids: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    return table[torch.arange(ids.shape[-1])].expand(*ids.shape, table.shape[1])


def _lookup_inputs():
    generator = torch.Generator().manual_seed(7)
    table = torch.randn(10, 6, generator=generator)
    return [
        (torch.tensor([3, 1, 3, 7]), table),
        (torch.tensor([[0, 9], [5, 5]]), table),
        (torch.tensor([2]), torch.randn(4, 3, generator=generator)),
    ]


# --- 07.3: BERT's input by hand -----------------------------------------------------------------


def _bert_input(embeddings, input_ids, token_type_ids):
    with torch.no_grad():
        return embeddings.eval()(input_ids, token_type_ids)


def _without_layer_norm(embeddings, input_ids, token_type_ids):
    positions = torch.arange(input_ids.shape[1])
    with torch.no_grad():
        return (
            embeddings.word_embeddings(input_ids)
            + embeddings.token_type_embeddings(token_type_ids)
            + embeddings.position_embeddings(positions)
        )


def _without_segments(embeddings, input_ids, token_type_ids):
    return _bert_input(embeddings, input_ids, torch.zeros_like(token_type_ids))


def _embedding_inputs():
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


def _position_and_segment_parameters() -> int:
    from bertlab.model import BertConfig, BertModel

    with torch.device("meta"):
        model = BertModel(BertConfig())
    tables = (model.embeddings.position_embeddings, model.embeddings.token_type_embeddings)
    return sum(table.weight.numel() for table in tables)


EXERCISES = [
    FunctionExercise(
        "07.1",
        "The sinusoidal table",
        hint="For each pair of dimensions (2i, 2i+1) the angle is pos / 10000^(2i/d): sin in the "
        "even dimension, cos in the odd one. Return a [num_positions, dim] float32 tensor.",
        reference=_sinusoidal,
        inputs=[(1, 2), (10, 8), (50, 16), (512, 384)],
        mistakes=[
            Mistake(
                _sines_then_cosines,
                "all sines first, then all cosines, is tensor2tensor's layout; the paper "
                "interleaves them: sin in dimension 2i, cos in 2i+1.",
            ),
            Mistake(
                _exponent_per_dimension,
                "the two dimensions of a pair share one frequency: the exponent is 2i/d for both "
                "2i and 2i+1.",
            ),
        ],
        # float32 angles near 500 radians carry rounding errors of about 1e-5 whatever the
        # order of the operations: a correct table may differ from ours by that much.
        abs_tol=1e-3,
    ),
    FunctionExercise(
        "07.2",
        "A lookup as a product",
        hint="F.one_hot(ids, num_classes=table.shape[0]) gives a 0/1 matrix; turn it into the "
        "table's dtype and multiply.",
        reference=_lookup,
        inputs=_lookup_inputs,
        mistakes=[
            Mistake(
                _positions_instead_of_ids,
                "that looks up rows 0, 1, 2, ... (the positions), not the rows the ids name.",
            ),
        ],
        ulps=0,
        explanation="A one-hot row times the table picks one row exactly: no rounding at all.",
    ),
    FunctionExercise(
        "07.3",
        "BERT's input by hand",
        hint="word_embeddings(ids) + token_type_embeddings(types) + position_embeddings(0..n-1), "
        "then the module's LayerNorm; dropout does nothing in eval mode.",
        reference=_bert_input,
        inputs=_embedding_inputs,
        mistakes=[
            Mistake(
                _without_layer_norm, "the sum goes through LayerNorm (and dropout) at the end."
            ),
            Mistake(
                _without_segments, "add the segment vectors: token_type_ids are not all 0 here."
            ),
        ],
        ulps=16,
    ),
    ValueExercise(
        "07.4",
        "Parameters of BERT-base's position and segment tables",
        hint="Rows × hidden size for each table: 512 positions, 2 segments, hidden 768.",
        answer=Computed(_position_and_segment_parameters),
        mistakes=[
            Mistake(512 * 768, "add the segment table: 2 rows of 768."),
            Mistake(2 * 768, "add the position table: 512 rows of 768."),
        ],
        explanation="A small part of BERT-base's 109 M: the word table alone has 23.4 M.",
    ),
    OpenExercise(
        "07.5",
        "Swap the learned positions for sinusoids",
        hint="Copy MiniLM, write sinusoidal_encoding(512, 384), scaled to the learned table's "
        "norm, into embeddings.position_embeddings.weight, and compare outputs or sentence "
        "similarities.",
        model_answer="The outputs change a lot (cosine similarities of the token vectors far "
        "from 1, sentence similarities scrambled): every later layer was trained on the learned "
        "table's vectors, which are not sinusoids, so the swapped-in positions look like noise. "
        "Position encodings cannot be exchanged after pretraining; a model that should use "
        "sinusoids must be trained with them.",
    ),
]

QUIZ = [
    ChoiceQuestion(
        "Which position encoding does BERT use?",
        [
            Option(
                "The sinusoids of 'Attention Is All You Need'",
                why="A myth: those are the original Transformer's; BERT learns its table.",
            ),
            Option(
                "A learned table of 512 vectors, one per position",
                right=True,
                why="Yes: position_embeddings is a trained nn.Embedding(512, hidden).",
            ),
            Option(
                "None: attention knows the order", why="Attention alone is permutation-equivariant."
            ),
        ],
    ),
    ChoiceQuestion(
        "Without position information, what does shuffling the input tokens do to a Transformer "
        "layer's outputs?",
        [
            Option("Nothing at all", why="Each output vector moves with its token."),
            Option(
                "Changes them unpredictably",
                why="Each token's output is the same vector, just moved.",
            ),
            Option("Shuffles them the same way", right=True, why="Yes: permutation-equivariant."),
        ],
    ),
    NumberQuestion(
        "How many rows does BERT's token_type_embeddings table have?",
        answer=2,
        tolerance=0,
        why="Segment A and segment B.",
        mistakes={512: "that is the position table."},
    ),
    ChoiceQuestion(
        "`nn.Embedding(V, d)` looking up id t is the same as...",
        [
            Option(
                "a one-hot vector of length V times the V × d table",
                right=True,
                why="Yes: the product picks row t; the lookup skips the multiplications by 0.",
            ),
            Option("a linear layer with a bias", why="There is no bias: row t, nothing added."),
            Option(
                "the table times a d-long vector of t's",
                why="The id selects a row; it is not a number that multiplies anything.",
            ),
        ],
    ),
]
