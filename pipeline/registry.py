"""Named extensions of one kind, in the spirit of spaCy's registered factories.

Each seam of nkpipe (fact extractors, source types, derived stages) has one
``Registry``. An extension is an object with a ``name``, registered by the module
that defines it; the built-in ones are modules the registry imports the first time
it is read, so adding one is adding one module (and its name to that list). Reading
the registry is the only way the rest of the code learns what exists: the list of
fact kinds in the CLI, the UI and the review queue comes from here.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, Protocol, TypeVar

from pipeline.errors import NkpipeError


class Named(Protocol):
    name: str


T = TypeVar("T", bound=Named)


class RegistryError(NkpipeError):
    """An extension is unknown, or registered twice under one name."""


class Registry(Generic[T]):
    """Extensions of one kind by name, ordered by ``order`` (default: registration order)."""

    def __init__(self, what: str, builtin_modules: Sequence[str] = (),
                 order: Callable[[T], object] | None = None) -> None:
        self.what = what
        self._builtin_modules = tuple(builtin_modules)
        self._order = order
        self._items: dict[str, T] = {}
        self._loaded = False
        self._lock = threading.RLock()

    def register(self, item: T, *, replace: bool = False) -> T:
        """Add ``item`` under ``item.name``; a second item with the same name is an error unless ``replace``."""
        self._load_builtins()  # built-ins first, so they keep their place before later additions
        with self._lock:
            if not replace and item.name in self._items and self._items[item.name] is not item:
                raise RegistryError(f"a {self.what} named {item.name!r} is already registered; "
                                    f"choose another name or pass replace=True")
            self._items[item.name] = item
        return item

    def unregister(self, name: str) -> None:
        with self._lock:
            self._items.pop(name, None)

    def get(self, name: str) -> T:
        self._load_builtins()
        try:
            return self._items[name]
        except KeyError:
            raise RegistryError(f"unknown {self.what} {name!r}; known: {', '.join(self.names()) or 'none'}") from None

    def __contains__(self, name: object) -> bool:
        self._load_builtins()
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        self._load_builtins()
        items = list(self._items.values())
        return iter(sorted(items, key=self._order) if self._order else items)

    def names(self) -> tuple[str, ...]:
        return tuple(item.name for item in self)

    def _load_builtins(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            self._loaded = True  # first, so a built-in module reading the registry does not recurse
            for module in self._builtin_modules:
                importlib.import_module(module)
