"""Checkers of notebook 08 (the encoder).

Parameter counts come from `bertlab.model` built on the meta device (no memory, no weights);
the FFN reference from a real `BertLayer`. The texts are in texts/nb08.toml, the solutions in
solutions/08_encoder_solutions.ipynb.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from bertlab.exercises.helpers import (
    meta_parameters,
    without_gradients,  # noqa: F401 - the call of 08.4
)
from bertlab.exercises.kinds import Case

LARGE = {
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "intermediate_size": 4096,
}

# --- 08.2: BERT-large ----------------------------------------------------------------------------


def _bert_large():
    from bertlab.model import BertConfig, BertModel

    return BertModel(BertConfig(**LARGE))


def large_parameters() -> int:
    return meta_parameters(_bert_large)


def large_without_pooler() -> int:
    return large_parameters() - meta_parameters(_bert_large, "pooler")


# --- 08.3: mean pooling --------------------------------------------------------------------------


def mean_pooling(last_hidden_state, attention_mask):
    mask = attention_mask[..., None].to(last_hidden_state.dtype)
    return (last_hidden_state * mask).sum(1) / mask.sum(1)


def mean_with_padding(last_hidden_state, attention_mask):
    return last_hidden_state.mean(1)


def cls_vector(last_hidden_state, attention_mask):
    return last_hidden_state[:, 0]


def pooling_inputs():
    generator = torch.Generator().manual_seed(8)
    hidden = torch.randn(3, 6, 16, generator=generator)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]])
    return [(hidden, mask), (hidden[:1, :4], torch.ones(1, 4, dtype=torch.long))]


# --- 08.4: the feed-forward network --------------------------------------------------------------


def ffn(x, layer, *, activation=F.gelu):
    """W2·GELU(W1x + b1) + b2 with the weights of a BertLayer (another `activation`: a slip)."""
    first, second = layer.intermediate.dense, layer.output.dense
    hidden = activation(F.linear(x, first.weight, first.bias))
    return F.linear(hidden, second.weight, second.bias)


ffn_relu = partial(ffn, activation=F.relu)
ffn_tanh_gelu = partial(ffn, activation=partial(F.gelu, approximate="tanh"))


def ffn_double_relu(x, layer):
    return F.relu(ffn_relu(x, layer) - layer.output.dense.bias) + layer.output.dense.bias


def layer_inputs():
    from bertlab.model import BertConfig, BertLayer

    cases = []
    for seed, hidden in enumerate([16, 32]):
        torch.manual_seed(seed)
        config = BertConfig(hidden_size=hidden, num_attention_heads=4, intermediate_size=4 * hidden)
        layer = BertLayer(config).eval()
        with torch.no_grad():
            for module in layer.modules():
                if isinstance(module, torch.nn.Linear):
                    module.weight.normal_(0, 0.5)  # large enough that GELU's curve matters
                    module.bias.normal_(0, 0.5)
        x = torch.randn(2, 5, hidden)
        cases.append(Case(args=(x, layer), label=f"hidden {hidden}"))
    return cases


# --- 08.5: ALBERT's shared block -----------------------------------------------------------------


def _base_block():
    from bertlab.model import BertConfig, BertLayer

    return BertLayer(BertConfig())


def one_base_block() -> int:
    return meta_parameters(_base_block)


def twelve_base_blocks() -> int:
    return 12 * one_base_block()
