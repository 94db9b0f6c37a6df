"""Downstream tasks: classification (notebook 10), NER (11), extractive QA (12)."""


def cli_defaults(
    *,
    max_length: int,
    batch_size: int,
    lr: float,
    max_seconds: float,
    epochs: float,
    head_lr_multiplier: float = 10.0,
) -> dict:
    """A task's `CLI_DEFAULTS`: its own length, batch, learning rate and budget, plus the
    recipe every task shares (no dropout, frozen word embeddings; the head's learning rate
    10× the body's unless the task says otherwise)."""
    return dict(
        max_length=max_length,
        batch_size=batch_size,
        lr=lr,
        max_seconds=max_seconds,
        epochs=epochs,
        dropout=0.0,
        freeze_word_embeddings=True,
        head_lr_multiplier=head_lr_multiplier,
    )
