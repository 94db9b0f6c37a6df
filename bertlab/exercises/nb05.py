"""Exercises and quiz of notebook 05 (tokenization).

The references are written here from the notebook's own building blocks and checked against
`bertlab.tokenization` (itself identical to Hugging Face's tokenizer); the solutions are in
solutions/05_tokenization_solutions.ipynb.
"""

from __future__ import annotations

import unicodedata

from bertlab.exercises.core import FunctionExercise, Mistake, OpenExercise
from bertlab.exercises.questions import ChoiceQuestion, NumberQuestion, Option

CASED_TEXTS = [
    "Café Ærøskøbing, naïve!",
    "Dvořák's «Nový svět» premièred in NEW YORK, 1893.",
    "BERT（双向编码器表示）由谷歌于2018年发布。",
    "Tab\there,\nnew line,\u00a0no-break\u200bzero\ufffdwidth\x00!",
    "Don't SHOUT: it's $3.50 + tax (20%)...",
]

# --- 05.1: a cased basic tokenizer ------------------------------------------------------------


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(
        low <= code <= high
        for low, high in [
            (0x4E00, 0x9FFF),
            (0x3400, 0x4DBF),
            (0x20000, 0x2A6DF),
            (0x2A700, 0x2B73F),
            (0x2B740, 0x2B81F),
            (0x2B820, 0x2CEAF),
            (0xF900, 0xFAFF),
            (0x2F800, 0x2FA1F),
        ]
    )


def _is_punctuation(char: str) -> bool:
    return (char.isascii() and not char.isalnum() and not char.isspace()) or (
        unicodedata.category(char).startswith("P")
    )


def _clean(char: str) -> str:
    if char in "\x00\ufffd":
        return ""
    if char in "\t\n\r" or unicodedata.category(char) == "Zs":
        return " "
    if unicodedata.category(char) in ("Cc", "Cf", "Co"):
        return ""
    return char


def _split(text: str) -> list[str]:
    words, current = [], ""
    for char in text:
        if char == " " or _is_cjk(char) or _is_punctuation(char):
            words.append(current)
            current = ""
            if char != " ":
                words.append(char)
        else:
            current += char
    words.append(current)
    return [word for word in words if word]


def _basic_tokenize_cased(text: str) -> list[str]:
    return _split("".join(_clean(char) for char in text))


def _lower_cased_anyway(text: str) -> list[str]:
    return _basic_tokenize_cased(text.lower())


