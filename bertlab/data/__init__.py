"""Dataset loaders, one module a task, and the helpers they share (see `bertlab.hub` for where files come from).

- `classification`: SST-2, AG News, your own texts with labels (notebook 10);
- `conll`: CoNLL-2003, WNUT-17, your own tokens with IOB tags (notebook 11);
- `squad`: SQuAD v1.1, your own questions with answers (notebook 12);
- `corpus`: prose for pretraining (notebook 09).

Each task's `load_*_data(split, path, ...)` reads a benchmark by name, a file (chosen by
its suffix), or `hf:NAME[:CONFIG]`; bad input raises `DataError` naming the file and line.
"""

from bertlab.data.common import DataError, fingerprint

__all__ = ["DataError", "fingerprint"]
