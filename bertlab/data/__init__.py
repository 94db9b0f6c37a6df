"""Dataset loaders, one module a dataset family (see `bertlab.hub` for where files come from)."""
