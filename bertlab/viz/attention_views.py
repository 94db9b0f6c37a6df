"""bertviz's head view and model view, working offline and any number of times.

Notebook 08 opens these views on the encoder it builds; notebook 08b tours the
heads of the real MiniLM weights with them.

bertviz draws the views with its own JavaScript, but asks require.js to fetch
d3 and jQuery from a CDN: offline, in JupyterLab (no require.js) or after a
first view, the output stays blank. Here the same bertviz scripts run inside a
self-contained `<script>`: the few libraries they need are inlined from
`bertlab/viz/static/` (see its README), no require.js is involved, and every
element a script looks up has an id unique to that view. The HTML is the same
in a notebook, in `html_action="return"` and in a saved standalone file.

`head_view` and `model_view` take bertviz's arguments (`attention` is a tuple
with one `[1, heads, n, n]` tensor per layer, as in `outputs.attentions`);
`show_attention` runs a model on a text or a sentence pair first.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from IPython.display import HTML, display

STATIC = resources.files("bertlab.viz") / "static"
VENDORED_SCRIPTS = (
    "jquery-3.7.1.slim.min.js",
    "d3-selection-1.4.2.min.js",
    "d3-color-1.4.1.min.js",
)
HTML_ACTIONS = ("view", "return", "save")
NO_ATTENTIONS_HELP = (
    "call the model with output_attentions=True; a bertlab model needs "
    "attn_implementation='explicit' and a transformers model attn_implementation='eager' "
    "(fused attention does not return its weights)"
)


class AttentionView(HTML):
    """The HTML of one attention view: displays in Jupyter, `.data` holds the fragment."""

    def __init__(self, fragment: str, title: str):
        super().__init__(fragment)
        self.title = title

    def standalone_html(self) -> str:
        """A whole HTML page with everything inline: it opens offline in any browser."""
        return (
            "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
            f"<title>{html.escape(self.title)}</title>\n</head>\n<body>\n"
            f"{self.data}\n</body>\n</html>\n"
        )

    def save_html(self, path: str | Path) -> Path:
        """Write `standalone_html()` to `path` (parent folders are created) and return it."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.standalone_html(), encoding="utf-8")
        return path


# ---------------------------------------------------------------- input checks


def attention_array(attention: Any) -> np.ndarray:
    """Stack per-layer attention weights into one float array `[layers, heads, n, n]`.

    Accepts what models return (`outputs.attentions`: one `[1, heads, n, n]` tensor
    per layer), per-layer `[heads, n, n]` arrays, or one `[layers, 1, heads, n, n]`
    tensor. Anything else gets an error that says what was expected.
    """
    if attention is None:
        raise ValueError(
            f"attention is None: the model returned no attention weights; {NO_ATTENTIONS_HELP}"
        )
    if isinstance(attention, torch.Tensor | np.ndarray):
        if attention.ndim != 5:
            raise ValueError(
                f"attention is one {attention.ndim}-D tensor of shape {tuple(attention.shape)}: "
                "pass a tuple with one [1, heads, n, n] tensor per layer "
                "(outputs.attentions), or a [layers, 1, heads, n, n] tensor"
            )
        attention = list(attention)
    if not isinstance(attention, Sequence) or len(attention) == 0:
        raise ValueError(
            f"attention must be a non-empty tuple of per-layer tensors, got {type(attention).__name__}"
        )
    layers = []
    for index, layer in enumerate(attention):
        if layer is None:
            raise ValueError(f"attention[{index}] is None: {NO_ATTENTIONS_HELP}")
        if isinstance(layer, torch.Tensor):
            layer = layer.detach().to(device="cpu", dtype=torch.float32).numpy()
        layer = np.asarray(layer, dtype=np.float32)
        if layer.ndim == 4:
            if layer.shape[0] != 1:
                raise ValueError(
                    f"attention[{index}] has a batch of {layer.shape[0]} examples "
                    f"(shape {layer.shape}); a view shows one: pass [a[i:i + 1] for a in attention]"
                )
            layer = layer[0]
        if layer.ndim != 3 or layer.shape[1] != layer.shape[2]:
            raise ValueError(
                f"attention[{index}] has shape {layer.shape}; expected [1, heads, n, n] "
                "(did the model run with output_attentions=True?)"
            )
        if layers and layer.shape != layers[0].shape:
            raise ValueError(
                f"attention[{index}] has shape {layer.shape} but attention[0] has "
                f"{layers[0].shape}: every layer must cover the same heads and tokens"
            )
        if not np.isfinite(layer).all():
            raise ValueError(f"attention[{index}] contains NaN or infinite weights")
        layers.append(layer)
    return np.stack(layers)


