"""The ``Loss`` base class every losskit module derives from, and the builder of declared modules.

A module is a thin shell around its functional: hyperparameters are plain
attributes named like the functional's keywords, tensor hyperparameters
(class ``weight``, ``pos_weight``, quantile tensors) are buffers so they follow
``.to()`` and ``state_dict``, and ``forward`` is one call of the functional
with the declared roles in order. Most modules are built by
:func:`build_module` from the declaration; modules that own parameters or
state subclass :class:`Loss` by hand (see :func:`losskit._core.spec.module_for`).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, ClassVar, Dict, Optional, Tuple

import torch
from torch import nn

if TYPE_CHECKING:  # pragma: no cover
    from .spec import LossSpec

__all__ = ["Loss", "build_module"]


def _plain(value: Any) -> Any:
    return value.tolist() if isinstance(value, torch.Tensor) else value


class _LossMeta(type):
    """Writes a declared module's docstring and signature on first read (``help(lk.HuberLoss)``), not at import."""

    @property
    def __doc__(cls) -> Optional[str]:  # type: ignore[override]
        own = cls.__dict__.get("__doc__")
        spec = cls.__dict__.get("spec")
        if own is None and spec is not None:
            return module_docstring(spec, cls.__name__)
        return own

    @property
    def __signature__(cls) -> Optional[inspect.Signature]:
        if cls.__dict__.get("__init__") is not None or "spec" not in cls.__dict__:
            return None  # a hand-written constructor: inspect reads its own signature
        return _constructor_signature(cls.__dict__["spec"])


class Loss(nn.Module, metaclass=_LossMeta):
    """Base class of losskit's loss modules.

    The constructor binds its arguments to the declaration's hyperparameters
    (torch's positional ones included), runs the same validators as the
    functional, and stores them: tensors as buffers, everything else as
    attributes. ``get_config()`` returns plain Python values and
    :meth:`from_config` rebuilds the module; pickling and deepcopy work, and
    parameters and buffers follow ``.to()`` and ``state_dict``.

    Subclasses that own parameters call ``super().__init__(**hparams)`` with
    the functional's hyperparameters and list their extra constructor
    arguments (stored as attributes of the same name) in ``config_args``.
    """

    spec: ClassVar[LossSpec]
    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    functional: ClassVar[Any] = None
    reductions: ClassVar[Tuple[str, ...]] = ()
    #: constructor arguments beyond the functional's hyperparameters (hand-written modules)
    config_args: ClassVar[Tuple[str, ...]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        spec = type(self).spec
        signature = _constructor_signature(spec)  # cached per declaration
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{type(self).__name__}: {exc}") from None
        bound.apply_defaults()
        values = dict(bound.arguments)
        tensor_names = {h.name for h in spec.hparams if h.tensor}
        for key in tensor_names:
            if isinstance(values.get(key), (list, tuple)):
                values[key] = torch.tensor(values[key], dtype=torch.get_default_dtype())
        spec.check_hparams(type(self).__name__, values)
        self._hparam_names = tuple(values)
        for key, value in values.items():
            if isinstance(value, torch.Tensor) or (value is None and key in tensor_names):
                self.register_buffer(key, None if value is None else value.detach().clone())
            else:
                setattr(self, key, value)

    def hparams(self) -> Dict[str, Any]:
        """The keyword arguments ``forward`` passes to the functional."""
        return {k: getattr(self, k) for k in self._hparam_names}

    def forward(self, *roles: Any, **call_kwargs: Any) -> torch.Tensor:
        return type(self).functional(*roles, **self.hparams(), **call_kwargs)

    def extra_repr(self) -> str:
        parts = []
        for k in (*self.config_args, *self._hparam_names):
            v = getattr(self, k)
            if isinstance(v, torch.Tensor):
                v = v.tolist() if v.numel() <= 8 else f"tensor(shape={tuple(v.shape)})"
            parts.append(f"{k}={v!r}")
        return ", ".join(parts)

    def get_config(self) -> Dict[str, Any]:
        """JSON-serialisable constructor arguments, with the registry name under ``"name"``.

        Tensor hyperparameters become lists; a dtype other than the default
        (a float64 class ``weight``) is kept under ``"dtypes"`` so
        :meth:`from_config` rebuilds the same tensor.
        """
        config: Dict[str, Any] = {"name": self.name}
        dtypes: Dict[str, str] = {}
        for k in (*self.config_args, *self._hparam_names):
            value = getattr(self, k)
            if isinstance(value, torch.Tensor) and value.dtype != torch.get_default_dtype():
                dtypes[k] = str(value.dtype).replace("torch.", "")
            config[k] = _plain(value)
        if dtypes:
            config["dtypes"] = dtypes
        return config

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> Loss:
        kwargs = {k: v for k, v in config.items() if k not in ("name", "dtypes")}
        dtypes = config.get("dtypes", {})
        for h in cls.spec.hparams:
            if h.tensor and isinstance(kwargs.get(h.name), (list, tuple)):
                dtype = getattr(torch, dtypes[h.name]) if h.name in dtypes else torch.get_default_dtype()
                kwargs[h.name] = torch.tensor(kwargs[h.name], dtype=dtype)
        return cls(**kwargs)


#: id(spec) -> (spec, constructor signature). The spec itself is kept: a declaration can be dropped (a test's
#: throwaway loss, unregistered) and a new one allocated at its address, whose id would then find the old
#: signature (a module built with another loss's hyperparameters: the flaky callable-role test)
_SIGNATURES: Dict[int, Tuple[LossSpec, inspect.Signature]] = {}


def _constructor_signature(spec: LossSpec) -> inspect.Signature:
    cached = _SIGNATURES.get(id(spec))
    if cached is None or cached[0] is not spec:
        cached = _SIGNATURES[id(spec)] = (spec, _build_constructor_signature(spec))
    return cached[1]


def _build_constructor_signature(spec: LossSpec) -> inspect.Signature:
    """torch's layout: the declared positional hyperparameters first, then keyword-only ones."""
    params = []
    by_name = {h.name: h for h in spec.hparams}
    for name in spec.positional:
        params.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=by_name[name].default))
    for h in spec.hparams:
        if h.name not in spec.positional:
            params.append(inspect.Parameter(h.name, inspect.Parameter.KEYWORD_ONLY, default=h.default))
    return inspect.Signature(params)


