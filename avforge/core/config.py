"""YAML configs validated against dataclasses: unknown keys and wrong types are errors."""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path

import yaml

from avforge.core.errors import AvforgeError
from avforge.core.fileio import write_text


def _coerce(tp, value, where: str):
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is typing.Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except AvforgeError as exc:
                errors.append(str(exc))
        raise AvforgeError(errors[0] if errors else f"{where}: bad value {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise AvforgeError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise AvforgeError(f"{where}: expected a list, got {value!r}")
        inner = args[0] if args else typing.Any
        items = [_coerce(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise AvforgeError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is bool and not isinstance(value, bool):
        raise AvforgeError(f"{where}: expected true/false, got {value!r}")
    if tp is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise AvforgeError(f"{where}: expected an integer, got {value!r}")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise AvforgeError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def from_dict(cls, data: dict, where: str = "config"):
    """Build dataclass ``cls`` from a plain mapping, recursively, rejecting unknown keys."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise AvforgeError(f"{where}: unknown key(s) {unknown} (known: {sorted(names)})")
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def to_dict(obj) -> dict:
    return dataclasses.asdict(obj)


def load_config(cls, path, overrides: dict | None = None):
    """Load a YAML file into dataclass ``cls``; ``overrides`` maps dotted keys to values."""
    path = Path(path)
    if not path.is_file():
        raise AvforgeError("config file not found", path=path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise AvforgeError(f"not valid YAML ({str(exc).splitlines()[0]})", path=path) from None
    if not isinstance(data, dict):
        raise AvforgeError("config must be a mapping", path=path)
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    try:
        return from_dict(cls, data)
    except AvforgeError as exc:
        raise AvforgeError(str(exc), path=path) from None


def save_config(obj, path) -> None:
    write_text(path, yaml.safe_dump(to_dict(obj), sort_keys=False))
