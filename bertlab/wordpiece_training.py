"""Kept so ``from bertlab.wordpiece_training import ...`` keeps working (notebook 05 uses it).

The code lives in `bertlab.tokenization.vocab_training`.
"""

from bertlab.tokenization.vocab_training import count_words, save_vocab, train_wordpiece_vocab

__all__ = ["count_words", "save_vocab", "train_wordpiece_vocab"]
