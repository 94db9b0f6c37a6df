"""Pictures and widgets used across the notebooks."""
