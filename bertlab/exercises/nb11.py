"""Checkers of notebook 11 (named-entity recognition).

The checkers compare with the package (`bertlab.data.conll`, `bertlab.metrics.entities`) or with
a reference written here; the texts are in texts/nb11.toml, the solutions in
solutions/11_named_entity_recognition_solutions.ipynb.
"""

from __future__ import annotations

from functools import partial

from bertlab.exercises.kinds import Case

# --- 11.1: labels on every piece -----------------------------------------------------------------


def every_piece_tags(word_ids, word_tags, *, later_pieces: bool = True):
    """A tag for every piece: a later piece of an entity word continues it (I-), and
    `later_pieces=False` leaves later pieces untagged (None), the first-piece recipe."""
    tags, previous = [], None
    for word in word_ids:
        if word is None or (word == previous and not later_pieces):
            tags.append(None)
        elif word != previous:
            tags.append(word_tags[word])
        else:
            tag = word_tags[word]
            tags.append("O" if tag == "O" else "I-" + tag[2:])
        previous = word
    return tags


def copy_the_tag(word_ids, word_tags):
    return [None if word is None else word_tags[word] for word in word_ids]


first_piece_only = partial(every_piece_tags, later_pieces=False)

PIECE_CASES = [
    Case(args=(ids, tags), label=label)
    for ids, tags, label in [
        ([None, 0, 0, 1, 2, 2, 2, None], ["B-PER", "I-PER", "O"], "Blackburn cut in two"),
        ([None, 0, 1, 1, 2, None], ["O", "B-LOC", "O"], "a one-word location in two pieces"),
        ([None, 0, 0, 0, 1, None], ["B-ORG", "B-ORG"], "two touching organisations"),
        ([None, 0, 1, 2, None], ["O", "O", "O"], "no entity"),
    ]
]

# --- 11.2: IOB1 to IOB2 ---------------------------------------------------------------------------


def to_iob2(tags):
    from bertlab.data.conll import iob1_to_iob2

    return iob1_to_iob2(tags)


def every_i_becomes_b(tags):
    return ["B-" + tag[2:] if tag.startswith("I-") else tag for tag in tags]


def unchanged(tags):
    return list(tags)


IOB1_CASES = [
    Case(args=(tags,), label=" ".join(tags))
    for tags in [
        ["I-ORG", "O", "I-PER", "O", "O", "I-LOC", "O", "I-LOC", "B-LOC", "O"],
        ["I-PER", "I-PER", "O", "I-MISC", "I-MISC", "I-MISC"],
        ["O", "I-LOC", "I-ORG", "I-ORG", "B-ORG", "I-ORG"],
        ["O", "O"],
    ]
]

# --- 11.3: entity F1 by hand --------------------------------------------------------------------

_GOLD = ["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG"]
_PREDICTED = ["B-PER", "O", "O", "B-LOC", "O", "B-MISC"]


def entity_f1() -> float:
    from bertlab.metrics.entities import entity_scores

    return entity_scores([_GOLD], [_PREDICTED])["f1"]


def token_accuracy() -> float:
    return sum(g == p for g, p in zip(_GOLD, _PREDICTED)) / len(_GOLD)


# --- 11.4: what an uncased model cannot see --------------------------------------------------------


def capitalised_share(among: str = "entities") -> float:
    """The share of capitalised words in CoNLL-2003's validation set: among the words of
    entities, the "others" (tagged O), or "all"."""
    from bertlab.data.conll import load_conll2003

    words = [
        word
        for sentence in load_conll2003("valid")
        for word, tag in zip(sentence.words, sentence.tags)
        if among == "all" or (tag != "O") == (among == "entities")
    ]
    return sum(word[:1].isupper() for word in words) / len(words)


capitalised_share_outside = partial(capitalised_share, among="others")
capitalised_share_of_all_words = partial(capitalised_share, among="all")
