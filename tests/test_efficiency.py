"""bertlab.efficiency (notebook 13): each technique against its definition or its reference.

Small random BERTs with MiniLM's vocabulary run most tests in well under a second; the
equivalence claims (accumulation, two processes) run on the real MiniLM weights and real
SST-2 sentences (the repository's sample when BERTLAB_DATA is not set).
"""

from __future__ import annotations

import math
import random

import pytest
import torch
import torch.nn.functional as F

from bertlab.auto import load_model
from bertlab.batching import pad_batch
from bertlab.checkpoints import save_folder
from bertlab.data.classification import load_sst2
from bertlab.efficiency import distillation, measure, parallel, precision, pruning, search
from bertlab.efficiency.kernels import attention_cost, compile_encoder, compile_unavailable_reason
from bertlab.efficiency.quantization import (
    RECORD_KEY,
    WEIGHTS_NAME,
    quantize_dynamic_int8,
    quantized_modules,
    save_quantized,
)
from bertlab.hub import SAMPLES_DIR, minilm_dir
from bertlab.model import BertConfig
from bertlab.tasks.classification import BertForSequenceClassification, make_features
from bertlab.testing import DEEP, SHALLOW, assert_close
from bertlab.training import TrainingConfig, train

LABELS = {0: "negative", 1: "positive"}


@pytest.fixture(scope="module")
def sample():
    return load_sst2("train", SAMPLES_DIR / "sst2_sample.tsv")


def tiny_classifier(tokenizer, **overrides) -> BertForSequenceClassification:
    torch.manual_seed(0)
    values = dict(
        vocab_size=tokenizer.vocab_size,
        max_position_embeddings=512,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        id2label=LABELS,
    )
    return BertForSequenceClassification(BertConfig(**{**values, **overrides})).eval()


def labelled_batches(tokenizer, data, size: int = 8, count: int | None = None) -> list[dict]:
    features = make_features(tokenizer, data.texts[:count], data.labels[:count], 64)
    return [
        pad_batch(features[i : i + size], tokenizer.pad_token_id)
        for i in range(0, len(features), size)
    ]


def inputs(batch: dict) -> dict:
    return {key: value for key, value in batch.items() if key != "labels"}


# ----------------------------------------------------------------------------- precision


def test_float_formats_match_torch_finfo_and_the_bit_layouts():
    rows = {row["format"]: row for row in precision.format_table()}
    assert rows["bfloat16"]["largest"] == torch.finfo(torch.bfloat16).max
    assert rows["float16"]["largest"] == 65504.0
    assert rows["float16"]["smallest subnormal"] == 2.0**-24
    assert rows["bfloat16"]["eps (gap after 1.0)"] == 2.0**-7
    assert precision.bit_fields(1.0, torch.float32) == ("0", "01111111", "0" * 23)
    assert precision.bit_fields(-2.0, torch.float16) == ("1", "10000", "0" * 10)
    # bf16 is fp32 cut to its top 16 bits (rounded): the same sign and exponent
    for value in (3.14159, -1e-30, 6.5e4, 1e38):
        sign, exponent, mantissa = precision.bit_fields(value, torch.bfloat16)
        sign32, exponent32, _ = precision.bit_fields(
            float(torch.tensor(value).bfloat16()), torch.float32
        )
        assert (sign, exponent) == (sign32, exponent32) and len(mantissa) == 7
    with pytest.raises(ValueError, match="dtype must be one of"):
        precision.bit_fields(1.0, torch.int8)


def test_small_updates_vanish_in_bf16_weights_and_survive_in_fp32_master_weights():
    kept_in_bf16, master = precision.stale_updates(torch.bfloat16, update=1e-3, steps=100)
    assert kept_in_bf16 == 1.0  # 1 + 0.001 rounds back to 1 every time (bf16's gap is 2^-7)
    assert master == pytest.approx(1.1, abs=2**-6)


