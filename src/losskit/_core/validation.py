"""Input checks, in one place, with one message form.

Every message names the function, the argument, what was expected and what
was received: ``"mse_loss: target must have the input's shape (4, 1); got (4,)"``.

Checks that only look at shapes, dtypes and Python values always run. Checks
that must read tensor *data* (class ranges, negative variances) run on CPU
always, reading the values on the host. On an accelerator a host read would
synchronise with the device, so there they run as device-side assertions
(``torch._assert_async``: the step is queued without waiting, and a failure
stops the program at the device's next synchronisation, as torch's own
out-of-range class indices do) while :func:`set_validation` leaves them on;
nothing in a loss's forward or backward reads accelerator data on the host.
While ``torch.compile`` traces, data checks are skipped (they would break the
graph).

Inside a ``torch.func`` transform (``grad``, ``jacrev``, ``vjp``, ``vmap``, ...)
a loss runs as on an accelerator: no tensor is read on the host
(:func:`host_readable` is False — under ``vmap`` a tensor holds a batch of
values, and reading one is an error), so the looks at results give way to
the careful paths, and the data checks are skipped (:func:`require` does
nothing: ``torch._assert_async`` has no batching rule), as under
``torch.compile``. Values and gradients are the same as without the
transform; only invalid data goes unreported.
"""

from __future__ import annotations

import contextlib
import math
from numbers import Real
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, Set, Tuple

import torch

__all__ = [
    "set_validation",
    "validation",
    "validation_enabled",
    "data_checks_active",
    "functorch_transforms_active",
    "host_readable",
    "require",
    "check_reduction",
    "check_floating",
    "check_same_shape",
    "check_broadcastable_to",
    "check_number",
    "check_tensor",
    "check_callable",
    "check_real",
    "check_class_weight",
    "check_class_target",
    "compute_dtype",
    "to_compute",
    "fmt_shape",
    "prepare_pair",
]

_VALIDATION = True

BASE_REDUCTIONS = ("mean", "sum", "none")


def set_validation(enabled: bool) -> None:
    """Switch data-dependent input checks on accelerators on or off (process-wide).

    On CPU the checks always run (they are cheap there) and raise ``ValueError``.
    On CUDA and other accelerators they run as device-side assertions (no
    host-device synchronisation; a failure surfaces as a ``RuntimeError`` at the
    device's next synchronisation), and the losses that take the limits at
    ±inf compute them on every call; each costs a few small kernels. Switch
    them off in a tuned training loop once the data pipeline is trusted, or
    for one block with :func:`validation`: the fused kernels' results are then
    kept as they come (NaN where a ``+inf`` logit has a finite limit).
    """
    global _VALIDATION
    if not isinstance(enabled, bool):
        raise TypeError(f"set_validation: enabled must be True or False; got {enabled!r}")
    _VALIDATION = enabled


@contextlib.contextmanager
def validation(enabled: bool) -> Iterator[None]:
    """Within the block, data-dependent checks on accelerators are on or off; the previous setting returns after.

    Example:
        >>> with validation(False):
        ...     validation_enabled()
        False
    """
    previous = _VALIDATION
    set_validation(enabled)
    try:
        yield
    finally:
        set_validation(previous)


def validation_enabled() -> bool:
    """Whether data-dependent checks run on accelerators (see :func:`set_validation`)."""
    return _VALIDATION


def _never_compiling() -> bool:  # pragma: no cover - very old torch
    return False


# bound once: data_checks_active runs on every call of every loss
_is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", _never_compiling)


#: whether a torch.func transform (grad, vjp, jacrev, jvp, vmap, ...) is active now: one C call, no Python
#: frames, cheap enough for every call of every loss. Losses built on a custom autograd Function whose forward
#: takes ``ctx`` (the fused-gradient Functions) take their transform-safe path while it is True: functorch
#: refuses such Functions (it needs ``setup_context``), and under ``vmap`` nothing may be read on the host.
functorch_transforms_active: Callable[[], bool] = torch._C._are_functorch_transforms_active


def autograd_transform_active() -> bool:
    """Whether torch.compile, a torch.func transform or forward-mode AD is tracing or differentiating now.

    The fused-gradient paths (a custom Function whose forward writes the gradient in place, block by
    block, and whose double backward re-enters autograd) are eager-only: under these, losses call the
    kernels those systems trace and differentiate."""
    if _is_compiling() or functorch_transforms_active():
        return True
    return torch.autograd.forward_ad._current_level >= 0


