"""The pictures of notebook 13 that are more than a line plot."""

from __future__ import annotations

import torch

from bertlab.efficiency.precision import FORMATS, bit_fields

FIELD_COLOURS = {"sign": "#e45756", "exponent": "#4c78a8", "mantissa": "#54a24b"}


def plot_bit_layouts(value: float = 0.1, ax=None):
    """fp32, fp16 and bf16 drawn bit by bit (sign, exponent, mantissa) for one `value`.

    Each row is one format, one cell a bit, coloured by its field; the right margin says
    which number the bits actually hold (the value rounded to the format).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    if ax is None:
        _, ax = plt.subplots(figsize=(11, 2.6))
    for row, dtype in enumerate(FORMATS):
        y = len(FORMATS) - 1 - row
        fields = dict(zip(FIELD_COLOURS, bit_fields(value, dtype)))
        x = 0
        for field, bits in fields.items():
            for bit in bits:
                ax.add_patch(
                    Rectangle((x, y), 1, 0.8, facecolor=FIELD_COLOURS[field], edgecolor="white")
                )
                ax.text(x + 0.5, y + 0.4, bit, ha="center", va="center", color="white", fontsize=8)
                x += 1
        stored = float(torch.tensor(value).to(dtype).float())
        name = str(dtype).removeprefix("torch.")
        ax.text(-0.5, y + 0.4, name, ha="right", va="center", fontsize=10)
        ax.text(33, y + 0.4, f"holds {stored:.10g}", ha="left", va="center", fontsize=9)
    ax.set_xlim(-7, 45)
    ax.set_ylim(-0.2, len(FORMATS))
    ax.axis("off")
    exponent16, mantissa16 = FORMATS[torch.float16]
    ax.set_title(
        f"{value} in three formats: fp16 has {exponent16} exponent bits (range) and "
        f"{mantissa16} mantissa bits; bf16 keeps fp32's 8 exponent bits and 7 mantissa bits",
        fontsize=10,
    )
    ax.legend(
        handles=[Patch(color=c, label=f) for f, c in FIELD_COLOURS.items()],
        loc="lower right",
        fontsize=8,
        ncol=3,
        frameon=False,
        bbox_to_anchor=(1.0, -0.15),
    )
    return ax.figure