def _check_tokens(tokens: Any, n_positions: int) -> list[str]:
    if tokens is None:
        raise ValueError("'tokens' is required: the list of token strings the attention covers")
    if isinstance(tokens, str) or not all(isinstance(token, str) for token in tokens):
        raise TypeError(
            "tokens must be a list of strings, e.g. tokenizer.convert_ids_to_tokens(input_ids)"
        )
    tokens = list(tokens)
    if len(tokens) != n_positions:
        raise ValueError(
            f"the attention covers {n_positions} positions but {len(tokens)} tokens were given "
            f"({' '.join(tokens[:12])}{' ...' if len(tokens) > 12 else ''}); "
            "use the tokens of exactly the sequence the model saw (same padding and truncation)"
        )
    return tokens


def _check_indices(name: str, values: Sequence[int] | None, size: int, what: str) -> list[int]:
    if values is None:
        return list(range(size))
    values = [int(value) for value in values]
    bad = [value for value in values if not 0 <= value < size]
    if not values or bad:
        raise ValueError(f"{name}={values}: the model has {size} {what} (0..{size - 1})")
    return values


PAIR_FILTERS = (
    "All",
    "Sentence A -> Sentence A",
    "Sentence B -> Sentence B",
    "Sentence A -> Sentence B",
    "Sentence B -> Sentence A",
)


def _attention_data(weights: np.ndarray, tokens: list[str], sentence_b_start: int | None):
    """The attention entry bertviz's scripts read, and the names of its filters.

    For a pair, bertviz also wants the four sentence-to-sentence blocks; the page
    cuts them out of the full matrix (`expandPairFilters`) instead of carrying
    the same numbers twice.
    """
    n = len(tokens)
    if sentence_b_start is not None and (
        not isinstance(sentence_b_start, int | np.integer) or not 0 < sentence_b_start < n
    ):
        raise ValueError(
            f"sentence_b_start={sentence_b_start!r} must be an index inside the {n} tokens "
            "(the position of the first token of sentence B)"
        )
    names = [None] if sentence_b_start is None else list(PAIR_FILTERS)
    entry = {
        "name": names[0],
        # Whole thousandths (decoded in the page) are plenty for line opacities
        # and keep the page less than half the size of decimals.
        "attn": np.rint(weights.astype(np.float64) * 1000).astype(np.int64).tolist(),
        "left_text": tokens,
        "right_text": tokens,
    }
    return [entry], names


def _prettify(tokens: list[str]) -> list[str]:
    # bertviz's format_special_chars: byte-level BPE and SentencePiece space markers.
    return [t.replace("Ġ", " ").replace("▁", " ").replace("</w>", "") for t in tokens]


# ---------------------------------------------------------------- the HTML


