"""Name → loss lookup, filled by the declarations (:func:`losskit._core.spec.loss`).

Names are case-insensitive. Each loss is reachable by its canonical name, its
aliases (only where the semantics are the same), and its module's class name
(torch's, for the losses torch has: ``get("CrossEntropyLoss")``).
"""

from __future__ import annotations

import difflib
import importlib
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Type, Union

if TYPE_CHECKING:  # pragma: no cover
    from .combine import Combined
    from .module import Loss
    from .spec import LossSpec

__all__ = [
    "register",
    "unregister",
    "get",
    "get_fn",
    "get_class",
    "describe",
    "available",
    "families",
    "from_config",
    "aliases_of",
    "all_specs",
    "spec_of_functional",
]

_SPECS: Dict[str, LossSpec] = {}  # canonical name -> declaration
_CLASSES: Dict[str, Type[Loss]] = {}  # canonical name -> module class
_LOOKUP: Dict[str, str] = {}  # lower-cased name / alias / class name -> canonical name


_FAMILIES_LOADED = False


def _load_families() -> None:
    """Import the family files once, so that every declaration is registered before a lookup.

    ``import losskit`` is lazy (it does not import torch); the first registry
    query pays for the families instead.
    """
    global _FAMILIES_LOADED
    if not _FAMILIES_LOADED:
        _FAMILIES_LOADED = True
        importlib.import_module("losskit._families")


def _key(name: str) -> str:
    return name.strip().lower()


def _claim(alias: str, name: str) -> None:
    key = _key(alias)
    owner = _LOOKUP.get(key)
    if owner is not None and owner != name:
        raise ValueError(f"register: the name {alias!r} of {name!r} already names {owner!r}")
    _LOOKUP[key] = name


def register(spec: LossSpec, cls: Optional[type] = None) -> None:
    """Add a declaration (and, once it exists, its module class) to the registry."""
    existing = _SPECS.get(spec.name)
    if existing is not None and cls is None:
        raise ValueError(f"register: the name {spec.name!r} is already declared by {existing.functional.__module__}")
    for alias in (spec.name, *spec.aliases):
        _claim(alias, spec.name)
    _SPECS[spec.name] = spec
    if cls is not None:
        _claim(cls.__name__, spec.name)
        _CLASSES[spec.name] = cls


def unregister(name: str) -> None:
    """Remove a loss and all its names (for tests that declare a throwaway loss)."""
    canonical = _resolve(name, "unregister")
    _SPECS.pop(canonical)
    _CLASSES.pop(canonical, None)
    for key in [k for k, v in _LOOKUP.items() if v == canonical]:
        del _LOOKUP[key]


def _resolve(name: str, fn: str = "get") -> str:
    _load_families()
    if not isinstance(name, str):
        raise TypeError(f"losskit.{fn}: name must be a string; got {type(name).__name__}")
    key = _key(name)
    if key in _LOOKUP:
        return _LOOKUP[key]
    close = difflib.get_close_matches(key, list(_LOOKUP), n=5, cutoff=0.6)
    suggestions = sorted({_LOOKUP[c] for c in close})
    hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
    raise ValueError(f"losskit.{fn}: unknown loss {name!r}{hint} (losskit.available() lists every name)")


def describe(name: str) -> LossSpec:
    """The declaration of a loss: roles, hyperparameters with defaults, reductions, capabilities, references.

    Example:
        >>> spec = describe("focal")
        >>> spec.name, spec.defaults["gamma"], spec.reductions
        ('focal', 2.0, ('mean', 'sum', 'none'))
    """
    canonical = _resolve(name, "describe")
    spec = _SPECS[canonical]
    cls = _CLASSES.get(canonical)
    return spec if cls is None else getattr(cls, "spec", spec)


def get_class(name: str) -> Type[Loss]:
    """The module class registered under ``name`` (or any of its aliases)."""
    canonical = _resolve(name, "get_class")
    if canonical not in _CLASSES:
        raise ValueError(f"losskit.get_class: the loss {canonical!r} is declared but has no module class")
    return _CLASSES[canonical]


def get(name: str, **kwargs: Any) -> Loss:
    """A configured loss module: ``losskit.get("huber", delta=0.5)``."""
    return get_class(name)(**kwargs)


def get_fn(name: str) -> Callable[..., Any]:
    """The functional form of the loss registered under ``name``."""
    return _SPECS[_resolve(name, "get_fn")].functional


def families() -> List[str]:
    """The families that have at least one loss, sorted."""
    _load_families()
    return sorted({s.family for s in _SPECS.values()})


def available(family: Optional[str] = None) -> List[str]:
    """Sorted canonical names, optionally of one family ("regression", "classification", ...)."""
    _load_families()
    if family is not None and family not in families():
        raise ValueError(f"losskit.available: unknown family {family!r}; expected one of {', '.join(families())}")
    return sorted(n for n, s in _SPECS.items() if family is None or s.family == family)


def all_specs() -> List[LossSpec]:
    """Every declaration, in registration order."""
    _load_families()
    return [describe(n) for n in _SPECS]


def spec_of_functional(functional: Callable[..., Any]) -> LossSpec:
    _load_families()
    for spec in _SPECS.values():
        if spec.functional is functional:
            return spec
    raise ValueError(f"losskit: {getattr(functional, '__name__', functional)!r} is not a declared loss functional")


def aliases_of(name: str) -> tuple:
    """The aliases a canonical name was declared with."""
    return _SPECS[_resolve(name, "aliases_of")].aliases


def from_config(config: Dict[str, Any]) -> Union[Loss, Combined]:
    """Rebuild a module from :meth:`Loss.get_config`'s output (or a :func:`losskit.combine`'s)."""
    if not isinstance(config, dict) or "name" not in config:
        raise ValueError("losskit.from_config: config must be a dict with a 'name' key, as get_config() returns")
    if config["name"] == "combine":  # losskit.combine's config (not a registry entry)
        from .combine import Combined

        return Combined.from_config(config)
    cls = get_class(config["name"])
    return cls.from_config(config)