#: test hook (``tests/sync_free.py``): treat CPU tensors as accelerator tensors, so that the sync-free paths
#: run, and can be checked for host reads, on a machine without an accelerator
_AS_ACCELERATOR = False


def host_readable(tensor: torch.Tensor) -> bool:
    """Whether reading ``tensor``'s values on the host is free of a device synchronisation (a CPU tensor).

    Never inside a torch.func transform: there ``vmap`` batches the values (a host read is an error), so
    losses take the paths they take on an accelerator (see the module's docstring)."""
    return tensor.is_cpu and not _AS_ACCELERATOR and not functorch_transforms_active()


def require(ok: torch.Tensor, message: str, detail: Optional[Callable[[], str]] = None) -> None:
    """Raise ``ValueError`` unless every element of the boolean ``ok`` is true; without a host sync on accelerators.

    On the host (:func:`host_readable`) one read decides, and the error says
    ``detail()`` when given (it may read values: the offending class, say)
    or ``message``. On an accelerator the check is ``torch._assert_async``
    with ``message``: queued on the device, it fails at the device's next
    synchronisation (``RuntimeError``, a device-side assertion) instead of
    making every call wait for the device. Callers guard it with
    :func:`data_checks_active`. Inside a torch.func transform the check is
    skipped: its data cannot be read, and ``_assert_async`` cannot be batched.
    A device whose backend has no ``_assert_async`` kernel (torch has CPU and
    CUDA ones; MPS, for one, has none) gets the host read after all: one sync
    there, as before the device-side checks, rather than no check.
    """
    if host_readable(ok) or (ok.device.type in _NO_ASYNC_ASSERT and not functorch_transforms_active()):
        if not bool(ok.all()):
            raise ValueError(detail() if detail is not None else message)
    elif not functorch_transforms_active():
        try:
            torch._assert_async(ok.all(), message)
        except NotImplementedError:  # no kernel for this device: remember it, and read on the host
            _NO_ASYNC_ASSERT.add(ok.device.type)
            require(ok, message, detail)


#: device types where ``torch._assert_async`` raised NotImplementedError (found on first use)
_NO_ASYNC_ASSERT: Set[str] = set()


def data_checks_active(tensor: torch.Tensor) -> bool:
    """True when a check that reads ``tensor``'s values should run now."""
    if _is_compiling():
        return False
    # host_readable, inlined (every call of every loss); is_cpu is a flag read (``device.type`` builds an object)
    return (tensor.is_cpu and not _AS_ACCELERATOR) or _VALIDATION


def fmt_shape(shape: Iterable[int]) -> str:
    shape = tuple(int(s) for s in shape)
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def check_reduction(fn: str, reduction: str, allowed: Sequence[str] = BASE_REDUCTIONS) -> None:
    if not isinstance(reduction, str) or reduction not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{fn}: invalid reduction {reduction!r}; expected one of {choices}")


def check_floating(fn: str, name: str, tensor: object) -> None:
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{fn}: {name} must be a torch.Tensor; got {type(tensor).__name__}")
    if not tensor.is_floating_point():
        raise TypeError(
            f"{fn}: {name} must be a floating-point tensor; got {str(tensor.dtype).replace('torch.', '')}"
            f" — convert it with {name}.float()"
        )


def check_same_shape(
    fn: str, input: torch.Tensor, target: torch.Tensor, *, input_name: str = "input", target_name: str = "target"
) -> None:
    """Reject any shape mismatch: losskit never broadcasts input against target silently."""
    if input.shape != target.shape:
        raise ValueError(
            f"{fn}: {target_name} must have the {input_name}'s shape {fmt_shape(input.shape)}; "
            f"got {fmt_shape(target.shape)} (losskit does not broadcast {input_name} against {target_name})"
        )


def check_broadcastable_to(fn: str, name: str, tensor: Optional[torch.Tensor], shape: torch.Size) -> None:
    """``tensor`` must broadcast to ``shape`` without changing it."""
    if tensor is None:
        return
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{fn}: {name} must be a torch.Tensor or None; got {type(tensor).__name__}")
    try:
        out = torch.broadcast_shapes(tensor.shape, shape)
    except RuntimeError:
        out = None
    if out != torch.Size(shape):
        raise ValueError(
            f"{fn}: {name} must broadcast to the unreduced loss shape {fmt_shape(shape)}; got {fmt_shape(tensor.shape)}"
        )


