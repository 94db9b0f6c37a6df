"""Prose for pretraining, read as documents of sentences.

Notebook 09 uses it. Next-sentence prediction needs to know where documents
begin and end (a NotNext sentence B comes from *another* document), so the reader
keeps that structure: a document is a chapter (War and Peace, the Gutenberg books),
an article (WikiText's `= Title =` headings), or, for a file with neither, a run of
`paragraphs_per_document` paragraphs (tinyshakespeare's speeches). Paragraphs are
split into sentences with a small rule-based splitter (end punctuation followed by
a capital letter), which is what BERT's data pipeline assumed had been done.

Found by `bertlab.hub.lookup_dataset`: an explicit path (a text file or a folder of
them), else `BERTLAB_DATA/corpus`, else WikiText-2 from the Hugging Face Hub (needs
`pyarrow`), else the small sample `data/corpus_sample.txt` written for this project.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bertlab.data.common import DataError, read_text
from bertlab.hub import hub_download, lookup_dataset

__all__ = ["load_corpus", "read_documents", "split_sentences"]

Document = list[str]

TEXT_SUFFIXES = (".txt", ".tokens", ".raw")
CHAPTER = re.compile(r"^(BOOK|CHAPTER|VOLUME|PART|ACT|Chapter|Book|EPILOGUE)\b[ \w:.,'-]*$")
WIKI_TITLE = re.compile(r"^ ?= [^=].*[^=] = ?$")  # "= Title =", not "= = Section = ="
WIKI_SECTION = re.compile(r"^ ?(= ){2,}.*( =){2,} ?$")
SENTENCE_END = re.compile(r"([.!?](?:\s?(?:''|[\"'”’)\]]))*)\s+(?=(?:``\s?)?[\"'“‘(\[]?[A-Z0-9])")
ABBREVIATION = re.compile(r"\b(Mr|Mrs|Ms|Dr|St|Jr|Sr|Prof|Capt|Col|Gen|Lt|vs|etc|No|Mt)\.$")
WIKI_ESCAPES = {" @-@ ": "-", " @,@ ": ",", " @.@ ": "."}


def split_sentences(paragraph: str) -> list[str]:
    """Split a paragraph at `.`, `!` or `?` (plus closing quotes) before a capital or digit.

    Common abbreviations (`Mr.`, `St.`, ...) do not end a sentence.
    """
    pieces = SENTENCE_END.sub("\\1\\n", " ".join(paragraph.split())).split("\n")
    sentences: list[str] = []
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        if sentences and ABBREVIATION.search(sentences[-1]):
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return sentences


def _clean_wikitext(line: str) -> str:
    for escaped, plain in WIKI_ESCAPES.items():
        line = line.replace(escaped, plain)
    line = line.replace("<unk>", "")  # WikiText's out-of-vocabulary marker carries no text
    return re.sub(r"\s+", " ", line).strip()


def _wikitext_documents(lines: list[str]) -> list[Document]:
    documents: list[Document] = []
    current: Document = []
    for line in lines:
        if WIKI_TITLE.match(line.rstrip("\n")) and not WIKI_SECTION.match(line.rstrip("\n")):
            if current:
                documents.append(current)
            current = []
            continue
        if WIKI_SECTION.match(line.rstrip("\n")) or not line.strip():
            continue
        current.extend(split_sentences(_clean_wikitext(line)))
    if current:
        documents.append(current)
    return documents


def _prose_documents(lines: list[str], paragraphs_per_document: int) -> list[Document]:
    """Chapters when the text has chapter headings, else runs of paragraphs."""
    has_chapters = any(CHAPTER.match(line.strip()) for line in lines)
    documents: list[Document] = []
    current: Document = []
    paragraph: list[str] = []
    paragraphs = 0

    def end_paragraph() -> None:
        nonlocal paragraph, paragraphs
        if paragraph:
            current.extend(split_sentences(" ".join(paragraph)))
            paragraphs += 1
        paragraph = []

    def end_document() -> None:
        nonlocal current, paragraphs
        end_paragraph()
        if current:
            documents.append(current)
        current, paragraphs = [], 0

    for line in lines:
        text = line.strip()
        if has_chapters and CHAPTER.match(text):
            end_document()
        elif not text:
            end_paragraph()
            if not has_chapters and paragraphs >= paragraphs_per_document:
                end_document()
        elif text.startswith("[") and text.endswith("]") and not current and not paragraph:
            continue  # a Gutenberg title line such as "[ Emma by Jane Austen 1816 ]"
        else:
            paragraph.append(text)
    end_document()
    return documents


def read_documents(path: str | os.PathLike, *, paragraphs_per_document: int = 40) -> list[Document]:
    """Read one text file, or every text file in a folder (sorted, recursively), into documents.

    Raises FileNotFoundError for a missing path, `DataError` (a ValueError) when a file is
    not UTF-8 or nothing readable is there.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES)
        if not files:
            raise DataError(f"{path}: no text files ({', '.join(TEXT_SUFFIXES)}) in this folder")
    else:
        files = [path]
    documents: list[Document] = []
    for file in files:
        lines = read_text(file, allow_empty=True).splitlines()  # an empty file in a folder is fine
        wikitext = any(WIKI_TITLE.match(line) for line in lines[:50])
        if wikitext:
            documents.extend(_wikitext_documents(lines))
        else:
            documents.extend(_prose_documents(lines, paragraphs_per_document))
    documents = [doc for doc in documents if doc]
    if not documents:
        names = ", ".join(str(f) for f in files[:3]) + (" ..." if len(files) > 3 else "")
        raise DataError(f"{names}: the corpus is empty (no sentences found)")
    return documents


def _hub_wikitext(split: str = "validation") -> list[Document]:
    """WikiText-2 (raw) from the Hub; needs internet and pyarrow."""
    parquet = hub_download(
        "Salesforce/wikitext",
        f"wikitext-2-raw-v1/{split}-00000-of-00001.parquet",
        repo_type="dataset",
    )
    try:
        import pyarrow.parquet as pq
    except ImportError as error:
        raise ImportError(
            "reading WikiText from the Hub needs pyarrow (pip install pyarrow)"
        ) from error
    lines = [str(text) for text in pq.read_table(parquet).column("text").to_pylist()]
    return _wikitext_documents(lines)


def _read_corpus(
    path: Path, files: list[str] | None, paragraphs_per_document: int
) -> list[Document]:
    """The whole file or folder, or only the named `files` inside the folder."""
    if not files:
        return read_documents(path, paragraphs_per_document=paragraphs_per_document)
    documents: list[Document] = []
    for name in files:
        documents.extend(
            read_documents(path / name, paragraphs_per_document=paragraphs_per_document)
        )
    return documents


def load_corpus(
    path: str | os.PathLike | None = None,
    *,
    files: list[str] | None = None,
    paragraphs_per_document: int = 40,
) -> list[Document]:
    """Documents of sentences from the first source that exists (see the module docstring).

    `files` picks files inside the folder (`BERTLAB_DATA/corpus` or `path`), e.g.
    `["war_and_peace.txt"]`.
    """
    documents, _ = lookup_dataset(
        "corpus",
        "corpus",
        lambda found: _read_corpus(found, files, paragraphs_per_document),
        path=path,
        from_hub=_hub_wikitext,
        hub_name="Salesforce/wikitext wikitext-2-raw-v1 validation",
        sample="corpus_sample.txt",
        read_sample=lambda sample: read_documents(sample),
    )
    return documents
