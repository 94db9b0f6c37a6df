"""Attention as static matplotlib pictures: for PDF/HTML exports and readers without a kernel.

Notebooks 06 and 08 show one head as a heatmap; 06 and 08b draw every head of a
layer (`plot_head_grid`), every head of every layer (`plot_attention_thumbnails`)
and per-head scores (`plot_head_scores`). Rows are the tokens that attend,
columns the tokens they attend to; each row sums to 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from bertlab.viz.attention_views import _check_tokens, attention_array


def plot_attention(
    matrix: Any,
    tokens: Sequence[str],
    ax=None,
    title: str | None = None,
    key_tokens: Sequence[str] | None = None,
    cmap: str = "viridis",
    colorbar: bool = True,
    fontsize: float = 8,
):
    """One head's `[n, n]` attention as a heatmap with token labels; returns the axes.

    The colour scale is fixed to 0..1 (every row is a probability distribution),
    so two heads' pictures compare directly; the colour bar says so.
    """
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"plot_attention needs one [n, n] matrix, got shape {matrix.shape}")
    key_tokens = list(tokens) if key_tokens is None else list(key_tokens)
    if matrix.shape != (len(tokens), len(key_tokens)):
        raise ValueError(
            f"attention matrix of shape {matrix.shape} does not fit "
            f"{len(tokens)} query tokens x {len(key_tokens)} key tokens"
        )
    if ax is None:
        size = max(3.0, 0.3 * len(tokens) + 1.5)
        _, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(matrix, cmap=cmap, vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(key_tokens)), key_tokens, rotation=90, fontsize=fontsize)
    ax.set_yticks(range(len(tokens)), tokens, fontsize=fontsize)
    ax.set_xlabel("attended to (key)")
    ax.set_ylabel("attending (query)")
    if title:
        ax.set_title(title, fontsize=10)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.03, label="attention weight")
    return ax


def plot_head_grid(attention: Any, tokens: Sequence[str], layer: int, columns: int = 4):
    """Every head of one layer, side by side, with token labels; returns the figure."""
    weights = attention_array(attention)
    n_layers, n_heads, n, _ = weights.shape
    tokens = _check_tokens(tokens, n)
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer={layer}: the model has {n_layers} layers (0..{n_layers - 1})")
    rows = -(-n_heads // columns)
    cell = max(2.2, 0.17 * n + 0.8)
    figure, axes = plt.subplots(
        rows, columns, figsize=(columns * cell, rows * cell), squeeze=False, layout="constrained"
    )
    for head, ax in enumerate(axes.flat):
        if head >= n_heads:
            ax.axis("off")
            continue
        image = ax.imshow(weights[layer, head], cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_title(f"layer {layer}, head {head}", fontsize=9)
        ax.set_xticks(range(n), tokens, rotation=90, fontsize=6)
        ax.set_yticks(range(n), tokens, fontsize=6)
    figure.colorbar(image, ax=axes, shrink=0.6, label="attention weight")
    figure.suptitle(f"All {n_heads} heads of layer {layer} (row attends to column)")
    return figure


def plot_attention_thumbnails(attention: Any, cell: float = 0.9):
    """A thumbnail of every head of every layer (layers down, heads across); returns the figure."""
    weights = attention_array(attention)
    n_layers, n_heads = weights.shape[:2]
    figure, axes = plt.subplots(
        n_layers,
        n_heads,
        figsize=(n_heads * cell + 0.6, n_layers * cell + 0.6),
        squeeze=False,
        layout="constrained",
    )
    for layer in range(n_layers):
        for head in range(n_heads):
            ax = axes[layer, head]
            image = ax.imshow(weights[layer, head], cmap="viridis", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
            if layer == 0:
                ax.set_title(str(head), fontsize=8)
            if head == 0:
                ax.set_ylabel(str(layer), fontsize=8, rotation=0, labelpad=8)
    figure.colorbar(image, ax=axes, shrink=0.5, label="attention weight")
    figure.suptitle("Every head (columns) of every layer (rows)", fontsize=10)
    return figure


def plot_head_scores(
    scores: Any,
    title: str,
    ax=None,
    cmap: str = "magma",
    fmt: str = "{:.2f}",
    vmin: float | None = 0.0,
    vmax: float | None = None,
    colorbar: bool = True,
):
    """A `[layers, heads]` table of one score per head, coloured and annotated; returns the axes."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be [layers, heads], got shape {scores.shape}")
    n_layers, n_heads = scores.shape
    if ax is None:
        _, ax = plt.subplots(figsize=(0.55 * n_heads + 1.5, 0.45 * n_layers + 1.2))
    image = ax.imshow(scores, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    middle = (image.norm.vmin + image.norm.vmax) / 2
    for layer in range(n_layers):
        for head in range(n_heads):
            value = scores[layer, head]
            ax.text(
                head,
                layer,
                fmt.format(value),
                ha="center",
                va="center",
                fontsize=7,
                color="black" if value > middle else "white",
            )
    ax.set_xticks(range(n_heads))
    ax.set_yticks(range(n_layers))
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(title, fontsize=10)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    return ax