def _vendored_libraries() -> str:
    """jQuery and d3 as local variables `jq` and `d3`, touching neither window nor require.js."""
    parts = []
    for name in VENDORED_SCRIPTS:
        source = (STATIC / name).read_text(encoding="utf-8")
        # With `module`/`exports` in scope the UMD wrappers export into them; `define`
        # is shadowed so that a page with require.js does not capture the modules.
        parts.append(
            "(function () { var define, module = {exports: {}}, exports = module.exports;\n"
            f"{source}\n;return module.exports; }})()"
        )
    jquery, selection, color = parts
    return f"""var jq = {jquery};
var d3 = {selection};
(function (color) {{ for (var key in color) {{ if (!(key in d3)) d3[key] = color[key]; }} }})({color});
d3.version = "bertlab: d3-selection 1.4.2 + d3-color 1.4.1";
d3.schemeCategory10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                       "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
d3.scaleOrdinal = function (range) {{
  var index = new Map(), colours = (range || []).slice();
  return function (value) {{
    var key = value + "";
    if (!index.has(key)) index.set(key, index.size);
    return colours[index.get(key) % colours.length];
  }};
}};
"""


def _bertviz_script(name: str, root_id: str) -> str:
    """bertviz's `<name>.js` with require.js taken out and element lookups made unique."""
    import bertviz

    path = Path(bertviz.__file__).parent / f"{name}.js"
    source = path.read_text(encoding="utf-8")
    edits = [
        (r"require\.config\(\{.*?\n\}\);", ""),
        (
            r"requirejs\(\['jquery', 'd3'\],\s*function\s*\(\$, d3\)\s*\{",
            "var draw = function ($, d3) {",
        ),
        (r"\}\);\s*$", "};"),
    ]
    if name == "model_view":
        # bertviz draws the model view 970 pixels wide, wider than a JupyterLab output
        # (the last head columns were cut off): scale the drawing to the output's width.
        edits.append(
            (
                r'\.attr\("width", DIV_WIDTH\)\s*\.attr\("height", config\.divHeight\)',
                '.attr("viewBox", "0 0 " + DIV_WIDTH + " " + config.divHeight)'
                '.attr("width", "100%").style("max-width", DIV_WIDTH + "px")'
                '.style("height", "auto")',
            )
        )
    for pattern, replacement in edits:
        source, count = re.subn(pattern, replacement, source, count=1, flags=re.S)
        if count != 1:
            raise RuntimeError(
                f"{path} (bertviz {getattr(bertviz, '__version__', '?')}) no longer has the shape "
                f"bertlab.viz expects (pattern {pattern!r}); pin bertviz==1.4.1"
            )
    # `#root #layer` would match the first of several views' selects if ids repeat:
    # give each view's form elements their own ids.
    source = re.sub(r"#\$\{config\.rootDivId\} #(\w+)", r"#${config.rootDivId}-\1", source)
    return source.replace("PYTHON_PARAMS", "PARAMS")


def _json_for_script(value: Any) -> str:
    # "<" escaped so that a token like "</script>" cannot end the script early.
    return json.dumps(value).replace("<", "\\u003c")


def _render(name: str, params: dict, root_id: str, controls: str, title: str) -> AttentionView:
    script = f"""(function () {{
var ROOT_ID = {json.dumps(root_id)};
var PARAMS = {_json_for_script(params)};
{_vendored_libraries()}
{_bertviz_script(name, root_id)}
function decodeAndExpand(params) {{
  var full = params.attention[0];
  full.attn = full.attn.map(function (layer) {{
    return layer.map(function (head) {{
      return head.map(function (row) {{
        return row.map(function (thousandths) {{ return thousandths / 1000; }});
      }});
    }});
  }});
  var b = params.sentence_b_start;
  if (b === null) return;
  var n = full.left_text.length;
  function block(name, r0, r1, c0, c1) {{
    return {{
      name: name,
      attn: full.attn.map(function (layer) {{
        return layer.map(function (head) {{
          return head.slice(r0, r1).map(function (row) {{ return row.slice(c0, c1); }});
        }});
      }}),
      left_text: full.left_text.slice(r0, r1),
      right_text: full.right_text.slice(c0, c1)
    }};
  }}
  params.attention.push(
    block("Sentence A -> Sentence A", 0, b, 0, b),
    block("Sentence B -> Sentence B", b, n, b, n),
    block("Sentence A -> Sentence B", 0, b, b, n),
    block("Sentence B -> Sentence A", b, n, 0, b)
  );
}}
function start(triesLeft) {{
  var root = document.getElementById(ROOT_ID);
  if (!root) {{
    // Some front ends insert the output into the page after running its scripts.
    if (triesLeft > 0) setTimeout(function () {{ start(triesLeft - 1); }}, 50);
    return;
  }}
  if (root.getAttribute("data-rendered")) return;
  root.setAttribute("data-rendered", "yes");
  var notice = document.getElementById(ROOT_ID + "-notice");
  decodeAndExpand(PARAMS);
  try {{
    draw(jq, d3);
    if (notice) notice.remove();
  }} catch (error) {{
    if (notice) notice.textContent = "The attention view failed: " + error;
    throw error;
  }}
}}
start(200);
}})();"""
    fragment = f"""<div id="{root_id}" class="bertlab-attention-view" data-view="{name}" style="font-family:'Helvetica Neue', Helvetica, Arial, sans-serif;">
<p id="{root_id}-notice" style="color:#888">{html.escape(title)}: run the cell (or trust the notebook) to draw it.</p>
<span style="user-select:none">{controls}</span>
<div id="{root_id}-vis"></div>
</div>
<script type="text/javascript">
{script}
</script>"""
    return AttentionView(fragment, title)


