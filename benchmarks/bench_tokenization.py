"""Tokens per second: bertlab's pure-Python BertTokenizer vs the Hugging Face (Rust) one.

Both run on one thread, on the same real texts (SST-2 sentences, War and Peace paragraphs,
SQuAD contexts), interleaved round by round (`harness.interleaved_rounds`), so machine noise
hits both alike. The ratio is bertlab's rate over the reference's, taken in each round.
bertlab caches the pieces of every whitespace-separated chunk, so its warm-up pass fills the
cache; the "cold cache" case empties it before every timed pass.

Run it alone on the machine (benchmarks/README.md):
`BERTLAB_DATA=../shared/data python benchmarks/bench_tokenization.py`.
"""

from __future__ import annotations

import os

os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers is imported
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402

from harness import Runner, interleaved_rounds, machine_line, markdown_table, ratios  # noqa: E402
from transformers import BertTokenizerFast  # noqa: E402

from bertlab.hub import data_root, minilm_dir  # noqa: E402
from bertlab.tokenization import BertTokenizer  # noqa: E402

CASES = {
    "ids only": {},
    "with offsets": {"return_offsets_mapping": True},
    "truncate+pad 128": {"truncation": True, "max_length": 128, "padding": "max_length"},
}
"""The tokenizer calls compared with transformers' fast tokenizer: name -> keyword arguments."""


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


def token_counter(tokenize, texts: list[str], batch_size: int, **kwargs):
    """A runner body: tokenize all `texts` in batches; returns the tokens produced."""

    def run(_round_index: int) -> int:
        tokens = 0
        for index in range(0, len(texts), batch_size):
            encoded = tokenize(texts[index : index + batch_size], **kwargs)
            tokens += sum(len(ids) for ids in encoded["input_ids"])
        return tokens

    return run


def rust_backend(tokenizer):
    """The Rust tokenizer itself, without transformers' Python wrapping of the output."""
    backend = tokenizer.backend_tokenizer
    backend.no_truncation()
    backend.no_padding()

    def tokenize(batch, **kwargs):
        return {"input_ids": [encoding.ids for encoding in backend.encode_batch(batch)]}

    return tokenize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    print(machine_line())
    texts = real_texts(int(args.megabytes * 1e6))
    size = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    reference = BertTokenizerFast.from_pretrained(minilm_dir())
    ours = BertTokenizer.from_pretrained(minilm_dir())
    print(f"{len(texts)} texts, {size:.2f} MB, batch {args.batch_size}, one thread\n")
    rust = rust_backend(reference)
    cases = [("ids only, cold cache", "Rust encode_batch", rust, {})]
    cases += [("ids only", "Rust encode_batch", rust, {})]
    cases += [(name, "transformers fast", reference, kwargs) for name, kwargs in CASES.items()]
    rows = []
    for name, label, tokenize, kwargs in cases:
        cold = ours._chunk_cache.clear if "cold" in name else None  # every word analysed anew
        runners = {
            "reference": Runner(token_counter(tokenize, texts, args.batch_size, **kwargs)),
            "bertlab": Runner(token_counter(ours, texts, args.batch_size, **kwargs), cold),
        }
        print(f"{name}, against {label}:")
        timings = interleaved_rounds(runners, args.rounds, unit="tokens")
        per_round = ratios(timings["bertlab"], timings["reference"])
        rates = {who: statistics.median(t.rate for t in timings[who]) for who in runners}
        rows.append(
            [
                name,
                label,
                f"{rates['reference']:,.0f}",
                f"{rates['bertlab']:,.0f}",
                f"{statistics.median(per_round):.2f}x ({', '.join(f'{r:.2f}' for r in per_round)})",
            ]
        )
    print("\n(medians of interleaved rounds; ratio = bertlab / reference, median and each round)\n")
    header = ["case", "reference", "reference tok/s", "bertlab tok/s", "ratio"]
    print(markdown_table(header, rows))


if __name__ == "__main__":
    main()
