"""A scalar reverse-mode automatic differentiation engine, and a tiny MLP on it.

Notebook 03 builds this step by step. Every `Value` remembers the values it was
computed from and how to pass a gradient back to them (the chain rule, one
operation at a time). `backward()` visits the graph in reverse topological
order, so each node has received the whole gradient from everything that uses
it before it passes its own gradient on. This is what `torch.autograd` does,
one scalar at a time instead of one tensor at a time (after karpathy/micrograd).
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Iterable

__all__ = ["MLP", "Layer", "Neuron", "Value", "graph", "topological_order", "zero_grad"]


def _check_number(value: object, what: str) -> float:
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(
        f"{what}: unsupported operand type {type(value).__module__}.{type(value).__qualname__}; "
        "a Value combines only with another Value or a Python int/float"
    )


class Value:
    """One scalar in a computational graph, with the gradient of the output with respect to it.

    >>> a, b = Value(2.0), Value(-3.0)
    >>> c = a * b + a
    >>> c.backward()
    >>> a.grad, b.grad      # dc/da = b + 1, dc/db = a
    (-2.0, 2.0)

    Gradients of leaves accumulate (`+=`) like torch's: call `zero_grad`
    between two `backward()` calls over the same leaves.
    """

    __slots__ = ("data", "grad", "_backward", "_prev", "_op", "label")

    def __init__(
        self, data: float, _children: tuple[Value, ...] = (), _op: str = "", label: str = ""
    ):
        self.data = _check_number(data, "Value(data)")
        self.grad = 0.0
        self._backward = lambda: None  # passes self.grad on to the children
        self._prev = _children
        self._op = _op
        self.label = label

    def __repr__(self) -> str:
        name = f"{self.label}=" if self.label else ""
        return f"Value({name}{self.data:.6g}, grad={self.grad:.6g})"

    @staticmethod
    def _lift(other: object, op: str) -> Value:
        if isinstance(other, Value):
            return other
        return Value(_check_number(other, f"Value {op}"))

    # --- binary operations: out = f(self, other); each sets how out.grad flows back -------------

    def __add__(self, other) -> Value:
        other = self._lift(other, "+")
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __sub__(self, other) -> Value:
        other = self._lift(other, "-")
        out = Value(self.data - other.data, (self, other), "-")

        def _backward():
            self.grad += out.grad
            other.grad -= out.grad

        out._backward = _backward
        return out

    def __mul__(self, other) -> Value:
        other = self._lift(other, "*")
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __truediv__(self, other) -> Value:
        other = self._lift(other, "/")
        if other.data == 0:
            raise ZeroDivisionError(f"Value division by zero ({self.data:g} / 0)")
        out = Value(self.data / other.data, (self, other), "/")

        def _backward():
            self.grad += out.grad / other.data
            other.grad -= self.data / other.data**2 * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent) -> Value:
        if isinstance(exponent, Value):
            raise TypeError("Value ** Value is not supported: the exponent must be an int or float")
        p = _check_number(exponent, "Value **")
        x = self.data
        if x < 0 and not p.is_integer():
            raise ValueError(f"Value ** {p:g}: a negative base ({x:g}) needs an integer exponent")
        if x == 0 and p < 0:
            raise ZeroDivisionError(f"Value ** {p:g}: zero base with a negative exponent")
        out = Value(x**p, (self,), f"**{p:g}")

        def _backward():
            if p != 0:
                self.grad += p * x ** (p - 1) * out.grad

        out._backward = _backward
        return out

    def __neg__(self) -> Value:
        out = Value(-self.data, (self,), "neg")

        def _backward():
            self.grad -= out.grad

        out._backward = _backward
        return out

    # reflected operations: 2 + v, 2 - v, 2 * v, 2 / v
    def __radd__(self, other) -> Value:
        return self._lift(other, "+") + self

    def __rsub__(self, other) -> Value:
        return self._lift(other, "-") - self

    def __rmul__(self, other) -> Value:
        return self._lift(other, "*") * self

    def __rtruediv__(self, other) -> Value:
        return self._lift(other, "/") / self

    def __rpow__(self, base):
        raise TypeError(
            f"{type(base).__name__} ** Value is not supported: write (value * math.log(base)).exp()"
        )

    # --- unary functions ---------------------------------------------------------------------

    def exp(self) -> Value:
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad  # d e^x = e^x

        out._backward = _backward
        return out

    def log(self) -> Value:
        if self.data <= 0:
            raise ValueError(f"log of a non-positive number: {self.data:g}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def tanh(self) -> Value:
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():
            self.grad += (1 - out.data**2) * out.grad

        out._backward = _backward
        return out

    def sigmoid(self) -> Value:
        x = self.data
        s = 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
        out = Value(s, (self,), "sigmoid")

        def _backward():
            self.grad += s * (1 - s) * out.grad

        out._backward = _backward
        return out

    def relu(self) -> Value:
        out = Value(max(self.data, 0.0), (self,), "relu")

        def _backward():
            self.grad += (self.data > 0) * out.grad

        out._backward = _backward
        return out

    # --- reverse mode ------------------------------------------------------------------------

    def backward(self) -> None:
        """Add d(self)/d(leaf) to `.grad` of every leaf; set `.grad` of inner nodes to d(self)/d(node).

        Leaves (inputs, weights) accumulate across calls, as in torch; inner
        nodes are reset first, so each call starts their gradients from zero.
        """
        order = topological_order(self)
        for node in order:
            if node._prev:
                node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            node._backward()


def topological_order(root: Value) -> list[Value]:
    """Every node `root` depends on, each after all of its inputs (iterative depth-first search)."""
    order: list[Value] = []
    visited: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for child in node._prev:
            if id(child) not in visited:
                stack.append((child, False))
    return order


def zero_grad(values: Iterable[Value]) -> None:
    """Reset `.grad` to 0 (gradients accumulate across `backward()` calls)."""
    for v in values:
        v.grad = 0.0


def graph(root: Value) -> tuple[list[Value], list[tuple[Value, Value]]]:
    """The nodes (inputs first) and edges (input -> result) of the graph that computed `root`.

    `bertlab.viz.basics.draw_graph` draws it with values and gradients.
    """
    nodes = topological_order(root)
    edges = [(child, node) for node in nodes for child in node._prev]
    return nodes, edges


# --- a tiny neural network on Values (notebook 03 trains it) -------------------------------


class Module:
    def parameters(self) -> list[Value]:
        return []

    def zero_grad(self) -> None:
        zero_grad(self.parameters())


_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


class Neuron(Module):
    """a = activation(w · x + b), with w drawn uniformly from [-1, 1] and b = 0."""

    def __init__(self, n_inputs: int, activation: str = "tanh", rng: random.Random | None = None):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
        rng = rng or random
        self.w = [Value(rng.uniform(-1, 1), label=f"w{i}") for i in range(n_inputs)]
        self.b = Value(0.0, label="b")
        self.activation = activation

    def __call__(self, x: list) -> Value:
        if len(x) != len(self.w):
            raise ValueError(f"Neuron expects {len(self.w)} inputs, got {len(x)}")
        z = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return z if self.activation == "linear" else getattr(z, self.activation)()

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]


class Layer(Module):
    """`n_outputs` neurons that all see the same inputs."""

    def __init__(self, n_inputs: int, n_outputs: int, activation: str = "tanh", rng=None):
        self.neurons = [Neuron(n_inputs, activation, rng) for _ in range(n_outputs)]

    def __call__(self, x: list) -> list[Value]:
        return [n(x) for n in self.neurons]

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]


class MLP(Module):
    """Layers of neurons; hidden layers use `activation`, the last layer is linear (logits).

    `MLP(2, [16, 16, 1])`: 2 inputs, two hidden layers of 16, one output.
    """

    def __init__(
        self,
        n_inputs: int,
        layer_sizes: list[int],
        activation: str = "tanh",
        rng: random.Random | None = None,
    ):
        sizes = [n_inputs, *layer_sizes]
        self.layers = [
            Layer(sizes[i], sizes[i + 1], activation if i < len(layer_sizes) - 1 else "linear", rng)
            for i in range(len(layer_sizes))
        ]

    def __call__(self, x: list) -> Value | list[Value]:
        for layer in self.layers:
            x = layer(x)
        return x[0] if len(x) == 1 else x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]