def _finish(view: AttentionView, html_action: str, path: str | Path | None):
    if html_action == "view":
        display(view)
        return None
    if html_action == "return":
        return view
    if path is None:
        raise ValueError("html_action='save' needs path='some/file.html'")
    return view.save_html(path)


def _check_action(html_action: str, path) -> None:
    if html_action not in HTML_ACTIONS:
        raise ValueError(f"html_action={html_action!r} must be one of {HTML_ACTIONS}")
    if html_action != "save" and path is not None:
        raise ValueError("path= is only used with html_action='save'")


def _filter_select(root_id: str, names: list[str | None]) -> str:
    if len(names) == 1:
        return ""
    options = "".join(
        f'<option value="{i}">{html.escape(name)}</option>' for i, name in enumerate(names)
    )
    return f'Attention: <select id="{root_id}-filter">{options}</select>'


def _view_params(kind: str, attn_data, sentence_b_start, **view_options) -> tuple[str, dict]:
    """A fresh element id and the parameters bertviz's script reads (the same for both views)."""
    root_id = f"bertlab-{kind}-{uuid.uuid4().hex}"
    params = {
        "attention": attn_data,
        "sentence_b_start": None if sentence_b_start is None else int(sentence_b_start),
        "default_filter": "0",
        "root_div_id": root_id,
        **view_options,
    }
    return root_id, params


def head_view(
    attention: Any = None,
    tokens: Sequence[str] | None = None,
    sentence_b_start: int | None = None,
    prettify_tokens: bool = True,
    layer: int | None = None,
    heads: Sequence[int] | None = None,
    include_layers: Sequence[int] | None = None,
    html_action: str = "view",
    path: str | Path | None = None,
):
    """bertviz's head view: one layer, lines from each token to the tokens it attends to.

    Arguments as in `bertviz.head_view`; `html_action` is "view" (display in the
    notebook, returns None), "return" (returns an `AttentionView` with `.data` and
    `.save_html(path)`) or "save" (writes a standalone HTML file to `path`, returns it).
    """
    _check_action(html_action, path)
    weights = attention_array(attention)
    n_layers, n_heads, n, _ = weights.shape
    tokens = _check_tokens(tokens, n)
    include_layers = _check_indices("include_layers", include_layers, n_layers, "layers")
    if layer is not None and layer not in include_layers:
        raise ValueError(f"layer={layer} is not among include_layers={include_layers}")
    heads = None if heads is None else _check_indices("heads", heads, n_heads, "heads")
    if prettify_tokens:
        tokens = _prettify(tokens)
    attn_data, filters = _attention_data(weights[include_layers], tokens, sentence_b_start)
    root_id, params = _view_params(
        "head-view",
        attn_data,
        sentence_b_start,
        layer=layer,
        heads=heads,
        include_layers=include_layers,
    )
    controls = f'Layer: <select id="{root_id}-layer"></select> {_filter_select(root_id, filters)}'
    view = _render("head_view", params, root_id, controls, "Attention head view")
    return _finish(view, html_action, path)


