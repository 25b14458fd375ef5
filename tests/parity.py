"""Helpers for value-and-gradient parity against another implementation (torch.nn, Keras)."""

import torch

SHAPES = [(), (7,), (5, 4), (2, 3, 4, 5)]
REDUCTIONS = ("mean", "sum", "none")


def assert_same_value_and_grad(ours, theirs, tensors, rtol=1e-6, atol=1e-9):
    """Call both on clones of ``tensors`` (float64 leaves); compare outputs and every gradient."""
    a = [t.detach().clone().requires_grad_(t.requires_grad) for t in tensors]
    b = [t.detach().clone().requires_grad_(t.requires_grad) for t in tensors]
    out_a, out_b = ours(*a), theirs(*b)
    torch.testing.assert_close(out_a, out_b, rtol=rtol, atol=atol)
    grad_out = torch.randn_like(out_a) if out_a.dim() else torch.tensor(1.0, dtype=out_a.dtype)
    out_a.backward(grad_out)
    out_b.backward(grad_out)
    for x, y in zip(a, b):
        if x.requires_grad:
            torch.testing.assert_close(x.grad, y.grad, rtol=rtol, atol=atol)


def keras():
    import keras as _keras  # imported lazily: ~8 s, and only the tests that compare need it

    assert _keras.backend.backend() == "torch", "set KERAS_BACKEND=torch before importing keras"
    return _keras


def keras_value(fn, y_true, y_pred, **kw):
    """Keras's per-sample function output as a float64 tensor."""

    def as_keras(t):
        t = t.detach()
        return t.float() if t.is_floating_point() else t

    out = fn(as_keras(y_true), as_keras(y_pred), **kw)
    return torch.as_tensor(out.detach().cpu().numpy() if hasattr(out, "detach") else out, dtype=torch.float64)
