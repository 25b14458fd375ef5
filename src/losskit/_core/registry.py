"""Name → loss lookup: ``register``, ``get``, ``get_fn``, ``available``, ``from_config``.

Names are case-insensitive. Each loss is reachable by its canonical name, its
aliases (only where the semantics are the same), and its module's class name
(torch's, for the losses torch has: ``get("CrossEntropyLoss")``).
"""
from __future__ import annotations

import difflib
from typing import Any, Callable, Dict, List, Optional, Type

__all__ = ["register", "get", "get_fn", "get_class", "available", "from_config", "aliases_of"]

_CANONICAL: Dict[str, type] = {}  # canonical name -> module class
_LOOKUP: Dict[str, str] = {}  # lower-cased name/alias/class name -> canonical name
_ALIASES: Dict[str, tuple] = {}


def _key(name: str) -> str:
    return name.strip().lower()


def register(name: str, *, aliases: tuple = (), family: str) -> Callable[[type], type]:
    """Class decorator: make a :class:`~losskit._core.module.Loss` subclass reachable by name."""

    def decorate(cls: type) -> type:
        if name in _CANONICAL:
            raise ValueError(f"register: the name {name!r} is already registered to {_CANONICAL[name].__name__}")
        cls.name = name
        cls.family = family
        _CANONICAL[name] = cls
        _ALIASES[name] = tuple(aliases)
        for alias in (name, cls.__name__, *aliases):
            key = _key(alias)
            owner = _LOOKUP.get(key)
            if owner is not None and owner != name:
                raise ValueError(f"register: the alias {alias!r} of {name!r} already names {owner!r}")
            _LOOKUP[key] = name
        return cls

    return decorate


def _resolve(name: str, fn: str = "get") -> str:
    if not isinstance(name, str):
        raise TypeError(f"losskit.{fn}: name must be a string; got {type(name).__name__}")
    key = _key(name)
    if key in _LOOKUP:
        return _LOOKUP[key]
    close = difflib.get_close_matches(key, list(_LOOKUP), n=5, cutoff=0.6)
    suggestions = sorted({_LOOKUP[c] for c in close})
    hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
    raise ValueError(f"losskit.{fn}: unknown loss {name!r}{hint} (losskit.available() lists every name)")


def get_class(name: str) -> Type:
    """The module class registered under ``name`` (or any of its aliases)."""
    return _CANONICAL[_resolve(name, "get_class")]


def get(name: str, **kwargs: Any):
    """A configured loss module: ``losskit.get("huber", delta=0.5)``."""
    return _CANONICAL[_resolve(name, "get")](**kwargs)


def get_fn(name: str) -> Callable:
    """The functional form of the loss registered under ``name``."""
    return _CANONICAL[_resolve(name, "get_fn")].functional


def available(family: Optional[str] = None) -> List[str]:
    """Sorted canonical names, optionally of one family ("regression", "classification", ...)."""
    if family is not None:
        families = {c.family for c in _CANONICAL.values()}
        if family not in families:
            raise ValueError(
                f"losskit.available: unknown family {family!r}; expected one of {', '.join(sorted(families))}"
            )
    return sorted(n for n, c in _CANONICAL.items() if family is None or c.family == family)


def aliases_of(name: str) -> tuple:
    """The aliases a canonical name was registered with."""
    return _ALIASES[_resolve(name, "aliases_of")]


def from_config(config: Dict[str, Any]):
    """Rebuild a module from :meth:`Loss.get_config`'s output."""
    if not isinstance(config, dict) or "name" not in config:
        raise ValueError("losskit.from_config: config must be a dict with a 'name' key, as get_config() returns")
    cls = get_class(config["name"])
    return cls.from_config(config)
