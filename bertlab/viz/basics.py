"""Pictures for notebooks 01-04: neurons, activations, losses, graphs and optimizer paths.

Each function draws on a matplotlib `Axes` (a new figure when `ax` is None)
and returns it, so the notebooks' widgets can redraw one panel at a time.
The two diagrams (`draw_neuron`, `draw_graph`) share one style: inputs and
parameters in blue boxes, operations in grey, gradients in red.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import Normalize
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

from bertlab.autograd import Value, graph
from bertlab.functional import ACTIVATIONS

__all__ = [
    "count_crossings",
    "draw_graph",
    "draw_neuron",
    "graph_layout",
    "plot_activation_outputs",
    "plot_activations",
    "plot_decision_regions",
    "plot_loss_curves",
    "plot_neuron_boundary",
    "plot_optimizer_paths",
]

CLASS_COLORS = ("tab:blue", "tab:orange")
INPUT_COLOR = "#dbe9f6"  # inputs and parameters (the leaves of a graph)
OPERATION_COLOR = "#f3f3f3"  # operations
GRAD_COLOR = "tab:red"
EDGE_COLOR = "grey"


def _axes(ax, figsize=(5, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _activation(activation: str | Callable) -> tuple[str, Callable]:
    """(name, function) for an activation given by its `ACTIVATIONS` name or as a function."""
    if callable(activation):
        return getattr(activation, "__name__", "f"), activation
    if activation not in ACTIVATIONS:
        raise KeyError(f"unknown activation {activation!r}; choose from {list(ACTIVATIONS)}")
    return activation, ACTIVATIONS[activation][0]


# --- notebook 01: the neuron and the activations ---------------------------------------------


def plot_activations(names: list[str] | None = None, x_range=(-4.0, 4.0), axes=None):
    """One panel per activation: the function (solid) and its derivative (dashed). Notebook 01."""
    names = list(ACTIVATIONS) if names is None else names
    if axes is None:
        _, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.8), sharey=True)
    x = torch.linspace(*x_range, 401, dtype=torch.float64)
    for ax, name in zip(np.atleast_1d(axes), names):
        f, df = ACTIVATIONS[_activation(name)[0]]
        ax.plot(x, f(x), label="f(x)")
        ax.plot(x, df(x), "--", label="f'(x)")
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.set_title(name)
        ax.set_ylim(-1.5, 2.5)
        ax.set_xlabel("x")
    np.atleast_1d(axes)[0].legend(loc="upper left", fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel("f(x) and f'(x)")
    return axes


def _node(ax, xy, text, color, radius=0.32, fontsize=10):
    ax.add_patch(Circle(xy, radius, fc=color, ec="k", lw=0.8, zorder=2))
    ax.text(*xy, text, ha="center", va="center", fontsize=fontsize, zorder=3)


def _arrow(ax, start, end, shrink=0.34, lw=1.0, color=EDGE_COLOR):
    start, end = np.asarray(start, float), np.asarray(end, float)
    direction = (end - start) / np.linalg.norm(end - start)
    ax.add_patch(
        FancyArrowPatch(
            start + shrink * direction,
            end - shrink * direction,
            arrowstyle="-|>",
            mutation_scale=12,
            lw=lw,
            color=color,
            zorder=1,
        )
    )


def draw_neuron(
    x: Sequence[float] | None = None,
    w: Sequence[float] | None = None,
    b: float | None = None,
    activation: str = "sigmoid",
    n_inputs: int = 3,
    ax=None,
):
    """The diagram of one neuron: inputs x_i, weights w_i, the sum z = w·x + b, the activation.

    With numbers for `x`, `w` and `b` every part is labelled with its value
    (z and the output a = f(z) computed here); without, with symbols. Notebook 01.
    """
    name, function = _activation(activation)
    if x is not None:
        if w is None or b is None or len(x) != len(w):
            raise ValueError("draw_neuron: give x, w and b together, with len(x) == len(w)")
        n_inputs = len(x)
    ax = _axes(ax, figsize=(7.5, 0.9 * n_inputs + 1.6))
    ys = np.linspace(n_inputs - 1, 0, n_inputs) - (n_inputs - 1) / 2
    total, act, out = np.array([3.0, 0.0]), np.array([5.2, 0.0]), np.array([7.0, 0.0])
    for i, yi in enumerate(ys):
        xi = f"$x_{i + 1}$" if x is None else f"$x_{i + 1}$\n{x[i]:g}"
        wi = f"$w_{i + 1}$" if w is None else f"$w_{i + 1}$ = {w[i]:g}"
        _node(ax, (0.0, yi), xi, INPUT_COLOR, fontsize=9)
        _arrow(ax, (0.0, yi), total)
        mid = 0.6 * np.array([0.0, yi]) + 0.4 * total
        ax.text(*mid + [0, 0.12], wi, ha="center", va="bottom", fontsize=9, color="tab:blue")
    bias = total + [0.0, -1.5 if n_inputs > 1 else -1.1]
    _node(ax, bias, "$b$" if b is None else f"$b$\n{b:g}", INPUT_COLOR, fontsize=9)
    _arrow(ax, bias, total)
    _node(ax, total, "Σ", OPERATION_COLOR, radius=0.38, fontsize=14)
    _node(ax, act, name, OPERATION_COLOR, radius=0.55, fontsize=9)
    _arrow(ax, total, act, shrink=0.5)
    _node(ax, out, "$a$", INPUT_COLOR)
    _arrow(ax, act, out, shrink=0.5)
    z_text, a_text = "$z = \\mathbf{w}\\cdot\\mathbf{x} + b$", f"a = {name}($z$)"
    if x is not None:
        z = float(np.dot(np.asarray(x, float), np.asarray(w, float)) + b)
        a = float(function(torch.tensor(z, dtype=torch.float64)))
        z_text, a_text = z_text + f"\n= {z:.4g}", a_text + f"\n= {a:.4g}"
    ax.text(*(total + act) / 2 + [0, 0.3], z_text, ha="center", va="bottom", fontsize=9)
    ax.text(*out + [0, -0.5], a_text, ha="center", va="top", fontsize=9)
    ax.set_xlim(-0.6, 7.8)
    ax.set_ylim(min(ys.min(), bias[1]) - 0.9, ys.max() + 0.7)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def _limits(X, margin=0.5):
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    return (lo[0], hi[0]), (lo[1], hi[1])


def _scatter_classes(ax, X, y):
    for label, color in enumerate(CLASS_COLORS):
        points = X[y == label]
        ax.scatter(
            points[:, 0],
            points[:, 1],
            s=14,
            color=color,
            edgecolor="k",
            lw=0.3,
            label=f"class {label}",
        )


def plot_neuron_boundary(
    w, b: float, X, y, activation: str | Callable = "sigmoid", ax=None, colorbar: bool = True
):
    """A 2-input neuron a = f(w·x + b) over the plane, its boundary w·x + b = 0, and the data.

    Colour shows the neuron's output a, on a scale centred at f(0) (the value on
    the boundary: 0.5 for the sigmoid, 0 for tanh, ReLU and GELU), with a colour
    bar. The black line is w·x + b = 0 and the arrow is w, which points towards
    larger outputs. `activation` is a name from `bertlab.functional.ACTIVATIONS`
    (or a function). Notebook 01's widget redraws this as w and b move.
    """
    ax = _axes(ax)
    name, function = _activation(activation)
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    w = np.asarray(w, dtype=float)
    (x0, x1), (y0, y1) = _limits(X)
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    z = torch.from_numpy(w[0] * gx + w[1] * gy + b)
    a = function(z).numpy()
    centre = float(function(torch.zeros((), dtype=torch.float64)))
    half = max(float(np.abs(a - centre).max()), 1e-6)
    norm = Normalize(centre - half, centre + half)
    filled = ax.contourf(gx, gy, a, levels=20, cmap="RdBu_r", norm=norm, alpha=0.55)
    if colorbar:
        ax.figure.colorbar(filled, ax=ax, label=f"neuron output a = {name}(z)")
    if np.ptp(z.numpy()) > 0:
        ax.contour(gx, gy, z.numpy(), levels=[0.0], colors="k", linewidths=1.5)
    _scatter_classes(ax, X, y)
    middle = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    if np.linalg.norm(w) > 0:
        ax.annotate(
            "",
            middle + w / np.linalg.norm(w),
            middle,
            arrowprops=dict(arrowstyle="->", lw=2, color="k"),
        )
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(f"w = ({w[0]:.2f}, {w[1]:.2f}), b = {b:.2f}")
    return ax


def plot_activation_outputs(z, y, activation: str | Callable = "sigmoid", ax=None):
    """Each example's pre-activation z and output a = f(z), on the curve of f. Notebook 01.

    Shows what the activation does to the data: the sigmoid squashes it into
    (0, 1), tanh into (-1, 1), ReLU sets the whole z < 0 side to exactly 0.
    """
    ax = _axes(ax, figsize=(4.5, 3.5))
    name, function = _activation(activation)
    z = np.asarray(z, dtype=float)
    y = np.asarray(y)
    span = max(4.0, float(np.abs(z).max()) * 1.05)
    grid = torch.linspace(-span, span, 401, dtype=torch.float64)
    ax.plot(grid, function(grid), color="k", lw=1, label=f"a = {name}(z)")
    outputs = function(torch.from_numpy(z)).numpy()
    for label, color in enumerate(CLASS_COLORS):
        ax.scatter(
            z[y == label], outputs[y == label], s=12, color=color, edgecolor="k", lw=0.3,
            label=f"class {label}", zorder=3,
        )  # fmt: skip
    ax.axvline(0, color="grey", lw=0.5, ls=":")
    ax.set_xlabel("pre-activation z = w·x + b")
    ax.set_ylabel("output a")
    ax.legend(fontsize=8, loc="upper left")
    return ax


# --- notebooks 02 and 03: losses, decision regions ---------------------------------------------


def plot_decision_regions(predict: Callable, X, y, ax=None, resolution: int = 60):
    """Colour the plane by `predict(points) -> scores` (score > 0 is class 1). Notebook 03.

    `predict` takes an (n, 2) numpy array and returns n scores (logits).
    """
    ax = _axes(ax)
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    (x0, x1), (y0, y1) = _limits(X)
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    scores = np.asarray(predict(np.c_[gx.ravel(), gy.ravel()]), dtype=float).reshape(gx.shape)
    ax.contourf(gx, gy, scores > 0, levels=[-0.5, 0.5, 1.5], colors=CLASS_COLORS, alpha=0.25)
    ax.contour(gx, gy, scores, levels=[0.0], colors="k", linewidths=1)
    _scatter_classes(ax, X, y)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend(fontsize=8, loc="lower left")
    return ax


def plot_loss_curves(
    x,
    curves: dict,
    marker: float | None = None,
    xlabel="prediction",
    ax=None,
    title: str | None = None,
    ylabel: str | None = None,
):
    """Several losses (or gradients) as functions of one prediction, with a marker. Notebook 02.

    `curves` maps a label to an array of the same length as `x`; `marker`
    draws a vertical line and a dot on each curve at that prediction.
    """
    ax = _axes(ax)
    x = np.asarray(x, dtype=float)
    for label, values in curves.items():
        values = np.asarray(values, dtype=float)
        line = ax.plot(x, values, label=label)[0]
        if marker is not None:
            ax.plot([marker], [np.interp(marker, x, values)], "o", color=line.get_color())
    if marker is not None:
        ax.axvline(marker, color="grey", ls=":")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


# --- notebook 03: the computational graph ------------------------------------------------------


def graph_layout(root: Value) -> dict[int, tuple[float, float]]:
    """(column, row) of every node of `root`'s graph, keyed by `id(node)`: a tidy tree layout.

    Columns count back from the output (rightmost) by the longest path to it, so
    every edge of a tree spans one column and each node sits just left of the
    node that uses it. Rows: the leaves of a depth-first walk from the output
    take consecutive rows (top to bottom, in the order the operation received
    its inputs), and every other node sits at the mean row of its inputs. A
    subtree then owns a band of rows of its own, so the edges of a tree never
    cross (`count_crossings` checks it). A value used twice (a DAG) is placed
    where the walk meets it first.
    """
    nodes, _ = graph(root)
    to_output: dict[int, int] = {id(root): 0}
    for node in reversed(nodes):  # users before their inputs
        for child in node._prev:
            to_output[id(child)] = max(to_output.get(id(child), 0), to_output[id(node)] + 1)
    last_column = max(to_output.values())
    row: dict[int, float] = {}
    next_leaf = 0
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:  # iterative post-order walk: inputs get their rows before their user
        node, inputs_done = stack.pop()
        if id(node) in row:
            continue
        if not node._prev:
            row[id(node)] = float(next_leaf)
            next_leaf += 1
        elif inputs_done:
            row[id(node)] = float(np.mean([row[id(c)] for c in node._prev]))
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(node._prev))
    columns: dict[int, list[int]] = {}
    for key in row:
        columns.setdefault(to_output[key], []).append(key)
    for keys in columns.values():  # shared values can land on a taken row: push them apart
        keys.sort(key=row.__getitem__)
        for above, below in zip(keys, keys[1:]):
            row[below] = max(row[below], row[above] + 1.0)
    return {key: (float(last_column - to_output[key]), row[key]) for key in row}


def _segments_cross(p1, p2, q1, q2) -> bool:
    """Whether segments p1-p2 and q1-q2 cross at a point inside both (shared ends do not count)."""

    def side(a, b, c):
        return np.sign((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))

    if {tuple(p1), tuple(p2)} & {tuple(q1), tuple(q2)}:
        return False
    return side(p1, p2, q1) * side(p1, p2, q2) < 0 and side(q1, q2, p1) * side(q1, q2, p2) < 0


def count_crossings(root: Value, layout: dict[int, tuple[float, float]] | None = None) -> int:
    """How many pairs of edges cross in `layout` (default: `graph_layout(root)`)."""
    layout = graph_layout(root) if layout is None else layout
    _, edges = graph(root)
    lines = [(layout[id(a)], layout[id(b)]) for a, b in edges]
    return sum(
        _segments_cross(*lines[i], *lines[j])
        for i in range(len(lines))
        for j in range(i + 1, len(lines))
    )


def draw_graph(root: Value, ax=None, show_grad: bool = True, fontsize: int = 8):
    """Draw the computational graph of `root`: one box per value, inputs left, output right.

    Each box shows the operation (or label), the value, and, after
    `root.backward()`, the gradient d(root)/d(node) in red. Inputs and
    parameters are blue, operations grey. Laid out by `graph_layout` (no
    graphviz needed). Notebook 03 uses it with a widget.
    """
    nodes, edges = graph(root)
    layout = graph_layout(root)
    n_cols = int(max(c for c, _ in layout.values())) + 1
    n_rows = int(max(r for _, r in layout.values())) + 1
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 2.0 * n_cols), max(2.5, 0.95 * n_rows)))
    box_w, box_h = 1.3, 0.75

    def centre(node):
        col, r = layout[id(node)]
        return col * 2.0, -r

    for node in nodes:
        x, y = centre(node)
        head = node.label or node._op or "const"
        if node.label and node._op:
            head = f"{node.label} ({node._op})"
        text = f"{head}\n{node.data:.4g}"
        ax.add_patch(
            FancyBboxPatch(
                (x - box_w / 2, y - box_h / 2),
                box_w,
                box_h,
                boxstyle="round,pad=0.02",
                fc=OPERATION_COLOR if node._prev else INPUT_COLOR,
                ec="k",
                lw=0.8,
            )
        )
        ax.text(
            x, y + (0.08 if show_grad else 0), text, ha="center", va="center", fontsize=fontsize
        )
        if show_grad:
            ax.text(
                x,
                y - 0.26,
                f"grad {node.grad:.4g}",
                ha="center",
                va="center",
                fontsize=fontsize,
                color=GRAD_COLOR,
            )
    for child, parent in edges:
        (cx, cy), (px, py) = centre(child), centre(parent)
        ax.add_patch(
            FancyArrowPatch(
                (cx + box_w / 2, cy),
                (px - box_w / 2, py),
                arrowstyle="-|>",
                mutation_scale=10,
                lw=0.8,
                color=EDGE_COLOR,
            )
        )
    ax.set_xlim(-1.0, 2.0 * (n_cols - 1) + 1.0)
    ax.set_ylim(-(n_rows - 1) - 0.6, 0.6)
    ax.axis("off")
    return ax


# --- notebook 04: optimizer paths ---------------------------------------------------------------


def plot_optimizer_paths(
    loss: Callable,
    paths: dict,
    xlim=(-2.0, 2.0),
    ylim=(-1.0, 3.0),
    ax=None,
    levels: int = 30,
    log_levels: bool = True,
    minimum: tuple[float, float] | None = None,
    colorbar: bool = True,
):
    """Contours of a 2-D loss surface `loss(x, y)` (numpy, elementwise) and optimizer paths.

    `paths` maps a name to an array of shape (steps + 1, 2); each path starts at
    a black dot. With `log_levels` the contour lines are of log10(loss - min),
    so the flat floor of a valley shows as well as its steep walls. Notebook 04.
    """
    ax = _axes(ax, figsize=(6.5, 4.5))
    gx, gy = np.meshgrid(np.linspace(*xlim, 300), np.linspace(*ylim, 300))
    z = loss(gx, gy)
    label = "loss"
    if log_levels:
        z = np.log10(z - z.min() + 1e-3)
        label = "log10(loss − min + 0.001)"
    lines = ax.contour(gx, gy, z, levels=levels, cmap="viridis", linewidths=0.6)
    if colorbar:
        ax.figure.colorbar(lines, ax=ax, label=label)
    for name, path in paths.items():
        path = np.asarray(path, dtype=float)
        ax.plot(path[:, 0], path[:, 1], ".-", ms=3, lw=1.2, label=name)
        ax.plot(*path[0], "ko", ms=4)
    if minimum is not None:
        ax.plot(*minimum, "r*", ms=12, label="minimum")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(fontsize=8, loc="upper right")
    return ax
