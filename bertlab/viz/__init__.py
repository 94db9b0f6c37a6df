"""Pictures and widgets used across the notebooks.

Attention views (notebooks 08 and 08b): `head_view` and `model_view` render
bertviz's views offline; `show_attention` runs a model on a text first;
`plot_attention`, `plot_head_grid` and `plot_attention_thumbnails` are the static
matplotlib versions; `attention_explorer` is the ipywidgets explorer.
"""

from bertlab.viz.attention_views import (
    AttentionView,
    attention_array,
    compute_attention,
    head_view,
    model_view,
    show_attention,
)

__all__ = [
    "AttentionView",
    "attention_array",
    "compute_attention",
    "head_view",
    "model_view",
    "show_attention",
]
