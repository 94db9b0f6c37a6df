"""bertlab.functional against torch.nn.functional / torch.special / torch.autograd."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from bertlab import functional as bf
from bertlab.testing import SHALLOW, assert_close

REFERENCES = {
    "linear": lambda x: x,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "gelu": lambda x: F.gelu(x),  # exact erf form, Hugging Face's "gelu"
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
}

EXTREME = [0.0, -0.0, 1e-8, -1e-8, 0.5, -0.5, 3.0, -3.0, 20.0, -20.0, 88.0, -88.0, 1e3, -1e3, 1e4]


def inputs(dtype: torch.dtype) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    random = torch.randn(2000, generator=generator, dtype=torch.float64) * 4
    return torch.cat([random, torch.tensor(EXTREME, dtype=torch.float64)]).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", list(bf.ACTIVATIONS))
def test_activation_equals_torch(name, dtype):
    x = inputs(dtype)
    ours = bf.ACTIVATIONS[name][0](x)
    theirs = REFERENCES[name](x)
    assert ours.dtype == dtype
    tol = 1e-6 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(ours, theirs, rtol=tol, atol=tol)
    assert torch.isfinite(ours).all()


@pytest.mark.parametrize("name", list(bf.ACTIVATIONS))
def test_derivative_equals_autograd(name):
    x = inputs(torch.float64).requires_grad_(True)
    (grad,) = torch.autograd.grad(REFERENCES[name](x).sum(), x)
    ours = bf.ACTIVATIONS[name][1](x.detach())
    torch.testing.assert_close(ours, grad, rtol=1e-10, atol=1e-12)


def test_sigmoid_tails_do_not_overflow():
    x = torch.tensor([-1e4, -800.0, 800.0, 1e4], dtype=torch.float64)
    assert bf.sigmoid(x).tolist() == [0.0, 0.0, 1.0, 1.0]
    assert torch.equal(bf.sigmoid(x), torch.sigmoid(x))


def test_gelu_exact_and_tanh_differ_but_barely():
    x = torch.linspace(-6, 6, 10001, dtype=torch.float64)
    gap = (bf.gelu(x) - bf.gelu_tanh(x)).abs().max().item()
    assert 1e-5 < gap < 1e-3


@given(
    n=st.integers(1, 6),
    c=st.integers(2, 12),
    scale=st.sampled_from([1e-3, 1.0, 30.0, 1e3, 1e5]),
    seed=st.integers(0, 2**31 - 1),
)
@settings(max_examples=40, deadline=None)
def test_softmax_family_equals_torch(n, c, scale, seed):
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(n, c, generator=generator, dtype=torch.float64) * scale
    torch.testing.assert_close(bf.logsumexp(z), torch.logsumexp(z, dim=-1))
    torch.testing.assert_close(bf.log_softmax(z), F.log_softmax(z, dim=-1))
    torch.testing.assert_close(bf.softmax(z), F.softmax(z, dim=-1))
    torch.testing.assert_close(bf.logsumexp(z, dim=0), torch.logsumexp(z, dim=0))


def test_logsumexp_where_naive_overflows():
    z = torch.tensor([[1000.0, 999.0, -1000.0], [-1e4, -1e4 + 1, -1e4 + 2]])
    naive = torch.log(torch.exp(z).sum(-1))
    assert not torch.isfinite(naive).all()  # exp(1000) = inf in float32 and float64
    ours = bf.logsumexp(z)
    assert torch.isfinite(ours).all()
    torch.testing.assert_close(ours, torch.logsumexp(z, dim=-1))
    minus_inf = torch.full((1, 3), float("-inf"))
    assert bf.logsumexp(minus_inf).item() == float("-inf")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("scale", [1.0, 50.0, 1e4])
def test_mse_and_bce_equal_torch(reduction, scale):
    generator = torch.Generator().manual_seed(1)
    z = torch.randn(64, 3, generator=generator, dtype=torch.float64) * scale
    y = torch.rand(64, 3, generator=generator, dtype=torch.float64)
    torch.testing.assert_close(bf.mse_loss(z, y, reduction), F.mse_loss(z, y, reduction=reduction))
    hard = (y > 0.5).double()
    for target in (y, hard):
        ours = bf.binary_cross_entropy_with_logits(z, target, reduction)
        theirs = F.binary_cross_entropy_with_logits(z, target, reduction=reduction)
        torch.testing.assert_close(ours, theirs)
        assert torch.isfinite(ours).all()


def test_bce_naive_form_breaks_but_ours_does_not():
    z = torch.tensor([40.0, -40.0, 800.0])
    y = torch.tensor([0.0, 1.0, 0.0])
    naive = -(y * torch.log(torch.sigmoid(z)) + (1 - y) * torch.log(1 - torch.sigmoid(z)))
    assert torch.isinf(naive).any()  # sigmoid(40) == 1.0 in float32: log(0)
    ours = bf.binary_cross_entropy_with_logits(z, y, "none")
    torch.testing.assert_close(ours, F.binary_cross_entropy_with_logits(z, y, reduction="none"))


@given(
    n=st.integers(1, 8),
    c=st.integers(2, 10),
    scale=st.sampled_from([1e-2, 1.0, 100.0, 1e4, 1e30]),
    ignore=st.floats(0.0, 0.7),
    seed=st.integers(0, 2**31 - 1),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
@settings(max_examples=60, deadline=None)
def test_cross_entropy_equals_torch(n, c, scale, ignore, seed, dtype):
    generator = torch.Generator().manual_seed(seed)
    z = (torch.randn(n, c, generator=generator, dtype=torch.float64) * scale).to(dtype)
    y = torch.randint(0, c, (n,), generator=generator)
    y[torch.rand(n, generator=generator) < ignore] = -100
    y[0] = 0  # at least one target counts
    for reduction in ("mean", "sum", "none"):
        ours = bf.cross_entropy(z, y, reduction=reduction)
        theirs = F.cross_entropy(z, y, reduction=reduction)
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5 * scale)
        assert torch.isfinite(ours).all()


def test_cross_entropy_huge_logits_where_naive_softmax_overflows():
    z = torch.tensor([[1000.0, 0.0, -1000.0], [500.0, 501.0, 499.0]])
    y = torch.tensor([1, 1])
    naive = -torch.log(torch.exp(z) / torch.exp(z).sum(1, keepdim=True))[torch.arange(2), y]
    assert not torch.isfinite(naive).all()
    torch.testing.assert_close(
        bf.cross_entropy(z, y, reduction="none"),
        torch.tensor([1000.0, 0.40760596]),
        atol=1e-4,
        rtol=0,
    )  # float32 resolution near 501 is ~3e-5
    torch.testing.assert_close(bf.cross_entropy(z, y), F.cross_entropy(z, y))


def test_cross_entropy_custom_ignore_index_and_gradient():
    z = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([3, 7, 0, 7, 1])
    ours = bf.cross_entropy(z, y, ignore_index=7)
    theirs = F.cross_entropy(z, y, ignore_index=7)
    torch.testing.assert_close(ours, theirs)
    (g1,) = torch.autograd.grad(ours, z)
    (g2,) = torch.autograd.grad(theirs, z)
    torch.testing.assert_close(g1, g2)
    assert g1[1].abs().sum() == 0  # ignored rows get no gradient


def test_cross_entropy_single_example_and_bad_input():
    z = torch.tensor([2.0, 1.0, 0.1])
    torch.testing.assert_close(
        bf.cross_entropy(z, torch.tensor(0)), F.cross_entropy(z, torch.tensor(0))
    )
    with pytest.raises(ValueError, match="target outside"):
        bf.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="class indices"):
        bf.cross_entropy(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="shape"):
        bf.mse_loss(torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match="reduction"):
        bf.mse_loss(torch.zeros(2), torch.zeros(2), reduction="avg")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_autograd_through_sigmoid_and_bce_equals_torch_including_zero(dtype):
    """The stable forms must not break autograd: at z = 0 a |z| would give slope 0, not 1/4."""
    z = torch.cat([inputs(torch.float64), torch.zeros(3, dtype=torch.float64)]).to(dtype)
    y = (torch.arange(len(z)) % 2).to(dtype)
    for ours, theirs in [
        (lambda t: bf.sigmoid(t).sum(), lambda t: torch.sigmoid(t).sum()),
        (
            lambda t: bf.binary_cross_entropy_with_logits(t, y, "sum"),
            lambda t: F.binary_cross_entropy_with_logits(t, y, reduction="sum"),
        ),
    ]:
        a = z.clone().requires_grad_(True)
        b = z.clone().requires_grad_(True)
        (grad_ours,) = torch.autograd.grad(ours(a), a)
        (grad_theirs,) = torch.autograd.grad(theirs(b), b)
        assert_close(grad_ours, grad_theirs, ulps=SHALLOW, scale=1.0)
    at_zero = torch.zeros(1, dtype=dtype, requires_grad=True)
    (slope,) = torch.autograd.grad(bf.sigmoid(at_zero).sum(), at_zero)
    assert slope.item() == 0.25
