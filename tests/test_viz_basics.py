"""The pictures of notebooks 01-04 (bertlab.viz.basics): what each shows, labels, layout without crossings."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from bertlab import functional as bf
from bertlab.autograd import Value, graph
from bertlab.viz.basics import (
    count_crossings,
    draw_graph,
    draw_neuron,
    graph_layout,
    plot_activation_outputs,
    plot_activations,
    plot_neuron_boundary,
    plot_optimizer_paths,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def neuron_graph() -> Value:
    """Notebook 03's neuron o = tanh(x1*w1 + x2*w2 + b)."""
    x1, w1, x2, w2, b = (Value(v, label=n) for v, n in zip([2, -3, 0, 1, 6.88], "x w x w b"))
    return (x1 * w1 + x2 * w2 + b).tanh()


# Random expression trees: every leaf a fresh Value, so the graph is a tree (no shared nodes).
# No exp: a chain of them (exp(exp(exp(2)))) overflows a float before the layout is even drawn.
TREES = st.recursive(
    st.floats(-2, 2, allow_nan=False).map(lambda v: ("leaf", v)),
    lambda children: (
        st.tuples(st.sampled_from(["+", "*", "-"]), children, children)
        | st.tuples(st.sampled_from(["tanh", "sigmoid", "relu"]), children)
    ),
    max_leaves=10,
)


def build(tree) -> Value:
    if tree[0] == "leaf":
        return Value(tree[1])
    if len(tree) == 2:
        return getattr(build(tree[1]), tree[0])()
    left, right = build(tree[1]), build(tree[2])
    return {"+": left + right, "*": left * right, "-": left - right}[tree[0]]


@given(tree=TREES)
@settings(max_examples=150, deadline=None)
def test_tree_layout_has_no_crossings_and_one_column_edges(tree):
    root = build(tree)
    layout = graph_layout(root)
    nodes, edges = graph(root)
    assert set(layout) == {id(n) for n in nodes}
    assert count_crossings(root, layout) == 0
    assert layout[id(root)][0] == max(column for column, _ in layout.values())  # output rightmost
    for child, parent in edges:  # inputs one column left of the operation that uses them
        assert layout[id(parent)][0] - layout[id(child)][0] == 1
    positions = list(layout.values())
    assert len(set(positions)) == len(positions)  # no two boxes on one spot


def test_notebook_neuron_layout():
    root = neuron_graph()
    layout = graph_layout(root)
    assert count_crossings(root) == 0
    leaves = sorted((n for n in graph(root)[0] if not n._prev), key=lambda n: layout[id(n)][1])
    assert [n.data for n in leaves] == [2, -3, 0, 1, 6.88]  # rows in the order the ops take them


def test_shared_values_get_distinct_positions():
    a, b = Value(0.5, label="a"), Value(-1.5, label="b")
    root = ((a * b + 2).tanh() + (a * a + 1).log()) * b.sigmoid()
    positions = list(graph_layout(root).values())
    assert len(set(positions)) == len(positions)


def test_count_crossings_sees_a_crossing():
    x, y = Value(1.0), Value(2.0)
    root = x * y
    layout = graph_layout(root)
    assert count_crossings(root, layout) == 0
    p, q = Value(1.0), Value(2.0)
    u, v = p + q, p - q  # p -> u, p -> v, q -> u, q -> v: drawn straight, p-v and q-u cross
    root = u * v
    layout = {id(p): (0, 0), id(q): (0, 1), id(u): (1, 0), id(v): (1, 1), id(root): (2, 0.5)}
    assert count_crossings(root, layout) == 1


def test_draw_graph_draws_every_node_edge_and_gradient():
    root = neuron_graph()
    root.backward()
    nodes, edges = graph(root)
    ax = draw_graph(root)
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    texts = " ".join(t.get_text() for t in ax.texts)
    assert len(boxes) == len(nodes) and len(arrows) == len(edges)
    assert "grad 1" in texts and "tanh" in texts
    leaf_colours = {tuple(b.get_facecolor()) for b, n in zip(boxes, nodes) if not n._prev}
    assert len(leaf_colours) == 1  # inputs share one colour, operations another


def test_draw_neuron_labels_its_numbers():
    x, w, b = [1.0, -2.0, 0.5], [0.4, 0.3, -1.0], 0.1
    ax = draw_neuron(x, w, b, activation="sigmoid")
    text = " ".join(t.get_text() for t in ax.texts)
    z = float(np.dot(x, w) + b)
    a = bf.sigmoid(torch.tensor(z, dtype=torch.float64)).item()
    assert f"{z:.4g}" in text and f"{a:.4g}" in text
    assert all(f"= {wi:g}" in text for wi in w)
    symbols = " ".join(t.get_text() for t in draw_neuron(n_inputs=2).texts)
    assert "$w_2$" in symbols and "$x_2$" in symbols
    with pytest.raises(ValueError, match="len"):
        draw_neuron([1.0, 2.0], [1.0], 0.0)
    with pytest.raises(KeyError, match="unknown activation"):
        draw_neuron(activation="swish")


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "gelu"])
def test_neuron_boundary_has_labels_and_a_colour_scale_centred_on_the_boundary(activation):
    X = np.array([[-1.0, -1.0], [1.0, 1.0], [0.5, -0.5]])
    y = np.array([0, 1, 1])
    ax = plot_neuron_boundary([1.0, 2.0], -0.5, X, y, activation=activation)
    assert ax.get_xlabel() and ax.get_ylabel()
    colorbar_axes = [other for other in ax.figure.axes if other is not ax]
    assert len(colorbar_axes) == 1 and activation in colorbar_axes[0].get_ylabel()
    norm = ax.collections[0].norm
    centre = bf.ACTIVATIONS[activation][0](torch.zeros(1, dtype=torch.float64)).item()
    assert (norm.vmin + norm.vmax) / 2 == pytest.approx(centre)


def test_activation_outputs_put_every_point_on_the_curve():
    z = np.array([-2.0, -0.5, 0.5, 3.0])
    y = np.array([0, 0, 1, 1])
    ax = plot_activation_outputs(z, y, "relu")
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(points) == 4
    assert np.allclose(points[:, 1], np.maximum(points[:, 0], 0))
    assert ax.get_xlabel() and ax.get_ylabel()


def test_optimizer_paths_labelled_with_a_colour_bar():
    path = np.array([[-1.0, 1.0], [-0.5, 0.5], [0.0, 0.0]])
    ax = plot_optimizer_paths(lambda x, y: x**2 + y**2, {"GD": path}, minimum=(0, 0))
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "y"
    assert any("log10" in other.get_ylabel() for other in ax.figure.axes if other is not ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["GD", "minimum"]


def test_plot_activations_rejects_unknown_names():
    axes = plot_activations(["relu", "gelu"])
    assert [ax.get_title() for ax in axes] == ["relu", "gelu"]
    with pytest.raises(KeyError, match="choose from"):
        plot_activations(["swish"])
