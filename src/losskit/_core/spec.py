"""The declaration of a loss: one ``@loss(...)`` beside its functional.

A family file writes the functional (the maths, the formula in its docstring)
and decorates it with :func:`loss`. The declaration carries every fact about
the loss that is not maths: its names, family, input roles, hyperparameters
and their validators, reductions, capabilities, references and lab curve.
Everything else is derived from it:

* the module class (``HuberLoss``), built from the functional's signature —
  constructor arguments are the functional's keyword-only hyperparameters,
  checked by the same validators; ``forward`` takes the roles in order;
* the registry entries (``get``, ``get_class``, ``get_fn``, ``describe``,
  ``available``) and the exports of ``losskit`` and ``losskit.functional``;
* the functional's own argument checks: the decorator wraps the functional so
  that every hyperparameter passed to it runs its declared validator (defaults
  are checked once, at declaration, and a scalar value once per loss: see
  ``_MEMO_TYPES``);
* the CLI's ``list`` and ``info``, the lab's curve table, the docs pages and
  the defaults of the test battery.

A loss whose module owns parameters or state (learned centres, a projection)
declares ``module=None`` and writes its class by hand, decorated with
:func:`module_for`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import re
import sys
import types
from typing import Any, Callable, ContextManager, Dict, FrozenSet, Iterable, Mapping, NamedTuple, Optional, Tuple, Union

import torch

from .validation import BASE_REDUCTIONS, _is_compiling, check_callable, check_reduction, check_tensor

__all__ = [
    "Role",
    "Curve",
    "Check",
    "HParam",
    "LossSpec",
    "loss",
    "module_for",
    "CAPABILITIES",
]

#: what a declaration may claim (``capabilities=``); describe() and the docs show them
CAPABILITIES = frozenset(
    {
        "class_weight",  # a per-class ``weight`` (C,)
        "sample_weight",  # a call-time ``sample_weight`` broadcastable to the unreduced loss
        "ignore_index",  # class-index targets equal to ``ignore_index`` count for nothing
        "index_targets",  # integer class-index targets
        "probability_targets",  # floating targets of the input's shape (soft labels, one-hot)
        "label_smoothing",
        "gather",  # ``gather=True`` computes over the global batch (torch.distributed)
        "double_backward",  # twice differentiable (create_graph=True gives exact second derivatives)
        "compile",  # traces under torch.compile(fullgraph=True) without graph breaks
        "parameters",  # the module owns learnable parameters
    }
)


# Role, Curve, Check and HParam are NamedTuples rather than dataclasses: dozens are built while
# ``import losskit`` runs, and a NamedTuple class costs a fraction of a frozen dataclass to create.
class Role(NamedTuple):
    """One positional tensor of a loss: its name, shape and whether it is differentiable."""

    name: str
    shape: str = "(*)"
    differentiable: bool = True
    doc: str = ""
    #: what the argument may be besides a tensor: "" (a tensor only), "number" (gaussian_nll's var),
    #: "sequence" (CTC lengths as Python lists), "callable" (gradient_penalty's critic: a callable and never
    #: a tensor), "optional" (None too: SupCon's labels); checked before the functional runs
    also: str = ""


class Curve(NamedTuple):
    """How ``losskit plot`` draws the loss: the x axis, and a shape parameter to overlay."""

    axis: str  # "residual" | "margin" | "probability" | "log_rate" | "score" | "gradient_norm" | "box_shift"
    shape_param: Optional[str] = None
    values: Tuple[Any, ...] = ()


class Check(NamedTuple):
    """A hyperparameter validator: ``check(fn, name, value)`` raises on a bad value.

    ``text`` says what is accepted (shown by ``describe`` and ``losskit info``);
    ``tensor`` marks hyperparameters that may be tensors, which modules keep
    as buffers (they follow ``.to()`` and ``state_dict``).
    """

    run: Callable[[str, str, Any], None]
    text: str
    tensor: bool = False

    def __call__(self, fn: str, name: str, value: Any) -> None:
        self.run(fn, name, value)


class HParam(NamedTuple):
    """A declared hyperparameter: its default (from the functional's signature) and validator."""

    name: str
    default: Any
    check: Check
    #: the functional's docstring, where :attr:`doc` reads this argument's line (parsed on demand)
    source_doc: Optional[str] = None

    @property
    def tensor(self) -> bool:
        return self.check.tensor

    @property
    def doc(self) -> str:
        """The argument's description from the functional's ``Args:`` section."""
        return _arg_docs(self.source_doc).get(self.name, "")


@dataclasses.dataclass(frozen=True)
class LossSpec:
    """Everything losskit knows about a loss besides its maths. ``losskit.describe(name)`` returns it."""

    name: str
    aliases: Tuple[str, ...]
    family: str
    functional: Callable[..., Any]
    roles: Tuple[Role, ...]
    #: constructor hyperparameters of the module, in signature order (``reduction`` included)
    hparams: Tuple[HParam, ...]
    #: keyword arguments that belong to one call, not to the module (``sample_weight``)
    call_kwargs: Tuple[str, ...]
    #: module constructor arguments that torch takes positionally (``CrossEntropyLoss(weight)``)
    positional: Tuple[str, ...]
    reductions: Tuple[str, ...]
    capabilities: FrozenSet[str]
    references: Tuple[str, ...]
    curve: Optional[Curve]
    module_name: str
    #: a rule over several hyperparameters at once (exactly one of ``class_counts`` and ``class_prior``):
    #: ``rule(fn, values)`` raises; the module constructor runs it on every argument, the functional on its
    #: keywords with the defaults filled in (see :func:`loss`, ``hparam_rule=``)
    hparam_rule: Optional[Callable[[str, Mapping[str, Any]], None]] = None

    @property
    def summary(self) -> str:
        """The first line of the functional's docstring."""
        doc = inspect.cleandoc(self.functional.__doc__ or "")
        return doc.splitlines()[0] if doc else ""

    @property
    def module(self) -> type:
        from .registry import get_class

        return get_class(self.name)

    @property
    def defaults(self) -> Dict[str, Any]:
        return {h.name: h.default for h in self.hparams}

    def hparam(self, name: str) -> HParam:
        for h in self.hparams:
            if h.name == name:
                return h
        raise KeyError(name)

    def differentiable_roles(self) -> Tuple[int, ...]:
        return tuple(i for i, r in enumerate(self.roles) if r.differentiable)

    def check_hparams(self, fn: str, values: Mapping[str, Any]) -> None:
        """Run each given hyperparameter's validator (the module constructor and the functional share this)."""
        checks = _CHECKS[self.name]
        for key, value in values.items():
            check = checks.get(key)
            if check is not None:
                check(fn, key, value)
        if self.hparam_rule is not None:  # each argument is valid on its own: now the rule between them
            self.hparam_rule(fn, values)

    def as_dict(self) -> Dict[str, Any]:
        """Plain-Python form (for docs and ``losskit info --json``)."""
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "family": self.family,
            "functional": f"losskit.functional.{self.functional.__name__}",
            "module": f"losskit.{self.module_name}",
            "roles": [r._asdict() for r in self.roles],
            "hparams": [
                {"name": h.name, "default": _plain(h.default), "accepts": h.check.text, "doc": h.doc}
                for h in self.hparams
            ],
            "call_kwargs": list(self.call_kwargs),
            "reductions": list(self.reductions),
            "capabilities": sorted(self.capabilities),
            "references": list(self.references),
        }


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


