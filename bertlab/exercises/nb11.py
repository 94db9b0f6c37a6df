"""Exercises and quiz of notebook 11 (named-entity recognition).

The checkers compare with the package (`bertlab.data.conll`, `bertlab.metrics.entities`) or with
a reference written here; the solutions are in solutions/11_named_entity_recognition_solutions.ipynb.
"""

from __future__ import annotations

from bertlab.exercises.core import (
    Case,
    Computed,
    FunctionExercise,
    Mistake,
    OpenExercise,
    ValueExercise,
)
from bertlab.exercises.questions import ChoiceQuestion, NumberQuestion, Option

# --- 11.1: labels on every piece -----------------------------------------------------------------


def _every_piece_tags(word_ids, word_tags):
    tags, previous = [], None
    for word in word_ids:
        if word is None:
            tags.append(None)
        elif word != previous:
            tags.append(word_tags[word])
        else:
            tag = word_tags[word]
            tags.append("O" if tag == "O" else "I-" + tag[2:])
        previous = word
    return tags


def _copy_the_tag(word_ids, word_tags):
    return [None if word is None else word_tags[word] for word in word_ids]


def _first_piece_only(word_ids, word_tags):
    tags, previous = [], None
    for word in word_ids:
        tags.append(word_tags[word] if word is not None and word != previous else None)
        previous = word
    return tags


_PIECE_CASES = [
    ([None, 0, 0, 1, 2, 2, 2, None], ["B-PER", "I-PER", "O"], "Blackburn cut in two"),
    ([None, 0, 1, 1, 2, None], ["O", "B-LOC", "O"], "a one-word location in two pieces"),
    ([None, 0, 0, 0, 1, None], ["B-ORG", "B-ORG"], "two touching organisations"),
    ([None, 0, 1, 2, None], ["O", "O", "O"], "no entity"),
]

# --- 11.2: IOB1 to IOB2 ---------------------------------------------------------------------------


def _to_iob2(tags):
    from bertlab.data.conll import iob1_to_iob2

    return iob1_to_iob2(tags)


def _every_i_becomes_b(tags):
    return ["B-" + tag[2:] if tag.startswith("I-") else tag for tag in tags]


def _unchanged(tags):
    return list(tags)


_IOB1_CASES = [
    ["I-ORG", "O", "I-PER", "O", "O", "I-LOC", "O", "I-LOC", "B-LOC", "O"],
    ["I-PER", "I-PER", "O", "I-MISC", "I-MISC", "I-MISC"],
    ["O", "I-LOC", "I-ORG", "I-ORG", "B-ORG", "I-ORG"],
    ["O", "O"],
]

# --- 11.3: entity F1 by hand --------------------------------------------------------------------

_GOLD = ["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG"]
_PREDICTED = ["B-PER", "O", "O", "B-LOC", "O", "B-MISC"]


def _entity_f1() -> float:
    from bertlab.metrics.entities import entity_scores

    return entity_scores([_GOLD], [_PREDICTED])["f1"]


def _token_accuracy() -> float:
    return sum(g == p for g, p in zip(_GOLD, _PREDICTED)) / len(_GOLD)


# --- 11.4: what an uncased model cannot see --------------------------------------------------------


def _capitalised_share(inside_entities: bool) -> float:
    from bertlab.data.conll import load_conll2003

    words = [
        word
        for sentence in load_conll2003("valid")
        for word, tag in zip(sentence.words, sentence.tags)
        if (tag != "O") == inside_entities
    ]
    return sum(word[:1].isupper() for word in words) / len(words)


def _capitalised_share_of_all_words() -> float:
    from bertlab.data.conll import load_conll2003

    words = [word for sentence in load_conll2003("valid") for word in sentence.words]
    return sum(word[:1].isupper() for word in words) / len(words)


