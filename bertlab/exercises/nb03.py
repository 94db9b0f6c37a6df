"""Checkers of notebook 03 (backpropagation).

Each checker runs the learner's answer next to a reference written here and compares; the texts
are in texts/nb03.toml, the solutions in solutions/03_backprop_solutions.ipynb.
"""

from __future__ import annotations

import math
import random
from collections import deque
from functools import partial

import torch

from bertlab.autograd import MLP, Value, topological_order
from bertlab.exercises.kinds import Case

# --- 03.1: a new operation --------------------------------------------------------------------


def value_sin(
    v: Value, *, derivative_sign: int = 1, chain_rule: bool = True, accumulate: bool = True
) -> Value:
    """sin for the engine: backward adds (+=) cos(v) · out.grad to v.grad, like Value.tanh.

    The keywords make the usual slips: -cos as the derivative, the local derivative alone
    without the chain rule's out.grad, and v.grad = ... that forgets earlier contributions."""
    out = Value(math.sin(v.data), (v,), "sin")

    def _backward():
        local = derivative_sign * math.cos(v.data)
        contribution = local * out.grad if chain_rule else local
        v.grad = v.grad + contribution if accumulate else contribution

    out._backward = _backward
    return out


sin_wrong_sign = partial(value_sin, derivative_sign=-1)
sin_without_chain_rule = partial(value_sin, chain_rule=False)
sin_overwriting = partial(value_sin, accumulate=False)

SIN_POINTS = [(0.7, -1.3), (2.5, 0.4), (-1.0, 3.0)]  # (a, b) for the expressions below


def sin_expressions(sin, a: float, b: float) -> list[float]:
    """Value, d/da and d/db of three expressions built with the learner's sin."""
    results = []
    for build in (
        lambda x, y: 3 * sin(x * y) + x,  # the chain rule: out.grad is not 1
        lambda x, y: sin(x) + sin(x) * y,  # x feeds two sins: gradients add up
        lambda x, y: sin(sin(y)) * x,  # sin of sin
    ):
        x, y = Value(a), Value(b)
        out = build(x, y)
        out.backward()
        results += [out.data, x.grad, y.grad]
    return results


# --- 03.3: your own topological order ---------------------------------------------------------


def shared_graph() -> Value:
    x, y = Value(2.0, label="x"), Value(-1.0, label="y")
    a = x * y
    a.label = "a"
    b = a * 2
    b.label = "b"
    return a + b  # a is used directly and through b


def neuron_graph() -> Value:
    x1, w1, x2, w2, b = (Value(v) for v in (2.0, -3.0, 0.0, 1.0, 6.88))
    return (x1 * w1 + x2 * w2 + b).tanh()


def deep_shared_graph() -> Value:
    x = Value(0.5, label="x")
    u = x.exp()
    v = u.tanh()
    w = u * v + x
    return (w * u).log() + v.sigmoid() * x


def chain_graph() -> Value:
    out = Value(0.1, label="x")
    for _ in range(30):
        out = out * 1.01 + 0.0
    return out


_GRAPHS = {
    "a value used twice": shared_graph,
    "notebook 03's neuron": neuron_graph,
    "values used several times at several depths": deep_shared_graph,
    "a chain of 60 operations": chain_graph,
}


def order_problem(topo_sort, graph_name: str) -> str:
    """'a valid order' or what is wrong with the learner's order of the named graph."""
    root = _GRAPHS[graph_name]()
    order = list(topo_sort(root))
    expected = topological_order(root)
    if any(not isinstance(node, Value) for node in order):
        return "the order must hold the Value nodes themselves"
    if len({id(node) for node in order}) != len(order):
        return "a node appears more than once"
    if {id(node) for node in order} != {id(node) for node in expected}:
        return f"it holds {len(order)} nodes; the graph has {len(expected)}"
    position = {id(node): i for i, node in enumerate(order)}
    for node in order:
        for child in node._prev:
            if position[id(child)] > position[id(node)]:
                name = node.label or node._op
                return f"a node ({name}) comes before one of its inputs"
    return "a valid order"


GRAPH_CASES = [Case(args=(name,), label=name) for name in _GRAPHS]


def same_verdict(actual, expected) -> str | None:
    return None if actual == expected else str(actual)


def reversed_breadth_first(root: Value) -> list[Value]:
    order, seen, queue = [], {id(root)}, deque([root])
    while queue:
        node = queue.popleft()
        order.append(node)
        for child in node._prev:
            if id(child) not in seen:
                seen.add(id(child))
                queue.append(child)
    return order[::-1]


def without_visited_set(root: Value) -> list[Value]:
    order = []

    def visit(node):
        for child in node._prev:
            visit(child)
        order.append(node)

    visit(root)
    return order


# --- 03.5: from the engine to PyTorch ---------------------------------------------------------


def to_torch(model: MLP, hidden=torch.nn.Tanh) -> torch.nn.Sequential:
    """The MLP as torch modules: one nn.Linear a layer, `hidden()` between them (None: none)."""
    modules = []
    for i, layer in enumerate(model.layers):
        weight = [[w.data for w in neuron.w] for neuron in layer.neurons]
        linear = torch.nn.Linear(len(weight[0]), len(weight)).double()
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(weight, dtype=torch.float64))
            linear.bias.copy_(torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64))
        modules.append(linear)
        if hidden is not None and i < len(model.layers) - 1:
            modules.append(hidden())
    return torch.nn.Sequential(*modules)


to_torch_without_activations = partial(to_torch, hidden=None)
to_torch_relu = partial(to_torch, hidden=torch.nn.ReLU)


def run_converted(convert, model: MLP, inputs: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return convert(model)(inputs).detach()


def mlp_cases():
    cases = []
    for n_inputs, sizes, seed in [(2, [4, 1], 0), (3, [5, 4, 2], 1), (2, [10, 1], 2)]:
        model = MLP(n_inputs, sizes, rng=random.Random(seed))
        for p in model.parameters():  # non-zero biases, so a forgotten bias shows
            p.data += 0.1
        points = torch.randn(6, n_inputs, generator=torch.Generator().manual_seed(seed))
        cases.append(
            Case(args=(model, points.double()), label=f"MLP({n_inputs}, {sizes}) on 6 points")
        )
    return cases