_CHECKS: Dict[str, Dict[str, Check]] = {}  # loss name -> argument name -> validator (the functional's wrapper reads it)


def _reduction_check(reductions: Tuple[str, ...]) -> Check:
    choices = " | ".join(repr(r) for r in reductions)
    return Check(lambda fn, name, value: check_reduction(fn, value, reductions), choices)


#: hyperparameter value types whose check depends on the value alone (immutable): a value of one of them that
#: passed its validator once is remembered per loss, so a module's forward (which passes every hyperparameter,
#: every call) or a training loop's ``reduction="sum"`` runs each validator once, not on every call
_MEMO_TYPES = frozenset({bool, int, float, str, type(None)})
#: remembered values per loss at most: a swept float (a label-smoothing schedule) must not grow it without bound
_MEMO_LIMIT = 256


def autocast_off() -> ContextManager[Any]:
    """The scope a loss body runs in: autocast off (torch's own losses are on autocast's float32 list), unless
    none is active or ``torch.compile`` is tracing (autocast is then the compiler's). :func:`_with_checks`'
    wrapper makes the same test inline (it runs on every call of every loss); the Keras layer's functions,
    which are not declared losses, use this."""
    if torch._C._is_any_autocast_enabled() and not _is_compiling():
        return torch._C._DisableAutocast()
    return contextlib.nullcontext()


