"""bertlab.optim against torch.optim, torch.nn.utils and transformers, step for step."""

from __future__ import annotations

import copy

import pytest
import torch
from sklearn.datasets import load_breast_cancer
from torch import nn

from bertlab import optim
from bertlab.testing import SHALLOW, assert_close

STEPS = 25


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    """Real data: the Wisconsin breast-cancer table (569 x 30), standardised."""
    x, y = load_breast_cancer(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float64)
    x = (x - x.mean(0)) / x.std(0)
    return x, torch.tensor(y, dtype=torch.long)


def make_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(30, 16), nn.LayerNorm(16), nn.GELU(), nn.Linear(16, 2)).double()


def train_pair(data, ours_factory, torch_factory, *, grouped: bool):
    """Train two copies of the same model, one per optimizer; yield both after every step."""
    x, y = data
    model_a = make_model()
    model_b = copy.deepcopy(model_a)
    if grouped:
        params_a = optim.decay_parameter_groups(model_a, 0.1)
        params_b = optim.decay_parameter_groups(model_b, 0.1)
    else:
        params_a, params_b = model_a.parameters(), model_b.parameters()
    opt_a, opt_b = ours_factory(params_a), torch_factory(params_b)
    generator = torch.Generator().manual_seed(1)
    for _ in range(STEPS):
        batch = torch.randint(0, len(x), (64,), generator=generator)
        for model, opt in [(model_a, opt_a), (model_b, opt_b)]:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            opt.step()
        yield model_a, model_b


def assert_tracks(data, ours_factory, torch_factory, *, grouped: bool = False):
    steps = 0
    for model_a, model_b in train_pair(data, ours_factory, torch_factory, grouped=grouped):
        for (name, a), b in zip(model_a.named_parameters(), model_b.parameters()):
            err = (a - b).abs().max().item()
            assert err < 1e-6, f"step {steps}: {name} differs by {err}"
        steps += 1
    assert steps == STEPS
    # The models really moved (a test where nothing trains would pass trivially).
    assert (model_a[0].weight - make_model()[0].weight).abs().max() > 1e-3


