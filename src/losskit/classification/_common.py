"""What the classification files share: the family name and the logistic loss at any logit."""

from __future__ import annotations

import torch
import torch.nn.functional as F

FAMILY = "classification"


def softplus_pair(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a · softplus(-x) + b · softplus(x)`` with ``0 · inf`` read as 0: the logistic losses at any logit.

    BCE is ``t · softplus(-x) + (1 - t) · softplus(x)``; torch's kernel gives
    NaN at ``x = +inf, t = 1`` (``0 · inf``) where the loss is 0. Here a term
    whose coefficient is 0 is 0 — the loss does not depend on the other side —
    and the backward gives the limits: ``b σ(x) - a σ(-x)`` for ``x`` (finite
    at ±inf) and ``softplus(∓x)`` for the coefficients (``inf`` where the loss
    jumps to inf). The backward is written with differentiable operations, so
    second derivatives are exact.
    """
    return _SoftplusPair.apply(x, a, b)


def _coefficient_times(coefficient: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    return torch.where(
        coefficient == 0, torch.zeros((), dtype=values.dtype, device=values.device), coefficient * values
    )


class _SoftplusPair(torch.autograd.Function):
    # setup_context style (only the inputs are saved) with a generated vmap rule: torch.func transforms accept
    # it, and its backward is written with differentiable operations
    generate_vmap_rule = True

    @staticmethod
    def forward(x, a, b):
        return _coefficient_times(a, F.softplus(-x)) + _coefficient_times(b, F.softplus(x))

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad):
        x, a, b = ctx.saved_tensors
        grad_x = grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = (b * torch.sigmoid(x) - a * torch.sigmoid(-x)) * grad
        if ctx.needs_input_grad[1]:
            grad_a = _sum_to(F.softplus(-x) * grad, a.shape)
        if ctx.needs_input_grad[2]:
            grad_b = _sum_to(F.softplus(x) * grad, b.shape)
        return grad_x, grad_a, grad_b


def _sum_to(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """A broadcast operand's gradient: summed over the dimensions it was broadcast along."""
    return grad if grad.shape == shape else grad.sum_to_size(shape)
