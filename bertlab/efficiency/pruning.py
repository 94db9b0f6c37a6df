"""Pruning: zeroing small weights, removing whole attention heads, dropping whole layers.

Notebook 13 compares three ways of making the fine-tuned model smaller:

- `magnitude_prune` (unstructured): set the smallest weights of the encoder's Linear
  layers to 0. The matrices keep their shape, so a dense kernel multiplies the zeros
  like any other number: accuracy drops and nothing gets faster, unless a sparse
  format and kernel are used (and at BERT's sparsity levels those rarely win on a CPU).
- `prune_heads` (structured): remove attention heads, i.e. their rows of the query,
  key and value matrices and their columns of the output projection. The matrices
  really shrink, so every product gets cheaper. `head_importance` says which heads to
  remove: Michel, Levy and Neubig (2019) multiply each head's output by a gate ξ = 1 and
  score the head by E|∂L/∂ξ|, the size of the loss's first-order change if the head
  were removed; `prune_heads_by_importance` removes the least important ones a step at
  a time and scores the rest again, as their code does.
- `drop_layers`: keep only some of the encoder's layers (Sajjad et al. 2023 found the
  top ones the cheapest to lose).

A pruned model saves with `save_folder` like any other: heads removed are recorded in
config.json as `pruned_heads` ({layer: [head, ...]}, heads numbered as in the unpruned
model), the format `transformers` 4 used (`PreTrainedModel.prune_heads`).
`bertlab.auto.load_model` reads it back (`apply_pruned_heads`). `transformers` 5 removed
head pruning, so it cannot load such a folder; a model with dropped layers has a plain
config and loads everywhere.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager

import torch
from torch import nn

PRUNED_HEADS = "pruned_heads"


def encoder_of(model: nn.Module) -> nn.Module:
    """The `BertEncoder` of a bare or task model (`model.bert.encoder` or `model.encoder`)."""
    base = getattr(model, "bert", model)
    if not hasattr(base, "encoder"):
        raise ValueError(f"{type(model).__name__} has no BERT encoder to prune")
    return base.encoder


# ----------------------------------------------------------------------------- magnitude


def encoder_linears(model: nn.Module) -> list[nn.Linear]:
    """Every Linear layer inside the encoder's blocks (attention and feed-forward)."""
    return [m for m in encoder_of(model).modules() if isinstance(m, nn.Linear)]


@torch.no_grad()
def magnitude_prune(model: nn.Module, sparsity: float, *, scope: str = "global") -> nn.Module:
    """A copy of `model` whose encoder Linear weights have their smallest `sparsity` share set to 0.

    `scope="global"` ranks all those weights together (layers whose weights are small lose
    more); "layer" removes the same share from every matrix.
    """
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    if scope not in ("global", "layer"):
        raise ValueError(f"scope must be 'global' or 'layer', got {scope!r}")
    pruned = copy.deepcopy(model)
    weights = [linear.weight for linear in encoder_linears(pruned)]
    groups = [weights] if scope == "global" else [[w] for w in weights]
    for group in groups:
        magnitudes = torch.cat([w.abs().flatten() for w in group])
        count = round(sparsity * magnitudes.numel())
        if count == 0:
            continue
        threshold = magnitudes.kthvalue(count).values
        for weight in group:
            weight.masked_fill_(weight.abs() <= threshold, 0.0)
    return pruned


def sparsity_of(model: nn.Module) -> float:
    """The share of exact zeros among the encoder's Linear weights."""
    weights = [linear.weight for linear in encoder_linears(model)]
    zeros = sum(int((w == 0).sum()) for w in weights)
    return zeros / sum(w.numel() for w in weights)


# ----------------------------------------------------------------------------- head importance


def heads_per_layer(model: nn.Module) -> list[int]:
    """How many attention heads each layer has now."""
    return [layer.attention.self.num_heads for layer in encoder_of(model).layer]


