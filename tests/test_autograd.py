"""bertlab.autograd against torch.autograd and finite differences, on random expressions."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bertlab.autograd import MLP, Neuron, Value, graph, topological_order, zero_grad

N_VARS = 3

# --- random expression trees ------------------------------------------------------------------
# A tree is a nested tuple. Operations whose inputs have a restricted domain get inputs
# that are valid by construction: log(u*u + 0.5), a / (b*b + 0.5), (u*u + 0.5) ** 1.7,
# negative integer powers of u*u + 0.5. Everything else takes any sub-expression.

UNARY = ["exp", "tanh", "sigmoid", "relu", "neg", "log", "square_self"]
BINARY = ["add", "sub", "mul", "div"]


def _leaf():
    variables = st.integers(0, N_VARS - 1).map(lambda i: ("var", i))
    constants = st.floats(-3, 3, allow_nan=False).map(lambda c: ("const", c))
    return variables | variables | constants


def _extend(children):
    unary = st.tuples(st.sampled_from(UNARY), children)
    binary = st.tuples(st.sampled_from(BINARY), children, children)
    powers = st.tuples(
        st.just("pow"), children, st.sampled_from([0, 1, 2, 3, -1, -2, 0.5, 1.7, -0.3])
    )
    reflected = st.tuples(
        st.sampled_from(["radd", "rsub", "rmul", "rdiv"]), st.floats(-3, 3), children
    )
    return unary | binary | powers | reflected


EXPRESSIONS = st.recursive(_leaf(), _extend, max_leaves=12)
SMOOTH_EXPRESSIONS = EXPRESSIONS.filter(lambda t: "relu" not in repr(t))


def evaluate(tree, xs, lib):
    """Evaluate a tree with either Values (lib='value') or float64 torch scalars (lib='torch')."""
    op = tree[0]
    if op == "var":
        return xs[tree[1]]
    if op == "const":
        return tree[1]
    if op in ("radd", "rsub", "rmul", "rdiv"):
        c, u = tree[1], evaluate(tree[2], xs, lib)
        if op == "rdiv":
            return c / (u * u + 0.5)
        return {"radd": c + u, "rsub": c - u, "rmul": c * u}[op]
    if op in BINARY:
        a, b = evaluate(tree[1], xs, lib), evaluate(tree[2], xs, lib)
        if op == "div":
            return a / (b * b + 0.5)
        return {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b}[op]()
    u = evaluate(tree[1], xs, lib)
    if op == "pow":
        p = tree[2]
        base = u if (isinstance(p, int) and p >= 0) else u * u + 0.5
        return base**p
    if not isinstance(u, Value | torch.Tensor):  # an op on a constant: keep it a Python number
        u = Value(u) if lib == "value" else torch.tensor(u, dtype=torch.float64)
    if op == "neg":
        return -u
    if op == "square_self":  # the same node used twice: gradients must accumulate
        return u * u
    if op == "log":
        return (u * u + 0.5).log()
    if lib == "value":
        return getattr(u, op)()
    return getattr(torch, op)(u)


def both(tree, point):
    values = [Value(x, label=f"x{i}") for i, x in enumerate(point)]
    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in point]
    try:
        ours = evaluate(tree, values, "value")
        theirs = evaluate(tree, tensors, "torch")
    except OverflowError:  # exp of a huge number: not a gradient question
        assume(False)
    assume(isinstance(ours, Value) and isinstance(theirs, torch.Tensor) and theirs.requires_grad)
    assume(math.isfinite(ours.data) and abs(ours.data) < 1e8)
    return values, tensors, ours, theirs


def close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


POINTS = st.lists(st.floats(-2, 2, allow_nan=False), min_size=N_VARS, max_size=N_VARS)


@given(tree=EXPRESSIONS, point=POINTS)
@settings(max_examples=300, deadline=None)
def test_random_expressions_match_torch_autograd(tree, point):
    values, tensors, ours, theirs = both(tree, point)
    assert close(ours.data, theirs.item(), 1e-12)
    ours.backward()
    grads = torch.autograd.grad(theirs, tensors, allow_unused=True)
    for v, g in zip(values, grads):
        expected = 0.0 if g is None else g.item()
        assume(math.isfinite(expected))
        assert close(v.grad, expected, 1e-9), (tree, v, expected)


@given(tree=SMOOTH_EXPRESSIONS, point=POINTS)
@settings(max_examples=150, deadline=None)
def test_random_expressions_match_finite_differences(tree, point):
    values, _, ours, _ = both(tree, point)
    assume(abs(ours.data) < 1e3)  # round-off in (f(x+h) - f(x-h)) grows with |f|
    ours.backward()
    h = 1e-6
    for i, v in enumerate(values):
        up, down = list(point), list(point)
        up[i] += h
        down[i] -= h
        f_up = evaluate(tree, [Value(x) for x in up], "value")
        f_down = evaluate(tree, [Value(x) for x in down], "value")
        f_up = f_up.data if isinstance(f_up, Value) else f_up
        f_down = f_down.data if isinstance(f_down, Value) else f_down
        numeric = (f_up - f_down) / (2 * h)
        assert abs(v.grad - numeric) <= 1e-5 * max(1.0, abs(numeric)) + 1e-6, (tree, i)


def test_the_strategy_covers_every_operation():
    """The generator really produces each operation (so the parity test covers all of them)."""
    seen = set()

    @given(tree=EXPRESSIONS)
    @settings(max_examples=300, deadline=None)
    def collect(tree):
        seen.update(
            op
            for op in [*UNARY, *BINARY, "pow", "radd", "rsub", "rmul", "rdiv"]
            if f"'{op}'" in repr(tree)
        )

    collect()
    assert seen == {*UNARY, *BINARY, "pow", "radd", "rsub", "rmul", "rdiv"}


def test_hand_example_and_accumulation():
    a, b = Value(2.0), Value(-3.0)
    c = a * b + a  # dc/da = b + 1, dc/db = a
    c.backward()
    assert (a.grad, b.grad) == (-2.0, 2.0)
    c.backward()  # gradients accumulate, like torch's
    assert (a.grad, b.grad) == (-4.0, 4.0)
    zero_grad([a, b])
    assert (a.grad, b.grad) == (0.0, 0.0)


def test_every_operation_against_torch_by_hand():
    x = Value(0.7)
    t = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    y = (
        (x * 2 - 1) ** 3
        + x.exp() / (1 + x)
        - x.log()
        + x.tanh() * x.sigmoid()
        + (-x).relu()
        + 3 / x
        + x.relu()
        - 2
        - (x**0.5)
    )
    z = (
        (t * 2 - 1) ** 3
        + t.exp() / (1 + t)
        - t.log()
        + t.tanh() * t.sigmoid()
        + (-t).relu()
        + 3 / t
        + t.relu()
        - 2
        - (t**0.5)
    )
    y.backward()
    z.backward()
    assert y.data == pytest.approx(z.item(), abs=1e-12)
    assert x.grad == pytest.approx(t.grad.item(), abs=1e-12)


def test_deep_graph_needs_no_recursion():
    x = Value(0.5)
    y = x
    for _ in range(5000):
        y = y * 1.0001 + 0.0
    y.backward()
    assert x.grad == pytest.approx(1.0001**5000, rel=1e-9)


def test_graph_nodes_and_edges():
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    c = a * b
    d = c + a
    nodes, edges = graph(d)
    assert nodes[-1] is d and len(nodes) == 4
    assert {(x.label or x._op, y._op) for x, y in edges} == {
        ("a", "*"),
        ("b", "*"),
        ("*", "+"),
        ("a", "+"),
    }
    order = topological_order(d)
    assert order.index(a) < order.index(c) < order.index(d)


@pytest.mark.parametrize("bad", ["2", [1.0], torch.tensor(1.0), np.array([1.0]), None, {"x": 1}])
def test_bad_operand_types_raise_type_error_naming_the_type(bad):
    v = Value(1.0)
    name = type(bad).__name__
    for op in (lambda: v + bad, lambda: v * bad, lambda: v - bad, lambda: v / bad, lambda: v**bad):
        with pytest.raises(TypeError, match=name):
            op()
    if not isinstance(bad, torch.Tensor | np.ndarray):  # those define their own reflected ops
        with pytest.raises(TypeError, match=name):
            bad + v
        with pytest.raises(TypeError, match=name):
            bad * v
    with pytest.raises(TypeError, match=name):
        Value(bad)


def test_domain_errors():
    with pytest.raises(ValueError, match="non-positive"):
        Value(0.0).log()
    with pytest.raises(ValueError, match="non-positive"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match="negative base"):
        Value(-2.0) ** 0.5
    with pytest.raises(ZeroDivisionError):
        Value(1.0) / 0
    with pytest.raises(TypeError, match="exponent"):
        Value(2.0) ** Value(2.0)
    with pytest.raises(TypeError, match="not supported"):
        2 ** Value(2.0)


def test_mlp_gradients_equal_torch_mlp():
    rng = random.Random(0)
    model = MLP(3, [5, 4, 1], rng=rng)
    torch_layers = []
    for layer in model.layers:
        linear = torch.nn.Linear(len(layer.neurons[0].w), len(layer.neurons)).double()
        with torch.no_grad():
            linear.weight.copy_(
                torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64)
            )
            linear.bias.copy_(torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64))
        torch_layers.append(linear)
    xs = [[rng.uniform(-2, 2) for _ in range(3)] for _ in range(8)]
    ys = [rng.choice([-1.0, 1.0]) for _ in range(8)]

    loss = sum(((model(x) - y) ** 2 for x, y in zip(xs, ys)), Value(0.0)) / len(xs)
    loss.backward()

    h = torch.tensor(xs, dtype=torch.float64)
    for i, linear in enumerate(torch_layers):
        h = linear(h)
        if i < len(torch_layers) - 1:
            h = torch.tanh(h)
    torch_loss = ((h.squeeze(1) - torch.tensor(ys, dtype=torch.float64)) ** 2).mean()
    torch_loss.backward()

    assert loss.data == pytest.approx(torch_loss.item(), abs=1e-12)
    for layer, linear in zip(model.layers, torch_layers):
        ours_w = torch.tensor([[w.grad for w in n.w] for n in layer.neurons], dtype=torch.float64)
        ours_b = torch.tensor([n.b.grad for n in layer.neurons], dtype=torch.float64)
        torch.testing.assert_close(ours_w, linear.weight.grad, rtol=0, atol=1e-9)
        torch.testing.assert_close(ours_b, linear.bias.grad, rtol=0, atol=1e-9)
    assert len(model.parameters()) == (3 * 5 + 5) + (5 * 4 + 4) + (4 + 1)
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_mlp_learns_xor():
    rng = random.Random(1)
    model = MLP(2, [8, 1], rng=rng)
    data = [([0.0, 0.0], -1.0), ([0.0, 1.0], 1.0), ([1.0, 0.0], 1.0), ([1.0, 1.0], -1.0)]
    for _ in range(200):
        loss = sum(((model(x) - y) ** 2 for x, y in data), Value(0.0))
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.05 * p.grad
    assert loss.data < 0.05
    assert [math.copysign(1, model(x).data) for x, _ in data] == [y for _, y in data]


def test_neuron_bad_input():
    with pytest.raises(ValueError, match="activation"):
        Neuron(2, activation="swish")
    with pytest.raises(ValueError, match="expects 2 inputs"):
        Neuron(2)([1.0])


def test_exercise_03_1_reference_sin_equals_torch():
    """The reference of exercise 03.1 (value_sin) differentiates like torch.sin."""
    from bertlab.exercises.nb03 import value_sin

    for a, b in [(0.7, -1.3), (2.5, 0.4), (-1.0, 3.0)]:
        x, y = Value(a), Value(b)
        out = 3 * value_sin(x * y) + value_sin(x) * y + value_sin(value_sin(y))
        out.backward()
        tx = torch.tensor(a, dtype=torch.float64, requires_grad=True)
        ty = torch.tensor(b, dtype=torch.float64, requires_grad=True)
        reference = 3 * torch.sin(tx * ty) + torch.sin(tx) * ty + torch.sin(torch.sin(ty))
        reference.backward()
        assert out.data == pytest.approx(reference.item(), abs=1e-12)
        assert (x.grad, y.grad) == pytest.approx((tx.grad.item(), ty.grad.item()), abs=1e-12)
