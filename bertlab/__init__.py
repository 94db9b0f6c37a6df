"""bertlab: BERT from the ground up.

The companion package of the bertlab notebooks. Each module holds one idea,
in the order the notebooks meet them; every docstring says which notebook
teaches it.
"""

__version__ = "0.1.0"
