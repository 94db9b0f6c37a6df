"""Exercises and quiz of notebook 08 (the encoder).

Parameter counts come from `bertlab.model` built on the meta device (no memory, no weights);
the FFN reference from a real `BertLayer`. Solutions: solutions/08_encoder_solutions.ipynb.
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

LARGE = {
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "intermediate_size": 4096,
}

# --- 08.2: BERT-large ----------------------------------------------------------------------------


def _parameters(part: str = "all", **config) -> int:
    from bertlab.model import BertConfig, BertModel

    with torch.device("meta"):
        model = BertModel(BertConfig(**config))
    module = model if part == "all" else getattr(model, part)
    return sum(p.numel() for p in module.parameters())


def _large_without_pooler() -> int:
    return _parameters(**LARGE) - _parameters("pooler", **LARGE)


# --- 08.3: mean pooling --------------------------------------------------------------------------


def _mean_pooling(last_hidden_state, attention_mask):
    mask = attention_mask[..., None].to(last_hidden_state.dtype)
    return (last_hidden_state * mask).sum(1) / mask.sum(1)


def _mean_with_padding(last_hidden_state, attention_mask):
    return last_hidden_state.mean(1)


def _cls_vector(last_hidden_state, attention_mask):
    return last_hidden_state[:, 0]


def _pooling_inputs():
    generator = torch.Generator().manual_seed(8)
    hidden = torch.randn(3, 6, 16, generator=generator)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]])
    return [(hidden, mask), (hidden[:1, :4], torch.ones(1, 4, dtype=torch.long))]


# --- 08.4: the feed-forward network --------------------------------------------------------------


def _ffn(x, layer):
    first, second = layer.intermediate.dense, layer.output.dense
    return F.linear(F.gelu(F.linear(x, first.weight, first.bias)), second.weight, second.bias)


def _ffn_relu(x, layer):
    first, second = layer.intermediate.dense, layer.output.dense
    return F.linear(F.relu(F.linear(x, first.weight, first.bias)), second.weight, second.bias)


def _ffn_double_relu(x, layer):
    return F.relu(_ffn_relu(x, layer) - layer.output.dense.bias) + layer.output.dense.bias


def _ffn_tanh_gelu(x, layer):
    first, second = layer.intermediate.dense, layer.output.dense
    hidden = F.gelu(F.linear(x, first.weight, first.bias), approximate="tanh")
    return F.linear(hidden, second.weight, second.bias)


def _layer_inputs():
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


def _without_gradients(answer, *args):
    with torch.no_grad():
        return answer(*args)


# --- 08.5: ALBERT's shared block -----------------------------------------------------------------


def _one_base_block() -> int:
    from bertlab.model import BertConfig, BertLayer

    with torch.device("meta"):
        block = BertLayer(BertConfig())
    return sum(p.numel() for p in block.parameters())


EXERCISES = [
    OpenExercise(
        "08.1",
        "Pre-LN with post-LN weights",
        hint="Move each LayerNorm of by_hand_block before its sub-layer: a = h + Attn(LN1(h)), "
        "h' = a + FFN(LN2(a)). Compare the outputs, or the sentence similarities of section 4.",
        model_answer="The outputs change completely and sentence similarities become meaningless. "
        "The weights were trained on post-LN inputs: each sub-layer saw a normalised vector (the "
        "output of the previous LayerNorm), and each LayerNorm's gamma and beta were fitted to the "
        "sum it normalises. Rewired as pre-LN, the residual stream is never normalised, the "
        "LayerNorms see different inputs, and every layer receives vectors of a scale it was never "
        "trained on: the architecture is part of what the weights mean.",
    ),
    ValueExercise(
        "08.2",
        "Parameters of BERT-large",
        hint="Use the formula of section 5 (or BertModel on the meta device) with 24 blocks, "
        "H = 1024, I = 4096, 16 heads; V, P and T as in BERT-base. Count the pooler too.",
        answer=Computed(lambda: _parameters(**LARGE)),
        mistakes=[
            Mistake(
                Computed(_large_without_pooler), "include the pooler: one H × H layer and its bias."
            ),
            Mistake(109_482_240, "that is BERT-base: set H = 1024, I = 4096 and 24 blocks."),
        ],
        explanation="Of them, 24 blocks of 12.6 M each make 302 M; the word table is 31.3 M.",
    ),
    FunctionExercise(
        "08.3",
        "Mean pooling over a padded batch",
        hint="Multiply the hidden states by the mask (as floats, with a trailing dimension), sum "
        "over the tokens, divide by the number of real tokens of each row.",
        reference=_mean_pooling,
        inputs=_pooling_inputs,
        mistakes=[
            Mistake(_mean_with_padding, "leave the [PAD] positions out of the mean: use the mask."),
            Mistake(
                _cls_vector, "that is the [CLS] vector; this checkpoint averages all real tokens."
            ),
        ],
        ulps=16,
        explanation="That is sentence-transformers' mean pooling, the one all-MiniLM-L6-v2 was trained with.",
    ),
    FunctionExercise(
        "08.4",
        "The feed-forward network, and no ReLU",
        hint="layer.intermediate.dense is W1, b1; layer.output.dense is W2, b2. Compute "
        "W2·GELU(W1x + b1) + b2, without the residual sum or the LayerNorm.",
        reference=_ffn,
        inputs=_layer_inputs,
        call=_without_gradients,
        mistakes=[
            Mistake(_ffn_relu, "BERT's FFN uses GELU, not ReLU."),
            Mistake(
                _ffn_double_relu,
                "a myth: there is no activation after W2 (and the first one is GELU).",
            ),
            Mistake(
                _ffn_tanh_gelu, "this config says hidden_act='gelu': the exact erf form, not tanh."
            ),
        ],
        ulps=16,
    ),
    ValueExercise(
        "08.5",
        "ALBERT's shared block",
        hint="ALBERT-base has BERT-base's block (H = 768, I = 3072) but all 12 layers share one "
        "copy of its parameters. Count one block: 4 attention matrices with biases, the FFN, two "
        "LayerNorms.",
        answer=Computed(_one_base_block),
        mistakes=[
            Mistake(
                Computed(lambda: 12 * _one_base_block()), "shared: the 12 layers use one copy."
            ),
        ],
        explanation="7.1 M instead of 85.1 M: with its small factorised word table, ALBERT-base "
        "has about 12 M parameters in all.",
    ),
    OpenExercise(
        "08.6",
        "gelu_new instead of gelu",
        hint="BertModel.from_pretrained(minilm_dir(), hidden_act='gelu_new'), then compare "
        "last_hidden_state with the real model's on a few sentences.",
        model_answer="The outputs move only a little (differences far below those of the ReLU "
        "swap): the tanh approximation is within 0.0005 of the exact GELU on [-5, 5], so six "
        "layers add up small changes. Harmless for predictions, but enough to break an exact "
        "parity test with transformers: follow the config.",
    ),
]

QUIZ = [
    ChoiceQuestion(
        "What is BERT's feed-forward network?",
        [
            Option(
                "ReLU(W2·ReLU(W1x + b1)) + b2",
                why="A myth: BERT uses GELU, and there is no activation after W2.",
            ),
            Option(
                "A fully connected layer over the whole sentence",
                why="It acts on each token separately: only attention mixes tokens.",
            ),
            Option(
                "W2·GELU(W1x + b1) + b2 on each token, inside a residual sum and a LayerNorm",
                right=True,
                why="Yes: GELU, no activation after W2, one token at a time.",
            ),
        ],
    ),
    ChoiceQuestion(
        "Why is BERT called bidirectional?",
        [
            Option(
                "It is built on a bidirectional LSTM",
                why="A myth: there is no recurrence in BERT; ELMo is the one with LSTMs.",
            ),
            Option(
                "Its self-attention is unmasked: every token sees both sides in every layer",
                right=True,
                why="Yes: no causal mask, measured in section 7.",
            ),
            Option(
                "It reads the text twice, once in each direction",
                why="That is closer to ELMo's two language models; BERT reads once, all at once.",
            ),
        ],
    ),
    NumberQuestion(
        "How many million parameters has BERT-base's BertModel (to the nearest million)?",
        answer=109,
        tolerance=1,
        why="109,482,240: 23.8 M embeddings, 85.1 M in 12 blocks, 0.6 M pooler.",
        mistakes={340: "that is BERT-large, about 335 M.", 22: "that is MiniLM-L6, 22.7 M."},
    ),
    ChoiceQuestion(
        "What was BERT pretrained on?",
        [
            Option(
                "A BLEU dataset", why="A myth: BLEU is a machine-translation metric, not a dataset."
            ),
            Option(
                "BooksCorpus and English Wikipedia", right=True, why="Yes: 800 M + 2,500 M words."
            ),
            Option("Common Crawl web text", why="That came later, with RoBERTa's larger corpora."),
        ],
    ),
    ChoiceQuestion(
        "Why is BERT a poor choice for writing free text?",
        [
            Option(
                "It was never trained to predict the next token, and its outputs depend on the "
                "words to the right",
                right=True,
                why="Yes: masked-token prediction is not a left-to-right model of text.",
            ),
            Option("Its vocabulary is too small", why="30,522 pieces spell any English text."),
            Option(
                "It cannot output probabilities over words",
                why="Its masked-language-model head does, for each masked position.",
            ),
        ],
    ),
]
