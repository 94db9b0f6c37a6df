"""Checkers of notebook 09 (pretraining).

The references are Google's rules from `create_pretraining_data.py` as `bertlab.pretraining_data`
implements them (tests/test_pretraining.py checks those against Google's code); the texts are in
texts/nb09.toml, the solutions in solutions/09_pretraining_solutions.ipynb.
"""

from __future__ import annotations

import math
import random
from functools import partial

from bertlab.exercises.kinds import Case

# --- 09.1: how many positions Google's rule predicts ---------------------------------------------


def predictions(length: int = 128, masked_lm_prob: float = 0.15, max_predictions: int = 20) -> int:
    return min(max_predictions, max(1, round(length * masked_lm_prob)))


# --- 09.2: the 80/10/10 replacement ----------------------------------------------------------------


def replacement(token, rng, vocab_size, mask_id, *, keep_below_half: bool = True):
    """Google's two draws: [MASK] with 0.8; else a second draw below 0.5 keeps the token and
    the rest takes a random one (`keep_below_half=False`: the other way round)."""
    if rng.random() < 0.8:
        return mask_id
    if (rng.random() < 0.5) == keep_below_half:
        return token
    return rng.randint(0, vocab_size - 1)


random_before_keep = partial(replacement, keep_below_half=False)


def one_draw(token, rng, vocab_size, mask_id):
    draw = rng.random()
    if draw < 0.8:
        return mask_id
    return token if draw < 0.9 else rng.randint(0, vocab_size - 1)


def always_mask(token, rng, vocab_size, mask_id):
    return mask_id


def replacement_cases():
    return [
        Case(args=(17, seed, 1000, 4), label=f"token 17, seeds {seed}..{seed + 299}")
        for seed in (0, 1000, 5000)
    ]


def replace_many(answer, token, first_seed, vocab_size, mask_id):
    """The answer's choice for 300 seeded random generators (each used once, as Google's loop does)."""
    return [
        answer(token, random.Random(seed), vocab_size, mask_id)
        for seed in range(first_seed, first_seed + 300)
    ]


# --- 09.3: whole-word candidates -------------------------------------------------------------------

SPECIALS = ("[CLS]", "[SEP]")


def word_groups(tokens, *, skip=SPECIALS):
    """Positions grouped by word: a '##' piece joins the group before it; [CLS]/[SEP] are skipped."""
    groups: list[list[int]] = []
    for position, token in enumerate(tokens):
        if token in skip:
            continue
        if groups and token.startswith("##"):
            groups[-1].append(position)
        else:
            groups.append([position])
    return groups


groups_with_specials = partial(word_groups, skip=())


def one_piece_each(tokens):
    return [[position] for position, token in enumerate(tokens) if token not in SPECIALS]


def word_cases():
    return [
        Case(args=(["[CLS]", "the", "em", "##per", "##or", "rode", "[SEP]"],), label="one word"),
        Case(
            args=(["[CLS]", "a", "##ust", "##er", "##litz", "[SEP]", "pierre", "smiled", "[SEP]"],),
            label="a pair",
        ),
        Case(args=(["[CLS]", "##s", "went", "[SEP]", "##ing", "on", "[SEP]"],), label="## first"),
    ]


# --- 09.4: the loss of an untrained MLM head ----------------------------------------------------


def uniform_loss(classes: int = 4000, log=math.log) -> float:
    """The cross-entropy of a uniform guess over `classes` (MLM: the 4,000 pieces; NSP: 2)."""
    return log(classes)


uniform_loss_log2 = partial(uniform_loss, log=math.log2)
uniform_loss_log10 = partial(uniform_loss, log=math.log10)
nsp_uniform_loss = partial(uniform_loss, classes=2)
