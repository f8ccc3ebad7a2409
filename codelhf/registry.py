"""One registry for every plug-in kind: harnesses, checkers, executors (backends), dataset loaders, rewards.

Entries are registered with a decorator, or lazily as "module:object" strings so start-up stays cheap, or by
third-party packages through entry points (group `codelhf.<kind>`, e.g. `codelhf.harnesses`). A duplicate name
is an error; an unknown name gets a suggestion.
"""

from __future__ import annotations

import difflib
import importlib
import threading
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from codelhf.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, entry_point_group: str | None = None):
        self.kind = kind
        self.entry_point_group = entry_point_group or f"codelhf.{kind}"
        self._entries: dict[str, T | str] = {}
        self._lock = threading.Lock()
        self._entry_points_loaded = False

    def register(self, name: str, obj: T | str | None = None) -> Any:
        """`registry.register("name", obj)`, `registry.register("name", "pkg.mod:obj")`, or as a decorator."""
        if obj is None:
            def decorator(target: T) -> T:
                self.register(name, target)
                return target
            return decorator
        with self._lock:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj
        return obj

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.entry_point_group):
            if ep.name not in self._entries:
                self._entries[ep.name] = ep.value

    def get(self, name: str) -> T:
        self._load_entry_points()
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(self.names())}"
            raise UserError(f"unknown {self.kind} {name!r}", hint)
        obj = self._entries[name]
        if isinstance(obj, str):
            module, _, attr = obj.partition(":")
            obj = getattr(importlib.import_module(module), attr)
            with self._lock:
                self._entries[name] = obj
        return obj  # type: ignore[return-value]

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        self._load_entry_points()
        return name in self._entries

