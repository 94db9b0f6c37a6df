"""The references of notebook 14's exercises (bertlab/exercises/nb14.py) against the real things
they describe: the pipeline's 'first' aggregation, the micro-batcher, Prometheus' histogram_quantile."""

from __future__ import annotations

import asyncio
import math

import pytest
import torch

from bertlab.checkpoints import save_folder
from bertlab.exercises import nb14
from bertlab.serving import pipeline
from bertlab.serving.batcher import MicroBatcher

CONLL_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]


@pytest.fixture(scope="module")
def tagger(tmp_path_factory, tiny_config, tokenizer):
    from bertlab.tasks.ner import BertForTokenClassification

    torch.manual_seed(0)
    config = tiny_config(vocab_size=tokenizer.vocab_size, max_position_embeddings=512,
                         id2label=dict(enumerate(CONLL_TAGS)))  # fmt: skip
    model = BertForTokenClassification(config)
    torch.nn.init.normal_(model.classifier.weight, std=2.0)
    folder = save_folder(tmp_path_factory.mktemp("tagger") / "model", model.eval(), tokenizer)
    return pipeline(model=folder, aggregation="first", device="cpu")


def test_14_1_reference_labels_the_words_the_pipeline_labels(tagger):
    """Piece labels from the model; the reference's words must be the pipeline's 'first' words."""
    for text in ["Ada Lovelace met Charles Babbage in London.", "Zyzzyva's U.S.-based firm"]:
        features, (spans, first_pieces) = tagger.steps.prepare([text])
        rows = tagger.run(features)
        tagger.steps.finish([text], (spans, first_pieces), rows)
        ids = features[0]["input_ids"][1:-1]  # without [CLS] and [SEP]
        tokens = tagger.tokenizer.convert_ids_to_tokens(ids)
        labels = [tagger.config.id2label[int(i)] for i in rows[0]["logits"].argmax(-1)[1:-1]]
        words = nb14.first_piece_labels(tokens, labels)
        assert [label for _, label in words] == [word.label for word in spans[0]]
        assert [w for w, _ in words] == [text[s.start : s.end].lower() for s in spans[0]]


def batches_formed(arrivals_ms, max_batch_size, max_wait_ms):
    sizes = []

    def record(items):
        sizes.append(len(items))
        return items

    async def scenario():
        batcher = MicroBatcher(record, max_batch_size=max_batch_size, max_wait=max_wait_ms / 1000)
        batcher.start()

        async def arrive(at_ms, item):
            await asyncio.sleep(at_ms / 1000)
            return await batcher.submit([item])

        await asyncio.gather(*(arrive(t, i) for i, t in enumerate(arrivals_ms)))
        await batcher.close()

    asyncio.run(scenario())
    return sizes


@pytest.mark.parametrize(
    "arrivals, max_batch_size, max_wait_ms",
    [
        ([0, 20, 40, 60, 400, 420, 800], 8, 100),
        ([0, 0, 0, 0, 0, 0, 0], 3, 50),
        ([0, 300, 600], 8, 100),
    ],
)
def test_14_3_reference_plans_the_batches_the_batcher_forms(arrivals, max_batch_size, max_wait_ms):
    """Arrivals far apart compared with this machine's timing jitter, so the test is not flaky."""
    expected = nb14.plan_batches(arrivals, max_batch_size, max_wait_ms)
    assert batches_formed(arrivals, max_batch_size, max_wait_ms) == expected


def test_14_4_reference_follows_prometheus_histogram_quantile():
    """The documented rule: linear interpolation inside the bucket holding rank q * total, the
    lowest bucket starting at 0, and the highest finite bound when the rank falls in +Inf."""
    bounds = [0.01, 0.025, 0.05, 0.1, math.inf]
    cumulative = [10, 40, 90, 100, 100]
    assert nb14.histogram_quantile(0.5, bounds, cumulative) == pytest.approx(
        0.025 + 0.025 * 10 / 50
    )
    assert nb14.histogram_quantile(0.05, bounds, cumulative) == pytest.approx(0.01 * 5 / 10)
    assert nb14.histogram_quantile(0.99, [0.1, math.inf], [90, 100]) == 0.1
    # Uniform observations: the interpolated percentile is the exact one.
    values = [i / 1000 for i in range(1, 1001)]  # 0.001 ... 1.0
    edges = [0.1 * k for k in range(1, 11)] + [math.inf]
    counts = [sum(v <= edge + 1e-12 for v in values) for edge in edges]
    for q in (0.25, 0.5, 0.9, 0.99):
        assert nb14.histogram_quantile(q, edges, counts) == pytest.approx(q, abs=1e-9)
