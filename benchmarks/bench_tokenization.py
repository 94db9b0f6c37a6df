"""Tokens per second: bertlab's pure-Python BertTokenizer vs the Hugging Face (Rust) one.

Both run on one thread, on the same real texts, interleaved round by round, so machine noise
hits both alike. Run: `BERTLAB_DATA=../shared/data python benchmarks/bench_tokenization.py`.
"""

from __future__ import annotations

import os

os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers is imported
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

from transformers import BertTokenizerFast  # noqa: E402

from bertlab.hub import data_root, minilm_dir  # noqa: E402
from bertlab.tokenization import BertTokenizer  # noqa: E402


def real_texts(limit_bytes: int) -> list[str]:
    root = data_root()
    if root is None:
        raise SystemExit("set BERTLAB_DATA to the shared datasets folder")
    lines = (root / "sst2" / "train.tsv").read_text(encoding="utf-8").splitlines()[1:]
    sst = [line.split("\t")[0] for line in lines]
    prose = (root / "corpus" / "war_and_peace.txt").read_text(encoding="utf-8").split("\n\n")
    squad = json.loads((root / "squad_v1.1" / "train.json").read_text(encoding="utf-8"))
    contexts = [p["context"] for a in squad["data"] for p in a["paragraphs"]]
    texts, size = [], 0
    for group in zip(sst, prose, contexts):
        for text in group:
            texts.append(text)
            size += len(text.encode("utf-8"))
        if size > limit_bytes:
            break
    return texts


def time_call(tokenize, texts, batch_size: int, **kwargs) -> tuple[float, int]:
    start = time.perf_counter()
    tokens = 0
    for index in range(0, len(texts), batch_size):
        encoded = tokenize(texts[index : index + batch_size], **kwargs)
        tokens += sum(len(ids) for ids in encoded["input_ids"])
    return time.perf_counter() - start, tokens


def rust_backend(tokenizer):
    """The Rust tokenizer itself, without transformers' Python wrapping of the output."""
    backend = tokenizer.backend_tokenizer
    backend.no_truncation()
    backend.no_padding()

    def tokenize(batch, **kwargs):
        return {"input_ids": [encoding.ids for encoding in backend.encode_batch(batch)]}

    return tokenize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    texts = real_texts(int(args.megabytes * 1e6))
    size = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    reference = BertTokenizerFast.from_pretrained(minilm_dir())
    ours = BertTokenizer.from_pretrained(minilm_dir())
    cases = {
        "ids only": {},
        "with offsets": {"return_offsets_mapping": True},
        "truncate+pad 128": {"truncation": True, "max_length": 128, "padding": "max_length"},
    }
    print(f"{len(texts)} texts, {size:.2f} MB, batch {args.batch_size}, one thread")
    time_call(ours, texts, args.batch_size)  # fills the word cache for the warm rows
    print("(medians of interleaved rounds; ratio = bertlab / reference; bertlab caches each")
    print(" whitespace-separated chunk's pieces, so 'cold cache' is its first pass over new text)")
    print("\n| case | reference | reference tok/s | bertlab tok/s | ratio |")
    print("|---|---|---|---|---|")
    rust = rust_backend(reference)
    cases_and_references = [("ids only, cold cache", "Rust encode_batch", rust, {})]
    cases_and_references += [("ids only", "Rust encode_batch", rust, {})]
    cases_and_references += [
        (name, "transformers fast", reference, kw) for name, kw in cases.items()
    ]
    for name, label, tokenizer, kwargs in cases_and_references:
        rates: dict[str, list[float]] = {"reference": [], "ours": []}
        for _ in range(args.rounds):
            for who, tokenize in (("reference", tokenizer), ("ours", ours)):
                if "cold" in name:
                    ours._chunk_cache.clear()  # every word analysed from scratch again
                seconds, tokens = time_call(tokenize, texts, args.batch_size, **kwargs)
                rates[who].append(tokens / seconds)
        ref_rate, our_rate = statistics.median(rates["reference"]), statistics.median(rates["ours"])
        ratio = our_rate / ref_rate
        print(f"| {name} | {label} | {ref_rate:,.0f} | {our_rate:,.0f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