def _section(doc: str, header: str) -> str:
    lines = inspect.cleandoc(doc or "").splitlines()
    if header not in lines:
        return ""
    out = []
    for line in lines[lines.index(header) + 1 :]:
        if line and not line.startswith(" "):
            break
        out.append(line.strip())
    return " ".join(x for x in out if x)


def module_docstring(spec: LossSpec, class_name: str) -> str:
    """The module's own docstring, written from the declaration and the functional's Args."""
    from .spec import _arg_docs

    fn = spec.functional
    arg_docs = _arg_docs(fn.__doc__)
    lines = [
        spec.summary,
        "",
        f"Module form of :func:`losskit.functional.{fn.__name__}`, where the formula and the details are.",
        f"Registry names: {', '.join(repr(n) for n in (spec.name, *spec.aliases, class_name))}.",
        "",
        "Args:",
    ]
    for h in spec.hparams:
        doc = arg_docs.get(h.name, "").rstrip(".")
        lines.append(f"    {h.name}: {doc + '. ' if doc else ''}Accepts {h.check.text}; default {h.default!r}.")
    if not spec.hparams:
        lines.append("    (none)")
    lines += ["", "Shape:"]
    for role in spec.roles:
        lines.append(f"    - {role.name}: {arg_docs.get(role.name, role.shape)}")
    for call in spec.call_kwargs:
        lines.append(f"    - {call} (keyword, per call): {arg_docs.get(call, '')}")
    returns = _section(fn.__doc__ or "", "Returns:")
    if returns:
        lines.append(f"    - output: {returns}")
    lines += [
        "",
        "Raises:",
        "    ValueError: a hyperparameter outside its range (when the module is built), or inputs",
        "        whose shapes or values do not fit (when it is called).",
        "    TypeError: a hyperparameter or input of the wrong type.",
    ]
    return "\n".join(lines)


def build_module(spec: LossSpec, class_name: str) -> type:
    """The ``nn.Module`` class of a declared loss: constructor from the hyperparameters, forward from the roles."""
    namespace = {
        "__doc__": None,  # written on first read from the declaration (_LossMeta)
        "__module__": spec.functional.__module__,
        "__qualname__": class_name,
        "spec": spec,
        "name": spec.name,
        "family": spec.family,
        "functional": staticmethod(spec.functional),
        "reductions": spec.reductions,
    }
    return type(class_name, (Loss,), namespace)
