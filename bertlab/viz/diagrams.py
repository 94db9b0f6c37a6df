"""Diagrams of BERT's parts, drawn with matplotlib so they are versioned and consistent.

Notebook 06 draws the attention block, 07 the input embeddings, 08 the post-LN
encoder block, the whole model and BERT among its neighbours (ELMo, GPT). Every
function returns the matplotlib figure (or draws into `ax`) and uses one style:
data and tensors grey, embeddings green, attention orange, the feed-forward
network blue, normalisation yellow; arrows point the way the data flows,
bottom to top as in the papers' figures.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib import patheffects
from matplotlib.patches import Circle, FancyBboxPatch, Rectangle

COLORS = {
    "data": "#eeeeee",
    "embedding": "#d9ead3",
    "attention": "#fce5cd",
    "ffn": "#cfe2f3",
    "norm": "#fff2cc",
    "head": "#ead1dc",
    "lstm": "#d0e0e3",
}
EDGE = "#444444"


# ------------------------------------------------------------------ primitives


def _axes(ax, size: tuple[float, float]):
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    ax.set_axis_off()
    ax.set_aspect("equal")
    return ax


def _box(ax, x, y, w, h, text, kind="data", fontsize=9, **text_options):
    """A rounded box centred on (x, y); returns its (bottom, top) y for arrows."""
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.08",
            facecolor=COLORS[kind],
            edgecolor=EDGE,
            linewidth=1.0,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, **text_options)
    return y - h / 2, y + h / 2


def _arrow(ax, start, end, **options):
    style = {"arrowstyle": "-|>", "color": EDGE, "lw": 1.1, "shrinkA": 0, "shrinkB": 0}
    style.update(options)
    ax.annotate("", xy=end, xytext=start, arrowprops=style)


def _line(ax, points, **options):
    xs, ys = zip(*points)
    ax.plot(xs, ys, color=options.pop("color", EDGE), lw=options.pop("lw", 1.1), **options)


def _add_node(ax, x, y, radius=0.16):
    ax.add_patch(Circle((x, y), radius, facecolor="white", edgecolor=EDGE, linewidth=1.0))
    ax.text(x, y, "+", ha="center", va="center", fontsize=11)


def _frame(ax, xlim, ylim):
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    return ax.figure


# ------------------------------------------------------------------ notebook 06


def draw_attention_block(ax=None):
    """Multi-head scaled dot-product attention, one head's path drawn out (notebook 06)."""
    ax = _axes(ax, (6.2, 7.6))
    q, k, v, mid = 1.2, 2.7, 4.4, 1.95
    _, x_top = _box(ax, 2.8, 0.4, 4.4, 0.5, "input X   [n, H]")
    linears = {}
    for x, name in ((q, "Q"), (k, "K"), (v, "V")):
        _arrow(ax, (x, x_top), (x, 1.25))
        bottom, top = _box(ax, x, 1.5, 1.2, 0.5, f"Linear $W_{name}$", "attention")
        linears[name] = top
        ax.text(x - 0.06, top + 0.12, f"{name} [n, $d_k$]", fontsize=7, color="#555", ha="right")
    _arrow(ax, (q, linears["Q"]), (q, 2.35))
    _arrow(ax, (k, linears["K"]), (k, 2.35))
    _, s_top = _box(ax, mid, 2.6, 2.4, 0.5, r"MatMul $QK^\top$  [n, n]", "head")
    steps = [
        (r"scale: $\div\sqrt{d_k}$", "head"),
        ("add mask M (0 or -inf)", "head"),
        ("softmax over the keys", "head"),
        ("dropout (training)", "head"),
    ]
    y = 3.5
    for text, kind in steps:
        _arrow(ax, (mid, s_top), (mid, y - 0.25))
        _, s_top = _box(ax, mid, y, 2.4, 0.5, text, kind)
        y += 0.9
    _arrow(ax, (mid, s_top), (mid, y - 0.25))
    _arrow(ax, (v, linears["V"]), (v, y))
    _arrow(ax, (v, y), (mid + 1.2, y))
    _, w_top = _box(ax, mid, y, 2.4, 0.5, "MatMul weights · V", "head")
    ax.add_patch(
        Rectangle(
            (0.35, 1.1),
            4.9,
            y - 0.55,
            fill=False,
            linestyle="--",
            edgecolor="#999",
            linewidth=1.0,
        )
    )
    ax.text(3.8, 4.0, "× h heads,\nin parallel", fontsize=8, ha="center", color="#555")
    _arrow(ax, (mid, w_top), (mid, y + 0.75))
    _, c_top = _box(ax, mid + 0.85, y + 1.0, 4.1, 0.5, "concatenate the h heads  [n, H]", "data")
    _arrow(ax, (mid + 0.85, c_top), (mid + 0.85, y + 1.65))
    _, o_top = _box(ax, mid + 0.85, y + 1.9, 2.4, 0.5, "Linear $W_O$", "attention")
    _arrow(ax, (mid + 0.85, o_top), (mid + 0.85, y + 2.5))
    ax.text(mid + 0.85, y + 2.65, "output  [n, H]", ha="center", fontsize=9)
    ax.set_title("Multi-head self-attention", fontsize=11)
    return _frame(ax, (0, 5.6), (0, y + 3.0))


