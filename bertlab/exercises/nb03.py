"""Exercises and quiz of notebook 03 (backpropagation).

Each checker runs the learner's answer next to a reference written here and compares; the
solutions are in solutions/03_backprop_solutions.ipynb.
"""

from __future__ import annotations

import math
import random
from collections import deque

import torch

from bertlab.autograd import MLP, Value, topological_order
from bertlab.exercises.core import Case, FunctionExercise, Mistake, OpenExercise, ValueExercise
from bertlab.exercises.questions import ChoiceQuestion, NumberQuestion, Option

# --- 03.1: a new operation --------------------------------------------------------------------


def _value_sin(v: Value) -> Value:
    out = Value(math.sin(v.data), (v,), "sin")

    def _backward():
        v.grad += math.cos(v.data) * out.grad

    out._backward = _backward
    return out


def _sin_wrong_sign(v: Value) -> Value:
    out = Value(math.sin(v.data), (v,), "sin")

    def _backward():
        v.grad -= math.cos(v.data) * out.grad

    out._backward = _backward
    return out


def _sin_without_chain_rule(v: Value) -> Value:
    out = Value(math.sin(v.data), (v,), "sin")

    def _backward():
        v.grad += math.cos(v.data)

    out._backward = _backward
    return out


def _sin_overwriting(v: Value) -> Value:
    out = Value(math.sin(v.data), (v,), "sin")

    def _backward():
        v.grad = math.cos(v.data) * out.grad

    out._backward = _backward
    return out


def _sin_expressions(value_sin, a: float, b: float) -> list[float]:
    """Value, d/da and d/db of three expressions built with the learner's sin."""
    results = []
    for build in (
        lambda x, y: 3 * value_sin(x * y) + x,  # the chain rule: out.grad is not 1
        lambda x, y: value_sin(x) + value_sin(x) * y,  # x feeds two sins: gradients add up
        lambda x, y: value_sin(value_sin(y)) * x,  # sin of sin
    ):
        x, y = Value(a), Value(b)
        out = build(x, y)
        out.backward()
        results += [out.data, x.grad, y.grad]
    return results


# --- 03.3: your own topological order ---------------------------------------------------------


def _shared_graph() -> Value:
    x, y = Value(2.0, label="x"), Value(-1.0, label="y")
    a = x * y
    a.label = "a"
    b = a * 2
    b.label = "b"
    return a + b  # a is used directly and through b


def _neuron_graph() -> Value:
    x1, w1, x2, w2, b = (Value(v) for v in (2.0, -3.0, 0.0, 1.0, 6.88))
    return (x1 * w1 + x2 * w2 + b).tanh()


def _deep_shared_graph() -> Value:
    x = Value(0.5, label="x")
    u = x.exp()
    v = u.tanh()
    w = u * v + x
    return (w * u).log() + v.sigmoid() * x


def _chain_graph() -> Value:
    out = Value(0.1, label="x")
    for _ in range(30):
        out = out * 1.01 + 0.0
    return out


_GRAPHS = {
    "a value used twice": _shared_graph,
    "notebook 03's neuron": _neuron_graph,
    "values used several times at several depths": _deep_shared_graph,
    "a chain of 60 operations": _chain_graph,
}


def _order_problem(topo_sort, graph_name: str) -> str:
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


def _same_verdict(actual, expected) -> str | None:
    return None if actual == expected else str(actual)


def _reversed_breadth_first(root: Value) -> list[Value]:
    order, seen, queue = [], {id(root)}, deque([root])
    while queue:
        node = queue.popleft()
        order.append(node)
        for child in node._prev:
            if id(child) not in seen:
                seen.add(id(child))
                queue.append(child)
    return order[::-1]


def _without_visited_set(root: Value) -> list[Value]:
    order = []

    def visit(node):
        for child in node._prev:
            visit(child)
        order.append(node)

    visit(root)
    return order


# --- 03.5: from the engine to PyTorch ---------------------------------------------------------


def _to_torch(model: MLP, hidden=torch.nn.Tanh) -> torch.nn.Sequential:
    modules = []
    for i, layer in enumerate(model.layers):
        weight = [[w.data for w in neuron.w] for neuron in layer.neurons]
        linear = torch.nn.Linear(len(weight[0]), len(weight)).double()
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(weight, dtype=torch.float64))
            linear.bias.copy_(torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64))
        modules.append(linear)
        if i < len(model.layers) - 1:
            modules.append(hidden())
    return torch.nn.Sequential(*modules)


def _to_torch_without_activations(model: MLP) -> torch.nn.Sequential:
    return torch.nn.Sequential(*[m for m in _to_torch(model) if isinstance(m, torch.nn.Linear)])


def _to_torch_relu(model: MLP) -> torch.nn.Sequential:
    return _to_torch(model, hidden=torch.nn.ReLU)