def check_number(
    fn: str,
    name: str,
    value: object,
    *,
    low: Optional[float] = None,
    high: Optional[float] = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_none: bool = False,
) -> None:
    """A finite real scalar hyperparameter inside an interval, e.g. ``delta > 0``.

    A non-number (a bool, a string, a tensor) is a ``TypeError``; NaN, ±inf and
    values outside the interval are ``ValueError``s that name the value.
    """
    if value is None and allow_none:
        return
    if type(value) is float and math.isfinite(value):  # fast path for the usual finite Python float
        if (low is None or (value > low if low_open else value >= low)) and (
            high is None or (value < high if high_open else value <= high)
        ):
            return
    if isinstance(value, bool) or not isinstance(value, Real):
        kind = "a bool" if isinstance(value, bool) else type(value).__name__
        raise TypeError(f"{fn}: {name} must be a real number{' or None' if allow_none else ''}; got {kind} {value!r}")
    v = float(value)
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    interval = ("(" if low_open or low is None else "[") + f"{lo}, {hi}" + (")" if high_open or high is None else "]")
    if math.isnan(v):
        raise ValueError(f"{fn}: {name} must be a finite number in {interval}; got NaN")
    if math.isinf(v):
        raise ValueError(f"{fn}: {name} must be a finite number in {interval}; got {value!r}")
    bad_low = low is not None and (v <= low if low_open else v < low)
    bad_high = high is not None and (v >= high if high_open else v > high)
    if bad_low or bad_high:
        raise ValueError(f"{fn}: {name} must be in {interval}; got {value!r}")


def check_real(fn: str, name: str, value: object) -> None:
    """A real tensor of any dtype (integer and bool targets are cast by the caller); complex is refused."""
    if not isinstance(value, torch.Tensor):
        check_tensor(fn, name, value)  # raises the TypeError
    elif value.is_complex():
        raise TypeError(f"{fn}: {name} must be a real tensor; got {str(value.dtype).replace('torch.', '')}")


def check_tensor(fn: str, name: str, value: object, *, allow_number: bool = False) -> None:
    """An input role must be a tensor (a Python list is not silently converted)."""
    if isinstance(value, torch.Tensor):
        return
    if allow_number and isinstance(value, Real) and not isinstance(value, bool):
        return
    expected = "a torch.Tensor" + (" or a number" if allow_number else "")
    hint = f" — wrap it with torch.tensor({name})" if isinstance(value, (list, tuple)) else ""
    raise TypeError(f"{fn}: {name} must be {expected}; got {type(value).__name__}{hint}")


def check_callable(fn: str, name: str, value: object) -> None:
    """An input role that is a function of tensors (a critic network): callable, and not a tensor."""
    if isinstance(value, torch.Tensor) or not callable(value):
        what = "a tensor" if isinstance(value, torch.Tensor) else type(value).__name__
        raise TypeError(
            f"{fn}: {name} must be a callable (an nn.Module or a function from inputs to scores); got {what}"
        )


def check_class_weight(
    fn: str, weight: Optional[torch.Tensor], num_classes: Optional[int], name: str = "weight"
) -> None:
    """A per-class weight: a floating 1-D tensor of length C."""
    if weight is None:
        return
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"{fn}: {name} must be a 1-D torch.Tensor of per-class weights; got {type(weight).__name__}")
    if weight.dim() != 1:
        raise ValueError(f"{fn}: {name} must be a 1-D tensor of per-class weights; got shape {fmt_shape(weight.shape)}")
    if num_classes is not None and weight.numel() != num_classes:
        raise ValueError(f"{fn}: {name} must have one entry per class ({num_classes}); got {weight.numel()}")
    if not weight.is_floating_point():
        raise TypeError(f"{fn}: {name} must be a floating tensor; got {str(weight.dtype).replace('torch.', '')}")