def model_view(
    attention: Any = None,
    tokens: Sequence[str] | None = None,
    sentence_b_start: int | None = None,
    prettify_tokens: bool = True,
    display_mode: str = "dark",
    include_layers: Sequence[int] | None = None,
    include_heads: Sequence[int] | None = None,
    html_action: str = "view",
    path: str | Path | None = None,
):
    """bertviz's model view: a thumbnail for every head of every layer; click one to enlarge.

    Arguments as in `bertviz.model_view`; `html_action` as in `head_view`.
    """
    _check_action(html_action, path)
    if display_mode not in ("light", "dark"):
        raise ValueError(f"display_mode={display_mode!r} must be 'light' or 'dark'")
    weights = attention_array(attention)
    n_layers, n_heads, n, _ = weights.shape
    tokens = _check_tokens(tokens, n)
    include_layers = _check_indices("include_layers", include_layers, n_layers, "layers")
    include_heads = _check_indices("include_heads", include_heads, n_heads, "heads")
    if prettify_tokens:
        tokens = _prettify(tokens)
    selected = weights[include_layers][:, include_heads]
    attn_data, filters = _attention_data(selected, tokens, sentence_b_start)
    root_id, params = _view_params(
        "model-view",
        attn_data,
        sentence_b_start,
        display_mode=display_mode,
        include_layers=include_layers,
        include_heads=include_heads,
        total_heads=n_heads,
    )
    view = _render(
        "model_view", params, root_id, _filter_select(root_id, filters), "Attention model view"
    )
    return _finish(view, html_action, path)


# ---------------------------------------------------------------- from a model


def compute_attention(model, tokenizer, text: str, text_pair: str | None = None):
    """Run `model` on one text (or pair) and return `(attentions, tokens, sentence_b_start)`.

    Works with a bertlab model (explicit attention) or a transformers BERT (eager
    attention) and either tokenizer. `attentions` is one `[1, heads, n, n]` tensor
    per layer, `sentence_b_start` is None for a single text.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    encoding = tokenizer(text, text_pair, return_tensors="pt")
    inputs = {
        key: encoding[key]
        for key in ("input_ids", "attention_mask", "token_type_ids")
        if key in encoding
    }
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            outputs = model(**inputs, output_attentions=True)
    finally:
        model.train(was_training)
    attentions = getattr(outputs, "attentions", None)
    if attentions is None or len(attentions) == 0 or any(a is None for a in attentions):
        raise ValueError(
            f"{type(model).__name__} returned no attention weights: {NO_ATTENTIONS_HELP}"
        )
    ids = encoding["input_ids"][0].tolist()
    tokens = tokenizer.convert_ids_to_tokens(ids)
    sentence_b_start = None
    if text_pair is not None:
        types = encoding["token_type_ids"][0].tolist()
        sentence_b_start = types.index(1) if 1 in types else None
    return tuple(attentions), tokens, sentence_b_start


def show_attention(
    model,
    tokenizer,
    text: str,
    text_pair: str | None = None,
    view: str = "head",
    **view_arguments,
):
    """Run the model on `text` (and `text_pair`) and open the `view` ("head" or "model").

    `view_arguments` go to `head_view` / `model_view` (e.g. `html_action="return"`).
    """
    views = {"head": head_view, "model": model_view}
    if view not in views:
        raise ValueError(f"view={view!r} must be 'head' or 'model'")
    attentions, tokens, sentence_b_start = compute_attention(model, tokenizer, text, text_pair)
    return views[view](attentions, tokens, sentence_b_start=sentence_b_start, **view_arguments)