def test_a_small_loss_scale_makes_fp16_gradients_underflow_and_a_huge_one_overflow(
    tokenizer, sample
):
    model = tiny_classifier(tokenizer)
    batch = labelled_batches(tokenizer, sample, count=8)[0]
    rows = precision.gradient_underflow(model, batch, scales=(2.0**-20, 1.0, 2.0**40))
    tiny, plain, huge = rows
    assert tiny["underflowed to 0"] > 0.5 > plain["underflowed to 0"]
    assert huge["overflowed"] > 0.5 and plain["overflowed"] == 0


def test_fp32_gradients_do_not_depend_on_the_loss_scale(tokenizer, sample):
    model = tiny_classifier(tokenizer)
    batch = labelled_batches(tokenizer, sample, count=8)[0]
    plain = precision.parameter_gradients(model, batch, 1.0, "bert.encoder")
    scaled = precision.parameter_gradients(model, batch, 1024.0, "bert.encoder")
    assert torch.equal(plain, scaled)  # a power of two: exact in floating point


def test_myth_11_bf16_autocast_computes_in_floats_only(tokenizer, sample):
    model = tiny_classifier(tokenizer)
    batch = inputs(labelled_batches(tokenizer, sample, count=4)[0])
    census = precision.operator_dtypes(model, batch, "bf16")
    products = {
        dtypes for (op, dtypes), _ in census.items() if op in ("addmm", "mm", "bmm", "linear")
    }
    assert products and all("bfloat16" in dtypes for dtypes in products)
    integer_ops = {op for (op, dtypes), _ in census.items() if "int" in dtypes}
    assert "embedding" in integer_ops  # token ids index the tables...
    assert not integer_ops & {"addmm", "mm", "bmm", "linear", "_softmax", "native_layer_norm"}