# ------------------------------------------------------------------ notebook 07


def draw_bert_input(tokens: Sequence[str], segment_ids: Sequence[int], ax=None):
    """BERT's input: token + segment + position embeddings, summed per token (notebook 07)."""
    tokens = list(tokens)
    if len(tokens) != len(segment_ids):
        raise ValueError(
            f"{len(tokens)} tokens but {len(segment_ids)} segment ids: give one per token"
        )
    n = len(tokens)
    pitch = max(1.0, 0.085 * (max(len(token) for token in tokens) + 3))  # room for E[token]
    ax = _axes(ax, (max(6.0, 1.05 * pitch * n + 2.2), 4.4))
    x0 = 2.2
    rows = [
        ("input", 0.3, "data", lambda i: tokens[i]),
        ("token\nembeddings", 1.4, "embedding", lambda i: f"E[{tokens[i]}]"),
        ("segment\nembeddings", 2.6, "norm", lambda i: "$E_A$" if segment_ids[i] == 0 else "$E_B$"),
        ("position\nembeddings", 3.8, "ffn", lambda i: f"$E_{{{i}}}$"),
    ]
    for label, y, kind, text in rows:
        ax.text(0.1, y, label, ha="left", va="center", fontsize=9)
        for i in range(n):
            _box(ax, x0 + pitch * i, y, 0.9 * pitch, 0.55, text(i), kind, fontsize=8)
    for i in range(n):
        for y in (0.85, 2.0, 3.2):
            ax.text(x0 + pitch * i, y, "+" if y > 1 else "↓", ha="center", va="center", fontsize=10)
    ax.text(
        x0 + pitch * (n - 1) / 2,
        4.55,
        "sum per token, then LayerNorm and dropout  →  [n, H]",
        ha="center",
        fontsize=9,
    )
    ax.set_title("BERT's input representation", fontsize=11)
    return _frame(ax, (0, x0 + pitch * (n - 0.5) + 0.1), (-0.2, 4.9))


# ------------------------------------------------------------------ notebook 08


def draw_encoder_block(ax=None, hidden: str = "H", intermediate: str = "4H"):
    """BERT's post-LN encoder block: attention and FFN, each inside residual + LayerNorm."""
    ax = _axes(ax, (4.8, 8.0))
    x, skip = 2.2, 0.4
    _, top = _box(ax, x, 0.3, 2.6, 0.45, f"h   [n, {hidden}]")
    blocks = [
        ("multi-head\nself-attention", "attention", 0.7),
        ("dropout", "head", 0.45),
    ]
    top = _stack(ax, x, top, 1.2, blocks)
    add_y = top + 0.45
    _arrow(ax, (x, top), (x, add_y - 0.16))
    _add_node(ax, x, add_y)
    _line(ax, [(x, 0.75), (x, 0.85), (skip, 0.85), (skip, add_y), (x - 0.16, add_y)])
    _arrow(ax, (skip, add_y), (x - 0.16, add_y))
    ax.text(skip - 0.05, (0.85 + add_y) / 2, "residual", rotation=90, ha="right", fontsize=8)
    _arrow(ax, (x, add_y + 0.16), (x, add_y + 0.5))
    _, top = _box(ax, x, add_y + 0.72, 2.6, 0.45, "LayerNorm", "norm")
    branch = top + 0.15
    blocks = [
        (f"Linear {hidden} → {intermediate}", "ffn", 0.45),
        ("GELU", "ffn", 0.45),
        (f"Linear {intermediate} → {hidden}", "ffn", 0.45),
        ("dropout", "head", 0.45),
    ]
    top = _stack(ax, x, top, top + 0.55, blocks)
    add2 = top + 0.45
    _arrow(ax, (x, top), (x, add2 - 0.16))
    _add_node(ax, x, add2)
    _line(ax, [(x, branch), (skip, branch), (skip, add2)])
    _arrow(ax, (skip, add2), (x - 0.16, add2))
    ax.text(skip - 0.05, (branch + add2) / 2, "residual", rotation=90, ha="right", fontsize=8)
    _arrow(ax, (x, add2 + 0.16), (x, add2 + 0.5))
    _, top = _box(ax, x, add2 + 0.72, 2.6, 0.45, "LayerNorm", "norm")
    _arrow(ax, (x, top), (x, top + 0.4))
    ax.text(x, top + 0.55, f"h'   [n, {hidden}]", ha="center", fontsize=9)
    ax.text(
        3.75, (add_y + add2) / 2 - 0.9, "feed-forward\nnetwork,\neach token\non its own", fontsize=8
    )
    ax.set_title("One post-LN encoder block", fontsize=11)
    return _frame(ax, (-0.2, 4.9), (0, top + 0.8))