@contextmanager
def head_gates(model: nn.Module):
    """Gates ξ (one per head and layer, all 1, requiring grad) on every head's output.

    Yields the list of gate vectors; the model computes exactly what it computed without
    them, but `loss.backward()` now fills `gate.grad` with ∂L/∂ξ.
    """
    gates, handles = [], []
    for layer in encoder_of(model).layer:
        attention = layer.attention.self
        gate = torch.ones(attention.num_heads, requires_grad=True)

        def gated(module, inputs, output, gate=gate):
            context, weights = output
            per_feature = gate.to(context.dtype).repeat_interleave(module.head_dim)
            return context * per_feature, weights

        gates.append(gate)
        handles.append(attention.register_forward_hook(gated))
    try:
        yield gates
    finally:
        for handle in handles:
            handle.remove()


def head_importance(
    model: nn.Module, batches: Iterable[Mapping], *, normalize: bool = True
) -> list[torch.Tensor]:
    """Michel et al.'s score of every head now in the model: Σ over batches of |∂L/∂ξ_h|.

    `batches` carry labels (the model returns a loss). With `normalize`, each layer's
    scores are divided by their ℓ2 norm, so that layers compete on equal terms.
    Dropout is off; the model's weights get no gradient.
    """
    was_training = model.training
    model.eval()
    trainable = [p for p in model.parameters() if p.requires_grad]
    for parameter in trainable:
        parameter.requires_grad_(False)
    scores = [torch.zeros(n) for n in heads_per_layer(model)]
    try:
        with head_gates(model) as gates, torch.enable_grad():
            for batch in batches:
                model(**batch).loss.backward()
                for score, gate in zip(scores, gates):
                    score += gate.grad.abs()
                    gate.grad = None
    finally:
        for parameter in trainable:
            parameter.requires_grad_(True)
        model.train(was_training)
    if normalize:
        scores = [s / s.norm().clamp(min=1e-20) for s in scores]
    return scores


# ----------------------------------------------------------------------------- removing heads


def pruned_heads_of(model: nn.Module) -> dict[int, list[int]]:
    """{layer: heads removed so far}, heads numbered as in the unpruned model."""
    recorded = model.config.extra.get(PRUNED_HEADS) or {}
    return {int(layer): sorted(int(h) for h in heads) for layer, heads in recorded.items()}


def check_heads(model: nn.Module, heads: Mapping[int, Iterable[int]]) -> dict[int, list[int]]:
    """The request as {layer: sorted new heads}; a clear error for anything that cannot be done."""
    config, done = model.config, pruned_heads_of(model)
    layers, total = config.num_hidden_layers, config.num_attention_heads
    request: dict[int, list[int]] = {}
    for layer, wanted in heads.items():
        layer, wanted = int(layer), sorted({int(h) for h in wanted})
        if not 0 <= layer < layers:
            raise ValueError(f"layer {layer} does not exist: the model has layers 0-{layers - 1}")
        outside = [h for h in wanted if not 0 <= h < total]
        if outside:
            raise ValueError(
                f"layer {layer}: head {outside[0]} does not exist (heads are 0-{total - 1})"
            )
        again = sorted(set(wanted) & set(done.get(layer, [])))
        if again:
            raise ValueError(f"layer {layer}: head {again[0]} was already pruned")
        left = total - len(done.get(layer, [])) - len(wanted)
        if left < 1:
            raise ValueError(
                f"layer {layer}: pruning {len(wanted)} more heads leaves none "
                f"({total - len(done.get(layer, []))} left); drop the layer instead (drop_layers)"
            )
        if wanted:
            request[layer] = wanted
    return request


@torch.no_grad()
def remove_heads(layer: nn.Module, positions: Sequence[int]) -> None:
    """Cut heads (by their current position) out of one `BertLayer`, in place."""
    attention, projection = layer.attention.self, layer.attention.output.dense
    size, keep_heads = (
        attention.head_dim,
        [h for h in range(attention.num_heads) if h not in positions],
    )
    keep = torch.cat([torch.arange(h * size, (h + 1) * size) for h in keep_heads])
    for name in ("query", "key", "value"):
        old = getattr(attention, name)
        new = nn.Linear(
            old.in_features, len(keep), device=old.weight.device, dtype=old.weight.dtype
        )
        new.weight.copy_(old.weight[keep])
        new.bias.copy_(old.bias[keep])
        setattr(attention, name, new)
    new = nn.Linear(
        len(keep),
        projection.out_features,
        device=projection.weight.device,
        dtype=projection.weight.dtype,
    )
    new.weight.copy_(projection.weight[:, keep])
    new.bias.copy_(projection.bias)
    layer.attention.output.dense = new
    attention.num_heads = len(keep_heads)