def _with_checks(
    fn: Callable[..., Any],
    checks: Dict[str, Check],
    roles: Tuple[Role, ...],
    fn_name: str,
    rule: Optional[Callable[[str, Mapping[str, Any]], None]] = None,
    defaults: Optional[Mapping[str, Any]] = None,
) -> Callable[..., Any]:
    """Wrap ``fn`` so its role arguments are checked to be tensors and each keyword passed runs its validator.

    Only keywords the caller passed are checked (the defaults were checked at
    declaration), and a scalar that passed once is remembered
    (:data:`_MEMO_TYPES`), so a call with defaults or with values seen before
    costs a type test per role and a set lookup per keyword. A declared
    ``rule`` over several hyperparameters then sees the keywords with the
    ``defaults`` filled in (it may depend on arguments left out). The wrapper
    is rebuilt with ``fn``'s globals so doctest and pytest's
    ``--doctest-modules`` still collect the functional's examples from its
    family module.
    """
    role_rules = tuple((r.name, r.also) for r in roles)
    # the usual call passes a plain tensor for every role: one type test each, and the per-role rules only when
    # one is not a plain tensor (a subclass, a number, a list). A callable role must refuse a tensor, so a loss
    # that has one always runs the per-role rules.
    plain_tensors_pass = all(also != "callable" for _, also in role_rules)
    # everything the wrapper uses is a closure variable: it runs with the family module's globals
    tensor_type, require_tensor, require_callable = torch.Tensor, check_tensor, check_callable
    memo_types, memo_limit, compiling = _MEMO_TYPES, _MEMO_LIMIT, _is_compiling
    # torch's own losses are on autocast's float32 list; a losskit loss runs with autocast off inside (inputs in
    # half precision are computed in float32 as always, DESIGN §4), so its matrix products and reductions stay
    # float32 and its custom Functions never meet two dtypes. A loss that calls the caller's code (a critic) keeps
    # the caller's autocast for it; while torch.compile traces, autocast is left to the compiler.
    any_autocast, no_autocast = torch._C._is_any_autocast_enabled, torch._C._DisableAutocast
    hparam_defaults = dict(defaults or {})
    passed: set = set()  # (keyword, type, value) of scalars that passed their validator

    def check_roles(args: Tuple[Any, ...]) -> None:
        for (role, also), value in zip(role_rules, args):
            if also == "callable":
                require_callable(fn_name, role, value)
            elif (
                not isinstance(value, tensor_type) and also != "sequence" and not (also == "optional" and value is None)
            ):
                require_tensor(fn_name, role, value, allow_number=also == "number")

    def check_keywords(kwargs: Dict[str, Any]) -> None:
        # torch.compile traces the validators themselves: read there, the memo would be a set the graph's guards
        # depend on (recompiling whenever it grows) and that the traced call mutates (a guard failure)
        memo = not compiling()
        for key, value in kwargs.items():
            check = checks.get(key)
            if check is None:
                continue
            kind = value.__class__
            if memo and kind in memo_types:
                # the type is part of the key: True == 1 and hash alike, but an integer check refuses True
                seen = (key, kind, value)
                if seen not in passed:
                    check(fn_name, key, value)
                    if len(passed) < memo_limit:
                        passed.add(seen)
            else:  # a tensor (its values may change in place), another object, or anything while compiling
                check(fn_name, key, value)

    def checked(*args: Any, **kwargs: Any) -> Any:
        if plain_tensors_pass:
            for value in args:
                if value.__class__ is not tensor_type:
                    check_roles(args)
                    break
        else:
            check_roles(args)
        if kwargs:
            check_keywords(kwargs)
        if rule is not None:
            rule(fn_name, {**hparam_defaults, **kwargs})
        if any_autocast() and plain_tensors_pass and not compiling():
            with no_autocast():
                return fn(*args, **kwargs)
        return fn(*args, **kwargs)

    wrapper = types.FunctionType(checked.__code__, fn.__globals__, fn.__name__, None, checked.__closure__)
    functools.update_wrapper(wrapper, fn)
    return wrapper


