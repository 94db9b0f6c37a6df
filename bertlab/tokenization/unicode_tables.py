"""Character classes as the Rust ``tokenizers`` library sees them: parity data (notebook 05).

Notebook 05 classifies characters with Python's ``unicodedata`` (Unicode 14 in Python 3.11).
The Rust library that Hugging Face's fast BERT tokenizer runs on uses older tables (roughly
Unicode 8) for categories and decompositions, but newer ones for lower-casing. To give
identical ids and offsets we apply, on top of ``unicodedata``, the few hundred code points
where the two disagree. These tables are **parity data**, not part of the algorithm: they were
found by comparing every code point with the Rust tokenizer, and
``tests/test_tokenization.py::test_every_code_point_normalises_and_splits_like_rust`` checks
them again on every run. A reader learning the algorithm can read each function below as its
first ``unicodedata`` line.

The Rust library also starts the CJK Extension-E block at U+2B920 (Google's
``tokenization.py``: U+2B820); we follow it.
"""

from __future__ import annotations

import functools
import unicodedata


def _ranges(spec: str) -> frozenset[int]:
    """Parse "61d 9fd 2e43-2e4f" into the set of code points it names."""
    points: set[int] = set()
    for item in spec.split():
        low, _, high = item.partition("-")
        points.update(range(int(low, 16), int(high or low, 16) + 1))
    return frozenset(points)


# --- the parity tables ---------------------------------------------------------------------

# Non-spacing marks (Mn) in Unicode 14 that the Rust tables do not call Mn (so they are kept,
# not stripped), and one the Rust tables still call Mn (U+1734, now Mc).
RUST_NOT_NONSPACING = _ranges(
    "7fd 898-89f 8ca-8e1 9fe afa-aff b55 c04 c3c d00 d3b-d3c d81 eba 180f 1885-1886 1abf-1ace "
    "1df6-1dfb a82c a8c5 a8ff a9bd 10d24-10d27 10eab-10eac 10f46-10f50 10f82-10f85 11070 "
    "11073-11074 110c2 111c9 111cf 1123e 1133b 11438-1143f 11442-11444 11446 1145e 1182f-11837 "
    "11839-1183a 1193b-1193c 1193e 11943 119d4-119d7 119da-119db 119e0 11a01-11a0a 11a33-11a38 "
    "11a3b-11a3e 11a47 11a51-11a56 11a59-11a5b 11a8a-11a96 11a98-11a99 11c30-11c36 11c38-11c3d "
    "11c3f 11c92-11ca7 11caa-11cb0 11cb2-11cb3 11cb5-11cb6 11d31-11d36 11d3a 11d3c-11d3d "
    "11d3f-11d45 11d47 11d90-11d91 11d95 11d97 11ef3-11ef4 16f4f 16fe4 1cf00-1cf2d 1cf30-1cf46 "
    "1e000-1e006 1e008-1e018 1e01b-1e021 1e023-1e024 1e026-1e02a 1e130-1e136 1e2ae 1e2ec-1e2ef "
    "1e944-1e94a"
)
RUST_NONSPACING = _ranges("1734")
# Format characters (Cf) assigned after the Rust tables: kept instead of dropped.
RUST_NOT_CONTROL = _ranges("890-891 8e2 110cd 13430-13438")
# Punctuation assigned (or re-categorised) after the Rust tables, and two the tables still
# call punctuation (U+166D is now So, U+111C9 now Mn).
RUST_NOT_PUNCTUATION = _ranges(
    "61d 9fd a76 c77 c84 1b7d-1b7e 2e43-2e4f 2e52-2e5d 10ead 10f55-10f59 10f86-10f89 "
    "1144b-1144f 1145a-1145b 1145d 11660-1166c 116b9 1183b 11944-11946 119e2 11a3f-11a46 "
    "11a9a-11a9c 11a9e-11aa2 11c41-11c45 11c70-11c71 11ef7-11ef8 11fff 12ff1-12ff2 "
    "16e97-16e9a 16fe2 1e95e-1e95f"
)
RUST_PUNCTUATION = _ranges("166d 111c9")
# A canonical decomposition added after the Rust normalisation tables.
RUST_NO_DECOMPOSITION = _ranges("11938")
# The other way round: capital letters added in Unicode 15-16, which Rust's own (newer)
# lower-casing knows and Python 3.11's does not.
RUST_LOWER = {
    **{
        chr(int(a, 16)): chr(int(b, 16))
        for a, b in (
            pair.split(":")
            for pair in "1c89:1c8a a7cb:264 a7cc:a7cd a7ce:a7cf a7d2:a7d3 a7d4:a7d5 a7da:a7db "
            "a7dc:19b".split()
        )
    },
    **{chr(code): chr(code + 0x20) for code in range(0x10D50, 0x10D66)},
    **{chr(code): chr(code + 0x1B) for code in range(0x16EA0, 0x16EB9)},
}

