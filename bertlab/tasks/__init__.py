"""Downstream tasks: classification (notebook 10), NER (11), extractive QA (12)."""
