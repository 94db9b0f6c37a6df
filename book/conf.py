"""Sphinx configuration of the bertlab web book: `make book` builds it into build/book/.

The pages are the notebooks with the outputs committed in them: myst-nb renders those outputs and
runs no kernel (`nb_execution_mode = "off"`). Every file a page loads comes from the build itself:
the theme's own scripts and fonts, MathJax 2 from the PyPI package jupyter-server-mathjax
(copied by `_ext/bertlab_book.py`), the ipywidgets renderer vendored in `_static/widgets/` (its
README says where it came from), and the attention views' JavaScript, which bertlab writes inline.
`book/build.py` lays out the source folder that Sphinx reads (book/index.md, notebooks/, solutions/).
"""

import sys
from pathlib import Path

BOOK = Path(__file__).resolve().parent
sys.path.insert(0, str(BOOK / "_ext"))

project = "bertlab"
author = "the bertlab contributors"
copyright = "bertlab contributors, MIT licence"
html_title = "bertlab: BERT from the ground up"

extensions = ["myst_nb", "sphinx.ext.mathjax", "bertlab_book"]
root_doc = "index"
# The source folder also links the package and benchmarks (notebooks link to their files, which
# become downloads); only these are pages.
include_patterns = ["index.md", "notebooks/*.ipynb", "solutions/*.ipynb"]
exclude_patterns = ["**/.ipynb_checkpoints"]

# --- notebooks: committed outputs, never executed ----------------------------------------------
nb_execution_mode = "off"
nb_merge_streams = True
# The widgets' saved state is drawn by @jupyter-widgets/html-manager, served from _static.
nb_ipywidgets_js = {"widgets/embed.js": {}}
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# --- math: MathJax 2.7 served from the build (sphinx.ext.mathjax writes \( \) and \[ \]) ------
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    "tex2jax": {
        "inlineMath": [["\\(", "\\)"]],
        "displayMath": [["\\[", "\\]"]],
        "processEscapes": True,
    },
    "HTML-CSS": {
        # The package ships the STIX-Web fonts only (as Jupyter's classic notebook uses them).
        "availableFonts": [],
        "preferredFont": None,
        "webFont": "STIX-Web",
        "imageFont": None,
        # MathJax's blank test font is url('about:blank'), which Chromium logs as a CORS error;
        # a local() name that no machine has fails the same way, silently.
        "styles": {"@font-face": {"font-family": "MathJax_Blank", "src": "local('MathJax Blank')"}},
    },
    # The hidden MathML copy for screen readers styles \mathbb and \mathcal with MathJax's TeX
    # fonts, which the package does not ship (Chromium then asks for them and gets 404s).
    "menuSettings": {"zoom": "None", "assistiveMML": False},
    "messageStyle": "none",  # no "Loading [MathJax]..." box in the corner
}
myst_update_mathjax = False  # its classes are written for MathJax 3/4

# --- theme: sphinx-book-theme, everything local --------------------------------------------------
html_theme = "sphinx_book_theme"
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "search_bar_text": "Search the series...",
}
html_context = {"default_mode": "light"}  # with no mode set, the theme logs a console error
html_static_path = ["_static"]
html_css_files = ["bertlab-book.css"]
html_sourcelink_suffix = ""  # "download" hands out the .ipynb itself
html_last_updated_fmt = None
