"""Pictures for notebooks 01-04: neurons, activations, losses, graphs and optimizer paths.

Each function draws on a matplotlib `Axes` (a new figure when `ax` is None)
and returns it, so the notebooks' widgets can redraw one panel at a time.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from bertlab.autograd import Value, graph
from bertlab.functional import ACTIVATIONS

__all__ = [
    "draw_graph",
    "plot_activations",
    "plot_decision_regions",
    "plot_loss_curves",
    "plot_neuron_boundary",
    "plot_optimizer_paths",
]

CLASS_COLORS = ("tab:blue", "tab:orange")


def _axes(ax, figsize=(5, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_activations(names: list[str] | None = None, x_range=(-4.0, 4.0), axes=None):
    """One panel per activation: the function (solid) and its derivative (dashed). Notebook 01."""
    names = list(ACTIVATIONS) if names is None else names
    if axes is None:
        _, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.6), sharey=True)
    x = torch.linspace(*x_range, 401, dtype=torch.float64)
    for ax, name in zip(np.atleast_1d(axes), names):
        if name not in ACTIVATIONS:
            raise KeyError(f"unknown activation {name!r}; choose from {list(ACTIVATIONS)}")
        f, df = ACTIVATIONS[name]
        ax.plot(x, f(x), label="f(x)")
        ax.plot(x, df(x), "--", label="f'(x)")
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.set_title(name)
        ax.set_ylim(-1.5, 2.5)
        ax.set_xlabel("x")
    np.atleast_1d(axes)[0].legend(loc="upper left", fontsize=8)
    return axes


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


def plot_neuron_boundary(w, b: float, X, y, activation: Callable = torch.sigmoid, ax=None):
    """A 2-input neuron a = activation(w·x + b) over the plane, its boundary w·x + b = 0, the data.

    Colour shows the neuron's output; the black line is where w·x + b = 0
    (a = 0.5 for the sigmoid), and the arrow is w, which points towards larger
    outputs. Notebook 01's widget redraws this as w and b move.
    """
    ax = _axes(ax)
    X, y = np.asarray(X, dtype=float), np.asarray(y)
    w = np.asarray(w, dtype=float)
    (x0, x1), (y0, y1) = _limits(X)
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    z = torch.from_numpy(w[0] * gx + w[1] * gy + b)
    a = activation(z).numpy()
    ax.contourf(gx, gy, a, levels=20, cmap="RdBu_r", alpha=0.5)
    ax.contour(gx, gy, z.numpy(), levels=[0.0], colors="k", linewidths=1.5)
    _scatter_classes(ax, X, y)
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    if np.linalg.norm(w) > 0:
        ax.annotate(
            "",
            centre + w / np.linalg.norm(w),
            centre,
            arrowprops=dict(arrowstyle="->", lw=2, color="k"),
        )
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_title(f"w = ({w[0]:.2f}, {w[1]:.2f}), b = {b:.2f}")
    return ax


def _limits(X, margin=0.5):
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    return (lo[0], hi[0]), (lo[1], hi[1])


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
    return ax


def plot_loss_curves(
    x,
    curves: dict,
    marker: float | None = None,
    xlabel="prediction",
    ax=None,
    title: str | None = None,
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
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def _layers(nodes: list[Value]) -> dict[int, int]:
    """Column of each node: the longest path from an input (inputs are column 0)."""
    depth: dict[int, int] = {}
    for node in nodes:  # topological order: children come first
        depth[id(node)] = 1 + max((depth[id(c)] for c in node._prev), default=-1)
    return depth


def draw_graph(root: Value, ax=None, show_grad: bool = True, fontsize: int = 8):
    """Draw the computational graph of `root`: one box per value, inputs on the left.

    Each box shows the operation (or label), the value, and, after
    `root.backward()`, the gradient d(root)/d(node) in red. Laid out in
    columns by depth (no graphviz needed). Notebook 03 uses it with a widget.
    """
    nodes, edges = graph(root)
    depth = _layers(nodes)
    columns: dict[int, list[Value]] = {}
    for node in nodes:
        columns.setdefault(depth[id(node)], []).append(node)
    users: dict[int, list[Value]] = {}
    for child, parent in edges:
        users.setdefault(id(child), []).append(parent)
    y_of: dict[int, float] = {}

    def place(col: int, key) -> None:
        members = columns[col]
        members.sort(key=key)
        for i, node in enumerate(members):
            y_of[id(node)] = -(i - (len(members) - 1) / 2)

    # Barycentre ordering: each node near the mean height of its neighbours (fewer crossings).
    def mean_input_height(n: Value) -> float:
        return float(np.mean([y_of[id(c)] for c in n._prev]))

    def mean_user_height(n: Value) -> float:
        return float(np.mean([y_of[id(u)] for u in users.get(id(n), [])] or [0.0]))

    place(0, key=lambda n: 0)
    for col in sorted(columns)[1:]:
        place(col, mean_input_height)
    for col in sorted(columns, reverse=True)[1:]:
        place(col, mean_user_height)
    for col in sorted(columns)[1:]:
        place(col, mean_input_height)
    n_cols = max(columns) + 1
    height = max(len(m) for m in columns.values())
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 2.0 * n_cols), max(2.5, 1.1 * height)))
    box_w, box_h = 1.3, 0.75
    for node in nodes:
        x, y = depth[id(node)] * 2.0, y_of[id(node)]
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
                fc="#dbe9f6" if not node._prev else "#f3f3f3",
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
                color="tab:red",
            )
    for child, parent in edges:
        start = (depth[id(child)] * 2.0 + box_w / 2, y_of[id(child)])
        end = (depth[id(parent)] * 2.0 - box_w / 2, y_of[id(parent)])
        ax.add_patch(
            FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, lw=0.8, color="grey")
        )
    ax.set_xlim(-1.0, 2.0 * (n_cols - 1) + 1.0)
    ax.set_ylim(-height / 2 - 0.2, height / 2 + 0.2)
    ax.axis("off")
    return ax


def plot_optimizer_paths(
    loss: Callable,
    paths: dict,
    xlim=(-2.0, 2.0),
    ylim=(-1.0, 3.0),
    ax=None,
    levels: int = 30,
    log_levels: bool = True,
    minimum: tuple[float, float] | None = None,
):
    """Contours of a 2-D loss surface `loss(x, y)` (numpy, elementwise) and optimizer paths.

    `paths` maps a name to an array of shape (steps + 1, 2). Notebook 04.
    """
    ax = _axes(ax, figsize=(6, 4.5))
    gx, gy = np.meshgrid(np.linspace(*xlim, 300), np.linspace(*ylim, 300))
    z = loss(gx, gy)
    if log_levels:
        z = np.log10(z - z.min() + 1e-3)
    ax.contour(gx, gy, z, levels=levels, cmap="viridis", linewidths=0.6)
    for name, path in paths.items():
        path = np.asarray(path, dtype=float)
        ax.plot(path[:, 0], path[:, 1], ".-", ms=3, lw=1.2, label=name)
        ax.plot(*path[0], "ko", ms=4)
    if minimum is not None:
        ax.plot(*minimum, "r*", ms=12, label="minimum")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.legend(fontsize=8, loc="upper left")
    return ax
