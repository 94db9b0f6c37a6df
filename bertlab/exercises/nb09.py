"""Exercises and quiz of notebook 09 (pretraining).

The references are Google's rules from `create_pretraining_data.py` as `bertlab.pretraining_data`
implements them (tests/test_pretraining.py checks those against Google's code); the solutions are
in solutions/09_pretraining_solutions.ipynb.
"""

from __future__ import annotations

import math
import random

from bertlab.exercises.core import (
    Case,
    Computed,
    FunctionExercise,
    Mistake,
    OpenExercise,
    ValueExercise,
)
from bertlab.exercises.questions import ChoiceQuestion, NumberQuestion, Option

# --- 09.1: how many positions Google's rule predicts ---------------------------------------------


def _predictions(length: int = 128, masked_lm_prob: float = 0.15, max_predictions: int = 20) -> int:
    return min(max_predictions, max(1, round(length * masked_lm_prob)))


# --- 09.2: the 80/10/10 replacement ----------------------------------------------------------------


def _replacement(token, rng, vocab_size, mask_id):
    """Google's two draws: [MASK] with 0.8; else keep or a random token, each with 0.5."""
    if rng.random() < 0.8:
        return mask_id
    if rng.random() < 0.5:
        return token
    return rng.randint(0, vocab_size - 1)


def _one_draw(token, rng, vocab_size, mask_id):
    draw = rng.random()
    if draw < 0.8:
        return mask_id
    return token if draw < 0.9 else rng.randint(0, vocab_size - 1)


def _random_before_keep(token, rng, vocab_size, mask_id):
    if rng.random() < 0.8:
        return mask_id
    if rng.random() < 0.5:
        return rng.randint(0, vocab_size - 1)
    return token


def _always_mask(token, rng, vocab_size, mask_id):
    return mask_id


def _replacement_cases():
    return [
        Case(args=(17, seed, 1000, 4), label=f"token 17, seeds {seed}..{seed + 299}")
        for seed in (0, 1000, 5000)
    ]


def _replace_many(answer, token, first_seed, vocab_size, mask_id):
    """The answer's choice for 300 seeded random generators (each used once, as Google's loop does)."""
    return [
        answer(token, random.Random(seed), vocab_size, mask_id)
        for seed in range(first_seed, first_seed + 300)
    ]


# --- 09.3: whole-word candidates -------------------------------------------------------------------

SPECIALS = ("[CLS]", "[SEP]")


def _word_groups(tokens):
    """Positions grouped by word: a '##' piece joins the group before it; [CLS]/[SEP] are skipped."""
    groups: list[list[int]] = []
    for position, token in enumerate(tokens):
        if token in SPECIALS:
            continue
        if groups and token.startswith("##"):
            groups[-1].append(position)
        else:
            groups.append([position])
    return groups


def _groups_with_specials(tokens):
    groups: list[list[int]] = []
    for position, token in enumerate(tokens):
        if groups and token.startswith("##"):
            groups[-1].append(position)
        else:
            groups.append([position])
    return groups


def _one_piece_each(tokens):
    return [[position] for position, token in enumerate(tokens) if token not in SPECIALS]


def _word_cases():
    return [
        Case(args=(["[CLS]", "the", "em", "##per", "##or", "rode", "[SEP]"],), label="one word"),
        Case(
            args=(["[CLS]", "a", "##ust", "##er", "##litz", "[SEP]", "pierre", "smiled", "[SEP]"],),
            label="a pair",
        ),
        Case(args=(["[CLS]", "##s", "went", "[SEP]", "##ing", "on", "[SEP]"],), label="## first"),
    ]


