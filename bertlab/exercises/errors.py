"""The two errors of the exercise framework: an unknown id, and a malformed definition."""

from __future__ import annotations


class UnknownExerciseError(LookupError):
    """An exercise id or notebook that is not registered; the message lists the ones that are."""

    def __str__(self) -> str:  # LookupError would quote the message
        return str(self.args[0])


class ExerciseDefinitionError(ValueError):
    """A notebook module defines an exercise or a quiz the framework cannot check."""