def check_class_target(
    fn: str,
    input: torch.Tensor,
    target: torch.Tensor,
    *,
    ignore_index: Optional[int] = None,
    class_dim: int = 1,
    check_range: bool = True,
) -> Optional[bool]:
    """Class-index targets for ``input`` of shape (C,), (N, C) or (N, C, d1, ...).

    The shape must be the input's shape without the class dimension and the
    dtype an integer. Out-of-range values raise (see :func:`data_checks_active`);
    ``check_range=False`` leaves the range to a caller that knows it is checked
    anyway (torch's CPU kernels check it; see ``targets.index_setup``).

    Returns whether any target equals ``ignore_index`` when the range check
    proves it (False: none is ignored, so torch's own "mean" cannot divide by
    zero), or None when unknown (the check was skipped, or ``ignore_index`` is
    itself a valid class).
    """
    if target.is_floating_point() or target.dtype == torch.bool or target.is_complex():
        raise TypeError(
            f"{fn}: class-index targets must be an integer tensor; got {str(target.dtype).replace('torch.', '')} "
            f"of shape {fmt_shape(target.shape)} — pass target.long(), or for probability targets "
            f"pass a floating tensor of the input's shape {fmt_shape(input.shape)}"
        )
    cdim = 0 if input.dim() == 1 else class_dim
    # the common (N, C) with (N,) compared without building torch.Size objects (a per-call cost at small N)
    if not (input.dim() == 2 and cdim == 1 and target.dim() == 1 and target.shape[0] == input.shape[0]):
        _check_class_target_shape(fn, input, target, cdim)
    if not check_range or target.numel() == 0 or not data_checks_active(target):
        return None
    num_classes = input.shape[cdim]
    if not host_readable(target):  # on the device, without a sync; whether any is ignored stays unknown
        in_range = (target >= 0) & (target < num_classes)
        require(
            in_range if ignore_index is None else in_range | (target == ignore_index),
            f"{fn}: target contains a class outside the valid range [0, {num_classes - 1}]"
            + (f" or ignore_index={ignore_index}" if ignore_index is not None else ""),
        )
        return None
    lo_t, hi_t = torch.aminmax(target)  # one pass and one sync for the common, all-valid case
    lo, hi = int(lo_t), int(hi_t)
    ignore_is_a_class = ignore_index is not None and 0 <= ignore_index < num_classes
    if lo >= 0 and hi < num_classes:
        return None if ignore_is_a_class else False
    valid = target if ignore_index is None else target[target != ignore_index]
    if valid.numel():
        lo, hi = int(valid.min()), int(valid.max())
        if lo < 0 or hi >= num_classes:
            bad = lo if lo < 0 else hi
            extra = f" or ignore_index={ignore_index}" if ignore_index is not None else ""
            raise ValueError(
                f"{fn}: target contains class {bad}, outside the valid range [0, {num_classes - 1}]{extra}"
            )
    return True


def _check_class_target_shape(fn: str, input: torch.Tensor, target: torch.Tensor, cdim: int) -> None:
    expected = input.shape[:cdim] + input.shape[cdim + 1 :]
    if target.shape != expected:
        raise ValueError(
            f"{fn}: class-index target must have shape {fmt_shape(expected)} for input of shape "
            f"{fmt_shape(input.shape)}; got {fmt_shape(target.shape)}"
        )


def compute_dtype(*tensors: Optional[torch.Tensor]) -> torch.dtype:
    """float16/bfloat16 compute in float32; otherwise the widest floating dtype given."""
    dtype = None
    for t in tensors:
        if t is None or not t.is_floating_point():
            continue
        d = torch.float32 if t.dtype in (torch.float16, torch.bfloat16) else t.dtype
        dtype = d if dtype is None else torch.promote_types(dtype, d)
    return torch.float32 if dtype is None else dtype


def to_compute(dtype: torch.dtype, *tensors: Any) -> Any:
    """Cast tensors to the compute dtype (a no-op, and no copy, when they already have it).

    The cast is differentiable, so gradients reach half-precision inputs in
    their own dtype.
    """
    out = tuple(t if t is None or not isinstance(t, torch.Tensor) or t.dtype == dtype else t.to(dtype) for t in tensors)
    return out if len(out) > 1 else out[0]


def prepare_pair(fn: str, input: torch.Tensor, target: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Validate an elementwise (input, target) pair and cast both to the compute dtype.

    The input must be a floating tensor and the target a real tensor of the
    same shape. Integer and bool targets (0/1 labels, counts) are cast to the
    input's compute dtype, as torch's type promotion does for its elementwise
    losses; half precision computes in float32.
    """
    # fast path, the common case: float32/float64 tensors of one dtype and shape (a few attribute reads)
    if (
        type(input) is torch.Tensor
        and type(target) is torch.Tensor
        and input.dtype in _FULL_PRECISION
        and target.dtype is input.dtype
        and input.shape == target.shape
    ):
        return input, target
    check_floating(fn, "input", input)
    check_real(fn, "target", target)
    check_same_shape(fn, input, target)
    dtype = compute_dtype(input)
    return to_compute(dtype, input, target)


_FULL_PRECISION = (torch.float32, torch.float64)