def _accents_stripped(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFD", text)
    return _basic_tokenize_cased("".join(c for c in decomposed if unicodedata.category(c) != "Mn"))


def _whitespace_only(text: str) -> list[str]:
    return text.split()


# --- 05.2: words back from pieces -------------------------------------------------------------


def _merge_pieces(tokens: list[str]) -> list[str]:
    words: list[str] = []
    for token in tokens:
        if token.startswith("##") and words:
            words[-1] += token[2:]
        else:
            words.append(token)
    return words


def _hashes_stripped(tokens: list[str]) -> list[str]:
    return [token.removeprefix("##") for token in tokens]


def _pieces_dropped(tokens: list[str]) -> list[str]:
    return [token for token in tokens if not token.startswith("##")]


def _piece_inputs():
    from bertlab.hub import minilm_dir
    from bertlab.tokenization import BertTokenizer

    tokenizer = BertTokenizer.from_pretrained(minilm_dir())
    texts = [
        "Tokenization is unbelievably fun!",
        "electroencephalography, hyperparameters and lol",
        "Who wrote Hamlet?",
    ]
    cases = [(tokenizer.tokenize(text),) for text in texts]
    cases.append((tokenizer.convert_ids_to_tokens(tokenizer(texts[0])["input_ids"]),))
    cases.append(([],))
    return cases


# --- 05.3: a sentence pair by hand ------------------------------------------------------------


def _encode_pair(pieces_a, pieces_b, vocab):
    tokens = ["[CLS]", *pieces_a, "[SEP]", *pieces_b, "[SEP]"]
    types = [0] * (len(pieces_a) + 2) + [1] * (len(pieces_b) + 1)
    return [vocab[token] for token in tokens], types


def _last_sep_in_segment_a(pieces_a, pieces_b, vocab):
    ids, types = _encode_pair(pieces_a, pieces_b, vocab)
    return ids, types[:-1] + [0]


def _cls_at_the_end(pieces_a, pieces_b, vocab):
    tokens = [*pieces_a, "[SEP]", *pieces_b, "[SEP]", "[CLS]"]
    types = [0] * (len(pieces_a) + 1) + [1] * (len(pieces_b) + 2)
    return [vocab[token] for token in tokens], types


def _pair_inputs():
    from bertlab.hub import minilm_dir
    from bertlab.tokenization import BertTokenizer

    tokenizer = BertTokenizer.from_pretrained(minilm_dir())
    pairs = [
        ("Where was the match played?", "The final was played at Wembley Stadium in London."),
        ("Who won?", "Arsenal won 2-1."),
        ("Is it raining?", "No."),
    ]
    return [(tokenizer.tokenize(a), tokenizer.tokenize(b), tokenizer.vocab) for a, b in pairs]


EXERCISES = [
    FunctionExercise(
        "05.1",
        "A cased basic tokenizer",
        hint="Chain the cleaning of section 1 and the splitting of section 3, and leave out "
        "section 2 entirely: no lower-casing, and no NFD accent stripping either.",
        reference=_basic_tokenize_cased,
        inputs=CASED_TEXTS,
        mistakes=[
            Mistake(
                _lower_cased_anyway, "a cased tokenizer keeps the capitals: do not lower-case."
            ),
            Mistake(
                _accents_stripped,
                "cased BERT keeps the accents too (é stays é): skip the NFD step as well.",
            ),
            Mistake(
                _whitespace_only,
                "punctuation and CJK characters must become tokens of their own, and control "
                "characters must go.",
            ),
        ],
        explanation="That is BasicTokenizer(do_lower_case=False): with lower-casing off, "
        "accent stripping is off too unless strip_accents=True says otherwise.",
    ),
    FunctionExercise(
        "05.2",
        "Words back from WordPiece pieces",
        hint="Walk through the tokens; a token that starts with ## extends the last word.",
        reference=_merge_pieces,
        inputs=_piece_inputs,
        mistakes=[
            Mistake(
                _hashes_stripped, "removing ## is not enough: glue the piece to the word before it."
            ),
            Mistake(
                _pieces_dropped, "the ## pieces carry the rest of the word: keep them, glued on."
            ),
        ],
        explanation="The tokenizer's decode does the same, then joins the words with spaces.",
    ),
    FunctionExercise(
        "05.3",
        "A sentence pair by hand",
        hint="[CLS] first, a [SEP] after each segment; token_type_ids are 0 up to and including "
        "the first [SEP], 1 after it.",
        reference=_encode_pair,
        inputs=_pair_inputs,
        mistakes=[
            Mistake(
                _last_sep_in_segment_a, "the final [SEP] belongs to segment B: its type id is 1."
            ),
            Mistake(
                _cls_at_the_end, "[CLS] is the first token, never the last (that is XLNet's <cls>)."
            ),
        ],
        explanation="Exactly what tokenizer(text_a, text_b) returns for input_ids and token_type_ids.",
    ),
    OpenExercise(
        "05.4",
        "How bad is the shortcut, really?",
        hint="learn_wordpiece(toy_counts, size, shortcut_score) for each size; count pieces per "
        "held-out word as in section 11.",
        model_answer="The shortcut stays clearly worse at every size: it spends its merges on "
        "rare combinations whose parts seldom occur apart (numbers, rare names) and learns frequent "
        "words such as 'the' late or never, so held-out text needs many more pieces per word. The "
        "likelihood gain multiplies by count(ab), which favours merges that shorten many words.",
    ),
    OpenExercise(
        "05.5",
        "Why a stride",
        hint="tok(question, context, truncation='only_second', max_length=128, stride=0, "
        "return_overflowing_tokens=True, return_offsets_mapping=True), then compare the offsets "
        "of each window with the answer's characters.",
        model_answer="Without overlap, an answer that straddles a window boundary is whole in no "
        "window, so no window can predict it. With stride=32 consecutive windows share 32 tokens, "
        "so an answer shorter than that is whole in at least one of them. The cost: more windows "
        "(more compute) for every long paragraph, and the same tokens seen twice.",
    ),
]

QUIZ = [
    ChoiceQuestion(
        "Where does BERT put its `[CLS]` token?",
        [
            Option(
                "Last, after reading everything",
                why="A myth: BERT's attention sees every position at once, so [CLS] needs no "
                "special place; XLNet's tokenizer is the one that puts <cls> last.",
            ),
            Option("First, before sentence A", right=True, why="Yes: [CLS] opens every input."),
            Option(
                "Once before each sentence",
                why="There is one [CLS] per input; the sentences are separated by [SEP].",
            ),
        ],
    ),
    ChoiceQuestion(
        "What does the `##` in `##ing` mean?",
        [
            Option(
                "A hashtag from a tweet",
                why="A hashtag becomes '#' and the word: ## is WordPiece's mark.",
            ),
            Option("A special token like [MASK]", why="Special tokens are written in brackets."),
            Option(
                "The piece continues a word started by the piece before it",
                right=True,
                why="Yes: 'playing' is 'play' + '##ing'; without ## it would start a new word.",
            ),
        ],
    ),
    NumberQuestion(
        "In `[CLS] who won ? [SEP] arsenal won . [SEP]`, how many token_type_ids are 1?",
        answer=4,
        tolerance=0,
        why="arsenal, won, . and the final [SEP]: segment B includes its own [SEP].",
        mistakes={
            3: "the final [SEP] belongs to segment B too.",
            5: "[SEP] after 'won ?' ends segment A.",
        },
    ),
    ChoiceQuestion(
        "Should you strip punctuation and digits before tokenizing?",
        [
            Option(
                "No: the vocabulary has pieces for them, and they often carry the meaning",
                right=True,
                why="Yes: 10.6% of SQuAD answers would disappear entirely.",
            ),
            Option(
                "Yes, they are noise",
                why="A myth: '!' and '?' carry sentiment and questions, numbers are often the answer.",
            ),
            Option(
                "Only digits",
                why="Numbers, dates and amounts are often exactly what a question asks for.",
            ),
        ],
    ),
    ChoiceQuestion(
        "A model returns logits of shape `[n, 30522]`. How do you turn them into text?",
        [
            Option(
                "tokenizer.decode(logits)",
                why="decode needs ids, not one score per vocabulary entry.",
            ),
            Option(
                "tokenizer(logits)",
                why="Calling the tokenizer turns text into ids: the opposite direction.",
            ),
            Option(
                "tokenizer.decode(logits.argmax(-1).tolist())",
                right=True,
                why="Yes: decode takes ids; argmax picks the best id at each position.",
            ),
        ],
    ),
]
