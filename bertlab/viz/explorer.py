"""An ipywidgets attention explorer: type a sentence, pick a layer and a head.

Notebooks 06 and 08b open it on the MiniLM weights loaded into bertlab's encoder.
The picture is a matplotlib heatmap sent to an `Image` widget, so the explorer
needs no JavaScript beyond ipywidgets itself and works in JupyterLab,
Notebook 7 and VS Code alike. The picture is drawn at twice the pixels it is
shown with (sharp on high-density screens, never stretched) and at most
`MAX_SIDE_PIXELS` high, so the text boxes, the picture and its column labels fit
on a 1000-pixel-high screen together.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
from matplotlib.figure import Figure  # drawn off-screen: no pyplot state, any backend

from bertlab.viz.attention_views import compute_attention
from bertlab.viz.heatmaps import plot_attention

MEAN_OF_HEADS = "mean of heads"
SCREEN_DPI = 80  # screen pixels per inch of figure
SHARPNESS = 2  # image pixels per screen pixel
MAX_SIDE_PIXELS = 560  # the picture's height on screen, at most
TEXT_LAYOUT = {"width": "95%", "max_width": "60em"}  # room for a whole sentence


class AttentionExplorer:
    """Widgets (text box, layer and head selectors) around a live attention heatmap.

    `explorer.widget` is the ipywidgets box; the explorer displays itself in a
    notebook. `explorer.tokens` and `explorer.attentions` hold what is shown.
    """

    def __init__(self, model, tokenizer, text: str, text_pair: str | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.text = widgets.Text(
            value=text,
            description="text",
            continuous_update=False,
            layout=widgets.Layout(**TEXT_LAYOUT),
        )
        self.text_pair = widgets.Text(
            value=text_pair or "",
            description="pair",
            placeholder="optional second sentence",
            continuous_update=False,
            layout=widgets.Layout(**TEXT_LAYOUT),
        )
        self.layer = widgets.Dropdown(description="layer")
        self.head = widgets.Dropdown(description="head")
        self.image = widgets.Image(format="png")
        self.message = widgets.HTML()
        controls = widgets.HBox([self.layer, self.head])
        self.widget = widgets.VBox([self.text, self.text_pair, controls, self.message, self.image])
        self.tokens: list[str] = []
        self.attentions = ()
        self._updating = False
        self._run_model()
        self.text.observe(self._on_text, names="value")
        self.text_pair.observe(self._on_text, names="value")
        self.layer.observe(self._on_choice, names="value")
        self.head.observe(self._on_choice, names="value")

    def _run_model(self) -> None:
        pair = self.text_pair.value.strip() or None
        try:
            attentions, tokens, _ = compute_attention(
                self.model, self.tokenizer, self.text.value, pair
            )
        except ValueError as error:
            # A callback cannot raise to the reader: say what is wrong next to the box.
            self.message.value = f"<span style='color:#b00'>{error}</span>"
            return
        self.message.value = ""
        self.attentions, self.tokens = attentions, tokens
        n_layers, n_heads = len(attentions), attentions[0].shape[1]
        self._updating = True  # one redraw at the end, not one per changed option
        try:
            if self.layer.options != tuple(range(n_layers)):
                self.layer.options = list(range(n_layers))
                self.layer.value = 0
            head_options = (MEAN_OF_HEADS, *range(n_heads))
            if self.head.options != head_options:
                self.head.options = head_options
                self.head.value = 0
        finally:
            self._updating = False
        self._draw()

    def _on_text(self, change) -> None:
        self._run_model()

    def _on_choice(self, change) -> None:
        if self.attentions and not self._updating:
            self._draw()

    def selected_matrix(self):
        """The `[n, n]` attention shown now (one head, or the mean over heads)."""
        layer = self.attentions[self.layer.value][0]
        if self.head.value == MEAN_OF_HEADS:
            return layer.mean(dim=0).numpy()
        return layer[self.head.value].numpy()

    def figure_size(self) -> tuple[float, float]:
        """(width, height) in inches: grows with the tokens, capped to fit one screen."""
        height = min(MAX_SIDE_PIXELS / SCREEN_DPI, max(4.0, 0.26 * len(self.tokens) + 2.2))
        return height + 1.0, height  # + room for the colour bar

    def _draw(self) -> None:
        width, height = self.figure_size()
        figure = Figure(figsize=(width, height))
        ax = figure.add_subplot()
        title = f"layer {self.layer.value}, head {self.head.value}"
        n = len(self.tokens)
        fontsize = 9 if n <= 20 else 8 if n <= 32 else 6
        plot_attention(self.selected_matrix(), self.tokens, ax=ax, title=title, fontsize=fontsize)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=SCREEN_DPI * SHARPNESS)
        self.image.value = buffer.getvalue()
        # Shown at its own size (never stretched to the output's width).
        self.image.layout.width = f"{round(width * SCREEN_DPI)}px"
        self.image.layout.height = f"{round(height * SCREEN_DPI)}px"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def attention_explorer(model, tokenizer, text: str, text_pair: str | None = None):
    """Build an `AttentionExplorer` (display it, or put `.widget` in your own layout)."""
    return AttentionExplorer(model, tokenizer, text, text_pair)
