"""Metrics written from scratch, each checked against its reference (scikit-learn, seqeval, the SQuAD v1.1 script)."""
