"""BERT's tokenizer from scratch (notebook 05), as a small package.

Read it in this order:

- `basic`: the algorithm notebook 05 builds: `BasicTokenizer` (cleaning, accents, case,
  punctuation) and `WordpieceTokenizer` (greedy longest match).
- `unicode_tables`: the character classes, with the code points where the Rust tables behind
  Hugging Face's tokenizer differ from Python's (parity data, not part of the algorithm).
- `encoding`: the Hugging Face call rules as functions (truncation, windows with stride,
  padding) and `BatchEncoding`, the output with its word/character alignment.
- `bert`: `BertTokenizer`: vocabulary, ``from_pretrained``/``save_pretrained``, the call,
  ``decode``, and the cached fast path.
- `vocab_training`: learning a WordPiece vocabulary from a corpus.

``from bertlab.tokenization import BertTokenizer`` is all most notebooks need.
"""

from bertlab.tokenization.basic import SPECIAL_TOKENS, BasicTokenizer, WordpieceTokenizer
from bertlab.tokenization.bert import BertTokenizer, load_vocab
from bertlab.tokenization.encoding import BatchEncoding, CharSpan, TokenSpan
from bertlab.tokenization.unicode_tables import (
    is_chinese_char,
    is_control,
    is_punctuation,
    is_whitespace,
)
from bertlab.tokenization.vocab_training import count_words, save_vocab, train_wordpiece_vocab

__all__ = [
    "SPECIAL_TOKENS",
    "BasicTokenizer",
    "BatchEncoding",
    "BertTokenizer",
    "CharSpan",
    "TokenSpan",
    "WordpieceTokenizer",
    "count_words",
    "is_chinese_char",
    "is_control",
    "is_punctuation",
    "is_whitespace",
    "load_vocab",
    "save_vocab",
    "train_wordpiece_vocab",
]
