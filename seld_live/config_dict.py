"""One dict-to-dataclass conversion for every config (model, features, decoding, training, scenes).

Keys are checked against the fields, values against the field's type hint, and a wrong one is named in a
one-line ``ConfigError`` ("optim.lr must be a number, got 'fast'"). TOML arrays become tuples where the field
is a tuple; ints are accepted where a float is expected; nested dataclasses come from nested tables.
"""

from __future__ import annotations

import types
import typing
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from seld_live.errors import ConfigError

T = TypeVar("T")

_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def dataclass_from_dict(cls: type[T], data: dict, where: str = "", strict: bool = True) -> T:
    """``cls(**data)`` with every key and value checked; ``where`` prefixes key names in messages.

    ``strict=False`` ignores unknown keys (checkpoints written by a newer version may carry more).
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where.rstrip('.') or cls.__name__} must be a table, got {data!r}")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls) if f.init}
    unknown = sorted(set(data) - known)
    if unknown and strict:
        raise ConfigError(f"unknown setting(s) {', '.join(where + k for k in unknown)} "
                          f"(known: {', '.join(sorted(known))})")
    kwargs = {k: convert(v, hints[k], where + k) for k, v in data.items() if k in known}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:  # a __post_init__ check
        raise ConfigError(f"{where.rstrip('.') or cls.__name__}: {e}") from None


def convert(value: Any, hint: Any, name: str) -> Any:
    """``value`` as the type ``hint`` asks for, or a ConfigError naming ``name``."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return value
    if is_dataclass(hint):
        return dataclass_from_dict(hint, value, f"{name}.")
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return convert(value, a, name)
            except ConfigError as e:
                errors.append(e)
        raise errors[0] if len(errors) == 1 else ConfigError(f"{name} has the wrong type: {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{name} must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{name} must be a list, got {value!r}")
        if origin is list:
            return [convert(v, args[0], f"{name}[{i}]") for i, v in enumerate(value)] if args else list(value)
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            inner = args[0] if args else Any
            return tuple(convert(v, inner, f"{name}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{name} must have {len(args)} values, got {value!r}")
        return tuple(convert(v, a, f"{name}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{name} must be a table, got {value!r}")
        kt, vt = args or (Any, Any)
        return {convert(k, kt, name): convert(v, vt, f"{name}.{k}") for k, v in value.items()}
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if hint in (int, str, bool):
        if type(value) is not hint:
            raise ConfigError(f"{name} must be {_NAMES[hint]}, got {value!r}")
        return value
    return value  # a type this module does not check (kept as given)
