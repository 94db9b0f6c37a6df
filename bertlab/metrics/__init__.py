"""Metrics written from scratch, each checked against its reference (scikit-learn, seqeval, the SQuAD v1.1 script)."""

SCORES = ("accuracy", "macro_f1", "precision", "recall", "f1")
"""The report entries that are shares of 1 (scikit-learn's and seqeval's scale)."""


def as_percent(report):
    """A copy of a metrics report with every share (`SCORES`) turned into percent, at any depth.

    The command line prints every task's metrics on one scale, percent, as the official
    SQuAD script does; scikit-learn and seqeval report shares of 1.
    """
    if isinstance(report, dict):
        return {
            key: 100 * value if key in SCORES and isinstance(value, float) else as_percent(value)
            for key, value in report.items()
        }
    if isinstance(report, list):
        return [as_percent(value) for value in report]
    return report