EXERCISES = [
    FunctionExercise(
        "11.1",
        "Labels on every piece",
        hint="Walk through word_ids like first_piece_labels; a later piece of an entity word "
        "continues the entity, so it gets I- and the word's type.",
        reference=_every_piece_tags,
        inputs=[Case(args=(ids, tags), label=label) for ids, tags, label in _PIECE_CASES],
        mistakes=[
            Mistake(
                _copy_the_tag,
                "copying B- onto every piece starts a new entity at each piece of the word.",
            ),
            Mistake(
                _first_piece_only,
                "that is the first-piece recipe; here later pieces get a tag too.",
            ),
        ],
    ),
    FunctionExercise(
        "11.2",
        "From IOB1 to IOB2",
        hint="An I-X starts an entity when the previous tag is O, or of another type; only then "
        "does it become B-X.",
        reference=_to_iob2,
        inputs=[Case(args=(tags,), label=" ".join(tags)) for tags in _IOB1_CASES],
        mistakes=[
            Mistake(_every_i_becomes_b, "only the I- that starts an entity becomes B-."),
            Mistake(_unchanged, "IOB1 starts entities with I-; IOB2 wants B- there."),
        ],
    ),
    ValueExercise(
        "11.3",
        "Entity F1 by hand",
        hint="List the gold entities and the predicted ones as (type, first, last); count the "
        "predicted ones that are exactly right.",
        answer=Computed(_entity_f1),
        mistakes=[
            Mistake(Computed(_token_accuracy), "that is the share of words tagged right."),
            Mistake(
                2 / 3,
                "the person entity is gold over two words and predicted over one: it does not count.",
            ),
        ],
        explanation="Only LOC is exactly right: precision 1/3, recall 1/3, F1 1/3.",
    ),
    ValueExercise(
        "11.4",
        "What an uncased model cannot see",
        hint="Collect the words whose tag is not O and count those with word[0].isupper().",
        answer=Computed(lambda: _capitalised_share(True)),
        abs_tol=0.01,
        mistakes=[
            Mistake(
                Computed(lambda: _capitalised_share(False)),
                "that is the share among the words outside entities.",
            ),
            Mistake(Computed(_capitalised_share_of_all_words), "that counts every word."),
        ],
        explanation="Nearly every entity word is capitalised, a cue MiniLM's lower-casing "
        "tokenizer throws away before the model sees the text.",
    ),
    OpenExercise(
        "11.5",
        "Boundary or type?",
        hint="Match each wrong predicted entity with a gold entity that overlaps it.",
        model_answer=(
            "Match every predicted entity that is not exactly right with the gold entity it "
            "overlaps. Right span and wrong type are mostly ORG/LOC confusions (a country's name "
            "for its team or government) and MISC; right type and wrong span are mostly multi-word "
            "names cut short or run on. Entity F1 punishes both twice: a missed gold entity and a "
            "wrong predicted one."
        ),
    ),
    OpenExercise(
        "11.6",
        "Strict mode",
        hint="Strict mode reads tags by the IOB2 scheme's rules; the default mode reads them "
        "leniently, like conlleval.",
        model_answer=(
            "The default mode treats an I-X after O (or after another type) as the start of an "
            "entity, like conlleval; strict IOB2 mode only accepts entities that start with B-X, so "
            "a prediction that begins with I-X is no entity at all. The two differ exactly on "
            "predictions that break the IOB2 rules, which an early model makes often and a trained "
            "one rarely."
        ),
    ),
]

QUIZ = [
    ChoiceQuestion(
        "Which vectors does a NER head classify?",
        [
            Option(
                "the [CLS] vector",
                why="myth 3: [CLS] serves sequence-level tasks; it gets label -100 in NER.",
            ),
            Option(
                "every token's final vector (a word's label is read at its first piece)",
                right=True,
                why="NER labels every word, so the head sees every position.",
            ),
            Option(
                "the mean of all token vectors",
                why="that is one vector per sentence, not one label per word.",
            ),
        ],
    ),
    ChoiceQuestion(
        "In BERT's NER recipe, what label do the later pieces of a word get?",
        [
            Option(
                "-100, so the loss ignores them",
                right=True,
                why="only the first piece of each word is trained and read.",
            ),
            Option(
                "the word's label again",
                why="that labels every piece, another recipe (exercise 11.1), not BERT's.",
            ),
            Option("O", why="that would teach the model that parts of names are not names."),
        ],
    ),
    NumberQuestion(
        "Gold has 2 entities; the model predicts 2: one exactly right, one with a wrong last word. "
        "What is the entity F1?",
        answer=0.5,
        tolerance=0.001,
        why="precision 1/2, recall 1/2, F1 1/2: a wrong boundary earns nothing.",
        mistakes={0.75: "entity F1 gives no partial credit for a boundary that is almost right."},
    ),
    ChoiceQuestion(
        "Why can MiniLM not use capital letters to find names?",
        [
            Option(
                "capital letters carry no information about entities",
                why="nearly every entity word in CoNLL-2003 is capitalised (exercise 11.4).",
            ),
            Option(
                "WordPiece cannot represent capital letters",
                why="cased WordPiece vocabularies exist; BERT has one.",
            ),
            Option(
                "its tokenizer lower-cases the text before the model sees it (an uncased vocabulary)",
                right=True,
                why="'Paris' and 'paris' are the same pieces to it; BERT's CoNLL scores come from "
                "the cased model.",
            ),
        ],
    ),
    ChoiceQuestion(
        "A long sentence is cut into windows of whole words that do not overlap. What does the "
        "first word of the second window lose?",
        [
            Option(
                "its left context: the words before it are in the other window",
                right=True,
                why="attention only reaches inside one window.",
            ),
            Option(
                "its label: words at an edge get none",
                why="every word is in exactly one window and gets a prediction.",
            ),
            Option("nothing", why="a word with context on one side only is harder to tag."),
        ],
    ),
]