EXERCISES = [
    ValueExercise(
        "09.1",
        "How many positions are predicted?",
        hint="Google's rule: min(max_predictions, max(1, round(len(tokens) * masked_lm_prob))), "
        "where len(tokens) counts [CLS] and both [SEP].",
        answer=Computed(_predictions),
        mistakes=[
            Mistake(20, "20 is the cap; 15% of 128 tokens is 19.2, which rounds to 19."),
            Mistake(19.2, "the count is a whole number: Google rounds 128 x 0.15."),
            Mistake(18, "the length counts [CLS] and the two [SEP]: 0.15 x 128, not 0.15 x 125."),
        ],
        explanation="That is why Google pairs 128 tokens with max_predictions_per_seq=20: the cap "
        "only bites when a sequence is longer.",
    ),
    FunctionExercise(
        "09.2",
        "The 80/10/10 replacement, as Google draws it",
        hint="Two draws: rng.random() < 0.8 gives [MASK]; otherwise a second rng.random() < 0.5 "
        "keeps the token, and the rest takes rng.randint(0, vocab_size - 1).",
        reference=_replacement,
        inputs=_replacement_cases,
        call=_replace_many,
        mistakes=[
            Mistake(
                _one_draw,
                "same shares, other numbers: Google draws a second time for keep vs random, "
                "so the random generator's stream (and every later mask) differs.",
            ),
            Mistake(
                _random_before_keep,
                "the second draw below 0.5 keeps the token; the random token comes after.",
            ),
            Mistake(_always_mask, "only 80% become [MASK]; 10% stay, 10% become a random token."),
        ],
    ),
    FunctionExercise(
        "09.3",
        "Whole-word candidates",
        hint="Walk the tokens; skip [CLS] and [SEP]; a token starting with '##' joins the last "
        "group, any other token starts a new one.",
        reference=_word_groups,
        inputs=_word_cases,
        mistakes=[
            Mistake(_groups_with_specials, "[CLS] and [SEP] are never candidates."),
            Mistake(
                _one_piece_each, "that is plain masking: whole words keep a word's pieces together."
            ),
        ],
        explanation="Google's whole-word rule is exactly this, even across a [SEP]: a '##' piece "
        "that opens segment B (after a front truncation) joins the last word of A.",
    ),
    ValueExercise(
        "09.4",
        "The loss of an untrained MLM head",
        hint="An untrained model spreads its probability almost evenly over the vocabulary: the "
        "cross-entropy of a uniform guess over V tokens is ln V (natural log).",
        answer=Computed(lambda: math.log(4000)),
        mistakes=[
            Mistake(
                Computed(lambda: math.log2(4000)), "cross-entropy uses the natural log, not log2."
            ),
            Mistake(Computed(lambda: math.log10(4000)), "cross-entropy uses the natural log."),
            Mistake(
                Computed(lambda: math.log(2)),
                "ln 2 is the NSP loss of a guess; MLM has 4,000 classes.",
            ),
        ],
        abs_tol=0.01,
        explanation="The notebook's untrained model starts there; a context-free model that learns "
        "only the token frequencies gets down to their entropy, and only context goes below it.",
    ),
    OpenExercise(
        "09.5",
        "When does NSP leave its baseline?",
        hint="Raise STEPS tenfold (a GPU makes it cheap) and plot the held-out NSP accuracy "
        "against the majority line of section 9, not against 50%.",
        model_answer="The line to leave is the majority label of the held-out pairs: about 60% of "
        "them are NotNext here (section 4 prints it), because Google's rule makes every chunk of "
        "a single sentence NotNext and puts the unused sentences of a NotNext chunk back to be "
        "read again. An accuracy of 60% therefore means nothing was learned, and the tilt stays at "
        "128 and 512 tokens (section 4 measures it). To leave the line "
        "the model must compare the topics of A and B, and a chapter of the same novel shares "
        "characters, places and style with the real continuation, so expect it to take far longer "
        "than MLM's first gains. With Wikipedia and books of many kinds, as BERT had, a random "
        "document is usually about something else: BERT's NSP reached 97-98%.",
    ),
    OpenExercise(
        "09.6",
        "Static masks, or no NSP",
        hint="PretrainingDataset(dynamic=False) masks once; to drop NSP, train BertForMaskedLM "
        "on the same batches (without next_sentence_label). Compare held-out MLM accuracy at "
        "equal steps, over more than one epoch.",
        model_answer="With static masks every epoch repeats the same blanks: after a few epochs "
        "the model has seen each answer several times, and what it learns about those blanks "
        "does not carry over to new ones, so expect the held-out accuracy to fall behind the "
        "dynamic run as the epochs add up (RoBERTa measured dynamic masking as comparable or "
        "slightly better than static; BERT copied its data 10 times under different masks for the "
        "same reason). Without NSP the encoder serves MLM alone; RoBERTa, which dropped NSP, "
        "matched or improved BERT's downstream results. Measure both: the differences within "
        "this notebook's budget are small, and one seed is not enough to tell them apart.",
    ),
]

QUIZ = [
    ChoiceQuestion(
        "Of the tokens chosen for prediction, BERT feeds the model...",
        [
            Option(
                "100% as [MASK]",
                why="Then fine-tuning, which never shows [MASK], would see inputs unlike pretraining.",
            ),
            Option(
                "80% as [MASK], 10% as a random token, 10% unchanged",
                right=True,
                why="Yes: and the model must predict the original token at all of them.",
            ),
            Option(
                "15% as [MASK], the rest unchanged",
                why="15% is the share of tokens chosen; the 80/10/10 split applies to those.",
            ),
        ],
    ),
    ChoiceQuestion(
        "In next-sentence prediction, where does a NotNext sentence B come from?",
        [
            Option(
                "The sentence before A, so the order is swapped",
                why="That is ALBERT's sentence-order prediction, not BERT's NSP (myth 6).",
            ),
            Option(
                "A random sentence of the same document",
                why="Google's code takes it from another document (it tries 10 times to find one).",
            ),
            Option(
                "A random other document",
                right=True,
                why="Yes: so a change of topic gives it away, which is why NSP is easy for BERT.",
            ),
        ],
    ),
    NumberQuestion(
        "How many positions does Google's rule predict in a sequence of 64 tokens (max_predictions "
        "10, masked_lm_prob 0.15)?",
        answer=10,
        tolerance=0,
        why="round(64 x 0.15) = round(9.6) = 10, and the cap of 10 does not bite.",
        mistakes={9: "9.6 rounds to 10.", 64: "only 15% of the tokens are predicted."},
    ),
    ChoiceQuestion(
        "Why is this notebook's training loss above its held-out MLM loss?",
        [
            Option(
                "The training loss is MLM + NSP, and NSP adds about ln 2 = 0.69 while it is not learned",
                right=True,
                why="Yes: compare like with like (held-out MLM + NSP) and the gap almost closes.",
            ),
            Option(
                "The model overfits the held-out chapters",
                why="It never sees them; overfitting would make the held-out loss the higher one.",
            ),
            Option(
                "Dropout is on during training",
                why="Not here: dropout is 0 in this budget, so training and evaluation compute alike.",
            ),
        ],
    ),
]