# --- the character classes -----------------------------------------------------------------

ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_EXTRA_WHITESPACE = "\t\n\r\u2028\u2029"


def is_whitespace(char: str) -> bool:
    """Space separators (Zs), tab, newline, carriage return, line/paragraph separators."""
    return char in _EXTRA_WHITESPACE or unicodedata.category(char) == "Zs"


def is_control(char: str) -> bool:
    """Control, format, private-use and surrogate characters (dropped by cleaning).

    Tab, newline and carriage return count as whitespace instead; unassigned code points
    (Cn) are kept, as the Rust tokenizer keeps them.
    """
    if char in "\t\n\r" or ord(char) in RUST_NOT_CONTROL:
        return False
    return unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs")


def is_punctuation(char: str) -> bool:
    """ASCII symbols (``$``, ``+``, ``^``, ... count too) and every Unicode P* character."""
    if char in ASCII_PUNCTUATION:
        return True
    code = ord(char)
    if code in RUST_PUNCTUATION:
        return True
    return unicodedata.category(char).startswith("P") and code not in RUST_NOT_PUNCTUATION


def is_chinese_char(code: int) -> bool:
    """CJK Unified Ideographs (and extensions, compatibility ideographs): one word each."""
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F
        or 0x2B740 <= code <= 0x2B81F
        or 0x2B920 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


def is_nonspacing_mark(char: str) -> bool:
    """Accents and other combining marks that accent stripping drops (category Mn)."""
    code = ord(char)
    if code in RUST_NONSPACING:
        return True
    return unicodedata.category(char) == "Mn" and code not in RUST_NOT_NONSPACING


def lower(char: str) -> str:
    """One character lower-cased on its own (no final-sigma rule, as in Rust)."""
    return RUST_LOWER.get(char) or char.lower()


# --- NFD with origins ----------------------------------------------------------------------


def _combining_class(char: str) -> int:
    return 0 if ord(char) in RUST_NOT_NONSPACING else unicodedata.combining(char)


@functools.lru_cache(maxsize=65536)
def _nfd(char: str) -> str:
    return char if ord(char) in RUST_NO_DECOMPOSITION else unicodedata.normalize("NFD", char)


def _canonical_order(marks: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """NFD's last step: within each run of combining marks, sort stably by combining class.

    Items are (character, inserted-by-decomposition); the flag travels with the character."""
    classes = [_combining_class(char) for char, _ in marks]
    if not any(classes):
        return marks
    ordered, position = [], 0
    while position < len(marks):
        if classes[position] == 0:
            ordered.append(marks[position])
            position += 1
            continue
        end = position
        while end < len(marks) and classes[end]:
            end += 1
        ordered.extend(marks[k] for k in sorted(range(position, end), key=classes.__getitem__))
        position = end
    return ordered


def decompose_with_origins(stream: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """NFD of (character, origin) pairs, with origins tracked as the Rust library does.

    A character produced by a decomposition is "inserted" (takes the origin of the last
    consumed character); the others consume the input in order, even after canonical
    reordering moved them.
    """
    marks: list[tuple[str, bool]] = []
    for char, _ in stream:
        decomposed = _nfd(char)
        marks.append((decomposed[0], False))
        marks.extend((extra, True) for extra in decomposed[1:])
    if len(marks) == len(stream) and not any(unicodedata.combining(c) for c, _ in marks):
        return [(char, origin) for (char, _), (_, origin) in zip(marks, stream)]
    marks = _canonical_order(marks)
    result, consumed = [], 0
    for char, inserted in marks:
        if not inserted:
            consumed += 1
        result.append((char, stream[max(consumed - 1, 0)][1]))
    return result