def prune_heads(model: nn.Module, heads: Mapping[int, Iterable[int]]) -> nn.Module:
    """Remove `heads` ({layer: [head, ...]}, numbered as in the unpruned model) in place.

    Returns the model; config.json's `pruned_heads` records every head removed so far.
    """
    request, done = check_heads(model, heads), pruned_heads_of(model)
    layers = encoder_of(model).layer
    for index, wanted in request.items():
        remaining = [
            h for h in range(model.config.num_attention_heads) if h not in done.get(index, [])
        ]
        remove_heads(layers[index], [remaining.index(h) for h in wanted])
        done[index] = sorted(done.get(index, []) + wanted)
    model.config.extra[PRUNED_HEADS] = {str(layer): heads for layer, heads in sorted(done.items())}
    return model


def apply_pruned_heads(model: nn.Module) -> nn.Module:
    """Shrink a freshly built model to the heads its config says were pruned (for loading)."""
    recorded = pruned_heads_of(model)
    model.config.extra[PRUNED_HEADS] = {}
    return prune_heads(model, recorded)


def prune_heads_by_importance(
    model: nn.Module, batches: Sequence[Mapping], fraction: float, *, step: float = 0.1
) -> nn.Module:
    """A copy of `model` without the least important `fraction` of its heads (`prune_heads_to`)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be in [0, 1), got {fraction}")
    total = sum(heads_per_layer(model))
    return prune_heads_to(model, batches, total - round(fraction * total), step=step)


def prune_heads_to(
    model: nn.Module, batches: Sequence[Mapping], keep: int, *, step: float = 0.1
) -> nn.Module:
    """A copy of `model` with only its `keep` most important heads.

    Removes `step` of the unpruned model's heads at a time (at least one), scoring the
    remaining heads again before each step (`head_importance`, normalised per layer), as
    Michel et al.'s code does; every layer keeps at least one head.
    """
    layers, left = model.config.num_hidden_layers, sum(heads_per_layer(model))
    if not layers <= keep <= left:
        raise ValueError(
            f"keep must be between {layers} (one head a layer) and the {left} heads left, got {keep}"
        )
    per_step = max(1, round(step * layers * model.config.num_attention_heads))
    pruned = copy.deepcopy(model)
    while (left := sum(heads_per_layer(pruned))) > keep:
        scores = head_importance(pruned, batches)
        prune_heads(pruned, least_important(pruned, scores, min(per_step, left - keep)))
    return pruned


def least_important(
    model: nn.Module, scores: list[torch.Tensor], count: int
) -> dict[int, list[int]]:
    """The `count` lowest-scoring heads ({layer: [original head ids]}), one always left a layer."""
    done = pruned_heads_of(model)
    candidates = []
    for layer, layer_scores in enumerate(scores):
        remaining = [
            h for h in range(model.config.num_attention_heads) if h not in done.get(layer, [])
        ]
        candidates += [(float(s), layer, head) for s, head in zip(layer_scores, remaining)]
    chosen: dict[int, list[int]] = {}
    left = heads_per_layer(model)
    for _, layer, head in sorted(candidates):
        if len([h for heads in chosen.values() for h in heads]) == count:
            break
        if left[layer] > 1:
            chosen.setdefault(layer, []).append(head)
            left[layer] -= 1
    return chosen


# ----------------------------------------------------------------------------- layers


def drop_layers(model: nn.Module, keep: Sequence[int]) -> nn.Module:
    """A copy of `model` with only the encoder layers `keep` (in that order)."""
    encoder = encoder_of(model)
    layers = len(encoder.layer)
    if not keep or any(not 0 <= i < layers for i in keep) or len(set(keep)) != len(keep):
        raise ValueError(f"keep must list distinct layers among 0-{layers - 1}, got {list(keep)}")
    smaller = copy.deepcopy(model)
    kept = encoder_of(smaller)
    kept.layer = nn.ModuleList(kept.layer[i] for i in keep)
    smaller.config.num_hidden_layers = len(keep)
    heads = pruned_heads_of(model)
    renumbered = {str(new): heads[old] for new, old in enumerate(keep) if old in heads}
    if heads:
        smaller.config.extra[PRUNED_HEADS] = renumbered
    return smaller