@functools.cache
def _arg_docs(doc: Optional[str]) -> Dict[str, str]:
    """``{argument: description}`` from a Google-style ``Args:`` section."""
    out: Dict[str, str] = {}
    lines = inspect.cleandoc(doc or "").splitlines()
    try:
        start = lines.index("Args:") + 1
    except ValueError:
        return out
    current = None
    for line in lines[start:]:
        if line and not line.startswith(" "):
            break
        match = re.match(r"^    (\w+)(?: \([^)]*\))?:\s*(.*)$", line)
        if match:
            current = match.group(1)
            out[current] = match.group(2).strip()
        elif current and line.strip():
            out[current] += " " + line.strip()
    return out


def loss(
    name: str,
    *,
    family: str,
    module: Optional[str],
    hparams: Mapping[str, Check],
    aliases: Iterable[str] = (),
    roles: Optional[Iterable[Union[Role, str]]] = None,
    reductions: Optional[Iterable[str]] = BASE_REDUCTIONS,
    call_kwargs: Iterable[str] = ("sample_weight",),
    positional: Iterable[str] = (),
    capabilities: Iterable[str] = ("compile", "double_backward"),
    references: Iterable[str] = (),
    curve: Optional[Curve] = None,
    hparam_rule: Optional[Callable[[str, Mapping[str, Any]], None]] = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the decorated functional as a loss (see the module docstring).

    Args:
        name: canonical registry name (``"huber"``).
        family: ``"regression"``, ``"classification"``, ...
        module: the module class name to build (``"HuberLoss"``), or None when
            a hand-written class claims the loss with :func:`module_for`.
        hparams: one validator per keyword-only hyperparameter of the
            functional (``reduction`` is checked against ``reductions``
            automatically). Defaults come from the functional's signature.
        aliases: further registry names (same semantics only).
        roles: the positional tensors: :class:`Role` objects or names; by
            default every positional parameter, differentiable, shape ``(*)``.
        reductions: the reductions the loss supports, or None for a loss
            without a ``reduction`` argument.
        call_kwargs: keywords that belong to a call (passed to ``forward``),
            not to the module; only those in the signature are kept.
        positional: module constructor arguments torch takes positionally.
        capabilities: a subset of :data:`CAPABILITIES`.
        references: what backs the loss's numbers in the tests.
        curve: how ``losskit plot`` draws it.
        hparam_rule: a rule between hyperparameters that no single validator
            can see (exactly one of ``class_counts`` and ``class_prior``, a
            required ``class_counts``): ``rule(fn, values)`` raises with
            losskit's message form. The module constructor runs it on all its
            arguments, the functional on its keywords with the defaults filled
            in, after each argument's own validator.

    Returns:
        A decorator that registers the loss and returns the checked functional.
    """
    from .module import build_module
    from .registry import register

    def declare(fn: Callable[..., Any]) -> Callable[..., Any]:
        # the parameters straight from the code object (inspect.signature costs ~20x more, per loss, at import)
        code = fn.__code__
        positional_params = list(code.co_varnames[: code.co_argcount])
        keyword_names = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
        kw_defaults = fn.__kwdefaults__ or {}
        all_params = {*positional_params, *keyword_names}
        where = f"losskit declaration of {name!r} ({fn.__name__})"
        if roles is None:
            role_list = tuple(Role(p) for p in positional_params)
        else:
            role_list = tuple(Role(r) if isinstance(r, str) else r for r in roles)
        if [r.name for r in role_list] != positional_params[: len(role_list)] or len(role_list) < len(
            positional_params
        ):
            raise TypeError(
                f"{where}: roles {[r.name for r in role_list]} must name the positional parameters {positional_params} in order"
            )
        unknown = set(capabilities) - CAPABILITIES
        if unknown:
            raise ValueError(
                f"{where}: unknown capabilities {sorted(unknown)}; expected some of {sorted(CAPABILITIES)}"
            )
        reduction_tuple = tuple(reductions) if reductions is not None else ()
        calls = tuple(k for k in call_kwargs if k in all_params)
        checks: Dict[str, Check] = dict(hparams)
        if reduction_tuple:
            if "reduction" not in all_params:
                raise TypeError(f"{where}: reductions are declared but the functional takes no 'reduction'")
            checks["reduction"] = _reduction_check(reduction_tuple)
        declared = []
        for key in keyword_names:
            if key in calls:
                continue
            if key not in checks:
                raise TypeError(f"{where}: keyword {key!r} has no validator in hparams=")
            if key not in kw_defaults:
                raise TypeError(f"{where}: hyperparameter {key!r} needs a default")
            default = kw_defaults[key]
            checks[key](fn.__name__, key, default)  # a default that fails its own check is a declaration bug
            declared.append(HParam(key, default, checks[key], fn.__doc__))
        extra = set(hparams) - set(keyword_names)
        if extra:
            raise TypeError(f"{where}: validators for arguments the functional does not take: {sorted(extra)}")
        spec = LossSpec(
            name=name,
            aliases=tuple(aliases),
            family=family,
            functional=fn,  # replaced by the checked wrapper below
            roles=role_list,
            hparams=tuple(declared),
            call_kwargs=calls,
            positional=tuple(positional),
            reductions=reduction_tuple,
            capabilities=frozenset(capabilities) | ({"sample_weight"} if "sample_weight" in calls else frozenset()),
            references=tuple(references),
            curve=curve,
            module_name=module or "",
            hparam_rule=hparam_rule,
        )
        checked = _with_checks(fn, checks, role_list, fn.__name__, hparam_rule, {h.name: h.default for h in declared})
        spec = dataclasses.replace(spec, functional=checked)
        _CHECKS[name] = checks
        register(spec)
        if module is not None:
            cls = build_module(spec, module)
            register(spec, cls)
            # the class lives in the family module, so pickle finds it there
            setattr(sys.modules[fn.__module__], module, cls)
        return checked

    return declare


def module_for(functional: Callable[..., Any]) -> Callable[[type], type]:
    """Class decorator: a hand-written module (one that owns parameters or state) claims its declared loss."""
    from .registry import register, spec_of_functional

    def claim(cls: type) -> type:
        spec = spec_of_functional(functional)
        spec = dataclasses.replace(spec, module_name=cls.__name__)
        # the class attributes a generated module has (build_module), set on the hand-written class
        attributes = {
            "spec": spec,
            "name": spec.name,
            "family": spec.family,
            "functional": staticmethod(spec.functional),
            "reductions": spec.reductions,
        }
        for key, value in attributes.items():
            setattr(cls, key, value)
        register(spec, cls)
        return cls

    return claim