def _run_converted(to_torch, model: MLP, inputs: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return to_torch(model)(inputs).detach()


def _mlp_cases():
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


EXERCISES = [
    FunctionExercise(
        "03.1",
        "A new operation",
        hint="d sin(x)/dx = cos(x); add (+=) cos(v.data) · out.grad to v.grad, like Value.tanh.",
        reference=_value_sin,
        inputs=[(0.7, -1.3), (2.5, 0.4), (-1.0, 3.0)],
        call=_sin_expressions,
        ulps=0,
        abs_tol=1e-12,
        mistakes=[
            Mistake(_sin_wrong_sign, "the derivative of sin is +cos; −sin is cos's derivative."),
            Mistake(
                _sin_without_chain_rule,
                "multiply the local derivative by out.grad: that is the chain rule.",
            ),
            Mistake(
                _sin_overwriting,
                "use v.grad += ...: a value used twice must receive both contributions.",
            ),
        ],
        explanation="Two lines of backward, and the engine differentiates any expression with sin.",
    ),
    OpenExercise(
        "03.2",
        "Zeroing gradients",
        hint="Look at what every _backward does to .grad: = or +=?",
        model_answer=(
            "Every _backward adds (+=) to .grad, so without zero_grad each step's gradient is added "
            "to the sum of all previous steps' gradients. The update then follows that running sum: "
            "early gradients keep pushing long after they stopped being true, the steps grow, and "
            "training oscillates or diverges. Accumulation is deliberate (a value used twice must "
            "receive both contributions, and it lets you sum gradients over several batches), so "
            "the loop must reset the leaves' gradients itself, exactly as with torch's "
            "optimizer.zero_grad()."
        ),
    ),
    FunctionExercise(
        "03.3",
        "Your own topological order",
        hint="Depth-first: visit a node's inputs first (once each, with a set of ids), then append it.",
        reference=topological_order,
        inputs=[Case(args=(name,), label=name) for name in _GRAPHS],
        call=_order_problem,
        compare=_same_verdict,
        mistakes=[
            Mistake(
                _reversed_breadth_first,
                "reversed breadth-first order can put a node before an input that is reached "
                "by a longer path (a value used twice at different depths).",
            ),
            Mistake(
                _without_visited_set, "remember visited nodes: a value used twice is listed once."
            ),
        ],
        explanation="Any order with every input before its user works: backward() reverses it.",
    ),
    ValueExercise(
        "03.4",
        "How finite differences err",
        hint="Compare the errors at h = 1e-2 and 1e-3: by how many powers of ten does it drop?",
        answer=2,
        mistakes=[
            Mistake(
                1, "that is the one-sided difference (f(x+h) − f(x))/h; the central one is h²."
            ),
            Mistake(
                -1, "h^−1 is the rounding error that takes over for tiny h, not the truncation."
            ),
        ],
        explanation=(
            "Truncation error ~h² (the odd terms of the Taylor series cancel); rounding error "
            "~eps/h grows as h shrinks, so the best h is near eps^(1/3) ≈ 1e-5 in float64."
        ),
    ),
    FunctionExercise(
        "03.5",
        "From the engine to PyTorch",
        hint="One nn.Linear per Layer (rows of the weight = neurons), nn.Tanh between them, .double().",
        reference=_to_torch,
        inputs=_mlp_cases,
        call=_run_converted,
        mistakes=[
            Mistake(
                _to_torch_without_activations, "the hidden layers apply tanh (the last is linear)."
            ),
            Mistake(
                _to_torch_relu,
                "bertlab.autograd.MLP's hidden layers use tanh by default, not ReLU.",
            ),
        ],
        explanation="The notebook's final parity check builds exactly this to compare gradients.",
    ),
]

QUIZ = [
    ChoiceQuestion(
        "In backward(), a value that is used twice in the expression receives...",
        [
            Option(
                "only the gradient of the last use",
                why="that is the bug of writing = instead of +=.",
            ),
            Option(
                "the sum of the gradients from both uses",
                right=True,
                why="the multivariable chain rule: that is why every _backward uses +=.",
            ),
            Option(
                "the average of the two gradients", why="contributions add; nothing divides them."
            ),
        ],
    ),
    NumberQuestion(
        "f = x·y + x at x = 2, y = −3. What is ∂f/∂x?",
        answer=-2,
        tolerance=1e-9,
        why="x feeds two paths: ∂(x·y)/∂x = y = −3 and ∂x/∂x = 1; they add to −2.",
        mistakes={-3: "that is only the path through x·y; the '+ x' adds 1."},
    ),
    ChoiceQuestion(
        "Why does backward() visit the nodes in reverse topological order?",
        [
            Option(
                "because it is the order in which the forward pass created the nodes",
                why="that is the forward order; backward needs the reverse of a valid order.",
            ),
            Option(
                "to visit each node as few times as possible",
                why="any order visits each node once.",
            ),
            Option(
                "so that every node has received all of its gradient before passing it on",
                right=True,
                why="every user of a node comes after it in topological order, so before it in reverse.",
            ),
        ],
    ),
    NumberQuestion(
        "The backward pass of a matrix product Y = XW (gradients for both X and W) takes how many "
        "matrix products of the same size?",
        answer=2,
        tolerance=0,
        why="∂L/∂W = Xᵀ ∂L/∂Y and ∂L/∂X = ∂L/∂Y Wᵀ: about twice the forward's arithmetic.",
        mistakes={
            1: "one for W and one more for X: two.",
            3: "3 is forward plus backward; the backward alone is 2.",
        },
    ),
]
