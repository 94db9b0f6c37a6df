"""Pictures and widgets used across the notebooks.

Attention (notebooks 06, 08 and 08b): `head_view` and `model_view` render bertviz's
views offline; `show_attention` runs a model on a text first; `plot_attention`,
`plot_head_grid`, `plot_attention_thumbnails` and `plot_head_scores` are static
matplotlib pictures; `attention_explorer` is the ipywidgets explorer; the
`head_roles` module scores what heads do over many sentences.

Diagrams drawn with code (notebooks 06-08): `draw_attention_block`,
`draw_bert_input`, `draw_encoder_block`, `draw_bert_model`, `draw_model_family`.
"""

from bertlab.viz.attention_views import (
    AttentionView,
    attention_array,
    compute_attention,
    head_view,
    model_view,
    show_attention,
)
from bertlab.viz.diagrams import (
    draw_attention_block,
    draw_bert_input,
    draw_bert_model,
    draw_encoder_block,
    draw_model_family,
)
from bertlab.viz.explorer import AttentionExplorer, attention_explorer
from bertlab.viz.heatmaps import (
    plot_attention,
    plot_attention_thumbnails,
    plot_head_grid,
    plot_head_scores,
)

__all__ = [
    "AttentionExplorer",
    "AttentionView",
    "attention_array",
    "attention_explorer",
    "compute_attention",
    "draw_attention_block",
    "draw_bert_input",
    "draw_bert_model",
    "draw_encoder_block",
    "draw_model_family",
    "head_view",
    "model_view",
    "plot_attention",
    "plot_attention_thumbnails",
    "plot_head_grid",
    "plot_head_scores",
    "show_attention",
]