def _stack(ax, x, top, first_centre, blocks):
    """Boxes one above the other from `first_centre`, arrows between; returns the last top."""
    y = first_centre
    for text, kind, height in blocks:
        _arrow(ax, (x, top), (x, y - height / 2))
        _, top = _box(ax, x, y, 2.6, height, text, kind)
        y = top + 0.25 + 0.45 / 2 + 0.05
    return top


def draw_bert_model(config=None, ax=None):
    """The whole BertModel: embeddings, N blocks, last_hidden_state and the pooler (notebook 08).

    With a `BertConfig`, the boxes carry its sizes (hidden, layers, heads, vocabulary).
    """
    hidden = getattr(config, "hidden_size", "H")
    layers = getattr(config, "num_hidden_layers", "N")
    heads = getattr(config, "num_attention_heads", "h")
    vocab = getattr(config, "vocab_size", "V")
    positions = getattr(config, "max_position_embeddings", 512)
    ax = _axes(ax, (6.4, 8.4))
    x = 2.6
    _, top = _box(ax, x, 0.3, 4.4, 0.5, "input_ids, token_type_ids, attention_mask   [batch, n]")
    _arrow(ax, (x, top), (x, 0.95))
    _, top = _box(
        ax,
        x,
        1.35,
        4.4,
        0.8,
        f"embeddings: word ({vocab:,} rows) + segment (2)\n+ position ({positions}), LayerNorm, dropout"
        if isinstance(vocab, int)
        else "embeddings: word + segment + position,\nLayerNorm, dropout",
        "embedding",
        fontsize=8,
    )
    y = top
    for name in ("block 1", "block 2", "⋮", f"block {layers}"):
        if name == "⋮":
            ax.text(x, y + 0.35, "⋮", ha="center", va="center", fontsize=14)
            y += 0.7
            continue
        _arrow(ax, (x, y), (x, y + 0.3))
        _, y = _box(
            ax,
            x,
            y + 0.6,
            4.4,
            0.6,
            f"encoder {name}: {heads}-head self-attention + FFN,\neach with residual + LayerNorm",
            "attention",
            fontsize=8,
        )
    ax.text(5.0, (top + y) / 2, f"× {layers}", fontsize=12, ha="left", va="center")
    _arrow(ax, (x, y), (x, y + 0.3))
    _, top = _box(ax, x, y + 0.55, 4.4, 0.5, f"last_hidden_state   [batch, n, {hidden}]")
    _arrow(ax, (x - 1.2, top), (x - 1.2, top + 0.45))
    ax.text(x - 1.15, top + 0.2, "[CLS] only", fontsize=7, ha="left", color="#555")
    _, ptop = _box(ax, x - 1.2, top + 0.75, 2.0, 0.6, "pooler:\ntanh(W h[CLS] + b)", "ffn", 8)
    _arrow(ax, (x - 1.2, ptop), (x - 1.2, ptop + 0.35))
    ax.text(x - 1.2, ptop + 0.5, f"pooler_output [batch, {hidden}]", ha="center", fontsize=8)
    _arrow(ax, (x + 1.2, top), (x + 1.2, ptop + 0.35))
    ax.text(x + 1.2, ptop + 0.5, "token vectors (NER, QA, MLM)", ha="center", fontsize=8)
    ax.set_title("BertModel", fontsize=11)
    return _frame(ax, (0, 5.8), (0, ptop + 0.8))