CASES = {
    "sgd": (lambda p: optim.SGD(p, lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "sgd_wd": (
        lambda p: optim.SGD(p, lr=0.1, weight_decay=0.05),
        lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.05),
    ),
    "momentum": (
        lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    ),
    "momentum_dampening": (
        lambda p: optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01),
    ),
    "nesterov": (
        lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    ),
    "adam": (lambda p: optim.Adam(p, lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
    "adam_l2": (
        lambda p: optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    ),
    "adamw": (
        lambda p: optim.AdamW(p, lr=0.01, weight_decay=0.1),
        lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_tracks_torch_optim(data, case):
    assert_tracks(data, *CASES[case])


@pytest.mark.parametrize("case", ["sgd_wd", "momentum", "adam_l2", "adamw"])
def test_tracks_torch_optim_with_decay_groups(data, case):
    assert_tracks(data, *CASES[case], grouped=True)


def test_adamw_is_not_adam_with_l2(data):
    """Decoupled decay really differs from L2 (so the two tests above test different things)."""
    x, y = data
    finals = []
    for cls in (optim.Adam, optim.AdamW):
        model = make_model()
        opt = cls(model.parameters(), lr=0.01, weight_decay=0.1)
        for _ in range(5):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        finals.append(model[0].weight.detach().clone())
    assert (finals[0] - finals[1]).abs().max() > 1e-5


def test_with_lambda_lr_and_clipping_tracks_torch(data):
    """Our AdamW + our schedule + our clipping == torch's AdamW + transformers' schedule + torch clip."""
    from transformers import get_linear_schedule_with_warmup

    x, y = data
    model_a = make_model()
    model_b = copy.deepcopy(model_a)
    opt_a = optim.AdamW(optim.decay_parameter_groups(model_a, 0.01), lr=0.05)
    opt_b = torch.optim.AdamW(optim.decay_parameter_groups(model_b, 0.01), lr=0.05)
    sched_a = torch.optim.lr_scheduler.LambdaLR(
        opt_a, lambda s: optim.linear_warmup_decay(s, 5, STEPS)
    )
    sched_b = get_linear_schedule_with_warmup(opt_b, 5, STEPS)
    for step in range(STEPS):
        norms = []
        for model, opt, sched, clip in [
            (model_a, opt_a, sched_a, optim.clip_grad_norm_),
            (model_b, opt_b, sched_b, torch.nn.utils.clip_grad_norm_),
        ]:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            norms.append(clip(model.parameters(), 0.5))
            opt.step()
            sched.step()
        assert torch.allclose(norms[0], norms[1], rtol=1e-12, atol=0)
        assert opt_a.param_groups[0]["lr"] == pytest.approx(opt_b.param_groups[0]["lr"], abs=1e-15)
        for a, b in zip(model_a.parameters(), model_b.parameters()):
            assert (a - b).abs().max() < 1e-6, f"step {step}"


@pytest.mark.parametrize("warmup,total", [(0, 10), (3, 10), (10, 10), (100, 1000), (7, 3)])
def test_linear_warmup_decay_equals_transformers(warmup, total):
    from transformers import get_linear_schedule_with_warmup

    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = get_linear_schedule_with_warmup(opt, warmup, total)
    for step in range(total + 5):
        expected = sched.lr_lambdas[0](step)
        assert optim.linear_warmup_decay(step, warmup, total) == pytest.approx(expected, abs=1e-15)


def test_linear_warmup_decay_shape():
    values = [optim.linear_warmup_decay(s, 10, 100) for s in range(101)]
    assert values[0] == 0.0 and values[10] == 1.0 and values[100] == 0.0
    assert values[:11] == sorted(values[:11]) and values[10:] == sorted(values[10:], reverse=True)
    with pytest.raises(ValueError, match="warmup_steps"):
        optim.linear_warmup_decay(0, -1, 10)


@pytest.mark.parametrize("max_norm", [0.01, 1.0, 1e6])
def test_clip_grad_norm_equals_torch(max_norm):
    torch.manual_seed(0)
    shapes = [(5, 3), (7,), (2, 2, 2)]
    grads = [torch.randn(s) * 3 for s in shapes]
    ours = [nn.Parameter(torch.randn(s)) for s in shapes]
    theirs = [nn.Parameter(p.detach().clone()) for p in ours]
    before = [p.detach().clone() for p in ours]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = g.clone(), g.clone()
    ours.append(nn.Parameter(torch.ones(2)))  # no grad: skipped, like torch
    theirs.append(nn.Parameter(torch.ones(2)))
    norm_ours = optim.clip_grad_norm_(ours, max_norm)
    norm_theirs = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    assert torch.allclose(norm_ours, norm_theirs, rtol=1e-6, atol=0)
    for p, q, b in zip(ours, theirs, before):
        assert torch.allclose(p.grad, q.grad, rtol=1e-6, atol=1e-9)
        assert torch.equal(p.detach(), b)  # parameters are untouched: only gradients are scaled
    clipped = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in ours[:-1]]))
    assert clipped <= max_norm * (1 + 1e-5) or max_norm > norm_ours


def test_clip_grad_norm_single_tensor():
    p = nn.Parameter(torch.zeros(3))
    p.grad = torch.tensor([3.0, 4.0, 0.0])
    assert optim.clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)
    assert p.grad.tolist() == pytest.approx([0.6, 0.8, 0.0], abs=1e-6)


def test_decay_groups_on_small_module():
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2, bias=False))
    assert optim.no_decay_parameter_names(model) == ["0.bias", "1.weight", "1.bias"]
    decay, no_decay = optim.decay_parameter_groups(model, 0.01)
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert [p.shape for p in decay["params"]] == [(8, 4), (2, 8)]
    assert len(no_decay["params"]) == 3


