"""Knowledge distillation: a smaller student learns from the fine-tuned teacher's outputs.

Notebook 13 distils the fine-tuned SST-2 model (the teacher) into a student with half
its layers, initialised from the teacher's own layers (`student_from`, as DistilBERT
started from every other layer of BERT). Hinton, Vinyals and Dean (2015): the teacher's
probabilities, softened by a temperature T,

    p_i = exp(z_i / T) / Σ_j exp(z_j / T),

say more than the label does ("this review is 70% positive"), and the student is trained on

    L = α · T² · KL(p_teacher,T ‖ p_student,T) + (1 − α) · CE(label, p_student)

(the T² keeps the soft term's gradients on the scale of the hard one's as T changes).
With α = 0 the same code trains the same student on the labels alone, the comparison
the notebook makes at the same budget. The teacher's logits are computed once for the
training examples (`add_teacher_logits`), so each step costs only the student.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bertlab.batching import BucketedBatches, sorted_batches
from bertlab.efficiency.pruning import drop_layers
from bertlab.training import History, TrainingConfig, train

MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask")


def student_from(teacher: nn.Module, layers: Sequence[int]) -> nn.Module:
    """A copy of `teacher` that keeps only the encoder `layers` (e.g. (0, 2, 4)): the student's
    starting point, with the teacher's embeddings, pooler and classifier."""
    return drop_layers(teacher, layers)


@torch.no_grad()
def add_teacher_logits(
    features: list[dict], teacher: nn.Module, *, batch_size: int = 64, pad_token_id: int = 0
) -> list[dict]:
    """The features, each with `teacher_logits` (a list of floats) added: run the teacher once."""
    teacher.eval()
    logits: list = [None] * len(features)
    for indices, batch in sorted_batches(features, batch_size, pad_token_id):
        inputs = {key: batch[key] for key in MODEL_INPUTS if key in batch}
        for index, row in zip(indices, teacher(**inputs).logits.float().tolist()):
            logits[index] = row
    return [{**feature, "teacher_logits": row} for feature, row in zip(features, logits)]


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    temperature: float = 2.0,
    alpha: float = 0.5,
) -> torch.Tensor:
    """α · T² · KL(teacher ‖ student) at temperature T + (1 − α) · cross-entropy on the labels."""
    hard = F.cross_entropy(student_logits, labels)
    if alpha == 0:
        return hard
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=-1),
        F.log_softmax(teacher_logits / temperature, dim=-1),
        log_target=True,
        reduction="batchmean",
    )
    return alpha * temperature**2 * soft + (1 - alpha) * hard


@dataclass
class DistillationOutput:
    loss: torch.Tensor
    logits: torch.Tensor


class Distiller(nn.Module):
    """The student, with the distillation loss as the loss the training loop minimises."""

    def __init__(self, student: nn.Module, temperature: float = 2.0, alpha: float = 0.5) -> None:
        super().__init__()
        if temperature <= 0 or not 0 <= alpha <= 1:
            raise ValueError(
                f"need temperature > 0 and alpha in [0, 1], got {temperature}, {alpha}"
            )
        self.student, self.temperature, self.alpha = student, temperature, alpha

    def forward(self, labels, teacher_logits=None, **inputs) -> DistillationOutput:
        logits = self.student(**inputs).logits
        if teacher_logits is None and self.alpha > 0:
            raise ValueError("alpha > 0 needs teacher_logits in the batch: use add_teacher_logits")
        loss = distillation_loss(logits, teacher_logits, labels, self.temperature, self.alpha)
        return DistillationOutput(loss, logits)


def distil(
    student: nn.Module,
    features: list[dict],
    config: TrainingConfig,
    *,
    temperature: float = 2.0,
    alpha: float = 0.5,
    batch_size: int = 32,
    pad_token_id: int = 0,
    eval_fn: Callable[[nn.Module], dict] | None = None,
) -> History:
    """Train `student` (in place) on features with labels and `teacher_logits`; alpha=0: labels only.

    The batches are those of every fine-tuning run (`BucketedBatches`, shuffled with
    `config.seed`), so two calls that differ only in `alpha` see the same examples in the
    same order. `eval_fn(student)` is called as in `bertlab.training.train`.
    """
    batches = BucketedBatches(features, batch_size, pad_token_id=pad_token_id, seed=config.seed)
    distiller = Distiller(student, temperature, alpha)
    evaluate = (lambda model: eval_fn(model.student)) if eval_fn is not None else None
    return train(distiller, batches, config, eval_fn=evaluate)
