"""A tiny name -> builder registry (configs name components by string)."""
from __future__ import annotations

from typing import Callable

from avforge.core.errors import AvforgeError


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Callable] = {}

    def register(self, name: str) -> Callable:
        def deco(obj):
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            return obj
        return deco

    def get(self, name: str) -> Callable:
        if name not in self._items:
            raise AvforgeError(f"unknown {self.kind} {name!r} (known: {', '.join(sorted(self._items))})")
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)
