"""A small name -> object registry shared by models, datasets and pruners.

One implementation keeps the error message for unknown names identical everywhere:
it always lists the valid choices.
"""

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from snacs.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps config names to factories (or classes) of one kind."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._modules: dict[str, str] = {}

    def register_module(self, name: str, module: str) -> None:
        """Record that importing ``module`` registers ``name``; it is imported on first use.

        Loaders with heavy imports (torchvision costs seconds per process) then cost
        nothing to the many short workflow steps that never use them.
        """
        self._modules[name] = module

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that records ``obj`` under ``name``; a duplicate name is a bug."""

        def decorate(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return decorate

    def get(self, name: str) -> T:
        if name not in self._entries and name in self._modules:
            importlib.import_module(self._modules[name])
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.names()) from None

    def names(self) -> list[str]:
        return sorted({*self._entries, *self._modules})

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._modules

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