def test_decay_groups_on_real_bert(minilm_path):
    """On a real BertModel (MiniLM config): every bias and every LayerNorm weight, nothing else."""
    from transformers import BertConfig, BertModel

    model = BertModel(BertConfig.from_pretrained(minilm_path))
    no_decay = set(optim.no_decay_parameter_names(model))
    names = dict(model.named_parameters())
    expected = {n for n in names if n.endswith(".bias") or "LayerNorm" in n}
    assert no_decay == expected
    assert "embeddings.LayerNorm.weight" in no_decay
    assert "encoder.layer.5.attention.output.LayerNorm.weight" in no_decay
    assert "encoder.layer.0.attention.self.query.weight" not in no_decay
    assert "embeddings.word_embeddings.weight" not in no_decay
    decay, nodecay = optim.decay_parameter_groups(model, 0.01)
    assert len(decay["params"]) + len(nodecay["params"]) == len(names)
    # 6 layers x (q,k,v,attn-out,ffn-in,ffn-out weights) + 3 embeddings + pooler weight
    assert len(decay["params"]) == 6 * 6 + 3 + 1
    # torch.optim accepts the groups as they are
    torch.optim.AdamW(optim.decay_parameter_groups(model, 0.01), lr=2e-5)


def test_decay_groups_skip_frozen_and_reject_bad_input():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    model[0].requires_grad_(False)
    decay, no_decay = optim.decay_parameter_groups(model, 0.0)
    assert len(decay["params"]) == 1 and len(no_decay["params"]) == 1
    with pytest.raises(TypeError, match="list"):
        optim.decay_parameter_groups([nn.Parameter(torch.zeros(1))], 0.01)
    with pytest.raises(ValueError, match="weight_decay"):
        optim.decay_parameter_groups(model, -1.0)


def test_bad_hyper_parameters():
    params = [nn.Parameter(torch.zeros(1))]
    with pytest.raises(ValueError, match="lr"):
        optim.SGD(params, lr=-1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(params, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam(params, betas=(0.9, 1.5))


def test_exercise_04_3_reference_nesterov_equals_torch():
    """The reference of exercise 04.3 is torch.optim.SGD(nesterov=True), step for step."""
    from bertlab.exercises.nb04 import nesterov_step

    generator = torch.Generator().manual_seed(0)
    param = nn.Parameter(torch.randn(5, generator=generator, dtype=torch.float64))
    torch_opt = torch.optim.SGD([param], lr=0.1, momentum=0.9, nesterov=True)
    p, buf = param.detach().clone(), None
    for _ in range(20):
        g = torch.randn(5, generator=generator, dtype=torch.float64)
        param.grad = g.clone()
        torch_opt.step()
        p, buf = nesterov_step(p, g, buf, 0.1, 0.9)
        assert_close(p, param.detach(), ulps=SHALLOW)


def test_exercise_04_4_reference_is_googles_update():
    """Google's AdamWeightDecayOptimizer (exercise 04.4): first step (1-b1)/sqrt(1-b2) x lr, decay decoupled."""
    from bertlab.exercises.nb04 import bert_adam_step

    p = torch.tensor([0.5, -2.0], dtype=torch.float64)
    g = torch.tensor([0.3, -0.1], dtype=torch.float64)
    zeros = torch.zeros_like(p)
    new_p, m, v = bert_adam_step(p, g, zeros, zeros, lr=1e-3, weight_decay=0.0, eps=0.0)
    step = 1e-3 * torch.sign(g) * 0.1 / 0.001**0.5
    assert_close(p - new_p, step, ulps=SHALLOW, scale=2.0)  # rounding at the size of p
    assert_close(m, 0.1 * g, ulps=SHALLOW)
    assert_close(v, 0.001 * g * g, ulps=SHALLOW)
    with_decay, _, _ = bert_adam_step(p, g, zeros, zeros, lr=1e-3, weight_decay=0.01, eps=0.0)
    assert_close(new_p - with_decay, 1e-3 * 0.01 * p, ulps=SHALLOW, scale=2.0)  # outside m and v