def draw_model_family(n_tokens: int = 5, axes=None):
    """ELMo, GPT and BERT side by side, as in Figure 3 of the BERT paper.

    A line from a lower node to a higher one means the higher vector is computed
    from the lower one. ELMo: a left-to-right and a right-to-left LSTM, each seeing
    one side, concatenated at the top; GPT: each position sees only earlier ones (a
    causal mask); BERT: every position sees every position in every layer.
    """
    if axes is None:
        figure, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    xs = range(n_tokens)
    titles = (
        "ELMo: two one-directional LSTMs,\nconcatenated at the top (shallow)",
        "GPT: left-to-right decoder\n(causal mask: only earlier tokens)",
        "BERT: deep bidirectional encoder\n(every token sees every token)",
    )
    for ax, title in zip(axes, titles):
        ax.set_axis_off()
        ax.set_title(title, fontsize=10)
        for i in xs:
            _box(ax, i, 0, 0.7, 0.45, f"$E_{i + 1}$", "embedding", 8)
            _box(ax, i, 3.6, 0.7, 0.45, f"$T_{i + 1}$", "data", 8)
        ax.set_xlim(-0.6, n_tokens - 0.4)
        ax.set_ylim(-0.5, 4.1)
    _draw_elmo(axes[0], n_tokens)
    for ax, causal in ((axes[1], True), (axes[2], False)):
        _draw_transformer(ax, n_tokens, causal)
    axes[0].figure.text(
        0.5,
        0.0,
        "blue: information from the left (earlier tokens, or the token itself); "
        "red: information from the right (later tokens)",
        ha="center",
        fontsize=9,
    )
    return axes[0].figure


def _draw_elmo(ax, n):
    for i in range(n):
        _box(ax, i - 0.18, 1.2, 0.36, 0.4, "", "lstm")
        _box(ax, i + 0.18, 2.3, 0.36, 0.4, "", "lstm")
        _arrow(ax, (i - 0.18, 0.22), (i - 0.18, 1.0), lw=0.8)
        _line(ax, [(i + 0.18, 0.22), (i + 0.18, 0.5), (i + 0.42, 0.5), (i + 0.42, 2.3)], lw=0.8)
        _arrow(ax, (i + 0.42, 2.3), (i + 0.36, 2.3), lw=0.8)
        _line(ax, [(i - 0.18, 1.4), (i - 0.18, 3.1)], lw=0.8)
        _line(ax, [(i + 0.18, 2.5), (i + 0.18, 3.1)], lw=0.8)
        _arrow(ax, (i, 3.1), (i, 3.38), lw=0.8)
        _line(ax, [(i - 0.18, 3.1), (i + 0.18, 3.1)], lw=0.8)
        if i + 1 < n:
            # A white halo: the line feeding the backward LSTM passes under this arrow.
            halo = [patheffects.withStroke(linewidth=5, foreground="white")]
            _arrow(ax, (i, 1.2), (i + 0.82, 1.2), color="tab:blue", lw=1.2, path_effects=halo)
            _arrow(ax, (i + 1, 2.3), (i + 0.36, 2.3), color="tab:red", lw=1.2)
    white = {"facecolor": "white", "edgecolor": "none", "pad": 1}
    ax.text(n / 2 - 0.5, 1.6, "forward LSTM", color="tab:blue", fontsize=8, ha="center", bbox=white)
    ax.text(n / 2 - 0.5, 2.7, "backward LSTM", color="tab:red", fontsize=8, ha="center", bbox=white)


def _draw_transformer(ax, n, causal):
    levels = (0, 1.2, 2.4, 3.6)
    for level in (1.2, 2.4):
        for i in range(n):
            _box(ax, i, level, 0.45, 0.4, "", "attention")
    for low, high in zip(levels, levels[1:]):
        low_top = low + (0.225 if low == 0 else 0.2)
        high_bottom = high - (0.225 if high == 3.6 else 0.2)
        for target in range(n):
            sources = range(target + 1) if causal else range(n)
            for source in sources:
                ax.plot(
                    [source, target],
                    [low_top, high_bottom],
                    color="tab:blue" if source <= target else "tab:red",
                    lw=0.6,
                    alpha=0.8,
                )