@pytest.mark.parametrize(
    ("flags", "verdict"),
    [
        ("fpu sse avx2 avx512f avx512_bf16 amx_bf16 amx_tile", "fast"),
        ("fpu sse avx2 avx512f avx512_bf16", "some"),
        ("fpu sse avx2", "none"),
    ],
)
def test_cpu_bf16_support_reads_the_flags(flags, verdict):
    support = precision.cpu_bf16_support(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert support["verdict"] == verdict
    assert precision.cpu_bf16_support("")["verdict"] == "unknown"


# ----------------------------------------------------------------------------- measuring


def test_power_law_fit_recovers_the_exponent():
    slope, factor = measure.fit_power_law(
        [64, 128, 256, 512], [3 * n**2 for n in (64, 128, 256, 512)]
    )
    assert slope == pytest.approx(2.0) and factor == pytest.approx(3.0)
    with pytest.raises(ValueError, match="positive"):
        measure.fit_power_law([0, 1], [1, 2])


def test_peak_memory_sees_the_attention_weights_of_the_explicit_path_only():
    rows = attention_cost([64, 256], heads=4, head_dim=16, repeats=1)
    for row in rows:
        weights = 4 * row["length"] ** 2 * 4  # heads x n x n float32
        assert row["explicit bytes"] >= 2 * weights  # scores and softmax weights at once
        assert row["fused bytes"] < weights
    timing = measure.time_call(lambda: None, warmup=1, repeats=3)
    assert len(timing.seconds) == 3 and timing.median >= 0


def test_weight_bytes_counts_int8_weights_as_one_byte(tokenizer):
    model = tiny_classifier(tokenizer)
    assert measure.weight_bytes(model) == 4 * sum(t.numel() for t in model.state_dict().values())
    assert measure.weight_bytes(quantize_dynamic_int8(model)) < measure.weight_bytes(model) / 3


# ----------------------------------------------------------------------------- quantization


def test_quantized_folder_round_trip_gives_the_same_logits_without_pickle(
    tokenizer, sample, tmp_path
):
    model = tiny_classifier(tokenizer)
    quantized = quantize_dynamic_int8(model)
    batch = inputs(labelled_batches(tokenizer, sample, count=8)[0])
    folder = save_quantized(tmp_path / "int8", quantized, tokenizer)
    assert {path.suffix for path in folder.iterdir()} <= {".json", ".safetensors", ".txt"}
    assert (folder / WEIGHTS_NAME).exists() and not (folder / "model.safetensors").exists()
    loaded = load_model(folder)
    assert RECORD_KEY in loaded.config.extra
    with torch.no_grad():
        assert torch.equal(loaded(**batch).logits, quantized(**batch).logits)
        fp32, int8 = model(**batch).logits, quantized(**batch).logits
    assert (fp32 - int8).abs().max() < 0.05 * fp32.abs().max()  # int8 rounding, not a bug


def test_what_is_quantized_and_what_is_not(tokenizer):
    kinds = {
        name: dtype
        for name, _, dtype in quantized_modules(quantize_dynamic_int8(tiny_classifier(tokenizer)))
    }
    assert kinds["bert.encoder.layer.0.attention.self.query"] == "qint8"
    assert kinds["bert.pooler.dense"] == "qint8"
    assert kinds["bert.embeddings.word_embeddings"] == "quint8"
    assert kinds["classifier"] == "float32"  # the task head stays in fp32
    assert kinds["bert.embeddings.position_embeddings"] == "float32"
    assert kinds["bert.encoder.layer.0.output.LayerNorm"] == "float32"
    float_table = quantize_dynamic_int8(tiny_classifier(tokenizer), embeddings=False)
    assert (
        dict((n, d) for n, _, d in quantized_modules(float_table))[
            "bert.embeddings.word_embeddings"
        ]
        == "float32"
    )
    with pytest.raises(ValueError, match="already quantized"):
        quantize_dynamic_int8(float_table)


# ----------------------------------------------------------------------------- pruning


def test_pruning_heads_equals_gating_them_to_zero(tokenizer, sample):
    model = tiny_classifier(tokenizer)
    batch = inputs(labelled_batches(tokenizer, sample, count=8)[0])
    with torch.no_grad(), pruning.head_gates(model) as gates:
        gates[0][1] = gates[0][3] = gates[1][0] = 0.0
        gated = model(**batch).logits
    pruned = pruning.prune_heads(model, {0: [1, 3], 1: [0]})
    assert pruning.heads_per_layer(pruned) == [2, 3]
    assert pruned.bert.encoder.layer[0].attention.self.query.weight.shape == (16, 32)
    with torch.no_grad():
        assert_close(pruned(**batch).logits, gated, ulps=SHALLOW)
    pruning.prune_heads(pruned, {0: [2]})  # numbered as in the unpruned model
    assert pruned.config.extra["pruned_heads"] == {"0": [1, 2, 3], "1": [0]}


def test_pruned_folder_round_trip_and_pruned_then_quantized(tokenizer, sample, tmp_path):
    batch = inputs(labelled_batches(tokenizer, sample, count=8)[0])
    pruned = pruning.prune_heads(tiny_classifier(tokenizer), {0: [0, 2], 1: [3]})
    save_folder(tmp_path / "pruned", pruned, tokenizer)
    loaded = load_model(tmp_path / "pruned")
    assert pruning.heads_per_layer(loaded) == [2, 3]
    with torch.no_grad():
        assert torch.equal(loaded(**batch).logits, pruned(**batch).logits)
    save_quantized(tmp_path / "both", quantize_dynamic_int8(loaded), tokenizer)
    both = load_model(tmp_path / "both")
    assert pruning.heads_per_layer(both) == [2, 3]
    with torch.no_grad():
        assert torch.equal(both(**batch).logits, quantize_dynamic_int8(loaded)(**batch).logits)


def test_pruning_heads_that_do_not_exist_is_a_clear_error(tokenizer):
    model = tiny_classifier(tokenizer)
    with pytest.raises(ValueError, match="leaves none"):
        pruning.prune_heads(model, {0: [0, 1, 2, 3]})
    with pytest.raises(ValueError, match="head 4 does not exist"):
        pruning.prune_heads(model, {0: [4]})
    with pytest.raises(ValueError, match="layer 2 does not exist"):
        pruning.prune_heads(model, {2: [0]})
    pruning.prune_heads(model, {1: [1]})
    with pytest.raises(ValueError, match="already pruned"):
        pruning.prune_heads(model, {1: [1]})


def test_head_importance_finds_a_head_that_does_nothing(tokenizer, sample):
    model = tiny_classifier(tokenizer)
    with torch.no_grad():  # head 2 of layer 1 writes nothing: its value rows are 0
        model.bert.encoder.layer[1].attention.self.value.weight[16:24] = 0
        model.bert.encoder.layer[1].attention.self.value.bias[16:24] = 0
    scores = pruning.head_importance(model, labelled_batches(tokenizer, sample))
    assert all(torch.linalg.vector_norm(s) == pytest.approx(1.0) for s in scores)
    assert scores[1][2] == 0
    assert pruning.least_important(model, scores, 1) == {1: [2]}
    assert all(p.requires_grad for p in model.parameters())  # left as it was


def test_prune_heads_by_importance_keeps_a_head_per_layer(tokenizer, sample):
    model = tiny_classifier(tokenizer)
    pruned = pruning.prune_heads_by_importance(model, labelled_batches(tokenizer, sample), 0.75)
    assert sum(pruning.heads_per_layer(pruned)) == 2 and pruning.heads_per_layer(pruned) == [1, 1]
    assert pruning.heads_per_layer(model) == [4, 4]  # the original is untouched


def test_magnitude_pruning_zeroes_the_smallest_weights(tokenizer):
    model = tiny_classifier(tokenizer)
    for scope in ("global", "layer"):
        pruned = pruning.magnitude_prune(model, 0.6, scope=scope)
        assert pruning.sparsity_of(pruned) == pytest.approx(0.6, abs=1e-3)
    assert pruning.sparsity_of(model) == 0
    pruned = pruning.magnitude_prune(model, 0.6)
    originals = [m.weight.detach() for m in pruning.encoder_linears(model)]
    kept = [m.weight.detach() for m in pruning.encoder_linears(pruned)]
    removed = max(float(o[k == 0].abs().max()) for o, k in zip(originals, kept))
    assert min(float(k[k != 0].abs().min()) for k in kept) >= removed
    with pytest.raises(ValueError, match="sparsity"):
        pruning.magnitude_prune(model, 1.0)


def test_dropped_layers_load_in_transformers_with_the_same_logits(tokenizer, sample, tmp_path):
    import transformers

    model = tiny_classifier(tokenizer, num_hidden_layers=3)
    smaller = pruning.drop_layers(model, [0, 2])
    assert torch.equal(
        smaller.bert.encoder.layer[1].output.dense.weight,
        model.bert.encoder.layer[2].output.dense.weight,
    )
    save_folder(tmp_path / "two", smaller, tokenizer)
    reference = transformers.BertForSequenceClassification.from_pretrained(tmp_path / "two").eval()
    batch = inputs(labelled_batches(tokenizer, sample, count=8)[0])
    with torch.no_grad():
        assert_close(reference(**batch).logits, smaller(**batch).logits, ulps=DEEP)
    with pytest.raises(ValueError, match="distinct layers"):
        pruning.drop_layers(model, [0, 3])


# ----------------------------------------------------------------------------- distillation


def test_distillation_loss_is_hintons_formula():
    generator = torch.Generator().manual_seed(0)
    student, teacher = (
        torch.randn(6, 3, generator=generator),
        torch.randn(6, 3, generator=generator),
    )
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    T, alpha = 3.0, 0.7
    p_teacher = (teacher / T).softmax(-1)
    kl = (p_teacher * (p_teacher.log() - (student / T).log_softmax(-1))).sum(-1).mean()
    expected = alpha * T**2 * kl + (1 - alpha) * F.cross_entropy(student, labels)
    assert_close(
        distillation.distillation_loss(student, teacher, labels, T, alpha), expected, ulps=SHALLOW
    )
    assert torch.equal(
        distillation.distillation_loss(student, teacher, labels, T, 0.0),
        F.cross_entropy(student, labels),
    )


def test_distil_trains_the_student_from_the_teachers_layers(tokenizer, sample):
    teacher = tiny_classifier(tokenizer, num_hidden_layers=4)
    student = distillation.student_from(teacher, [1, 3])
    assert student.config.num_hidden_layers == 2
    assert torch.equal(
        student.bert.encoder.layer[1].attention.self.key.weight,
        teacher.bert.encoder.layer[3].attention.self.key.weight,
    )
    features = make_features(tokenizer, sample.texts, sample.labels, 64)
    features = distillation.add_teacher_logits(
        features, teacher, pad_token_id=tokenizer.pad_token_id
    )
    with torch.no_grad():
        first = pad_batch(features[:1], tokenizer.pad_token_id)
        assert_close(
            torch.tensor(features[0]["teacher_logits"]),
            teacher(**inputs({k: v for k, v in first.items() if k != "teacher_logits"})).logits[0],
            ulps=SHALLOW,
        )
    config = TrainingConfig(learning_rate=1e-3, max_steps=6, epochs=None, progress=False)
    history = distillation.distil(
        student, features, config, batch_size=8, pad_token_id=tokenizer.pad_token_id
    )
    losses = [r["loss"] for r in history.records if "loss" in r]
    assert len(history.records) >= 2 and all(math.isfinite(x) for x in losses)
    plain = {key: value for key, value in first.items() if key not in ("labels", "teacher_logits")}
    with pytest.raises(ValueError, match="teacher_logits"):
        distillation.Distiller(student, alpha=0.5)(labels=torch.tensor([0]), **plain)


# ----------------------------------------------------------------------------- accumulation, DDP


@pytest.fixture(scope="module")
def minilm_two_layers(tmp_path_factory, tokenizer):
    """The first two layers of the real MiniLM with a classification head, saved once.

    Dropout is off: with it, a batch and its micro-batches would draw different masks."""
    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(
        minilm_dir(),
        id2label=LABELS,
        ignore_mismatched_sizes=True,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    small = pruning.drop_layers(model, [0, 1])
    return save_folder(tmp_path_factory.mktemp("minilm") / "two-layers", small, tokenizer)


def test_gradient_accumulation_equals_the_big_batch_on_real_weights(
    minilm_two_layers, tokenizer, sample
):
    """The gradients within rounding; the weights after AdamW within 1% of what the steps can move.

    AdamW divides each gradient by its own running size, so a rounding difference in a
    gradient near zero moves its weight by a fraction of the learning rate (and AdamW
    hardly sees a gradient scaled by a constant: only the gradients catch a missing 1/k)."""
    batches = labelled_batches(tokenizer, sample, size=8, count=24)
    model = load_model(minilm_two_layers)

    def gradients(pieces):
        model.zero_grad(set_to_none=True)
        for piece in pieces:
            (model(**piece).loss / len(pieces)).backward()
        return {name: p.grad.clone() for name, p in model.named_parameters()}

    micro = parallel.split_batches(batches[:1], 4)
    whole, accumulated = gradients(batches[:1]), gradients(micro)
    largest = max(
        float(gradient.abs().max()) for gradient in whole.values()
    )  # key bias: 0 + rounding
    for name, gradient in whole.items():
        assert_close(accumulated[name], gradient, ulps=DEEP, scale=largest, msg=name)

    config = dict(learning_rate=1e-4, max_steps=3, epochs=None, progress=False, seed=0)
    big, small = load_model(minilm_two_layers), load_model(minilm_two_layers)
    train(big, batches, TrainingConfig(**config))
    train(small, parallel.split_batches(batches, 4), TrainingConfig(**config, accumulation_steps=4))
    moves = 0.01 * config["learning_rate"] * config["max_steps"]
    for (name, a), b in zip(big.named_parameters(), small.parameters()):
        torch.testing.assert_close(b, a, atol=moves, rtol=0, msg=name)
    before = load_model(minilm_two_layers)
    assert not torch.equal(big.classifier.weight, before.classifier.weight)
    with pytest.raises(ValueError, match="does not split"):
        parallel.split_batches(batches, 3)


@pytest.mark.slow
def test_two_torchrun_processes_follow_one_process(minilm_two_layers, tmp_path):
    weights = parallel.run_data_parallel(
        minilm_two_layers, tmp_path, processes=2, steps=2, batch_size=8
    )
    before = load_model(minilm_two_layers).state_dict()
    moves = 0.01 * parallel.LEARNING_RATE * 2  # AdamW: see the accumulation test
    for name, one in weights["one"].items():
        torch.testing.assert_close(weights["torchrun"][name], one, atol=moves, rtol=0, msg=name)
    assert not torch.equal(weights["one"]["classifier.weight"], before["classifier.weight"])


# ----------------------------------------------------------------------------- search


def fake_objective(params, report=None):
    """A score that peaks at lr = 1e-3 and batch size 16, reported at three points."""
    trial = search.Trial(dict(params))
    best = 90 - 10 * abs(math.log10(params["lr"]) + 3) - (params["batch_size"] != 16)
    try:
        for step in (1, 2, 3):
            trial.score, trial.examples = best * step / 3, 100 * step
            trial.curve.append((trial.examples, trial.score))
            if report is not None:
                report(trial.examples, trial.score)
    except search.Pruned:
        trial.pruned = True
    return trial


def test_grid_random_and_optuna_search():
    grid = search.grid_search(fake_objective, {"lr": [1e-4, 1e-3, 1e-2], "batch_size": [16, 32]})
    assert len(grid) == 6 and search.best(grid).params == {"lr": 1e-3, "batch_size": 16}
    space = {"lr": ("log", 1e-5, 1e-1), "batch_size": ("choice", [16, 32])}
    drawn = search.random_search(fake_objective, space, 8, seed=0)
    assert all(1e-5 <= t.params["lr"] <= 1e-1 for t in drawn) and len(drawn) == 8
    assert drawn == search.random_search(fake_objective, space, 8, seed=0)
    tuned = search.optuna_search(fake_objective, space, 12, seed=0)
    assert len(tuned) == 12 and any(t.pruned for t in tuned)
    assert search.best(tuned).score > 80
    with pytest.raises(ValueError, match="unknown kind"):
        search.sample({"x": ("normal", 0, 1)}, random.Random(0))


def test_small_fine_tuning_objective_reports_along_the_way(tokenizer, sample):
    features = make_features(tokenizer, sample.texts, sample.labels, 64)
    dev = measure.batches_of(features, 8, tokenizer.pad_token_id)
    labels = [features[i]["labels"] for i in measure.length_order(features)]
    objective = search.SmallFineTuning(
        tiny_classifier(tokenizer), features, dev, labels, examples=32, evaluations=2
    )
    seen = []
    trial = objective({"lr": 1e-3, "batch_size": 8}, lambda step, score: seen.append(step))
    assert seen == [16, 32] and trial.examples == 32 and 0 <= trial.score <= 100

    def stop(step, score):
        raise search.Pruned

    stopped = objective({"lr": 1e-3, "batch_size": 8}, stop)
    assert stopped.pruned and stopped.examples == 16


# ----------------------------------------------------------------------------- torch.compile


def test_compile_falls_back_to_eager_with_the_reason(tokenizer):
    model = tiny_classifier(tokenizer)

    def fails(compiled):
        raise RuntimeError("no C++ compiler\nmore detail")

    result = compile_encoder(model, fails)
    assert result.model is model and not result.compiled
    assert result.reason in ("RuntimeError: no C++ compiler", compile_unavailable_reason())


@pytest.mark.slow
def test_compiled_encoder_computes_what_the_eager_one_does(tokenizer, sample):
    if compile_unavailable_reason():
        pytest.skip(compile_unavailable_reason())
    model = tiny_classifier(tokenizer)
    batch = inputs(labelled_batches(tokenizer, sample, count=8)[0])
    result = compile_encoder(model, lambda m: m(**batch))
    assert result.compiled, result.reason
    with torch.no_grad():
        assert_close(result.model(**batch).logits, model(**batch).logits, ulps=DEEP)
